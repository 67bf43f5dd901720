"""Each repository against a real store file, reopened to prove what was persisted."""

from __future__ import annotations

import functools
import json
import os
import threading

import pytest

from bot.store import Approval, AtomicJSONStorage, AuditEntry, Quota, Store, User, writer


@pytest.fixture
def path(tmp_path):
    return tmp_path / "nested" / "dir" / "store.json"


class _Restarting:
    """The fixture's store, as a process that restarts sees it: one store per data folder, so
    `reopen` closes it first, and it opens again when next used."""

    def __init__(self, path) -> None:
        self.path = path
        self.current = Store(path)

    def __getattr__(self, name):
        if self.current.closed:
            self.current = Store(self.path)
        return getattr(self.current, name)


_OPEN: dict = {}  # path -> the fixture's store


@pytest.fixture
def store(path):
    s = _OPEN[path] = _Restarting(path)
    yield s
    _OPEN.pop(path).current.close()


def reopen(path) -> Store:
    """The store as a restart finds it: the one open on `path` is closed first."""
    if path in _OPEN:
        restarting = _OPEN[path]
        restarting.current.close()
        restarting.current = Store(path)
        return restarting.current
    return Store(path)


def make_approval(approval_id="a1", expires_at=1000.0, **kw) -> Approval:
    values = dict(
        id=approval_id,
        action="delete",
        payload={"vmid": 101, "node": "pve1"},
        requester_id=7,
        requester_chat_id=70,
        summary="delete CT 101 (web)",
        created_at=100.0,
        expires_at=expires_at,
    )
    values.update(kw)
    return Approval(**values)


# --- storage -------------------------------------------------------------------------------


def test_storage_reads_missing_file_as_empty_and_writes_atomically(tmp_path):
    target = tmp_path / "a" / "b.json"
    storage = AtomicJSONStorage(target)
    assert storage.read() is None
    assert not target.exists()
    storage.write({"t": {"1": {"x": 1}}})
    storage.sync()
    assert json.loads(target.read_text()) == {"t": {"1": {"x": 1}}}
    assert AtomicJSONStorage(target).read() == {"t": {"1": {"x": 1}}}
    assert sorted(p.name for p in target.parent.iterdir()) == ["b.json", "b.json.last-good"]


def test_storage_removes_stale_temp_files(tmp_path):
    target = tmp_path / "s.json"
    stale = tmp_path / ".s.json.abc123.tmp"
    stale.write_text("{half")
    unrelated = tmp_path / "other.tmp"
    unrelated.write_text("keep")
    AtomicJSONStorage(target)
    assert not stale.exists()
    assert unrelated.exists()


@pytest.mark.parametrize("failing", ["os.replace", "fsync_directory"])
def test_a_failed_write_is_retried_until_the_disk_takes_it(store, path, monkeypatch, caplog,
                                                            failing):
    """The disk refuses (full, say) twice: the writer says so in the log and tries again;
    `sync` returns once the change is on the disk, and nothing is lost or left behind."""
    store.users.put(User(id=5, role="user", name="Bob"))
    store.sync()
    failures = []
    real = getattr(writer, failing.split(".")[-1]) if failing != "os.replace" else os.replace

    def flaky(*args, **kwargs):
        if len(failures) < 2:
            failures.append(args)
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr("bot.store.writer.RETRY_FIRST_S", 0.01)
    monkeypatch.setattr(f"bot.store.writer.{failing}", flaky)
    store.users.put(User(id=5, role="admin", name="Bob"))
    store.sync()
    monkeypatch.undo()
    assert len(failures) == 2
    assert "No space left on device" in caplog.text and "retrying" in caplog.text
    on_file = {d["id"]: d["role"] for d in json.loads(path.read_text())["users"].values()}
    assert on_file == {5: "admin"}
    store.close()
    with reopen(path) as again:
        assert {u.id: u.role for u in again.users.all()} == on_file
    assert not [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_an_update_that_fails_halfway_writes_nothing(store, path):
    """tinydb changes the documents in place before writing: a failing update never reaches
    the file (the store's own updates give fields, which cannot fail halfway)."""
    store.users.put(User(id=5, role="user", name="Bob"))
    store.users.get(5)

    def half_done(doc):
        doc["role"] = "admin"
        raise RuntimeError("updater failed")

    with pytest.raises(RuntimeError):
        store.users._table.update(half_done)
    store.close()
    assert json.loads(path.read_text())["users"]["1"]["role"] == "user"
    with reopen(path) as again:
        assert again.users.get(5).role == "user"


def test_changing_what_a_read_handed_out_changes_nothing_stored(store, path):
    store.approvals.add(make_approval(payload={"vmid": 101, "nics": [{"bridge": "vmbr0"}]}))
    got = store.approvals.get("a1")
    got.payload["vmid"] = 999
    got.payload["nics"][0]["bridge"] = "evil"
    got.payload["nics"].append({})
    (doc,) = store.approvals._table.all()
    doc["summary"] = "changed"
    doc["payload"]["extra"] = 1
    assert store.approvals.get("a1") == make_approval(
        payload={"vmid": 101, "nics": [{"bridge": "vmbr0"}]})
    assert store.approvals.pending()[0].payload == {"vmid": 101, "nics": [{"bridge": "vmbr0"}]}


def test_store_creates_directories(path):
    with Store(path) as s:
        s.notices.first_time("x")
    assert path.is_file()


# --- users ---------------------------------------------------------------------------------


def test_users_put_get_replace_remove(store, path):
    assert store.users.get(5) is None
    store.users.put(User(id=5, role="user", name="Bob", granted_by=1, granted_at=10.0))
    store.users.put(User(id=3, role="admin"))
    store.users.put(User(id=5, role="admin", name="Bob", granted_by=1, granted_at=20.0))
    with reopen(path) as again:
        assert again.users.get(5) == User(5, "admin", "Bob", 1, 20.0)
        assert [u.id for u in again.users.all()] == [3, 5]
        assert again.users.get(5).is_admin
    assert store.users.remove(5) is True
    assert store.users.remove(5) is False
    assert store.users.get(5) is None
    assert [u.id for u in reopen(path).users.all()] == [3]


def test_users_reject_unknown_role(store):
    with pytest.raises(ValueError):
        store.users.put(User(id=1, role="root"))
    assert store.users.all() == []


# --- ownership -----------------------------------------------------------------------------


def test_ownership(store, path):
    store.ownership.set(101, 7, "web")
    store.ownership.set(102, 7)
    store.ownership.set(103, 8, "db")
    store.ownership.set(101, 9, "web")  # re-assigned
    with reopen(path) as again:
        assert again.ownership.owner(101) == 9
        assert again.ownership.owner(999) is None
        assert again.ownership.hostname(103) == "db"
        assert again.ownership.hostname(999) is None
        assert again.ownership.by_owner(7) == [102]
        assert again.ownership.by_owner(9) == [101]
        assert again.ownership.all() == {101: 9, 102: 7, 103: 8}
    assert store.ownership.remove(102) is True
    assert store.ownership.remove(102) is False
    assert reopen(path).ownership.all() == {101: 9, 103: 8}


# --- quotas --------------------------------------------------------------------------------


def test_quotas(store, path):
    assert store.quotas.get(7) is None
    store.quotas.put(7, Quota(3, 4, 4096, 32))
    store.quotas.put(7, Quota(5, 8, 8192, 64))
    store.quotas.put(8, Quota(1, 1, 512, 8))
    with reopen(path) as again:
        assert again.quotas.get(7) == Quota(containers=5, cores=8, memory_mb=8192, disk_gb=64)
        assert again.quotas.get(8) == Quota(1, 1, 512, 8)
    assert store.quotas.remove(8) is True
    assert reopen(path).quotas.get(8) is None


# --- approvals -----------------------------------------------------------------------------


def test_approval_add_get_pending_survive_reopen(store, path):
    store.approvals.add(make_approval("a1", created_at=2.0))
    store.approvals.add(make_approval("a2", created_at=1.0))
    with pytest.raises(ValueError):
        store.approvals.add(make_approval("a1"))
    store.approvals.add_message_ref("a1", -100, 55)
    store.approvals.add_message_ref("a1", 1, 56)
    with reopen(path) as again:
        a1 = again.approvals.get("a1")
        assert a1.payload == {"vmid": 101, "node": "pve1"}
        assert a1.status == "pending"
        assert a1.message_refs == [(-100, 55), (1, 56)]
        assert [a.id for a in again.approvals.pending()] == ["a2", "a1"]
        assert again.approvals.get("nope") is None
    with pytest.raises(KeyError):
        store.approvals.add_message_ref("nope", 1, 1)


def test_decide_once(store, path):
    store.approvals.add(make_approval("a1"))
    won = store.approvals.decide("a1", "approved", by=1, now=500.0)
    assert won is not None
    assert (won.status, won.decided_by, won.decided_at) == ("approved", 1, 500.0)
    # second click, second admin, a different decision: all lose
    assert store.approvals.decide("a1", "approved", by=1, now=501.0) is None
    assert store.approvals.decide("a1", "rejected", by=2, now=501.0) is None
    assert store.approvals.decide("missing", "approved", by=2, now=501.0) is None
    with reopen(path) as again:  # a restart in between does not reopen the decision
        assert again.approvals.decide("a1", "rejected", by=2, now=502.0) is None
        assert again.approvals.get("a1").status == "approved"
        assert again.approvals.pending() == []


def test_decide_refuses_expired_and_bad_status(store):
    store.approvals.add(make_approval("a1", expires_at=1000.0))
    assert store.approvals.decide("a1", "approved", by=1, now=1000.0) is None
    assert store.approvals.decide("a1", "rejected", by=1, now=2000.0) is None
    assert store.approvals.get("a1").status == "pending"
    with pytest.raises(ValueError):
        store.approvals.decide("a1", "pending", by=1, now=1.0)
    with pytest.raises(ValueError):
        store.approvals.decide("a1", "maybe", by=1, now=1.0)


def test_set_status_after_decision(store, path):
    store.approvals.add(make_approval("a1"))
    store.approvals.decide("a1", "approved", by=1, now=200.0)
    done = store.approvals.set_status("a1", "done")
    assert done.status == "done" and done.decided_by == 1
    assert reopen(path).approvals.get("a1").status == "done"
    assert store.approvals.set_status("nope", "failed") is None
    with pytest.raises(ValueError):
        store.approvals.set_status("a1", "finished")


def test_expire_due(store, path):
    store.approvals.add(make_approval("old", expires_at=100.0))
    store.approvals.add(make_approval("edge", expires_at=150.0))
    store.approvals.add(make_approval("fresh", expires_at=1000.0))
    store.approvals.add(make_approval("decided", expires_at=100.0))
    store.approvals.decide("decided", "rejected", by=1, now=50.0)
    expired = store.approvals.expire_due(now=150.0)
    assert sorted(a.id for a in expired) == ["edge", "old"]
    assert all(a.status == "expired" for a in expired)
    assert store.approvals.expire_due(now=150.0) == []  # reported once
    with reopen(path) as again:
        assert again.approvals.get("old").status == "expired"
        assert again.approvals.get("decided").status == "rejected"
        assert [a.id for a in again.approvals.pending()] == ["fresh"]
        assert again.approvals.decide("old", "approved", by=1, now=10.0) is None


def run_together(*calls):
    """Run the calls in threads released at the same instant; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_decide_race_has_exactly_one_winner(store, path):
    for round_no in range(5):
        approval_id = f"race{round_no}"
        store.approvals.add(make_approval(approval_id))
        calls = [
            functools.partial(
                store.approvals.decide,
                approval_id,
                "approved" if admin % 2 else "rejected",
                by=admin,
                now=500.0,
            )
            for admin in range(16)
        ]
        winners = [r for r in run_together(*calls) if r is not None]
        assert len(winners) == 1
        stored = reopen(path).approvals.get(approval_id)
        assert stored == winners[0]
        assert stored.status == ("approved" if stored.decided_by % 2 else "rejected")


def test_decide_races_expire_due(store):
    """The expiry sweep and a decision at the same moment: exactly one of them wins."""
    for round_no in range(5):
        approval_id = f"r{round_no}"
        store.approvals.add(make_approval(approval_id, expires_at=100.0))
        swept, decided = run_together(
            lambda: store.approvals.expire_due(now=100.0),
            lambda approval_id=approval_id: store.approvals.decide(
                approval_id, "expired", by=None, now=100.0
            ),
        )
        assert len(swept) + (decided is not None) == 1


# --- audit ---------------------------------------------------------------------------------


def test_audit_recent_newest_first_and_filtered(store, path):
    store.audit.record(1, "create", "ct:101", "ok", at=10.0)
    store.audit.record(2, "delete", "ct:102", "refused", "not yours", at=30.0)
    store.audit.record(1, "stop", "ct:101", "ok", at=20.0)
    store.audit.record(None, "expire", "approval:a1", "expired", at=30.0)
    entry = store.audit.record(1, "start", "ct:101", "ok")
    assert isinstance(entry, AuditEntry) and entry.at > 1_000_000
    with reopen(path) as again:
        recent = again.audit.recent()
        assert [e.action for e in recent] == ["start", "expire", "delete", "stop", "create"]
        assert recent[2] == AuditEntry(30.0, 2, "delete", "ct:102", "refused", "not yours")
        assert [e.action for e in again.audit.recent(n=2)] == ["start", "expire"]
        assert [e.action for e in again.audit.recent(actor_id=1)] == ["start", "stop", "create"]
        assert again.audit.recent(n=0) == []


# --- notices -------------------------------------------------------------------------------


def test_notices_first_time_persists(store, path):
    assert store.notices.first_time("unknown:42") is True
    assert store.notices.first_time("unknown:42") is False
    assert store.notices.first_time("unknown:43") is True
    with reopen(path) as again:
        assert again.notices.first_time("unknown:42") is False


def test_notices_first_time_from_many_threads(store):
    results = run_together(*[lambda: store.notices.first_time("unknown:7")] * 12)
    assert results.count(True) == 1


def test_owner_at_follows_the_periods_of_a_reused_vmid(tmp_path):
    from bot.store import Store

    store = Store(tmp_path / "s.json")
    store.ownership.set(100, 1, "bobs", at=1000.0)
    store.ownership.remove(100, at=2000.0)
    store.ownership.set(100, 2, "carols", at=3000.0)
    assert store.ownership.owner(100) == 2
    assert store.ownership.owner_at(100, 1500.0) == 1
    assert store.ownership.owner_at(100, 2000.0) == 1
    assert store.ownership.owner_at(100, 2300.0) is None  # nobody's: no CT had that id then
    assert store.ownership.owner_at(100, 2900.0) == 2  # Proxmox's clock a little behind ours
    assert store.ownership.owner_at(100, 4000.0) == 2
    assert store.ownership.owner_at(100, 500.0) == 1  # skew before the very first period
    assert store.ownership.owner_at(100, 100.0) is None
    assert store.ownership.owner_at(101, 1500.0) is None
    store.close()
    reopened = Store(tmp_path / "s.json")
    assert reopened.ownership.owner_at(100, 1500.0) == 1  # the periods are persisted
