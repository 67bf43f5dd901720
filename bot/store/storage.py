"""tinydb's storage for the store file: refuses a damaged file, writes atomically and durably,
off the caller's thread.

Loading: a file that is empty, cut short or not a store stops the bot with one line naming the
file, what is wrong and the last good copy (``<file>.last-good``, written atomically after each
successful load), instead of starting empty and making that permanent at the first write.

Reading: the decoded data lives in memory and tinydb reads it in place (`read` hands out the
live data, so a query decodes nothing); the documents it hands out are copies (`_Document`).

Writing: tinydb gives the whole data to `write` after each change, the changed table as a new
dict (tinydb's `Table._update_table` builds one each time; tests/store pin that), so only that
table is serialized, on the caller's thread, into a snapshot of texts the writer thread puts on
the disk: temp file, fsync, rename, fsync of the folder (bot/store/writer.py).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tinydb import Storage, TinyDB
from tinydb.table import Document, Table

from .errors import StoreClosed, StoreUnreadable
from .lock import DataFolderLock
from .writer import BackgroundWriter, fsync_directory, write_atomically

log = logging.getLogger(__name__)

# Kept importable under its old name: tests and callers make a folder durable with it.
_fsync_directory = fsync_directory

Tables = dict[str, dict[str, Any]]


def last_good_path(path: Path) -> Path:
    return path.with_name(path.name + ".last-good")


class AtomicJSONStorage(BackgroundWriter, Storage):
    """JSON file storage with crash-safe writes off the caller's thread. One per file; the
    `folder_lock` (held by whoever opens the data folder) is kept as long as this is."""

    def __init__(self, path: str | Path, create_dirs: bool = True,
                 folder_lock: DataFolderLock | None = None) -> None:
        self.path = Path(path)
        self.label = self.path.name
        if create_dirs:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._folder_lock = folder_lock
        self._remove_stale_temp_files()
        self._data: Tables | None = load_store_file(self.path)
        # Per table: (the dict last written, its JSON text): unchanged tables are not
        # serialized again.
        self._parts: dict[str, tuple[dict, str]] = {}
        self._snapshot: dict[str, str] | None = None  # what the writer thread puts on disk
        self._snapshot_mu = threading.Lock()
        self._closed = False
        self._init_writer()

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

    def read(self) -> Tables | None:
        """The live data (tinydb's queries read it in place; its updates replace the table
        they change by a new dict, then call `write`)."""
        return self._data

    def write(self, data: Tables) -> None:
        if self._closed:
            raise StoreClosed(f"the store {self.path} is closed: this change was not saved")
        parts = {}
        for name, table in data.items():
            seen = self._parts.get(name)
            if seen is None or seen[0] is not table:
                seen = (table, json.dumps(table, separators=(",", ":")))
                self._parts[name] = seen
            parts[name] = seen[1]
        for name in set(self._parts) - set(data):
            del self._parts[name]
        self._data = data
        with self._snapshot_mu:
            self._snapshot = parts
        self._changed()

    def _flush(self) -> None:
        with self._snapshot_mu:
            parts = self._snapshot
        if parts is None:
            return
        text = "{" + ",".join(f"{json.dumps(name)}:{part}" for name, part in parts.items()) + "}"
        write_atomically(self.path, text.encode("utf-8"), self._temp_prefix)

    def close(self) -> None:
        if not self._closed:
            self.sync()
            self._closed = True
            self._folder_lock = None


def load_store_file(path: Path) -> Tables | None:
    """The store file's data (None: no file yet, a first start), or StoreUnreadable. After a
    successful load the text is kept as the last good copy, for the day the file is damaged."""
    backup = last_good_path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if backup.exists():
            raise StoreUnreadable(refusal(path, "is missing", backup)) from None
        return None
    problem, data = _parse(raw)
    if problem:
        raise StoreUnreadable(refusal(path, problem, backup))
    write_atomically(backup, raw, f".{backup.name}.")
    return data


def _parse(raw: bytes) -> tuple[str | None, Tables | None]:
    if not raw.strip():
        return ("is empty" if not raw else "holds only blanks"), None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"is not text (byte {exc.start} is not UTF-8)", None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()):
            return f"is cut short (its JSON stops at byte {len(raw)}, unfinished)", None
        return f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", None
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        return "is not a Stratus store (JSON, but not tables of records)", None
    return None, data


def refusal(path: Path, problem: str, backup: Path) -> str:
    """The one line that stops the start."""
    line = f"Refusing to start: the store {path} {problem}."
    if backup.exists():
        saved = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(backup.stat().st_mtime))
        return (f"{line} The last good copy is {backup} (saved {saved}, at the last good "
                f"start): check it, then copy it over {path.name} to go back to it.")
    return (f"{line} No good copy of it was kept (it never loaded here): restore it from a "
            f"backup, or move it away to start with an empty store.")


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
    """A tinydb table whose documents are handed out as copies (`document_class`, tinydb's
    extension point): queries read the storage's live data in place."""

    document_class = _Document


class StoreDB(TinyDB):
    """A tinydb database in one file, with crash-safe writes and cheap queries."""

    table_class = StoreTable
    default_storage_class = AtomicJSONStorage
