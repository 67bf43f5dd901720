"""One process per data folder: a lock file (`filelock`, an flock the kernel drops when its holder
dies) that also names its holder's pid, so a second instance can say who holds the folder and
the next start can tell that the last one did not stop cleanly (a stale lock)."""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import StoreLocked

log = logging.getLogger(__name__)

#: A Store of this process dropped (not closed) may still be writing its last change when the
#: next one opens the folder: it lets go within this time. Another process is not waited for.
DEFAULT_WAIT_S = 5.0


class DataFolderLock:
    """Held from `acquire` to `release` (or until nothing refers to it any more)."""

    def __init__(self, path: Path, wait_s: float = DEFAULT_WAIT_S) -> None:
        self.path = Path(path)
        self._wait_s = wait_s
        self._found: dict[str, int | None] = {}  # filled by _claim (not a method: no cycle)
        self._lock = FileLock(self.path, timeout=wait_s, preserve_lock_file=True, thread_local=False,
                              on_acquired=functools.partial(_claim, self._found))

    def acquire(self) -> DataFolderLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(blocking=False)
        except Timeout:
            if _read_pid(self.path) != os.getpid():  # another process: no use waiting
                raise StoreLocked(self._held_message()) from None
            try:  # a store of this process, dropped, finishing its last write
                self._lock.acquire(timeout=self._wait_s)
            except Timeout:
                raise StoreLocked(self._held_message()) from None
        if self.stale_pid is not None:
            log.warning("%s: the previous Stratus (pid %d) did not stop cleanly (killed or "
                        "crashed); its stale lock is taken over", self.path, self.stale_pid)
        return self

    def _held_message(self) -> str:
        pid = _read_pid(self.path)
        folder = self.path.parent
        if pid is None:
            who = "Another Stratus"
        elif pid == os.getpid():
            who = "Another store of this same process"
        elif _running(pid):
            who = f"Another Stratus (pid {pid})"
        else:
            who = (f"A process with pid {pid}, not running on this machine (another host or "
                   "container sharing the folder?),")
        return (f"{who} is using the data folder {folder} (lock {self.path}): stop it first, "
                "or give this one another data_dir. Two on one folder lose each other's writes.")

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def release(self) -> None:
        """Let go, saying so in the file: a pid left there means the holder never released."""
        if not self._lock.is_locked:
            return
        try:
            with open(self.path, "r+b") as f:
                f.truncate(0)
                os.fsync(f.fileno())
        except OSError as exc:  # the lock still goes; the next start will call it stale
            log.warning("could not clear %s: %s", self.path, exc)
        self._lock.release(force=True)

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # noqa: BLE001 - at interpreter exit the kernel drops the flock anyway
            pass


    @property
    def stale_pid(self) -> int | None:
        """The pid found in the lock file when it was taken: a holder that never let go."""
        return self._found.get("pid")


def _claim(found: dict[str, int | None], fd: int) -> None:
    """Holding the flock: note the pid that a holder that never let go left, write ours."""
    left = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    found["pid"] = int(left) if left.isdigit() else None
    _write_pid(fd)


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    os.fsync(fd)


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True
