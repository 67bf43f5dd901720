"""CT migration as real PVE does it: pve-container PVE::API2::LXC migrate_vm (what is refused at
once), PVE::LXC::Migrate and pve-guest-common PVE::AbstractMigrate (the vzmigrate task: the
'migrate' lock, local volumes copied, "migration aborted" with the reason on an ERROR line)."""

from __future__ import annotations

import asyncio

import pytest

from pvesim import Simulator


@pytest.fixture
async def sim(request):
    async with Simulator(scenario=getattr(request, "param", None)) as simulator:
        yield simulator


async def migrate(api, vmid: int, node: str = "pve1", **params) -> dict:
    upid = await api.ok("POST", f"/nodes/{node}/lxc/{vmid}/migrate", **params)
    assert upid.split(":")[1] == node and upid.split(":")[5] == "vzmigrate"
    return await api.wait(node, upid)


async def log_of(api, node: str, upid: str) -> list[str]:
    return [line["t"] for line in await api.ok("GET", f"/nodes/{node}/tasks/{upid}/log",
                                                limit=0)]


async def test_offline_migration_moves_the_local_volume(api):
    await api.create(vmid=200, hostname="mover")
    st = await migrate(api, 200, target="pve2")
    assert st["exitstatus"] == "OK"
    guest = api.sim.cluster.guests[200]
    assert guest.node == "pve2" and guest.lock is None
    pve1, pve2 = (api.sim.cluster.nodes[n].storages["local-lvm"] for n in ("pve1", "pve2"))
    assert "local-lvm:vm-200-disk-0" not in pve1.volumes
    assert "local-lvm:vm-200-disk-0" in pve2.volumes
    assert (await api.ok("GET", "/nodes/pve2/lxc/200/config"))["hostname"] == "mover"
    lines = await log_of(api, "pve1", st["upid"])
    assert any("found local volume 'local-lvm:vm-200-disk-0'" in line for line in lines)
    assert "migration finished successfully" in lines[-2] and lines[-1] == "TASK OK"


async def test_what_is_refused_at_once(api):
    await api.create(vmid=200)
    status, _, body = await api.call("POST", "/nodes/pve1/lxc/200/migrate", target="pve1")
    assert status == 400 and body["errors"] == {"target": "target is local node."}
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc/200/migrate", target="pve9")
    assert (status, reason) == (500, "no such cluster node 'pve9'")
    await api.wait("pve1", await api.ok("POST", "/nodes/pve1/lxc/200/status/start"))
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc/200/migrate", target="pve2")
    assert (status, reason) == (500, "can't migrate running container without --online or "
                                     "--restart")


async def test_restart_migration_of_a_running_ct(api):
    await api.create(vmid=200)
    await api.wait("pve1", await api.ok("POST", "/nodes/pve1/lxc/200/status/start"))
    api.sim.cluster.hold_next_task("vzmigrate")
    upid = await api.ok("POST", "/nodes/pve1/lxc/200/migrate", target="pve2", restart=1)
    for _ in range(500):  # until the held task copies the volume
        if api.sim.cluster.guests[200].lock == "migrate":
            break
        await asyncio.sleep(0.01)
    assert api.sim.cluster.guests[200].lock == "migrate"
    assert api.sim.cluster.guests[200].status == "stopped"  # shut down first
    api.sim.cluster.release_task(upid)
    assert (await api.wait("pve1", upid))["exitstatus"] == "OK"
    guest = api.sim.cluster.guests[200]
    assert (guest.node, guest.status, guest.lock) == ("pve2", "running", None)


async def test_failures_in_the_task_leave_the_ct_where_it_was(api):
    await api.create(vmid=200)
    api.sim.cluster.set_node_online("pve2", False)
    st = await migrate(api, 200, target="pve2")
    assert st["exitstatus"] == "migration aborted"
    lines = await log_of(api, "pve1", st["upid"])
    assert any("ERROR: migration aborted (duration 00:00:00): Can't connect to destination "
               "address using public key" in line for line in lines), lines
    api.sim.cluster.set_node_online("pve2", True)
    del api.sim.cluster.nodes["pve2"].storages["local-lvm"]
    st = await migrate(api, 200, target="pve2")
    lines = await log_of(api, "pve1", st["upid"])
    assert any("storage 'local-lvm' is not available on node 'pve2'" in line for line in lines)
    api.sim.cluster.set_lock(200, "backup")
    st = await migrate(api, 200, target="pve2")
    assert "CT is locked (backup)" in "\n".join(await log_of(api, "pve1", st["upid"]))
    guest = api.sim.cluster.guests[200]
    assert guest.node == "pve1" and guest.lock == "backup"


async def test_a_snapshot_on_local_lvmthin_cannot_migrate(api):
    """phase1: "non-migratable snapshot exists" (only zfspool and btrfs carry snapshots)."""
    await api.create(vmid=200)
    await api.wait("pve1", await api.ok("POST", "/nodes/pve1/lxc/200/snapshot", snapname="s1"))
    st = await migrate(api, 200, target="pve2")
    assert st["exitstatus"] == "migration aborted"
    lines = "\n".join(await log_of(api, "pve1", st["upid"]))
    assert "non-migratable snapshot exists" in lines and "can't migrate CT - check log" in lines
    assert api.sim.cluster.guests[200].node == "pve1"
    assert api.sim.cluster.guests[200].lock is None


async def test_a_missing_bridge_on_the_target(api):
    """A migration between nodes of one cluster does not look at bridges: offline it ends
    well (the CT will not start there), in restart mode the start on the target fails and the
    task ends with "migration problems", the CT on the target, stopped."""
    await api.create(vmid=200, net0="name=eth0,bridge=vmbr1,ip=dhcp")
    await api.create(vmid=201, net0="name=eth0,bridge=vmbr1,ip=dhcp")
    api.sim.cluster.nodes["pve1"].bridges.add("vmbr1")
    assert (await migrate(api, 200, target="pve2"))["exitstatus"] == "OK"
    await api.wait("pve1", await api.ok("POST", "/nodes/pve1/lxc/201/status/start"))
    st = await migrate(api, 201, target="pve2", restart=1)
    assert st["exitstatus"] == "migration problems"
    guest = api.sim.cluster.guests[201]
    assert (guest.node, guest.status, guest.lock) == ("pve2", "stopped", None)
