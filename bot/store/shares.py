"""Containers their owners shared with other users, and how far each may act on them.

A share names the CT by its identity marker (the tag the bot set in its create, clone or
restore call), never by its number alone: Proxmox hands a freed vmid out again, and a share of
the CT that held it must not pass to whatever holds it next. The vmid is kept to find the CT
cheaply; a share whose CT carries another identity (or none) is dead, and is dropped when seen.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from tinydb import Query

from .repositories import _Repository

_q = Query()
SHARE_ROLES = ("viewer", "operator", "manager")


@dataclass(frozen=True)
class Share:
    identity: str  # the CT's marker: the share holds only while the CT carries it
    vmid: int
    user_id: int  # who it is shared with
    role: str  # one of SHARE_ROLES
    owner_id: int  # who owned the CT when it was shared (named in the audit and listings)
    hostname: str = ""
    granted_by: int | None = None
    granted_at: float = 0.0

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Share:
        return cls(**{f.name: doc[f.name] for f in dataclasses.fields(cls) if f.name in doc})


class ShareRepository(_Repository):
    """One record per (CT identity, user): sharing again changes the role."""

    def put(self, share: Share) -> None:
        if share.role not in SHARE_ROLES:
            raise ValueError(f"unknown share role {share.role!r}")
        share = share if share.granted_at else dataclasses.replace(share, granted_at=time.time())
        with self._lock:
            self._table.upsert(dataclasses.asdict(share),
                               (_q.identity == share.identity) & (_q.user_id == share.user_id))

    def get(self, identity: str, user_id: int) -> Share | None:
        with self._lock:
            doc = self._table.get((_q.identity == identity) & (_q.user_id == user_id))
        return Share.from_doc(doc) if doc else None

    def remove(self, identity: str, user_id: int) -> bool:
        with self._lock:
            return bool(self._table.remove((_q.identity == identity) & (_q.user_id == user_id)))

    def of_user(self, user_id: int) -> list[Share]:
        """What is shared with `user_id`."""
        with self._lock:
            docs = self._table.search(_q.user_id == user_id)
        return sorted((Share.from_doc(d) for d in docs), key=lambda s: s.vmid)

    def of_owner(self, owner_id: int) -> list[Share]:
        """What `owner_id` shared."""
        with self._lock:
            docs = self._table.search(_q.owner_id == owner_id)
        return sorted((Share.from_doc(d) for d in docs), key=lambda s: (s.vmid, s.user_id))

    def of_identity(self, identity: str) -> list[Share]:
        with self._lock:
            docs = self._table.search(_q.identity == identity)
        return sorted((Share.from_doc(d) for d in docs), key=lambda s: s.user_id)

    def drop_identity(self, identity: str) -> list[Share]:
        """Forget every share of the CT that carried `identity` (it is gone); returns them."""
        with self._lock:
            dropped = self.of_identity(identity)
            self._table.remove(_q.identity == identity)
        return dropped

    def drop_user(self, user_id: int) -> list[Share]:
        """Forget what was shared with `user_id` (their access was revoked); returns it."""
        with self._lock:
            dropped = self.of_user(user_id)
            self._table.remove(_q.user_id == user_id)
        return dropped
