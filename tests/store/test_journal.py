"""Issue 16, item 4: the audit trail and the scaling history are append-only journals, rotated,
with a retention; `/audit` reads the tail; old tinydb files are carried over."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from bot.store import Store, StoreUnreadable
from bot.store.journal import Journal
from bot.store.scaling import Sample, ScalingHistoryRepository


def sample(at: float, replicas: int = 1) -> Sample:
    return Sample(at=at, replicas=replicas, ready=replicas, utilization=0.5, load=0.5,
                  desired=replicas, target=0.6)


def test_an_audit_entry_appends_one_line_and_rewrites_nothing(tmp_path):
    with Store(tmp_path / "s.json") as store:
        for i in range(50):
            store.audit.record(1, "stop", f"ct:{i}", "ok")
        store.sync()
        path = tmp_path / "s-audit.jsonl"
        inode, size = path.stat().st_ino, path.stat().st_size
        store.audit.record(1, "start", "ct:99", "ok")
        store.sync()
        assert path.stat().st_ino == inode  # the same file, appended to
        line = path.read_bytes()[size:]
    assert json.loads(line)["target"] == "ct:99" and line.endswith(b"\n")


def test_a_last_line_cut_by_a_crash_is_dropped_and_the_rest_kept(tmp_path, caplog):
    with Store(tmp_path / "s.json") as store:
        store.audit.record(1, "stop", "ct:1", "ok")
        store.audit.record(1, "stop", "ct:2", "ok")
    path = tmp_path / "s-audit.jsonl"
    with open(path, "ab") as f:
        f.write(b'{"at":1.0,"actor_id":1,"act')  # a write the kill cut: never acknowledged
    with Store(tmp_path / "s.json") as store:
        assert [e.target for e in store.audit.recent()] == ["ct:2", "ct:1"]
        store.audit.record(1, "stop", "ct:3", "ok")
    assert "cut short by a crash" in caplog.text
    assert [json.loads(x)["target"] for x in path.read_text().splitlines()] == \
        ["ct:1", "ct:2", "ct:3"]


def test_a_damaged_line_before_the_last_stops_the_start_naming_file_and_line(tmp_path):
    with Store(tmp_path / "s.json") as store:
        for i in range(3):
            store.audit.record(1, "stop", f"ct:{i}", "ok")
    path = tmp_path / "s-audit.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[1] = b"\x00\x00garbage"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(StoreUnreadable) as refused:
        Store(tmp_path / "s.json")
    assert f"line 2 of {path}" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_audit_is_archived_past_its_size_and_archives_past_retention_deleted(tmp_path):
    path = tmp_path / "a.jsonl"
    journal = Journal(path, rotate_bytes=2000, retention_s=3600)
    for i in range(100):
        journal.append({"i": i, "pad": "x" * 50})
        if i % 10 == 9:
            journal.sync()
    archives = journal.archives()
    assert len(archives) >= 2
    # Everything is still there, in order.
    assert [e["i"] for e in journal.read_all()] == list(range(100))
    # An archive older than the retention goes at the next rotation.
    old = archives[0]
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    for i in range(100, 150):
        journal.append({"i": i, "pad": "x" * 50})
    journal.sync()
    assert not old.exists() and archives[1].exists()
    journal.close()


def test_recent_reads_the_tail_beyond_what_memory_keeps(tmp_path, monkeypatch):
    monkeypatch.setattr("bot.store.repositories.AuditRepository.RECENT_KEPT", 5)
    with Store(tmp_path / "s.json") as store:
        for i in range(12):
            store.audit.record(i % 2, "stop", f"ct:{i}", "ok", at=1000.0 + i)
        assert [e.target for e in store.audit.recent(3)] == ["ct:11", "ct:10", "ct:9"]
        assert [e.target for e in store.audit.recent(8)][-1] == "ct:4"  # from the file
        assert [e.target for e in store.audit.recent(3, actor_id=0)] == ["ct:10", "ct:8", "ct:6"]
        assert len(store.audit.recent(100)) == 12
    with Store(tmp_path / "s.json") as store:  # memory refilled from the tail at start
        assert [e.target for e in store.audit.recent(2)] == ["ct:11", "ct:10"]
        assert len(store.audit.recent(100)) == 12


def test_scaling_history_is_replayed_compacted_and_bounded(tmp_path):
    path = tmp_path / "h.jsonl"

    def history():
        lock = threading.RLock()
        return ScalingHistoryRepository(Journal(path, rotate_bytes=4000, owner_lock=lock), lock,
                                        max_samples=20)

    first = history()
    for i in range(200):
        first.add("web", sample(float(i)))
        first.add("api", sample(float(i), 2))
    first.remove("api")
    assert [s.at for s in first.since("web", 190.0)] == [float(i) for i in range(190, 200)]
    first._journal.close()  # noqa: SLF001
    assert path.stat().st_size < 12000  # compacted, not 400 samples long
    again = history()
    assert [s.at for s in again.since("web")] == [float(i) for i in range(180, 200)]
    assert again.since("api") == []


def test_tinydb_audit_and_history_files_are_carried_over_once(tmp_path):
    (tmp_path / "s-audit.json").write_text(json.dumps({"audit": {
        "1": {"at": 1.0, "actor_id": 1, "action": "create", "target": "ct:100",
              "outcome": "ok", "detail": ""},
        "2": {"at": 2.0, "actor_id": 1, "action": "stop", "target": "ct:100",
              "outcome": "ok", "detail": ""}}}))
    (tmp_path / "s-history.json").write_text(json.dumps({"scaling_history": {
        "1": {"group": "web", "samples": [vars(sample(5.0)) | {}, vars(sample(6.0)) | {}]}}}))
    with Store(tmp_path / "s.json") as store:
        assert [e.action for e in store.audit.recent()] == ["stop", "create"]
        assert [s.at for s in store.scaling_history.since("web")] == [5.0, 6.0]
    assert (tmp_path / "s-audit.json.migrated").exists()
    assert not (tmp_path / "s-audit.json").exists()
