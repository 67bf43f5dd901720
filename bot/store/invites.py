"""Invite links: an admin's token that registers whoever opens the link, with a quota.

Only a hash of each token is kept: the store (or a backup of it) never holds a usable link.
A token is 192 random bits, so a plain SHA-256 is enough (no slow hash: nothing to guess). A
use is taken with a compare-and-set under the store's lock, so N uses register N people,
however many open the link at once, and nobody twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any

from tinydb import Query

from .repositories import _Repository

_q = Query()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Invite:
    id: str  # short, for listing and revoking; derived from nothing secret
    hash: str  # token_hash(token)
    created_by: int
    created_at: float
    expires_at: float
    uses: int  # how many people it may register
    quota: dict[str, int] | None = None  # Quota fields; None: the default quota
    used_by: list[int] = field(default_factory=list)
    revoked: bool = False

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Invite:
        return cls(**{f.name: doc[f.name] for f in dataclasses.fields(cls) if f.name in doc})

    def state(self, now: float) -> str:
        """"active", or why it registers nobody any more."""
        if self.revoked:
            return "revoked"
        if len(self.used_by) >= self.uses:
            return "used up"
        if now >= self.expires_at:
            return "expired"
        return "active"


class InviteRepository(_Repository):
    def add(self, invite: Invite) -> None:
        with self._lock:
            if self._table.contains((_q.id == invite.id) | (_q.hash == invite.hash)):
                raise ValueError(f"invite {invite.id!r} already exists")
            self._table.insert(dataclasses.asdict(invite))

    def get(self, invite_id: str) -> Invite | None:
        with self._lock:
            doc = self._table.get(_q.id == invite_id)
        return Invite.from_doc(doc) if doc else None

    def all(self) -> list[Invite]:
        with self._lock:
            docs = self._table.all()
        return sorted((Invite.from_doc(d) for d in docs), key=lambda i: i.created_at)

    def take(self, token: str, user_id: int, now: float) -> tuple[Invite | None, str]:
        """Take one use of the invite of `token` for `user_id`: (the invite, "active") when
        this call took it; else (the invite or None, why not: "unknown", "revoked",
        "used up", "expired", "used by you")."""
        digest = token_hash(token)
        with self._lock:
            doc = self._table.get(_q.hash == digest)
            if doc is None:
                return None, "unknown"
            invite = Invite.from_doc(doc)
            if user_id in invite.used_by:
                return invite, "used by you"
            state = invite.state(now)
            if state != "active":
                return invite, state
            used_by = [*invite.used_by, user_id]
            self._table.update({"used_by": used_by}, _q.hash == digest)
        return dataclasses.replace(invite, used_by=used_by), "active"

    def give_back(self, invite_id: str, user_id: int) -> None:
        """Undo a `take` whose registration did not happen."""
        with self._lock:
            invite = self.get(invite_id)
            if invite is not None and user_id in invite.used_by:
                self._table.update({"used_by": [u for u in invite.used_by if u != user_id]},
                                   _q.id == invite_id)

    def revoke(self, invite_id: str) -> Invite | None:
        """Mark it revoked; None if there is no such invite."""
        with self._lock:
            if not self._table.update({"revoked": True}, _q.id == invite_id):
                return None
            return self.get(invite_id)
