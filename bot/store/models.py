"""Values the store keeps. Frozen dataclasses: a record read from the store cannot be changed in
place by accident; a change is always a new value written through a repository."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = ("user", "admin")
# "interrupted": approved, but the bot stopped before the action ended; reported, never re-run.
# "cancelled": still pending when the requester's access was revoked; no admin can approve it.
APPROVAL_STATUSES = ("pending", "approved", "rejected", "expired", "done", "failed", "interrupted",
                     "cancelled")


@dataclass(frozen=True)
class User:
    id: int
    role: str  # "user" | "admin"
    name: str = ""
    granted_by: int | None = None
    granted_at: float = 0.0

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Ownership:
    """Who owns the CT at `vmid` that carries `identity` (its marker in Proxmox). The record
    holds only while the CT there carries that marker: a vmid is handed out again."""

    vmid: int
    owner_id: int
    hostname: str = ""
    identity: str | None = None  # None: recorded before markers existed (adopted at start)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Ownership:
        return cls(doc["vmid"], doc["owner_id"], doc.get("hostname", ""), doc.get("identity"))


@dataclass(frozen=True)
class Quota:
    containers: int
    cores: int
    memory_mb: int
    disk_gb: int


@dataclass(frozen=True)
class Approval:
    id: str
    action: str
    payload: dict[str, Any]
    requester_id: int
    requester_chat_id: int
    summary: str
    created_at: float
    expires_at: float
    status: str = "pending"  # see APPROVAL_STATUSES
    decided_by: int | None = None
    decided_at: float | None = None
    # [(chat_id, message_id)] of the cards posted for this approval, so they can all be edited.
    message_refs: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Approval:
        values = dict(doc)
        values["message_refs"] = [tuple(ref) for ref in values.get("message_refs", [])]
        return cls(**values)


@dataclass(frozen=True)
class AuditEntry:
    at: float
    actor_id: int | None
    action: str
    target: str
    outcome: str
    detail: str = ""
