"""Which finished backup tasks the bot has already reported (or started itself).

The watcher reports each finished scheduled backup once, across restarts: a UPID is recorded
here in the same atomic write that claims it, so a restart neither repeats a report (the UPID is
here) nor misses one (a task that ended while the bot was down is not here yet). ``baseline``
marks the tasks that existed when the bot first watched, so a new install does not report
the whole task history.
"""

from __future__ import annotations

import time
from collections.abc import Collection

from tinydb import Query

from .repositories import _Repository

_q = Query()


class BackupReportRepository(_Repository):
    def claim(self, upid: str, kind: str = "reported") -> bool:
        """Record `upid`; True only for the first caller (compare-and-set under the lock)."""
        with self._lock:
            if self._table.contains(_q.upid == upid):
                return False
            self._table.insert({"upid": upid, "kind": kind, "at": time.time()})
            return True

    def known(self, upid: str) -> bool:
        with self._lock:
            return self._table.contains(_q.upid == upid)

    def kinds(self) -> dict[str, str]:
        with self._lock:
            return {d["upid"]: d["kind"] for d in self._table.all()}

    def initialized(self) -> bool:
        return self.known("__baseline__")

    def baseline(self, upids: list[str]) -> None:
        """First watch: what already exists is history, not news."""
        with self._lock:
            if self.initialized():
                return
            for upid in upids:
                self.claim(upid, "baseline")
            self.claim("__baseline__", "baseline")

    def forget_older_than(self, seconds: float, listed: Collection[str] = ()) -> int:
        """Drop records older than `seconds` (PVE's task list forgets old tasks too), except
        those of tasks still `listed`: forgetting one of those would report it again."""
        cutoff = time.time() - seconds
        keep = {"__baseline__", *listed}
        with self._lock:
            return len(self._table.remove((_q.at < cutoff) & ~_q.upid.one_of(list(keep))))
