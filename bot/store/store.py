"""The bot's persistent state: JSON files, one repository per table.

Tables that only grow (the audit trail, scaling history) are journals of their own (append-only
JSON lines, bot/store/journal.py): tinydb reads and rewrites a whole file, so keeping them apart
keeps the hot reads and writes (who is this user, who owns this container) small however long
the bot runs.

One process per data folder (bot/store/lock.py). Changes are made in memory at once and
written by a thread of each file's own; `durable()` / `sync()` wait until they are on the
disk (bot/store/writer.py).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from .api_tokens import ApiTokenRepository
from .backup_reports import BackupReportRepository
from .errors import StoreUnreadable
from .invites import InviteRepository
from .journal import DAY_S, Journal
from .lock import DEFAULT_WAIT_S, DataFolderLock
from .netfacts import NetFactRepository
from .people import PeopleRepository
from .pools import PoolRepository
from .repositories import (
    ApprovalRepository,
    AuditRepository,
    NoticeRepository,
    OwnershipRepository,
    QuotaRepository,
    UserRepository,
)
from .scaling import NoticeBacklogRepository, ScalingGroupRepository, ScalingHistoryRepository
from .shares import ShareRepository
from .ssh_keys import SshKeyRepository
from .storage import AtomicJSONStorage, StoreDB
from .writer import fsync_directory, write_atomically

log = logging.getLogger(__name__)

#: How long the audit trail is kept by default (settings: ``store.audit_retention_days``).
DEFAULT_AUDIT_RETENTION_DAYS = 400


class Store:
    """Opens (or creates) the store file; ``store.users``, ``store.approvals``, ... are the tables.

    One Store per data folder, in one process (StoreLocked otherwise); StoreUnreadable when a
    file is damaged. All repositories share one re-entrant lock, so each repository method is
    atomic even when called from several threads.
    """

    def __init__(self, path: str | Path, *,
                 audit_retention_days: float | None = DEFAULT_AUDIT_RETENTION_DAYS,
                 lock_wait_s: float = DEFAULT_WAIT_S) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self.folder_lock = DataFolderLock(self.path.with_name(f"{self.path.stem}.lock"),
                                          lock_wait_s).acquire()
        try:
            self._open(audit_retention_days)
        except BaseException:
            self.folder_lock.release()  # a damaged file: the next try must not find it held
            raise

    def _open(self, audit_retention_days: float | None) -> None:
        self._db = StoreDB(self.path, folder_lock=self.folder_lock)
        audit_path, history_path = self._beside("audit"), self._beside("history")
        _migrate_tinydb_journal(self._old_beside("audit"), "audit", audit_path,
                                lambda doc: [doc])
        _migrate_tinydb_journal(self._old_beside("history"), "scaling_history", history_path,
                                lambda doc: [{"group": doc["group"], "sample": s}
                                             for s in doc.get("samples", [])])
        retention = audit_retention_days * DAY_S if audit_retention_days else None
        self._audit_journal = Journal(audit_path, retention_s=retention,
                                      folder_lock=self.folder_lock)
        # The history has its own lock: the controller adds to it in a worker thread, which
        # must not hold up the other tables.
        history_lock = threading.RLock()
        self._history_journal = Journal(history_path, owner_lock=history_lock,
                                        folder_lock=self.folder_lock)
        lock = self._lock
        # cache_size=0: tinydb's query cache hands out shared documents and is not thread-safe.
        self.users = UserRepository(self._db.table("users", cache_size=0), lock)
        self.ownership = OwnershipRepository(self._db.table("ownership", cache_size=0),
                                             self._db.table("ownership_history", cache_size=0),
                                             lock)
        self.quotas = QuotaRepository(self._db.table("quotas", cache_size=0), lock)
        self.approvals = ApprovalRepository(self._db.table("approvals", cache_size=0), lock)
        self.audit = AuditRepository(self._audit_journal, lock)
        self.notices = NoticeRepository(self._db.table("notices", cache_size=0), lock)
        self.backup_reports = BackupReportRepository(
            self._db.table("backup_reports", cache_size=0), lock)
        self.pools = PoolRepository(self._db.table("pools", cache_size=0),
                                    self._db.table("pool_leases", cache_size=0), lock)
        self.shares = ShareRepository(self._db.table("shares", cache_size=0), lock)
        self.invites = InviteRepository(self._db.table("invites", cache_size=0), lock)
        self.netfacts = NetFactRepository(self._db.table("netfacts", cache_size=0), lock)
        self.people = PeopleRepository(self._db.table("people", cache_size=0), lock)
        self.ssh_keys = SshKeyRepository(self._db.table("ssh_keys", cache_size=0), lock)
        self.scaling = ScalingGroupRepository(self._db.table("scaling_groups", cache_size=0), lock)
        self.scaling_notices = NoticeBacklogRepository(
            self._db.table("scaling_notices", cache_size=0), lock)
        self.api_tokens = ApiTokenRepository(self._db.table("api_tokens", cache_size=0), lock)
        self.scaling_history = ScalingHistoryRepository(self._history_journal, history_lock)

    def _beside(self, part: str) -> Path:
        return self.path.with_name(f"{self.path.stem}-{part}.jsonl")

    def _old_beside(self, part: str) -> Path:
        """Where the journals were tinydb files, before they were journals."""
        return self.path.with_name(f"{self.path.stem}-{part}{self.path.suffix or '.json'}")

    @property
    def _writers(self) -> tuple:
        return (self._db.storage, self._audit_journal, self._history_journal)

    async def durable(self) -> None:
        """Every change made so far is on the disk (waited for without blocking the loop)."""
        for writer in self._writers:
            await writer.durable()

    def sync(self) -> None:
        """Block until every change made so far is on the disk."""
        for writer in self._writers:
            writer.sync()

    @property
    def closed(self) -> bool:
        return not self.folder_lock.held

    def close(self) -> None:
        """Write what is pending, then let go of the data folder. Closing twice is harmless."""
        with self._lock:
            for db in (self._db,):
                db.close()
            self._audit_journal.close()
            self._history_journal.close()
            self.folder_lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _migrate_tinydb_journal(old: Path, table: str, new: Path, entries_of) -> None:
    """A table that lived in a tinydb file of its own becomes a journal, once: its entries
    in their order, then the old file renamed `.migrated` (kept, not deleted)."""
    if not old.exists() or new.exists():
        return
    try:
        docs = json.loads(old.read_text(encoding="utf-8") or "{}").get(table, {})
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
        raise StoreUnreadable(f"Refusing to start: {old} (the {table} table, to be turned into "
                              f"{new.name}) is not readable ({exc}). Check it, or move it "
                              f"away.") from None
    lines = [json.dumps(entry, separators=(",", ":"))
             for _id, doc in sorted(docs.items(), key=lambda kv: int(kv[0]))
             for entry in entries_of(doc)]
    write_atomically(new, "".join(line + "\n" for line in lines).encode("utf-8"),
                     f".{new.name}.")
    os.replace(old, old.with_name(old.name + ".migrated"))
    fsync_directory(old.parent)
    log.info("moved %d entries of %s into %s", len(lines), old, new)


__all__ = ["AtomicJSONStorage", "Store"]
