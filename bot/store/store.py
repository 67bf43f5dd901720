"""The bot's persistent state: JSON files, one repository per table.

Tables that only grow (the audit trail, scaling history) live in files of their own: tinydb
reads and rewrites a whole file, so keeping them apart keeps the hot reads (who is this user,
who owns this container) small however long the bot runs.
"""

from __future__ import annotations

import threading
from pathlib import Path

from .backup_reports import BackupReportRepository
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
from .ssh_keys import SshKeyRepository
from .storage import StoreDB


class Store:
    """Opens (or creates) the store file; ``store.users``, ``store.approvals``, ... are the tables.

    One Store per file per process. All repositories share one re-entrant lock, so writes are
    serialized and each repository method is atomic even when called from several threads.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = StoreDB(self.path)
        self._audit_db = StoreDB(self._beside("audit"))
        self._history_db = StoreDB(self._beside("history"))
        lock = self._lock
        # cache_size=0: tinydb's query cache hands out shared documents and is not thread-safe.
        self.users = UserRepository(self._db.table("users", cache_size=0), lock)
        self.ownership = OwnershipRepository(self._db.table("ownership", cache_size=0),
                                             self._db.table("ownership_history", cache_size=0),
                                             lock)
        self.quotas = QuotaRepository(self._db.table("quotas", cache_size=0), lock)
        self.approvals = ApprovalRepository(self._db.table("approvals", cache_size=0), lock)
        self.audit = AuditRepository(self._audit_db.table("audit", cache_size=0), lock)
        self.notices = NoticeRepository(self._db.table("notices", cache_size=0), lock)
        self.backup_reports = BackupReportRepository(
            self._db.table("backup_reports", cache_size=0), lock)
        self.pools = PoolRepository(self._db.table("pools", cache_size=0),
                                    self._db.table("pool_leases", cache_size=0), lock)
        self.netfacts = NetFactRepository(self._db.table("netfacts", cache_size=0), lock)
        self.people = PeopleRepository(self._db.table("people", cache_size=0), lock)
        self.ssh_keys = SshKeyRepository(self._db.table("ssh_keys", cache_size=0), lock)
        self.scaling = ScalingGroupRepository(self._db.table("scaling_groups", cache_size=0), lock)
        self.scaling_notices = NoticeBacklogRepository(
            self._db.table("scaling_notices", cache_size=0), lock)
        # The history has its own file and its own lock: the controller rewrites it (a day of
        # samples per group) in a worker thread, which must not hold up the other tables.
        self.scaling_history = ScalingHistoryRepository(
            self._history_db.table("scaling_history", cache_size=0), threading.RLock())

    def _beside(self, part: str) -> Path:
        return self.path.with_name(f"{self.path.stem}-{part}{self.path.suffix or '.json'}")

    def close(self) -> None:
        with self._lock:
            for db in (self._db, self._audit_db, self._history_db):
                db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
