"""Writing to the disk off the caller's thread, and knowing when a change is durable.

A change to the store is made in memory at once (the caller, often the event loop, never waits
for a disk) and handed to a thread of the file's own, which writes and fsyncs it; changes made
while a write is under way go out together in the next one (group commit). Nothing is
acknowledged to anyone before it is durable: the bot waits for `durable()` before each message
it sends to Telegram and before each request to Proxmox that a record must precede, so a crash
can lose only changes nobody was told about.

The thread runs while there is something to write and then ends, holding the file object only
meanwhile: a store nobody refers to any more is written out, then freed (and its data folder
let go), as a closed file would be. It is not a daemon: the interpreter waits for the last
write before exiting.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.05
RETRY_MAX_S = 5.0


class BackgroundWriter:
    """Mixin: `_changed()` after each change in memory; `_flush()` (the subclass's) writes
    whatever is in memory then, and raises OSError when the disk refuses (retried, with a log
    line, until it accepts: meanwhile nothing is acknowledged, nothing is lost)."""

    label = "store file"

    def _init_writer(self) -> None:
        self._writer_cv = threading.Condition()
        self._asked = 0  # changes made (a count)
        self._written = 0  # changes durable
        self._busy: threading.Thread | None = None
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future, int]] = []

    def _flush(self) -> None:  # pragma: no cover - each subclass writes its own way
        raise NotImplementedError

    def _changed(self) -> None:
        with self._writer_cv:
            self._asked += 1
            if self._busy is None:
                self._busy = threading.Thread(target=self._drain, daemon=False,
                                              name=f"stratus-writer:{self.label}")
                self._busy.start()

    def _drain(self) -> None:
        delay = RETRY_FIRST_S
        while True:
            with self._writer_cv:
                target = self._asked
                if self._written >= target:
                    self._busy = None
                    self._writer_cv.notify_all()
                    return
            try:
                self._flush()
            except OSError as exc:
                log.error("could not write the %s (%s); retrying in %.1f s. Nothing is "
                          "acknowledged until it is written.", self.label, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            delay = RETRY_FIRST_S
            with self._writer_cv:
                self._written = target
                self._writer_cv.notify_all()
                due = [w for w in self._async_waiters if w[2] <= target]
                self._async_waiters = [w for w in self._async_waiters if w[2] > target]
            for loop, future, _ in due:
                try:
                    loop.call_soon_threadsafe(_settle, future)
                except RuntimeError:  # that loop is closed: nobody waits any more
                    pass

    @property
    def pending_changes(self) -> int:
        with self._writer_cv:
            return self._asked - self._written

    def sync(self) -> None:
        """Block until every change made so far is on the disk."""
        with self._writer_cv:
            target = self._asked
            if self._busy is threading.current_thread():
                raise RuntimeError("sync() from the writer thread would wait for itself")
            self._writer_cv.wait_for(lambda: self._written >= target)

    async def durable(self) -> None:
        """Wait, without blocking the event loop, until every change made so far is on the
        disk."""
        with self._writer_cv:
            target = self._asked
            if self._written >= target:
                return
            future = asyncio.get_running_loop().create_future()
            self._async_waiters.append((asyncio.get_running_loop(), future, target))
        await future


def _settle(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file durable: the directory entry lives in the directory's own
    blocks."""
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_atomically(path: Path, data: bytes, temp_prefix: str) -> None:
    """`path` holds `data` or what it held before, never half, even after a power cut: a temp
    file in the same folder, fsynced, renamed over it, and the folder fsynced."""
    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=temp_prefix, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    fsync_directory(directory)
