"""Network facts an admin set from the chat (/netfacts), each in place of its setting.

Table `netfacts`: {name, items: [item text, ...], by, at}. A fact absent here takes its value
from the settings (bot/services/netfacts.py merges them).
"""

from __future__ import annotations

import time

from tinydb import Query

from .repositories import _Repository

_q = Query()


class NetFactRepository(_Repository):
    def put(self, name: str, items: list[str], by: int, at: float | None = None) -> None:
        doc = {"name": name, "items": list(items), "by": by,
               "at": time.time() if at is None else at}
        with self._lock:
            self._table.upsert(doc, _q.name == name)

    def remove(self, name: str) -> bool:
        with self._lock:
            return bool(self._table.remove(_q.name == name))

    def all(self) -> dict[str, dict]:
        """name -> {items, by, at}."""
        with self._lock:
            docs = self._table.all()
        return {d["name"]: dict(d) for d in docs}
