"""API tokens: who each one acts as, stored by the SHA-256 of the token, never the token.

A token is shown once, when it is issued; what is kept is its hash (a lookup key that cannot
be turned back into the token), its owner, a name the owner chose, and when it was revoked.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from tinydb import Query

from .repositories import _Repository

_q = Query()


@dataclass(frozen=True)
class ApiToken:
    id: str  # public: listed, named in the audit trail and in /api_token_revoke
    user_id: int
    name: str
    digest: str  # hex SHA-256 of the token
    created_at: float
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiTokenRepository(_Repository):
    def add(self, token: ApiToken) -> None:
        with self._lock:
            if self._table.contains((_q.id == token.id) | (_q.digest == token.digest)):
                raise ValueError(f"api token {token.id!r} already exists")
            self._table.insert(dataclasses.asdict(token))

    def by_digest(self, digest: str) -> ApiToken | None:
        with self._lock:
            doc = self._table.get(_q.digest == digest)
        return ApiToken(**doc) if doc else None

    def get(self, token_id: str) -> ApiToken | None:
        with self._lock:
            doc = self._table.get(_q.id == token_id)
        return ApiToken(**doc) if doc else None

    def of_user(self, user_id: int) -> list[ApiToken]:
        with self._lock:
            docs = self._table.search(_q.user_id == user_id)
        return sorted((ApiToken(**d) for d in docs), key=lambda t: t.created_at)

    def revoke(self, token_id: str, at: float | None = None) -> ApiToken | None:
        """Mark the token revoked (once); the revoked token, or None if unknown or revoked."""
        with self._lock:
            current = self.get(token_id)
            if current is None or not current.active:
                return None
            at = time.time() if at is None else at
            self._table.update({"revoked_at": at}, _q.id == token_id)
            return dataclasses.replace(current, revoked_at=at)
