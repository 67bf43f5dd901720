"""Append-only files of JSON lines, for the tables that only grow (the audit trail, the scaling
history): adding an entry costs the same at the 100th as at the 100,000th, where tinydb
rewrote the whole file each time.

Each `append` is written off the caller's thread with the others made meanwhile, then fsynced
(bot/store/writer.py). A crash can cut the last line short, but never one that was
acknowledged (the line and its fsync came first): a cut last line is dropped at the next start.
A damaged line elsewhere stops the start with one line naming the file.

A journal grows up to `rotate_bytes`, then either
- is archived (the audit trail): renamed `<name>.<time>.jsonl`, and archives older than the
  retention are deleted; or
- is compacted (the history): rewritten with what its owner still keeps (`compactor`), since
  only the last day of samples matters.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import StoreClosed, StoreUnreadable
from .lock import DataFolderLock
from .writer import BackgroundWriter, fsync_directory, write_atomically

log = logging.getLogger(__name__)

DEFAULT_ROTATE_BYTES = 8 * 1024 * 1024
DAY_S = 86400.0


class Journal(BackgroundWriter):
    def __init__(self, path: Path, *, rotate_bytes: int = DEFAULT_ROTATE_BYTES,
                 retention_s: float | None = None, owner_lock: threading.RLock | None = None,
                 folder_lock: DataFolderLock | None = None) -> None:
        self.path = Path(path)
        self.label = self.path.name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._rotate_bytes = rotate_bytes
        self._retention_s = retention_s
        self._owner_lock = owner_lock or threading.RLock()
        self._folder_lock = folder_lock
        self._compactor: weakref.WeakMethod | None = None
        self._pending: list[str] = []
        self._pending_mu = threading.Lock()
        self._file_mu = threading.Lock()  # the file and its archives: writes, rotations, reads
        self._compacted_size = 0
        self._closed = False
        self._remove_stale_temp_files()
        #: The entries of the current file as loaded, oldest first (owners take them at start).
        self.loaded: list[dict[str, Any]] = load_journal(self.path)
        self._init_writer()

    @property
    def compacted(self) -> bool:
        return self._compactor is not None

    def compact_with(self, state: Callable[[], Iterable[dict[str, Any]]]) -> None:
        """Compact rather than archive: `state` (an owner's method, called under the owner's
        lock) gives the entries still kept. Held weakly: the owner holds the journal."""
        self._compactor = weakref.WeakMethod(state)

    def _remove_stale_temp_files(self) -> None:
        for leftover in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            try:
                leftover.unlink()
            except OSError:
                pass

    # ---- writing --------------------------------------------------------------------------

    def append(self, record: dict[str, Any]) -> None:
        if self._closed:
            raise StoreClosed(f"the journal {self.path} is closed: this entry was not saved")
        line = json.dumps(record, separators=(",", ":"))
        with self._pending_mu:
            self._pending.append(line)
        self._changed()

    def _flush(self) -> None:
        with self._file_mu:
            with self._pending_mu:
                lines, self._pending = self._pending, []
            if lines:
                try:
                    self._append_lines(lines)
                except BaseException:
                    with self._pending_mu:  # written again next time, nothing lost
                        self._pending = lines + self._pending
                    raise
            self._rotate_if_due()

    def _append_lines(self, lines: list[str]) -> None:
        created = not self.path.exists()
        # O_APPEND: each write lands at the end; a crash leaves at worst a cut last line.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, ("\n".join(lines) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_directory(self.path.parent)

    def _rotate_if_due(self) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if self._compactor is not None:
            if size > max(self._rotate_bytes, 2 * self._compacted_size):
                self._compact()
        elif size > self._rotate_bytes:
            self._archive()

    def _compact(self) -> None:
        state = self._compactor()
        if state is None:  # the owner is gone: nothing will read this journal but a restart
            return
        with self._owner_lock:  # the owner's state and the lines not written yet agree
            records = list(state())
            with self._pending_mu:
                self._pending = []
        data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
        write_atomically(self.path, data.encode("utf-8"), f".{self.path.name}.")
        self._compacted_size = len(data)

    def _archive(self) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{time.time_ns() % 10**9:09d}"
        os.replace(self.path, self.path.with_name(f"{self.path.stem}.{stamp}{self.path.suffix}"))
        fsync_directory(self.path.parent)
        self._prune_archives()

    def archives(self) -> list[Path]:
        """The archived files, oldest first (their names sort by time)."""
        return sorted(self.path.parent.glob(f"{self.path.stem}.*{self.path.suffix}"))

    def _prune_archives(self) -> None:
        if not self._retention_s:
            return
        cutoff = time.time() - self._retention_s
        for archive in self.archives():
            try:
                if archive.stat().st_mtime < cutoff:  # its newest entry is older than that
                    archive.unlink()
                    log.info("deleted %s: past the retention of %.0f days", archive,
                             self._retention_s / DAY_S)
            except OSError as exc:
                log.warning("could not delete %s: %s", archive, exc)

    def close(self) -> None:
        if not self._closed:
            self.sync()
            self._closed = True
            self._folder_lock = None

    # ---- reading (not on the hot path: owners keep what they read often in memory) --------

    def read_all(self) -> list[dict[str, Any]]:
        """Every entry kept, archives included, oldest first. Waits for the writes under way."""
        self.sync()
        with self._file_mu:
            entries: list[dict[str, Any]] = []
            for archive in self.archives():
                entries += _parse_lines(archive, archive.read_bytes())
            try:
                current = self.path.read_bytes()
            except FileNotFoundError:
                current = b""
            return entries + _parse_lines(self.path, current)

    @property
    def has_archives(self) -> bool:
        return bool(self.archives())


def load_journal(path: Path) -> list[dict[str, Any]]:
    """The entries of `path`, after dropping a last line a crash cut short."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    end = raw.rfind(b"\n") + 1
    if end < len(raw):
        log.warning("%s: its last line was cut short by a crash (%d bytes, never acknowledged): "
                    "dropped", path, len(raw) - end)
        with open(path, "r+b") as f:
            f.truncate(end)
            os.fsync(f.fileno())
        raw = raw[:end]
    return _parse_lines(path, raw)


def _parse_lines(path: Path, raw: bytes) -> list[dict[str, Any]]:
    entries = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StoreUnreadable(
                f"Refusing to start: line {number} of {path} is damaged ({exc}); only a crash "
                f"cuts the last line, so this file was changed or the disk failed. Check it, "
                f"then remove that line (or move the file away) to start.") from None
        if not isinstance(entry, dict):
            raise StoreUnreadable(f"Refusing to start: line {number} of {path} is not an entry "
                                  f"(JSON, but not an object). Check the file.")
        entries.append(entry)
    return entries
