"""One small repository per tinydb table.

Every public method takes the store's lock for its whole read-modify-write, so compare-and-set
operations (``approvals.decide``, ``notices.first_time``) are atomic across threads. tinydb's own
query cache is not thread-safe, which is one more reason reads take the lock too.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque

from tinydb import Query
from tinydb.table import Table

from .journal import Journal
from .models import APPROVAL_STATUSES, ROLES, Approval, AuditEntry, Ownership, Quota, User

_q = Query()


class _Repository:
    def __init__(self, table: Table, lock: threading.RLock) -> None:
        self._table = table
        self._lock = lock


class UserRepository(_Repository):
    """Granted users and their role. Admins named in settings need no record here."""

    def get(self, user_id: int) -> User | None:
        with self._lock:
            doc = self._table.get(_q.id == user_id)
        return User(**doc) if doc else None

    def put(self, user: User) -> None:
        if user.role not in ROLES:
            raise ValueError(f"unknown role {user.role!r}")
        with self._lock:
            self._table.upsert(dataclasses.asdict(user), _q.id == user.id)

    def remove(self, user_id: int) -> bool:
        with self._lock:
            return bool(self._table.remove(_q.id == user_id))

    def all(self) -> list[User]:
        with self._lock:
            docs = self._table.all()
        return sorted((User(**doc) for doc in docs), key=lambda u: u.id)


class OwnershipRepository(_Repository):
    """Who owns which container (vmid), recorded when the bot creates it.

    Proxmox hands a freed vmid out again, so what was CT 100 yesterday (Bob's, deleted) is not
    what CT 100 is today (Carol's). Each ownership is also kept as a period in a history table,
    so that things bound to a moment (a backup's ctime) are matched to whoever owned the vmid
    then: `owner_at`.
    """

    # A backup taken just after a create may carry a slightly earlier ctime when Proxmox's clock
    # is behind ours; within this margin it still goes to the period that was about to begin.
    CLOCK_SKEW_S = 600.0

    def __init__(self, table: Table, history: Table, lock: threading.RLock) -> None:
        super().__init__(table, lock)
        self._history = history

    def set(self, vmid: int, owner_id: int, hostname: str = "", at: float | None = None,
            identity: str | None = None) -> None:
        """Record that `owner_id` owns the CT at `vmid` that carries `identity` (its marker
        in Proxmox; None only for records made before markers existed)."""
        at = time.time() if at is None else at
        with self._lock:
            self._table.upsert(
                {"vmid": vmid, "owner_id": owner_id, "hostname": hostname, "identity": identity},
                _q.vmid == vmid,
            )
            self._close_period(vmid, at)
            self._history.insert({"vmid": vmid, "owner_id": owner_id, "since": at, "until": None,
                                  "identity": identity})

    def get(self, vmid: int) -> Ownership | None:
        with self._lock:
            doc = self._table.get(_q.vmid == vmid)
        return Ownership.from_doc(doc) if doc else None

    def entries(self) -> list[Ownership]:
        with self._lock:
            docs = self._table.all()
        return sorted((Ownership.from_doc(d) for d in docs), key=lambda o: o.vmid)

    def vmids_ever(self, owner_id: int) -> set[int]:
        """Every vmid `owner_id` owned at some time (history and present)."""
        with self._lock:
            docs = self._history.search(_q.owner_id == owner_id) + self._table.search(
                _q.owner_id == owner_id)
        return {doc["vmid"] for doc in docs}

    def owner_of_identity(self, identity: str) -> int | None:
        """Who was given the CT that carries (or carried) `identity`: the owner of a backup
        taken of it, whatever holds its vmid now."""
        with self._lock:
            doc = self._table.get(_q.identity == identity) or next(
                iter(self._history.search(_q.identity == identity)), None)
        return doc["owner_id"] if doc else None

    def owner(self, vmid: int) -> int | None:
        with self._lock:
            doc = self._table.get(_q.vmid == vmid)
        return doc["owner_id"] if doc else None

    def owner_at(self, vmid: int, at: float) -> int | None:
        """Who owned `vmid` at time `at` (None: nobody through the bot, or no record)."""
        period = self.period_at(vmid, at)
        return period["owner_id"] if period else None

    def period_at(self, vmid: int, at: float) -> dict | None:
        """The ownership period of `vmid` at time `at`: owner_id, since, until, identity."""
        with self._lock:
            periods = sorted(self._history.search(_q.vmid == vmid), key=lambda p: p["since"])
            if not periods:  # owned before periods were recorded: only the present is known
                doc = self._table.get(_q.vmid == vmid)
                return dict(doc) if doc else None
        for p in periods:
            if p["since"] <= at and (p["until"] is None or at <= p["until"]):
                return dict(p)
        for before, p in zip([None, *periods], periods, strict=False):
            ended = before is None or (before["until"] is not None and at > before["until"])
            if ended and p["since"] - self.CLOCK_SKEW_S <= at < p["since"]:
                return dict(p)
        return None

    def hostname(self, vmid: int) -> str | None:
        """The hostname recorded at creation (None if the vmid is not owned)."""
        with self._lock:
            doc = self._table.get(_q.vmid == vmid)
        return doc["hostname"] if doc else None

    def by_owner(self, owner_id: int) -> list[int]:
        with self._lock:
            docs = self._table.search(_q.owner_id == owner_id)
        return sorted(doc["vmid"] for doc in docs)

    def all(self) -> dict[int, int]:
        with self._lock:
            docs = self._table.all()
        return {doc["vmid"]: doc["owner_id"] for doc in docs}

    def forget(self, vmid: int, identity: str | None) -> bool:
        """Remove the record of `vmid` only if it is about the CT that carries `identity`
        (a vmid handed out again may be recorded for its new owner by now)."""
        with self._lock:
            doc = self._table.get(_q.vmid == vmid)
            if doc is None or doc.get("identity") != identity:
                return False
            return self.remove(vmid)

    def remove(self, vmid: int, at: float | None = None) -> bool:
        with self._lock:
            self._close_period(vmid, time.time() if at is None else at)
            return bool(self._table.remove(_q.vmid == vmid))

    def _close_period(self, vmid: int, at: float) -> None:
        self._history.update({"until": at}, (_q.vmid == vmid) & (_q.until == None))  # noqa: E711


class QuotaRepository(_Repository):
    """Per-user quotas; a user without a record gets the default from settings."""

    def get(self, user_id: int) -> Quota | None:
        with self._lock:
            doc = self._table.get(_q.user_id == user_id)
        if not doc:
            return None
        values = dict(doc)
        del values["user_id"]
        return Quota(**values)

    def put(self, user_id: int, quota: Quota) -> None:
        with self._lock:
            self._table.upsert(
                {"user_id": user_id, **dataclasses.asdict(quota)}, _q.user_id == user_id
            )

    def remove(self, user_id: int) -> bool:
        with self._lock:
            return bool(self._table.remove(_q.user_id == user_id))


class ApprovalRepository(_Repository):
    """Requests waiting for an admin. ``decide`` is the one place a request changes hands."""

    def add(self, approval: Approval) -> None:
        with self._lock:
            if self._table.contains(_q.id == approval.id):
                raise ValueError(f"approval {approval.id!r} already exists")
            self._table.insert(dataclasses.asdict(approval))

    def get(self, approval_id: str) -> Approval | None:
        with self._lock:
            doc = self._table.get(_q.id == approval_id)
        return Approval.from_doc(doc) if doc else None

    def pending(self) -> list[Approval]:
        with self._lock:
            docs = self._table.search(_q.status == "pending")
        return sorted((Approval.from_doc(d) for d in docs), key=lambda a: a.created_at)

    def of_requester(self, requester_id: int) -> list[Approval]:
        """Every request `requester_id` made, newest first."""
        with self._lock:
            docs = self._table.search(_q.requester_id == requester_id)
        return sorted((Approval.from_doc(d) for d in docs), key=lambda a: -a.created_at)

    def decide(self, approval_id: str, status: str, by: int | None, now: float) -> Approval | None:
        """Compare-and-set from "pending" to ``status``.

        Returns the updated approval only when this call made the change; None when the approval
        is unknown, already decided, or (for approve/reject) already past its expiry at ``now``.
        A second click, a second admin or a re-delivered update therefore gets None.
        """
        if status not in APPROVAL_STATUSES or status == "pending":
            raise ValueError(f"cannot decide an approval as {status!r}")
        with self._lock:
            current = self.get(approval_id)
            if current is None or current.status != "pending":
                return None
            if status in ("approved", "rejected") and now >= current.expires_at:
                return None
            updated = dataclasses.replace(current, status=status, decided_by=by, decided_at=now)
            self._table.update(
                {"status": status, "decided_by": by, "decided_at": now}, _q.id == approval_id
            )
            return updated

    def set_status(self, approval_id: str, status: str) -> Approval | None:
        """Record how an approved action ended ("done" / "failed"). None if unknown."""
        if status not in APPROVAL_STATUSES:
            raise ValueError(f"unknown approval status {status!r}")
        with self._lock:
            if not self._table.update({"status": status}, _q.id == approval_id):
                return None
            return self.get(approval_id)

    def interrupt_approved(self) -> list[Approval]:
        """Mark as "interrupted" the approvals an admin approved whose action never reported its
        end (the bot stopped in between); return those. Approvals decided by no one (the
        scaler's auto-approval, read by the scaler itself) are not actions and stay as they are.
        """
        with self._lock:
            docs = self._table.search((_q.status == "approved") & (_q.decided_by != None))  # noqa: E711
            for doc in docs:
                self._table.update({"status": "interrupted"}, _q.id == doc["id"])
        return sorted((dataclasses.replace(Approval.from_doc(d), status="interrupted")
                       for d in docs), key=lambda a: a.created_at)

    def add_message_ref(self, approval_id: str, chat_id: int, message_id: int) -> None:
        with self._lock:
            current = self.get(approval_id)
            if current is None:
                raise KeyError(approval_id)
            refs = [list(ref) for ref in current.message_refs] + [[chat_id, message_id]]
            self._table.update({"message_refs": refs}, _q.id == approval_id)

    def cancel_pending_of(self, requester_id: int, now: float) -> list[Approval]:
        """Mark as "cancelled" the pending approvals ``requester_id`` asked for; return those.
        The same compare-and-set as ``decide``: an admin deciding at this moment wins or loses
        as a whole, never both."""
        with self._lock:
            due = [a for a in self.pending() if a.requester_id == requester_id]
            for approval in due:
                self._table.update({"status": "cancelled", "decided_at": now},
                                   _q.id == approval.id)
        return [dataclasses.replace(a, status="cancelled", decided_at=now) for a in due]

    def expire_due(self, now: float) -> list[Approval]:
        """Mark pending approvals whose ``expires_at`` has passed as expired; return those."""
        with self._lock:
            due = [a for a in self.pending() if a.expires_at <= now]
            for approval in due:
                self._table.update({"status": "expired", "decided_at": now}, _q.id == approval.id)
        return [dataclasses.replace(a, status="expired", decided_at=now) for a in due]


class AuditRepository:
    """Who did what to which target, with what outcome, and when. Append-only (a journal:
    bot/store/journal.py), so recording costs the same however long the bot has run; the
    newest entries are kept in memory for `/audit`, which reads the tail."""

    #: Entries kept in memory: more than `/audit` shows at most (bot.parsing.AUDIT_MAX).
    RECENT_KEPT = 1000

    def __init__(self, journal: Journal, lock: threading.RLock) -> None:
        self._journal = journal
        self._lock = lock
        loaded = journal.loaded
        journal.loaded = []
        self._recent: deque[AuditEntry] = deque(
            (AuditEntry(**doc) for doc in loaded[-self.RECENT_KEPT:]), maxlen=self.RECENT_KEPT)
        self._all_in_memory = len(loaded) <= self.RECENT_KEPT and not journal.has_archives

    def record(
        self,
        actor_id: int | None,
        action: str,
        target: str,
        outcome: str,
        detail: str = "",
        at: float | None = None,
    ) -> AuditEntry:
        entry = AuditEntry(
            at=time.time() if at is None else at,
            actor_id=actor_id,
            action=action,
            target=target,
            outcome=outcome,
            detail=detail,
        )
        with self._lock:
            self._journal.append(dataclasses.asdict(entry))
            if len(self._recent) == self.RECENT_KEPT:
                self._all_in_memory = False
            self._recent.append(entry)
        return entry

    def recent(self, n: int = 20, actor_id: int | None = None) -> list[AuditEntry]:
        """The ``n`` newest entries (optionally of one actor), newest first: from memory, or
        (more than it keeps) from the files."""
        n = max(n, 0)
        with self._lock:
            entries = list(self._recent)
            complete = self._all_in_memory
        found = _newest(entries, actor_id, n)
        if len(found) < n and not complete:
            found = _newest([AuditEntry(**doc) for doc in self._journal.read_all()], actor_id, n)
        return found


def _newest(entries: list[AuditEntry], actor_id: int | None, n: int) -> list[AuditEntry]:
    """Newest first; entries of the same instant in the order they were recorded, reversed."""
    ordered = sorted(enumerate(entries), key=lambda pair: (pair[1].at, pair[0]), reverse=True)
    return [e for _, e in ordered if actor_id is None or e.actor_id == actor_id][:n]


class NoticeRepository(_Repository):
    """Keys already announced, so a notice (e.g. "unknown user 42 wrote") is sent only once."""

    def first_time(self, key: str) -> bool:
        with self._lock:
            if self._table.contains(_q.key == key):
                return False
            self._table.insert({"key": key, "at": time.time()})
            return True
