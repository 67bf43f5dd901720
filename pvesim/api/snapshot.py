"""CT snapshots: list, create, delete (pve-container PVE::API2::LXC::Snapshot, with the work in
pve-guest-common PVE::AbstractConfig snapshot_create / snapshot_delete).

Create and delete only fork a worker: every check (the CT, its lock, the name, whether its
storage can snapshot) happens inside the task, which holds the 'snapshot' (or
'snapshot-delete') lock meanwhile. A snapshot keeps the CT's config of that moment; a clone
with ``snapname`` copies that state (pvesim.api.lxc.clone_ct).
"""

from __future__ import annotations

import copy

from ..errors import fail
from ..model import Task
from ..params.lxc import PARAMS
from ..worker import TaskError
from .lxc import guest_on
from .nodes import get_node
from .pve_rules import storage_exists
from .registry import route

# Storage types whose volumes can be snapshot (PVE::Storage::*Plugin::volume_has_feature
# 'snapshot': lvmthin, zfspool, rbd and btrfs do; a raw file on a directory does not).
SNAPSHOT_TYPES = {"lvmthin", "zfspool", "rbd", "btrfs"}
RESERVED = ("current", "vzdump")


@route("GET", "/nodes/{node}/lxc/{vmid}/snapshot", PARAMS, perm=("/vms/{vmid}", "VM.Audit"))
async def list_snapshots(ctx, p):
    guest = guest_on(ctx, p["node"], p["vmid"])
    out = []
    for name, snap in guest.snapshots.items():
        item = {"name": name, "snaptime": snap.get("snaptime", 0),
                "description": snap.get("description", "")}
        if "parent" in snap:
            item["parent"] = snap["parent"]
        if "snapstate" in snap:
            item["snapstate"] = snap["snapstate"]
        out.append(item)
    current = {"name": "current", "digest": guest.digest(),
               "running": int(guest.status == "running"), "description": "You are here!"}
    if "parent" in guest.config:
        current["parent"] = guest.config["parent"]
    return out + [current]


def _guest_in_task(ctx, node: str, vmid: int):
    """The CT, as the worker's load_config finds it (the API method itself does not look)."""
    guest = ctx.cluster.guests.get(vmid)
    if guest is None or guest.node != node:
        raise TaskError(f"Configuration file 'nodes/{node}/lxc/{vmid}.conf' does not exist")
    return guest


@route("POST", "/nodes/{node}/lxc/{vmid}/snapshot", PARAMS, perm=("/vms/{vmid}", "VM.Snapshot"))
async def create_snapshot(ctx, p):
    node = get_node(ctx.cluster, p["node"]).name
    vmid, name = p["vmid"], p["snapname"]
    if name in RESERVED:
        raise fail(f"unable to use snapshot name '{name}' (reserved name)")

    async def work(task: Task) -> None:
        guest = _guest_in_task(ctx, node, vmid)
        if guest.config.get("template"):
            raise TaskError("you can't take a snapshot if it's a template")
        if guest.lock:
            raise TaskError(f"CT is locked ({guest.lock})")
        if name in guest.snapshots:
            raise TaskError(f"snapshot name '{name}' already used")
        sid = str(guest.config.get("rootfs", "")).partition(":")[0]
        if storage_exists(ctx.cluster, sid).type not in SNAPSHOT_TYPES:
            raise TaskError("snapshot feature is not available")
        guest.config["lock"] = "snapshot"
        state = {k: copy.deepcopy(v) for k, v in guest.config.items() if k != "lock"}
        snap = {"config": state, "snaptime": int(ctx.cluster.now()), "snapstate": "prepare"}
        if p.get("description"):
            snap["description"] = p["description"]
        if "parent" in guest.config:
            snap["parent"] = guest.config["parent"]
        guest.snapshots[name] = snap
        try:
            task.log(f'  Logical volume "snap_vm-{vmid}-disk-0_{name}" created.')
            await ctx.runner.wait(task)
        except BaseException:
            guest.snapshots.pop(name, None)
            raise
        finally:
            if guest.config.get("lock") == "snapshot":
                guest.config.pop("lock")
        snap.pop("snapstate", None)
        guest.config["parent"] = name

    return ctx.runner.start(node, "vzsnapshot", str(vmid), ctx.identity.userid, work).upid


@route("DELETE", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}", PARAMS,
       perm=("/vms/{vmid}", "VM.Snapshot"))
async def delete_snapshot(ctx, p):
    node = get_node(ctx.cluster, p["node"]).name
    vmid, name = p["vmid"], p["snapname"]

    async def work(task: Task) -> None:
        guest = _guest_in_task(ctx, node, vmid)
        snap = guest.snapshots.get(name)
        if snap is None:
            raise TaskError(f"snapshot '{name}' does not exist")
        if guest.lock:  # set_lock($vmid, 'snapshot-delete')
            raise TaskError(f"CT is locked ({guest.lock})")
        if guest.config.get("template"):
            raise TaskError("you can't delete a snapshot if vm is a template")
        guest.config["lock"] = "snapshot-delete"
        snap["snapstate"] = "delete"
        try:
            await ctx.runner.wait(task)
            task.log(f'  Logical volume "snap_vm-{vmid}-disk-0_{name}" successfully removed.')
        finally:
            if guest.config.get("lock") == "snapshot-delete":
                guest.config.pop("lock")
        new_parent = snap.get("parent")
        for holder in [guest.config, *guest.snapshots.values()]:  # unlink_parent
            if holder.get("parent") == name:
                if new_parent:
                    holder["parent"] = new_parent
                else:
                    holder.pop("parent")
        del guest.snapshots[name]

    return ctx.runner.start(node, "vzdelsnapshot", str(vmid), ctx.identity.userid, work).upid
