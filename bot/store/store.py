"""The bot's persistent state: one JSON file, one repository per table."""

from __future__ import annotations

import threading
from pathlib import Path

from tinydb import TinyDB

from .repositories import (
    ApprovalRepository,
    AuditRepository,
    NoticeRepository,
    OwnershipRepository,
    QuotaRepository,
    UserRepository,
)
from .scaling import ScalingGroupRepository, ScalingHistoryRepository
from .storage import AtomicJSONStorage


class Store:
    """Opens (or creates) the store file; ``store.users``, ``store.approvals``, ... are the tables.

    One Store per file per process. All repositories share one re-entrant lock, so writes are
    serialized and each repository method is atomic even when called from several threads.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = TinyDB(self.path, storage=AtomicJSONStorage)
        lock = self._lock
        # cache_size=0: tinydb's query cache hands out shared documents and is not thread-safe.
        self.users = UserRepository(self._db.table("users", cache_size=0), lock)
        self.ownership = OwnershipRepository(self._db.table("ownership", cache_size=0), lock)
        self.quotas = QuotaRepository(self._db.table("quotas", cache_size=0), lock)
        self.approvals = ApprovalRepository(self._db.table("approvals", cache_size=0), lock)
        self.audit = AuditRepository(self._db.table("audit", cache_size=0), lock)
        self.notices = NoticeRepository(self._db.table("notices", cache_size=0), lock)
        self.scaling = ScalingGroupRepository(self._db.table("scaling_groups", cache_size=0), lock)
        self.scaling_history = ScalingHistoryRepository(
            self._db.table("scaling_history", cache_size=0), lock)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
