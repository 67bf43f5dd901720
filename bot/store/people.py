"""The names people go by in the chat, so that what the bot shows reads "Ada (1001)", not a bare
id. Table `people`: {id, name, username}; written when someone's name is new or changed."""

from __future__ import annotations

from tinydb import Query

from .repositories import _Repository

_q = Query()


class PeopleRepository(_Repository):
    def saw(self, user_id: int, name: str, username: str | None = None) -> None:
        doc = {"id": user_id, "name": name, "username": username}
        with self._lock:
            if self._table.get(_q.id == user_id) != doc:
                self._table.upsert(doc, _q.id == user_id)

    def name(self, user_id: int) -> str | None:
        with self._lock:
            doc = self._table.get(_q.id == user_id)
        return doc["name"] if doc else None
