"""Scaling groups on a cluster as real PVE runs it (issue 11): two nodes with local storage only
(pvesim's default), a source that is an ordinary running CT. PVE clones only to the source's
node when storage is not shared, and copies a running CT only from a snapshot; the bot clones
there (from a temporary snapshot), migrates the stopped clone to the node the spread chose, and
leaves nothing behind when a step fails. Through the real chat, pvesim enforcing the rules.
"""

from __future__ import annotations

import pytest
from e2e_harness import default_policy

from bot.services.scaling import ScalingSettings

SOURCE = 700
GROUP_CHAT = -100778


@pytest.fixture
def policy():
    return default_policy(scaling=ScalingSettings(warmup_s=0, run_job=False, ready_delay_s=30))


@pytest.fixture(autouse=True)
def source(sim):
    sim.cluster.add_guest(SOURCE, "pve1", status="running", hostname="web-src")
    sim.cluster.load.warmup_s = 0
    sim.cluster.load.capacity_rps = 100


def members(sim) -> dict[str, str]:
    return {g.name: g.node for g in sim.cluster.guests.values()
            if "web" in str(g.config.get("tags", "")) and g.vmid != SOURCE}


class Clock:
    now = 1_000_000.0

    async def ticks(self, h, n: int) -> None:
        for _ in range(n):
            self.now += 15.0
            await h.app.bot_data["scaler"].tick(self.now)


async def make_group(h, minimum: int = 2) -> None:
    h.tg.group(GROUP_CHAT, "web team")
    await h.admin.send(f"/scale_create web --template {SOURCE} --min {minimum} --max 4 "
                       "--target-cpu 60 --node-spread", chat_id=GROUP_CHAT)
    answer = await h.tg.wait_for(lambda m: "web" in m.content, chat_id=GROUP_CHAT)
    assert "Scaling group web created" in answer.content, answer.content


def notices(h) -> list[str]:
    return [m.content for m in h.tg.chat(GROUP_CHAT).messages]


async def test_a_running_ordinary_ct_scales_out_across_two_nodes_without_shared_storage(harness):
    h, sim, clock = harness, harness.sim, Clock()
    await make_group(h)
    await clock.ticks(h, 1)
    assert sorted(members(sim).values()) == ["pve1", "pve2"], notices(h)
    for name in members(sim):
        guest = next(g for g in sim.cluster.guests.values() if g.name == name)
        assert guest.status == "running" and guest.lock is None
        storage = sim.cluster.nodes[guest.node].storages["local-lvm"]
        assert f"local-lvm:vm-{guest.vmid}-disk-0" in storage.volumes  # its disk moved along
    source = sim.cluster.guests[SOURCE]
    assert source.status == "running" and source.lock is None
    assert source.snapshots == {}  # the temporary snapshot is gone
    added = [n for n in notices(h) if "added" in n]
    assert any("on pve2" in n for n in added), notices(h)
    # more load: more replicas, still spread, one clone at a time from the running source
    sim.cluster.set_load("web", 250)
    await clock.ticks(h, 3)
    assert len(members(sim)) >= 3 and set(members(sim).values()) == {"pve1", "pve2"}
    assert sim.cluster.guests[SOURCE].snapshots == {}
    assert not [n for n in notices(h) if "could not add" in n], notices(h)


async def test_a_failed_migration_leaves_no_clone_and_no_snapshot(harness):
    h, sim, clock = harness, harness.sim, Clock()
    await make_group(h, minimum=1)
    await clock.ticks(h, 1)
    assert list(members(sim).values()) == ["pve1"]
    before = set(sim.cluster.guests)
    sim.cluster.set_load("web", 150)
    sim.cluster.fail_next_task("vzmigrate", "rsync: connection unexpectedly closed")
    await clock.ticks(h, 1)
    assert set(sim.cluster.guests) == before, "the clone that could not move was destroyed"
    assert sim.cluster.guests[SOURCE].snapshots == {}
    failures = [n for n in notices(h) if "rsync" in n]
    assert len(failures) == 1 and "migration aborted" in failures[0], notices(h)
    await clock.ticks(h, 1)  # the next period tries again, and succeeds
    assert sorted(members(sim).values()) == ["pve1", "pve2"], notices(h)


async def test_a_node_without_the_groups_bridge_gets_no_replica_and_the_owner_is_told(harness):
    h, sim, clock = harness, harness.sim, Clock()
    sim.cluster.nodes["pve1"].bridges.add("vmbr7")
    sim.cluster.nodes["pve1"].interfaces.clear()  # listed again from the bridges
    h.tg.group(GROUP_CHAT, "web team")
    await h.admin.send(f"/scale_create web --template {SOURCE} --min 2 --max 4 "
                       "--target-cpu 60 --node-spread --bridge vmbr7", chat_id=GROUP_CHAT)
    await h.tg.wait_for(lambda m: "web" in m.content, chat_id=GROUP_CHAT)
    await clock.ticks(h, 1)
    assert list(members(sim).values()) == ["pve1", "pve1"], notices(h)
    assert any("placed on pve1" in n and "pve2 has no bridge vmbr7" in n for n in notices(h)), \
        notices(h)
