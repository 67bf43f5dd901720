"""Scaling groups end to end: the real bot, pvesim's load model over HTTPS, tgsim.

The controller's periods are driven by calling its ``tick(now)`` with a simulated clock, so
nothing here waits for wall-clock periods; pvesim runs tasks at once (time_scale 0).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading

import pytest
from e2e_harness import (
    ADMIN_ID,
    APPROVAL_CHAT,
    BOB_ID,
    CAROL_ID,
    Harness,
    default_policy,
    running_bot,
)

from bot.services.scaling import ScalingSettings

TEMPLATE = 900
GROUP_CHAT = -100777


@pytest.fixture
def policy():
    return default_policy(scaling=ScalingSettings(warmup_s=0, run_job=False, ready_delay_s=30))


@pytest.fixture(autouse=True)
def template(sim):
    sim.cluster.add_guest(TEMPLATE, "pve1", hostname="web-template", template=1)
    sim.cluster.load.warmup_s = 0
    sim.cluster.load.capacity_rps = 100


def replicas(sim, group="web"):
    return sorted(g.name for g in sim.cluster.guests.values()
                  if group in str(g.config.get("tags", "")) and not g.config.get("template"))


def notices(tg, chat=GROUP_CHAT):
    return [m.content for m in tg.chat(chat).messages]


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    async def ticks(self, h, n, step=15.0):
        controller = h.app.bot_data["scaler"]
        for _ in range(n):
            self.now += step
            await controller.tick(self.now)


async def create_group(h, extra="", user=None, chat=GROUP_CHAT, minimum=1):
    user = user or h.admin
    h.tg.group(chat, "web team")
    await user.send(f"/scale_create web --template {TEMPLATE} --min {minimum} --max 6 "
                    f"--slo 60 {extra}", chat_id=chat)
    return await h.tg.wait_for(lambda m: "web" in m.content, chat_id=chat)


async def test_load_step_up_then_down_adds_announces_and_removes(harness):
    h, sim, clock = harness, harness.sim, Clock()
    answer = await create_group(h)
    assert "Scaling group web created" in answer.content
    await clock.ticks(h, 1)
    assert replicas(sim) == ["web-1"]
    sim.cluster.set_load("web", 250)  # 2.5 replicas of work: 5 at 60%
    await clock.ticks(h, 6)
    grown = replicas(sim)
    assert len(grown) >= 5, grown
    added = [n for n in notices(h.tg) if "added" in n]
    for name in grown[1:]:
        assert sum(f"{name} on pve" in n for n in added) == 1, (name, added)
    assert any("CPU" in n and "vs target 60%" in n for n in added)
    # Every replica has the group's tag, and ownership is recorded for the group's owner.
    owned = h.services.store.ownership.by_owner(ADMIN_ID)
    assert len(owned) == len(grown)

    sim.cluster.set_load("web", 20)
    await clock.ticks(h, 30)  # past the scale-down window
    # The predictive policy keeps a margin for the recent noise of the load: down to 1-2.
    assert 1 <= len(replicas(sim)) <= 2, replicas(sim)
    removed = [n for n in notices(h.tg) if "removed" in n]
    assert removed and all("web:" in n for n in removed)
    gone = set(grown) - set(replicas(sim))
    for name in gone:
        assert sum(f"{name} on pve" in n for n in removed) == 1, (name, removed)
    # The history holds a sample per period.
    assert len(h.services.store.scaling_history.since("web")) == 37


async def test_clone_failure_reported_once_leaves_nothing_and_is_retried(harness):
    h, sim, clock = harness, harness.sim, Clock()
    await create_group(h)
    for _ in range(2):
        sim.cluster.fail_next_task("vzclone", "unable to create image: out of space")
        await clock.ticks(h, 1)
        assert replicas(sim) == []
    failures = [n for n in notices(h.tg) if "out of space" in n]
    assert len(failures) == 1, notices(h.tg)
    assert "retrying next period" in failures[0]
    await clock.ticks(h, 1)
    assert replicas(sim) == ["web-3"]  # names are never reused
    # A failed start: the clone is destroyed, nothing half-made stays.
    sim.cluster.set_load("web", 300)
    sim.cluster.fail_next_task("vzstart", "cgroup setup failed")
    before = set(sim.cluster.guests)
    await clock.ticks(h, 1)
    assert all(g.status == "running" for g in sim.cluster.guests.values()
               if g.vmid not in before)
    assert any("cgroup setup failed" in n for n in notices(h.tg))
    members = h.services.store.scaling.get("web").members
    assert sorted(m.hostname for m in members) == replicas(sim)


async def test_restart_and_hand_deletion_reconcile_from_identity(harness):
    h, sim, clock = harness, harness.sim, Clock()
    await create_group(h, minimum=3)
    await clock.ticks(h, 1)
    assert len(replicas(sim)) == 3
    # The bot stopped between the clones and saving them as members: their clone records
    # (made before each clone request, with the marker given in the clone) are all it has.
    group = h.services.store.scaling.get("web")
    h.services.store.scaling.update("web", members=(), cloning=group.members)
    await clock.ticks(h, 1)
    assert len(replicas(sim)) == 3  # no duplicate clones
    assert len(h.services.store.scaling.get("web").members) == 3
    assert sum(n.count("finished its clone") for n in notices(h.tg)) == 3
    # Someone deletes a replica by hand.
    victim = next(g for g in sim.cluster.guests.values() if g.name == "web-2")
    del sim.cluster.guests[victim.vmid]
    await clock.ticks(h, 1)
    assert any("web-2" in n and "gone from Proxmox" in n for n in notices(h.tg))
    assert len(replicas(sim)) == 3  # back to the minimum with a new one
    assert "web-2" not in [m.hostname for m in h.services.store.scaling.get("web").members]


async def test_non_admin_cannot_go_beyond_quota(harness):
    h = harness
    h.services.store.ownership.set(TEMPLATE, BOB_ID, "web-template")
    # Default quota: 3 containers, 4 cores, 4 GiB, 32 GiB disk; the template is 1 core, 8 GiB.
    await h.bob.send(f"/scale_create web --template {TEMPLATE} --min 1 --max 5 --target-cpu 60")
    refused = await h.tg.wait_for(lambda m: "quota" in m.content, chat_id=BOB_ID)
    assert "exceed your quota" in refused.content and "containers" in refused.content
    assert h.services.store.scaling.get("web") is None
    await h.bob.send(f"/scale_create web --template {TEMPLATE} --min 1 --max 2 --target-cpu 60")
    await h.tg.wait_for(lambda m: "Scaling group web created" in m.content, chat_id=BOB_ID)
    await h.bob.send("/scale_set web --max 9")
    again = await h.tg.wait_for(lambda m: "quota" in m.content and m.message_id != refused.message_id,
                                chat_id=BOB_ID)
    assert "exceed your quota" in again.content
    assert h.services.store.scaling.get("web").max_replicas == 2
    # Carol cannot touch Bob's group at all.
    answer = await h.ask(h.carol, "/scale_set web --max 1", lambda m: "web" in m.content)
    assert "No scaling group 'web'" in answer.content


async def test_scale_out_above_k_waits_for_approval(harness):
    h, sim, clock = harness, harness.sim, Clock()
    await create_group(h, "--approve-above 2")
    await clock.ticks(h, 1)
    sim.cluster.set_load("web", 250)
    await clock.ticks(h, 3)
    assert len(replicas(sim)) == 2
    card = await h.tg.wait_for(lambda m: "scale web" in m.content and m.flat_buttons,
                               chat_id=APPROVAL_CHAT)
    await clock.ticks(h, 2)
    assert len(replicas(sim)) == 2  # still waiting
    assert len([m for m in h.tg.chat(APPROVAL_CHAT).messages if "scale web" in m.content]) == 1
    await h.admin.press(card, "Approve")
    await h.tg.wait_for(lambda m: "Approved" in m.content, chat_id=APPROVAL_CHAT)
    await clock.ticks(h, 1)
    assert len(replicas(sim)) > 2


async def test_chart_is_a_png_and_help_explains(harness):
    h, clock = harness, Clock()
    await create_group(h)
    await clock.ticks(h, 3)
    await h.admin.send("/scale_chart web 6h")
    photo = await h.tg.wait_for(lambda m: m.photo is not None, chat_id=ADMIN_ID)
    assert photo.photo.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert "last 6h" in (photo.caption or "")
    helped = await h.ask(h.bob, "/help elasticity", lambda m: "scaling group" in m.content)
    assert "/scale_create web --template 900" in helped.content
    bad = await h.ask(h.admin, "/scale_chart web 2d", lambda m: "Usage:" in m.content)
    assert "not a window" in bad.content


async def test_delete_asks_and_destroys_replicas(harness):
    h, sim, clock = harness, harness.sim, Clock()
    await create_group(h, minimum=2)
    await clock.ticks(h, 1)
    assert len(replicas(sim)) == 2
    question = await h.ask(h.admin, "/scale_delete web", lambda m: m.flat_buttons)
    await h.admin.press(question, "Destroy the replicas")
    await h.tg.wait_for(lambda m: "is deleted" in m.content, chat_id=ADMIN_ID)
    assert replicas(sim) == []
    assert h.services.store.scaling.get("web") is None


def web_cts(sim):
    return [g for g in sim.cluster.guests.values()
            if g.name.startswith("web-") and not g.config.get("template")]


async def test_restart_mid_clone_leaves_no_orphan_and_clones_once(sim, tg, tmp_path, policy):
    """The bot stops while clones run in Proxmox: after the restart the in-flight clones are
    counted (not cloned again) and, once Proxmox finishes them, become tagged members; no
    untagged, unowned CT named like a replica is left behind."""
    store_path, clock = tmp_path / "s.json", Clock()
    sim.runner.time_scale = 1.0
    sim.cluster.durations = {k: 0.0 for k in sim.cluster.durations}
    async with running_bot(sim, tg, store_path, policy) as (services, app):
        h = Harness(sim, tg, services, app, str(store_path))
        await create_group(h)
        await clock.ticks(h, 1)
        assert replicas(sim) == ["web-1"]
        sim.cluster.durations["vzclone"] = 3600.0  # clones stay in flight
        sim.cluster.set_load("web", 250)
        clock.now += 15
        tick = asyncio.create_task(app.bot_data["scaler"].tick(clock.now))
        await tg.wait_until(lambda: any(g.lock == "create" for g in web_cts(sim)))
        await asyncio.sleep(0.3)  # every parallel clone has been posted
        tick.cancel()  # the process stops here
        await asyncio.gather(tick, return_exceptions=True)
    in_flight = sorted(g.name for g in web_cts(sim) if g.lock == "create")
    assert in_flight, "the test needs clones in flight"
    sim.cluster.durations["vzclone"] = 0.0  # clones from now on are quick

    async with running_bot(sim, tg, store_path, policy) as (services, app):
        h = Harness(sim, tg, services, app, str(store_path))
        await clock.ticks(h, 1)
        # Still running in Proxmox: counted as booting replicas, not cloned a second time.
        assert sorted(g.name for g in web_cts(sim)) == sorted(["web-1", *in_flight])
        for g in web_cts(sim):  # Proxmox finishes the clones
            g.config.pop("lock", None)
        sim.cluster.set_load("web", 100 * (1 + len(in_flight)) * 0.6)
        await clock.ticks(h, 2)
        members = {m.vmid: m.hostname for m in services.store.scaling.get("web").members}
        names = [g.name for g in web_cts(sim)]
        assert len(names) == len(set(names))
        for g in web_cts(sim):  # each is a tagged, owned, running member: no orphan
            assert "web" in str(g.config.get("tags", "")), g.name
            assert members.get(g.vmid) == g.name, (g.name, members)
            assert services.store.ownership.owner(g.vmid) == ADMIN_ID
            assert g.status == "running", g.name
        assert set(in_flight) <= set(names)  # the finished clones were kept, not redone


async def test_history_is_written_off_the_event_loop(harness):
    """A day of samples per group is megabytes of JSON rewritten every period: that work must
    not run on the event loop, nor hold the lock the chat handlers' store calls wait for."""
    h, clock = harness, Clock()
    history = h.services.store.scaling_history
    writes = []
    real_add = history.add

    def add(group, sample):
        writes.append(threading.get_ident())
        real_add(group, sample)

    history.add = add
    await create_group(h)
    await clock.ticks(h, 2)
    assert len(writes) == 2
    loop_thread = threading.get_ident()
    assert loop_thread not in writes
    assert h.services.store.scaling_history._lock is not h.services.store._lock


async def test_auto_approved_scale_out_is_decided_once_and_not_reported_interrupted(
        sim, tg, tmp_path):
    """An auto-approval is the decision: the scale-out runs once, and a later restart does
    not tell anyone it was "approved but not carried out"."""
    store_path, clock = tmp_path / "s.json", Clock()
    policy = default_policy(scaling=ScalingSettings(warmup_s=0, run_job=False,
                                                    ready_delay_s=30, auto_approve_s=60))
    async with running_bot(sim, tg, store_path, policy) as (services, app):
        h = Harness(sim, tg, services, app, str(store_path))
        await create_group(h, "--approve-above 2")
        await clock.ticks(h, 1)
        sim.cluster.set_load("web", 250)
        await clock.ticks(h, 3)
        assert len(replicas(sim)) == 2
        await tg.wait_for(lambda m: "scale web" in m.content, chat_id=APPROVAL_CHAT)
        await clock.ticks(h, 5)  # past auto_approve_s
        assert len(replicas(sim)) > 2
        await tg.wait_for(lambda m: "Approved automatically" in m.content,
                          chat_id=APPROVAL_CHAT)
        waiting = await tg.wait_for(lambda m: "waits for an admin's approval" in m.content,
                                    chat_id=GROUP_CHAT)
        approval_id = waiting.content.rsplit("request ", 1)[1].split()[0]
        assert services.store.approvals.get(approval_id).status == "done"
    async with running_bot(sim, tg, store_path, policy):
        await asyncio.sleep(0.5)
    texts = [m.content for c in (APPROVAL_CHAT, GROUP_CHAT)
             for m in tg.chat(c).messages]
    assert not any("not carried out" in t for t in texts), texts


async def test_two_concurrent_creates_cannot_together_exceed_the_quota(harness):
    h = harness
    h.services.store.ownership.set(TEMPLATE, BOB_ID, "web-template")
    # Quota 3 containers: the template plus one group of at most 2 replicas.
    await asyncio.gather(
        h.bob.send(f"/scale_create web --template {TEMPLATE} --min 1 --max 2 --target-cpu 60"),
        h.bob.send(f"/scale_create api --template {TEMPLATE} --min 1 --max 2 --target-cpu 60"))
    await h.tg.wait_until(lambda: len(h.tg.chat(BOB_ID).messages) >= 2)
    answers = [m.content for m in h.tg.chat(BOB_ID).messages]
    assert sum("created" in a for a in answers) == 1, answers
    assert sum("exceed your quota" in a for a in answers) == 1, answers
    assert len(h.services.store.scaling.all()) == 1


async def test_another_users_container_is_never_adopted(harness):
    h, sim, clock = harness, harness.sim, Clock()
    await create_group(h, minimum=1)
    await clock.ticks(h, 1)
    group = h.services.store.scaling.get("web")
    # Carol's container happens to carry the group's tag and a replica-like hostname.
    sim.cluster.add_guest(777, "pve1", status="running", hostname="web-9", tags="stratus;web",
                          cores=1, memory=512, rootfs="local-lvm:vm-777-disk-0,size=8G")
    h.services.store.ownership.set(777, CAROL_ID, "web-9")
    await clock.ticks(h, 1)
    assert 777 not in [m.vmid for m in h.services.store.scaling.get("web").members]
    assert h.services.store.ownership.owner(777) == CAROL_ID != group.owner_id


async def test_delete_during_a_scale_out_leaves_no_clone_behind(harness):
    h, sim, clock = harness, harness.sim, Clock()
    await create_group(h, minimum=1)
    await clock.ticks(h, 1)
    assert replicas(sim) == ["web-1"]
    sim.runner.time_scale = 1.0
    sim.cluster.durations = {k: 0.0 for k in sim.cluster.durations}
    sim.cluster.durations["vzclone"] = 1.5  # the scale-out's clones take a while
    sim.cluster.set_load("web", 250)
    clock.now += 15
    tick = asyncio.create_task(h.app.bot_data["scaler"].tick(clock.now))
    await h.tg.wait_until(lambda: any(g.lock == "create" for g in web_cts(sim)))
    question = await h.ask(h.admin, "/scale_delete web", lambda m: m.flat_buttons)
    await h.admin.press(question, "Destroy the replicas")
    await h.tg.wait_for(lambda m: "is deleted" in m.content, chat_id=ADMIN_ID, timeout=20)
    await tick
    assert web_cts(sim) == []  # the clones that were in flight went with the group
    assert h.services.store.scaling.get("web") is None


async def test_a_create_counts_the_users_scaling_groups_at_their_maximum(harness):
    h = harness
    h.services.store.ownership.set(TEMPLATE, BOB_ID, "web-template")
    # Quota 3 containers: the template and a group of at most 2 replicas fill it.
    await h.bob.send(f"/scale_create web --template {TEMPLATE} --min 1 --max 2 --target-cpu 60")
    await h.tg.wait_for(lambda m: "Scaling group web created" in m.content, chat_id=BOB_ID)
    answer = await h.ask(h.bob, "/create extra", lambda m: "quota" in m.content)
    assert "containers: 3 in use + 1 asked = 4 > quota 3" in answer.content
    assert "scaling groups count at their maximum" in answer.content
    assert "extra" not in [g.config.get("hostname") for g in h.sim.cluster.guests.values()]


async def test_a_create_and_a_group_at_once_cannot_together_exceed_the_quota(harness):
    h = harness
    h.services.store.ownership.set(TEMPLATE, BOB_ID, "web-template")
    # Room for 2 more containers: either the create (1) or the group (up to 2), not both.
    await asyncio.gather(
        h.bob.send("/create extra"),
        h.bob.send(f"/scale_create web --template {TEMPLATE} --min 1 --max 2 --target-cpu 60"))
    await h.tg.wait_until(
        lambda: any("quota" in m.content for m in h.tg.chat(BOB_ID).messages), timeout=15)
    await h.settle(1.0)
    created = [g for g in h.sim.cluster.guests.values() if g.config.get("hostname") == "extra"]
    group = h.services.store.scaling.get("web")
    assert (len(created), group is not None) in ((1, False), (0, True)), \
        [m.content for m in h.tg.chat(BOB_ID).messages]


async def test_two_creates_at_once_cannot_together_exceed_the_quota(harness):
    h = harness
    h.services.store.quotas.put(BOB_ID, dataclasses.replace(
        h.services.containers.quota_of(BOB_ID), containers=1))
    await asyncio.gather(h.bob.send("/create one"), h.bob.send("/create two"))
    await h.tg.wait_until(
        lambda: any("quota" in m.content for m in h.tg.chat(BOB_ID).messages), timeout=15)
    await h.settle(1.0)
    names = {g.config.get("hostname") for g in h.sim.cluster.guests.values()}
    assert len(names & {"one", "two"}) == 1, [m.content for m in h.tg.chat(BOB_ID).messages]


async def test_a_clone_that_outlasts_the_wait_is_counted_once_and_adopted_when_it_ends(
        harness, monkeypatch):
    """A clone whose task outlasts the wait (StillRunning) goes on in Proxmox. It used to be
    dropped as a failure: the next period cloned another replica for the same slot, and the
    first one, finished later, stayed untagged and unowned for good. It counts as booting
    while Proxmox clones it (told once, not as a failure), no other replica is cloned in its
    place, and once it ends it is tagged, started and a member like any other."""
    from bot.proxmox import tasks

    h, sim, clock = harness, harness.sim, Clock()
    monkeypatch.setitem(tasks.TASK_TIMEOUTS_S, "vzclone", 0.3)
    await create_group(h)
    sim.cluster.hold_next_task("vzclone")
    await clock.ticks(h, 1)
    upid = next(u for u, t in sim.cluster.tasks.items() if t.type == "vzclone")
    held = [g for g in web_cts(sim)]
    assert [(g.name, g.lock) for g in held] == [("web-1", "create")]
    vmid = held[0].vmid
    group = h.services.store.scaling.get("web")
    assert group.members == () and [c.vmid for c in group.cloning] == [vmid]

    await clock.ticks(h, 3)  # the clone still runs: no other replica for its slot
    assert [g.name for g in web_cts(sim)] == ["web-1"]
    told = [n for n in notices(h.tg) if "web-1" in n]
    assert len(told) == 1 and "still" in told[0] and "failed" not in told[0], notices(h.tg)
    assert not [n for n in notices(h.tg) if "could not" in n or "retrying" in n]

    sim.cluster.release_task(upid)
    await h.tg.wait_until(lambda: sim.cluster.tasks[upid].status == "stopped")
    await clock.ticks(h, 3)
    assert replicas(sim) == ["web-1"] and [g.name for g in web_cts(sim)] == ["web-1"]
    ct = sim.cluster.guests[vmid]
    assert ct.status == "running" and ct.lock is None
    group = h.services.store.scaling.get("web")
    assert [m.vmid for m in group.members] == [vmid] and group.cloning == ()
    assert h.services.store.ownership.owner(vmid) == ADMIN_ID
    assert len([n for n in notices(h.tg) if "web-1" in n]) == 2, notices(h.tg)
    assert h.services.store.scaling_history.since("web")[-1].replicas == 1


async def test_a_scale_in_while_a_clone_still_runs_keeps_the_running_replicas(
        harness, monkeypatch):
    """A clone in flight counts toward the group's size but cannot be retired yet: a scale-in
    meanwhile retired a running replica in its place, leaving the group with none serving.
    The running replicas stay; once the clone joins, the normal scale-in removes the extra."""
    from bot.proxmox import tasks

    h, sim, clock = harness, harness.sim, Clock()
    monkeypatch.setitem(tasks.TASK_TIMEOUTS_S, "vzclone", 0.3)
    await create_group(h)
    await clock.ticks(h, 1)
    assert replicas(sim) == ["web-1"]
    sim.cluster.hold_next_task("vzclone")
    changed = await h.ask(h.admin, "/scale_set web --min 2", lambda m: "web" in m.content)
    assert "Changed" in changed.content, changed.content
    await clock.ticks(h, 1)
    upid = next(u for u, t in sim.cluster.tasks.items() if t.type == "vzclone"
                and t.status == "running")
    assert sorted(g.name for g in web_cts(sim)) == ["web-1", "web-2"]
    await h.ask(h.admin, "/scale_set web --min 1", lambda m: "web" in m.content
                and m.content.count("\n") >= 1)
    await clock.ticks(h, 30)  # past the scale-down window, the clone still in flight
    running = [g.name for g in web_cts(sim) if g.status == "running"]
    assert running == ["web-1"], notices(h.tg)
    assert [m.hostname for m in h.services.store.scaling.get("web").members] == ["web-1"]

    sim.cluster.release_task(upid)
    await h.tg.wait_until(lambda: sim.cluster.tasks[upid].status == "stopped")
    await clock.ticks(h, 30)
    assert replicas(sim) == ["web-1"], notices(h.tg)
    assert [g.name for g in web_cts(sim)] == ["web-1"]
    assert [m.hostname for m in h.services.store.scaling.get("web").members] == ["web-1"]


async def test_deleting_a_group_whose_clone_still_runs_leaves_no_orphan(harness, monkeypatch):
    """A clone Proxmox still runs is locked: destroying the group waits for it (nothing is
    deleted, and the reply says why); keeping the replicas keeps it as the owner's."""
    from bot.proxmox import tasks

    h, sim, clock = harness, harness.sim, Clock()
    monkeypatch.setitem(tasks.TASK_TIMEOUTS_S, "vzclone", 0.3)
    # One replica first, then the held clone of a second: PVE locks the template while it is
    # cloned, so no two clones of it run at once (this test cloned both in one period before).
    await create_group(h, minimum=1)
    await clock.ticks(h, 1)
    await h.ask(h.admin, "/scale_set web --min 2", lambda m: "web" in m.content)
    sim.cluster.hold_next_task("vzclone")
    await clock.ticks(h, 1)
    held = next(g for g in web_cts(sim) if g.lock == "create")
    question = await h.ask(h.admin, "/scale_delete web", lambda m: m.flat_buttons)
    await h.admin.press(question, "Destroy the replicas")
    refused = await h.tg.wait_for(lambda m: m.content.startswith(("🗑", "❌")), chat_id=ADMIN_ID)
    assert refused.content.startswith("❌"), refused.content
    assert f"{held.name} (CT {held.vmid})" in refused.content and "still being cloned" in \
        refused.content
    group = h.services.store.scaling.get("web")
    assert group is not None and not group.paused and len(group.members) == 1
    assert len(web_cts(sim)) == 2

    question = await h.ask(h.admin, "/scale_delete web", lambda m: m.flat_buttons)
    await h.admin.press(question, "Keep the replicas")
    await h.tg.wait_for(lambda m: "is deleted" in m.content, chat_id=ADMIN_ID)
    assert h.services.store.scaling.get("web") is None
    for g in web_cts(sim):
        assert h.services.store.ownership.owner(g.vmid) == ADMIN_ID, g.name
