"""A tinydb storage whose writes are atomic: a crash leaves the old file or the new one, never half.

Each write goes to a temporary file in the same directory, is flushed and fsynced, replaces the
real file with ``os.replace`` (atomic on POSIX) and then the directory is fsynced so the rename
itself survives a power cut. A single process owns the file, so reads need not touch the disk:
the last written text is kept in memory, and decoded once (not on every query, which cost a
decode of the whole file each time: several per chat update). Queries read that decoded data in
place (`StoreTable`) and hand out copies of the documents they find; tinydb's read-modify-write
gets a fresh decode of its own, which it may change as it likes: nothing it does, a failed
write included, can make the data queries see differ from the file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tinydb import Storage, TinyDB
from tinydb.table import Document, Table


class AtomicJSONStorage(Storage):
    """JSON file storage with crash-safe writes. One instance per file and per process."""

    def __init__(self, path: str | Path, create_dirs: bool = True) -> None:
        self.path = Path(path)
        if create_dirs:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temp_files()
        self._text: str | None = None  # the file's text (None: no file, or empty)
        self._known = False  # whether _text is the file's text (after a failed write: unknown)
        self._decoded: dict[str, dict[str, Any]] | None = None  # json.loads(_text), shared
        self._load()

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

    def _load(self) -> str | None:
        """The file's text, read from the disk only when what is in memory may differ."""
        if not self._known:
            self._decoded = None
            try:
                self._text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                self._text = None
            self._known = True
        return self._text

    def read(self) -> dict[str, dict[str, Any]] | None:
        """A fresh copy of the data: tinydb changes it in place before writing it."""
        text = self._load()
        return json.loads(text) if text else None

    def peek(self) -> Mapping[str, Mapping[str, Any]] | None:
        """The data as stored, decoded once per write and shared by every caller, who must not
        change it: for `StoreTable`'s queries, which copy each document they hand out."""
        text = self._load()
        if self._decoded is None and text:
            self._decoded = json.loads(text)
        return self._decoded

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        text = json.dumps(data, separators=(",", ":"), sort_keys=True)
        directory = self.path.parent
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=self._temp_prefix, suffix=".tmp")
        try:
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
        except BaseException:
            # The file holds the old text or (renamed, not made durable) the new one: read it
            # again before the next query rather than guess.
            self._known = False
            raise
        self._text, self._decoded = text, None

    def close(self) -> None:
        pass


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable: the directory entry lives in the directory's own blocks."""
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _copy(value: Any) -> Any:
    """A copy of a JSON value down to its innermost list or dict."""
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    if type(value) is list:
        return [_copy(v) for v in value]
    return value


class _Document(Document):
    """A stored document as a query hands it out: a copy, nested lists and dicts included (an
    approval's payload, a group's policy state), so that changing it, or a value taken from
    it, cannot change the data that later queries read."""

    def __init__(self, value: Mapping, doc_id: int) -> None:
        super().__init__(value, doc_id)
        for key, item in value.items():
            if type(item) is dict or type(item) is list:
                self[key] = _copy(item)


class StoreTable(Table):
    """A tinydb table over `AtomicJSONStorage` whose queries read the decoded data in place
    (tinydb would decode the whole file for each query, twice for a `get`); writes go through
    tinydb's read-modify-write on a fresh copy, as with any storage."""

    document_class = _Document

    def _read_table(self) -> Mapping[str, Mapping]:
        tables = self._storage.peek()
        return tables.get(self.name, {}) if tables else {}


class StoreDB(TinyDB):
    """A tinydb database in one file, with crash-safe writes and cheap queries."""

    table_class = StoreTable
    default_storage_class = AtomicJSONStorage
