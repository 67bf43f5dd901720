"""Clones as real PVE makes them (pve-container PVE::API2::LXC clone_vm) and the snapshots they
may be made from (PVE::API2::LXC::Snapshot, pve-guest-common PVE::AbstractConfig)."""

from __future__ import annotations

import pytest

from pvesim import Simulator

SHARED = {"nodes": [
    {"name": name, "storages": [
        {"id": "local", "type": "dir", "content": ["vztmpl", "backup"]},
        {"id": "local-lvm", "type": "lvmthin", "content": ["rootdir", "images"]},
        {"id": "ceph", "type": "rbd", "content": ["rootdir", "images"], "shared": True}]}
    for name in ("pve1", "pve2")]}


@pytest.fixture
async def sim(request):
    """The conftest's simulator, or one of a scenario (``indirect`` parametrization)."""
    async with Simulator(scenario=getattr(request, "param", None)) as simulator:
        yield simulator


async def done(api, node, upid) -> dict:
    return await api.wait(node, upid)


async def test_target_node_needs_shared_storage(api):
    """clone_vm: "can't clone CT to node '$target' (CT uses local storage)" for a volume on a
    storage without 'shared', and "can't clone to non-shared storage" for a named one; both
    before anything is made (synchronous 500), the source left unlocked."""
    await api.create(vmid=200)
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc/200/clone", newid=201,
                                       target="pve2")
    assert (status, reason) == (500, "can't clone CT to node 'pve2' (CT uses local storage)")
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc/200/clone", newid=201,
                                       target="pve2", storage="local-lvm")
    assert (status, reason) == (500, "can't clone to non-shared storage 'local-lvm'")
    assert 201 not in api.sim.cluster.guests and api.sim.cluster.guests[200].lock is None
    # the source's own node as target is no target at all ("undef $target if ... localnode")
    upid = await api.ok("POST", "/nodes/pve1/lxc/200/clone", newid=201, target="pve1")
    assert (await done(api, "pve1", upid))["exitstatus"] == "OK"


@pytest.mark.parametrize("sim", [SHARED], indirect=True)
async def test_a_clone_on_shared_storage_moves_to_the_target_at_the_end(api):
    await api.create(vmid=200, rootfs="ceph:4")
    upid = await api.ok("POST", "/nodes/pve1/lxc/200/clone", newid=201, target="pve2",
                        hostname="far")
    assert upid.split(":")[1] == "pve1"  # the worker runs on the source's node
    assert (await done(api, "pve1", upid))["exitstatus"] == "OK"
    clone = api.sim.cluster.guests[201]
    assert (clone.node, clone.name) == ("pve2", "far")
    config = await api.ok("GET", "/nodes/pve2/lxc/201/config")
    assert config["rootfs"].startswith("ceph:vm-201-disk-0")


async def test_full_clone_of_a_running_ct_needs_a_snapshot(api):
    """clone_vm: "Full clone of a running container is only possible from a snapshot"."""
    await api.create(vmid=200, hostname="before")
    await done(api, "pve1", await api.ok("POST", "/nodes/pve1/lxc/200/status/start"))
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc/200/clone", newid=201)
    assert (status, reason) == (500, "Full clone of a running container is only possible "
                                     "from a snapshot")
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc/200/clone", newid=201,
                                       snapname="nope")
    assert (status, reason) == (500, "snapshot 'nope' does not exist")
    assert 201 not in api.sim.cluster.guests and api.sim.cluster.guests[200].lock is None
    await done(api, "pve1", await api.ok("POST", "/nodes/pve1/lxc/200/snapshot",
                                         snapname="s1"))
    await api.ok("PUT", "/nodes/pve1/lxc/200/config", hostname="after")
    upid = await api.ok("POST", "/nodes/pve1/lxc/200/clone", newid=201, snapname="s1")
    assert (await done(api, "pve1", upid))["exitstatus"] == "OK"
    clone = await api.ok("GET", "/nodes/pve1/lxc/201/config")
    assert clone["hostname"] == "before"  # the snapshot's state, not the current one
    assert "parent" not in clone and api.sim.cluster.guests[201].snapshots == {}


async def test_a_template_is_locked_while_it_is_cloned(api):
    """clone_vm takes the source's 'disk' lock (set_lock), for a template too: a second clone
    of it while the first runs is refused at once."""
    api.sim.cluster.add_guest(900, "pve1", template=1)
    api.sim.cluster.hold_next_task("vzclone")
    first = await api.ok("POST", "/nodes/pve1/lxc/900/clone", newid=901)
    assert api.sim.cluster.guests[900].lock == "disk"
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc/900/clone", newid=902)
    assert (status, reason) == (500, "CT is locked (disk)")
    api.sim.cluster.release_task(first)
    assert (await done(api, "pve1", first))["exitstatus"] == "OK"
    assert api.sim.cluster.guests[900].lock is None
    assert api.sim.cluster.guests[901].config["rootfs"].startswith("local-lvm:vm-901-disk-0")


async def test_linked_clones_and_the_storage_parameter(api):
    """A linked clone (full=0) needs a template's base volume or a snapshot on a storage with
    thin clones; 'storage' is for full clones only (both: die, 500)."""
    await api.create(vmid=200)
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc/200/clone", newid=201, full=0)
    assert (status, reason) == (500, "Linked clone feature for 'local-lvm:vm-200-disk-0' is "
                                     "not available")
    api.sim.cluster.add_guest(900, "pve1", template=1)
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc/900/clone", newid=901, full=0,
                                       storage="local-lvm")
    assert (status, reason) == (500, "parameter 'storage' not allowed for linked clones")


async def test_snapshots_list_create_delete_with_locks_and_tasks(api):
    await api.create(vmid=200)
    api.sim.cluster.hold_next_task("vzsnapshot")
    upid = await api.ok("POST", "/nodes/pve1/lxc/200/snapshot", snapname="s1",
                        description="first")
    assert upid.split(":")[5:7] == ["vzsnapshot", "200"]
    assert api.sim.cluster.guests[200].lock == "snapshot"
    api.sim.cluster.release_task(upid)
    assert (await done(api, "pve1", upid))["exitstatus"] == "OK"
    snaps = await api.ok("GET", "/nodes/pve1/lxc/200/snapshot")
    assert [s["name"] for s in snaps] == ["s1", "current"]
    assert snaps[0]["description"] == "first" and snaps[1]["parent"] == "s1"
    # the checks are the worker's: the name taken, then the reserved names at once
    st = await done(api, "pve1", await api.ok("POST", "/nodes/pve1/lxc/200/snapshot",
                                              snapname="s1"))
    assert st["exitstatus"] == "snapshot name 's1' already used"
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc/200/snapshot",
                                       snapname="vzdump")
    assert (status, reason) == (500, "unable to use snapshot name 'vzdump' (reserved name)")
    upid = await api.ok("DELETE", "/nodes/pve1/lxc/200/snapshot/s1")
    assert upid.split(":")[5] == "vzdelsnapshot"
    assert (await done(api, "pve1", upid))["exitstatus"] == "OK"
    assert [s["name"] for s in await api.ok("GET", "/nodes/pve1/lxc/200/snapshot")] == \
        ["current"]
    st = await done(api, "pve1", await api.ok("DELETE", "/nodes/pve1/lxc/200/snapshot/s1"))
    assert st["exitstatus"] == "snapshot 's1' does not exist"


async def test_snapshot_refusals_inside_the_task(api):
    """__snapshot_prepare: a template, a locked CT, a storage that cannot snapshot (a raw
    file on a directory storage) fail the vzsnapshot task."""
    api.sim.cluster.add_guest(900, "pve1", template=1)
    st = await done(api, "pve1", await api.ok("POST", "/nodes/pve1/lxc/900/snapshot",
                                              snapname="snap"))
    assert st["exitstatus"] == "you can't take a snapshot if it's a template"
    api.sim.cluster.add_guest(300, "pve1", rootfs="local:300/vm-300-disk-0.raw,size=4G")
    st = await done(api, "pve1", await api.ok("POST", "/nodes/pve1/lxc/300/snapshot",
                                              snapname="snap"))
    assert st["exitstatus"] == "snapshot feature is not available"
    await api.create(vmid=200)
    api.sim.cluster.set_lock(200, "backup")
    st = await done(api, "pve1", await api.ok("POST", "/nodes/pve1/lxc/200/snapshot",
                                              snapname="snap"))
    assert st["exitstatus"] == "CT is locked (backup)"
    assert api.sim.cluster.guests[200].snapshots == {}
