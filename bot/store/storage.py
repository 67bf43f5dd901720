"""A tinydb storage whose writes are atomic: a crash leaves the old file or the new one, never half.

Each write goes to a temporary file in the same directory, is flushed and fsynced, replaces the
real file with ``os.replace`` (atomic on POSIX) and then the directory is fsynced so the rename
itself survives a power cut. The last written text is kept in memory: a single process owns the
file, so reads need not touch the disk.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from tinydb import Storage


class AtomicJSONStorage(Storage):
    """JSON file storage with crash-safe writes. One instance per file and per process."""

    def __init__(self, path: str | Path, create_dirs: bool = True) -> None:
        self.path = Path(path)
        if create_dirs:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temp_files()
        try:
            self._text: str | None = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self._text = None

    @property
    def _temp_prefix(self) -> str:
        return f".{self.path.name}."

    def _remove_stale_temp_files(self) -> None:
        """Temp files left by a writer that was killed before its rename are garbage."""
        directory = self.path.parent
        if not directory.is_dir():
            return
        for leftover in directory.glob(f"{self._temp_prefix}*.tmp"):
            try:
                leftover.unlink()
            except OSError:
                pass

    def read(self) -> dict[str, dict[str, Any]] | None:
        if not self._text:
            return None
        return json.loads(self._text)

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        text = json.dumps(data, separators=(",", ":"), sort_keys=True)
        directory = self.path.parent
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=self._temp_prefix, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                tmp.write(text)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, self.path)
        except BaseException:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
            raise
        _fsync_directory(directory)
        self._text = text

    def close(self) -> None:
        pass


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable: the directory entry lives in the directory's own blocks."""
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
