"""Each person's SSH public key (/ssh_key), which the containers they create get for root.

Table `ssh_keys`: {user_id, key (the authorized_keys line), at}. One key per person.
"""

from __future__ import annotations

import time

from tinydb import Query

from .repositories import _Repository

_q = Query()


class SshKeyRepository(_Repository):
    def put(self, user_id: int, key: str, at: float | None = None) -> None:
        doc = {"user_id": user_id, "key": key, "at": time.time() if at is None else at}
        with self._lock:
            self._table.upsert(doc, _q.user_id == user_id)

    def get(self, user_id: int) -> str | None:
        with self._lock:
            doc = self._table.get(_q.user_id == user_id)
        return doc["key"] if doc else None

    def remove(self, user_id: int) -> bool:
        with self._lock:
            return bool(self._table.remove(_q.user_id == user_id))
