"""Issue 16, items 1-3: a damaged store file stops the start with one line (never a silent reset),
one process per data folder, and the fsyncs that make a write durable are really made."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tinydb.table import Table

from bot.store import Store, StoreLocked, StoreUnreadable, User
from bot.store.storage import AtomicJSONStorage, last_good_path

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "STRATUS_TELEGRAM_TOKEN": "123456:" + "A" * 35,
    "STRATUS_PROXMOX_HOST": "pve.invalid",
    "STRATUS_PROXMOX_TOKEN_ID": "root@pam!stratus",
    "STRATUS_PROXMOX_TOKEN_SECRET": "00000000-0000-0000-0000-000000000000",
    "STRATUS_ADMIN_IDS": "1001",
    "STRATUS_APPROVAL_CHAT_ID": "-1001234",
}


def run_bot(data_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """`python -m bot` on `data_dir`, as an operator starts it (it must stop before any
    network: the Proxmox host does not even resolve)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATUS_")}
    env.update(ENV, STRATUS_DATA_DIR=str(data_dir), PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-m", "bot"], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=REPO_ROOT)


def a_good_store(data_dir: Path) -> Path:
    path = data_dir / "stratus.json"
    with Store(path) as store:
        store.users.put(User(id=7, role="user", name="Bob"))
    with Store(path):  # a successful start keeps the last good copy
        pass
    return path


DAMAGES = {
    "empty": (b"", "is empty"),
    "blank": (b"\n  \n", "holds only blanks"),
    "cut short": (None, "is cut short"),
    "garbage": (b'{"users": {"1": {"id": 7,, }}}', "is not valid JSON (line 1"),
    "not a store": (b"[1, 2, 3]", "is not a Stratus store"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_store_file_stops_the_start_with_one_line(tmp_path, damage):
    path = a_good_store(tmp_path)
    good = path.read_bytes()
    content, problem = DAMAGES[damage]
    path.write_bytes(good[: len(good) // 2] if content is None else content)

    result = run_bot(tmp_path)

    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback
    assert str(path) in lines[0] and problem in lines[0]
    assert str(last_good_path(path)) in lines[0]
    # Nothing was reset or overwritten: the file is as damaged as it was, the copy is good.
    assert path.read_bytes() == (good[: len(good) // 2] if content is None else content)
    assert last_good_path(path).read_bytes() == good
    # The copy named is the way back.
    path.write_bytes(last_good_path(path).read_bytes())
    with Store(path) as store:
        assert store.users.get(7).name == "Bob"


def test_a_damaged_file_never_loaded_says_no_copy_was_kept(tmp_path):
    path = tmp_path / "stratus.json"
    path.write_bytes(b"")
    with pytest.raises(StoreUnreadable) as refused:
        Store(path)
    assert "No good copy of it was kept" in str(refused.value)
    assert path.read_bytes() == b""  # not reset
    Store(tmp_path / "other.json").close()  # and the folder was let go


def test_the_last_good_copy_follows_each_successful_load(tmp_path):
    path = tmp_path / "stratus.json"
    with Store(path) as store:
        store.users.put(User(id=1, role="user"))
    with Store(path) as store:
        assert json.loads(last_good_path(path).read_text())["users"]["1"]["id"] == 1
        store.users.put(User(id=2, role="user"))
    with Store(path):
        assert len(json.loads(last_good_path(path).read_text())["users"]) == 2


def test_a_missing_store_file_next_to_its_copy_is_refused(tmp_path):
    path = a_good_store(tmp_path)
    path.unlink()
    with pytest.raises(StoreUnreadable, match="is missing"):
        Store(path)


# --- one process per data folder ------------------------------------------------------------

HOLDER = r"""
import sys, time
from bot.store import Store
store = Store(sys.argv[1])
print("holding", flush=True)
time.sleep(120)
"""


def start_holder(path: Path) -> subprocess.Popen:
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert child.stdout.readline().strip() == "holding"
    return child


def test_a_second_instance_on_one_data_folder_exits_at_start(tmp_path):
    holder = start_holder(tmp_path / "stratus.json")
    try:
        result = run_bot(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"Another Stratus (pid {holder.pid}) is using the data folder {tmp_path}" in lines[0]


def test_a_stale_lock_of_a_killed_instance_is_detected_and_taken_over(tmp_path, caplog):
    holder = start_holder(tmp_path / "stratus.json")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with Store(tmp_path / "stratus.json") as store:
        assert store.folder_lock.stale_pid == holder.pid
    assert f"the previous Stratus (pid {holder.pid}) did not stop cleanly" in caplog.text
    with Store(tmp_path / "stratus.json") as store:  # that one stopped cleanly
        assert store.folder_lock.stale_pid is None


def test_two_stores_in_one_process_are_refused_too(tmp_path):
    with Store(tmp_path / "s.json"):
        with pytest.raises(StoreLocked, match="Another store of this same process"):
            Store(tmp_path / "s.json", lock_wait_s=0.2)


# --- durability, proven --------------------------------------------------------------------


@pytest.fixture
def disk_calls(monkeypatch):
    """Every fsync (by the path its descriptor names) and rename, in order."""
    calls: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst, **kw):
        calls.append(("rename", f"{src} -> {dst}"))
        return real_replace(src, dst, **kw)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return calls


def test_a_store_write_fsyncs_the_file_before_its_rename_and_the_folder_after(tmp_path,
                                                                              disk_calls):
    """Fails if either fsync is removed (or made after the rename it must precede): the
    crash test cannot tell, a power cut would."""
    path = tmp_path / "stratus.json"
    with Store(path) as store:
        disk_calls.clear()
        store.users.put(User(id=1, role="user"))
        store.sync()
        calls = list(disk_calls)
    renames = [i for i, (kind, what) in enumerate(calls)
               if kind == "rename" and what.endswith(f" -> {path}")]
    assert renames, calls  # (an upsert may write twice)
    for rename, following in zip(renames, [*renames[1:], len(calls)], strict=True):
        temp = calls[rename][1].split(" -> ")[0]
        assert ("fsync", temp) in calls[:rename], calls  # the data, under its temp name
        assert ("fsync", str(tmp_path)) in calls[rename + 1:following], calls  # the rename


def test_an_audit_entry_fsyncs_its_journal_and_a_new_journal_its_folder(tmp_path, disk_calls):
    with Store(tmp_path / "stratus.json") as store:
        disk_calls.clear()
        store.audit.record(1, "start", "ct:100", "ok")
        store.sync()
        first = list(disk_calls)
        disk_calls.clear()
        store.audit.record(1, "stop", "ct:100", "ok")
        store.sync()
        second = list(disk_calls)
    journal = str(tmp_path / "stratus-audit.jsonl")
    assert first.index(("fsync", journal)) < first.index(("fsync", str(tmp_path))), first
    assert second == [("fsync", journal)]


def test_the_last_good_copy_is_written_atomically(tmp_path, disk_calls):
    path = a_good_store(tmp_path)
    disk_calls.clear()
    Store(path).close()
    copy = str(last_good_path(path))
    rename = next(i for i, (k, w) in enumerate(disk_calls) if k == "rename" and w.endswith(copy))
    temp = disk_calls[rename][1].split(" -> ")[0]
    assert ("fsync", temp) in disk_calls[:rename]
    assert ("fsync", str(tmp_path)) in disk_calls[rename + 1:]


def test_tinydb_hands_each_write_a_new_dict_for_the_table_it_changed(tmp_path):
    """AtomicJSONStorage serializes only the tables whose dict is new (tinydb's
    Table._update_table builds one per change). If tinydb ever changed a table in place,
    changes would silently not be written: this fails first."""
    storage_seen = []

    class Spy(AtomicJSONStorage):
        def write(self, data):
            storage_seen.append({name: table for name, table in data.items()})
            super().write(data)

    storage = Spy(tmp_path / "s.json")
    users, other = Table(storage, "users"), Table(storage, "other")
    users.insert({"id": 1})
    other.insert({"x": 1})
    users.update({"id": 2})
    users.remove(doc_ids=[1])
    for before, after in zip(storage_seen, storage_seen[1:], strict=False):
        changed = [n for n in after if n not in before or after[n] is not before[n]]
        assert len(changed) == 1, (before, after)
    storage.close()
    assert json.loads((tmp_path / "s.json").read_text()) == {"users": {}, "other": {"1": {"x": 1}}}
