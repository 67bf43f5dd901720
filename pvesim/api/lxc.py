"""LXC containers: list, create, config, delete, power, clone, rrddata.

Behaviours follow ../shared/pve-api/README.md items 5-7: locks (create holds ``create``, clone
holds ``disk`` on the source and ``create`` on the new CT, start/stop/shutdown check the lock
inside the task, DELETE of a locked CT fails at once), existing ids, unprivileged by default.
"""

from __future__ import annotations

import base64
import binascii
import math
import time
from typing import Any

from ..errors import ApiError, config_missing, fail, param_error
from ..formats import split_list
from ..model import Guest, Task, random_mac
from ..params.lxc import PARAMS
from ..validator import compiled, parse_property_string
from ..worker import TaskError
from .nodes import get_node
from .registry import route

# Keys of a create/update call that PVE does not store in the CT config.
NOT_STORED = {"node", "vmid", "ostemplate", "password", "ssh-public-keys", "storage", "start",
              "restore", "force", "unique", "pool", "bwlimit", "ignore-unpack-errors",
              "ha-managed", "delete", "revert", "digest", "debug"}
_CREATE = compiled("POST /nodes/{node}/lxc", PARAMS["POST /nodes/{node}/lxc"])
_NET = next(i for i, (_, prop) in enumerate(_CREATE.indexed) if prop.name == "net[n]")
LINKED_CLONE_TYPES = {"lvmthin", "zfspool", "rbd"}
LINKED_CLONE_FACTOR = 0.2  # a linked clone copies no data: a fraction of a full clone's time
INTEGER_KEYS = {"cores", "memory", "swap", "cpuunits", "tty", "unprivileged", "onboot",
                "protection", "template", "console"}


def guest_on(ctx, node: str, vmid: int) -> Guest:
    """The CT ``vmid`` if it lives on ``node`` (PVE reads nodes/<node>/lxc/<vmid>.conf)."""
    get_node(ctx.cluster, node)
    guest = ctx.cluster.guests.get(vmid)
    if guest is None or guest.node != node:
        raise config_missing(node, vmid)
    return guest


def check_lock(guest: Guest) -> None:
    if guest.lock:
        raise fail(f"CT is locked ({guest.lock})")


def already_exists(ctx, vmid: int) -> ApiError | None:
    guest = ctx.cluster.guests.get(vmid)
    return fail(f"CT {vmid} already exists on node '{guest.node}'") if guest else None


def guest_summary(guest: Guest) -> dict[str, Any]:
    """The fields PVE's CT list and status/current share."""
    out: dict[str, Any] = {
        "vmid": guest.vmid, "name": guest.name, "status": guest.status, "type": "lxc",
        "cpu": guest.cpu, "cpus": guest.cpus, "mem": guest.mem, "maxmem": guest.maxmem,
        "swap": 0, "maxswap": guest.maxswap, "disk": guest.maxdisk // 5 if guest.maxdisk else 0,
        "maxdisk": guest.maxdisk, "uptime": guest.uptime, "netin": 0, "netout": 0,
        "diskread": 0, "diskwrite": 0,
    }
    if guest.lock:
        out["lock"] = guest.lock
    if "tags" in guest.config:
        out["tags"] = guest.config["tags"]
    if guest.config.get("template"):
        out["template"] = 1
    return out


def _stored(key: str, value: Any) -> Any:
    return int(value) if key in INTEGER_KEYS else value


def _net_with_defaults(value: str) -> str:
    """A NIC as PVE writes it: booleans as 1/0, a MAC and ``type=veth`` added, name first."""
    spec = parse_property_string(_CREATE.indexed[_NET][1].sub, value)
    spec.setdefault("hwaddr", random_mac())
    spec.setdefault("type", "veth")
    keys = sorted(spec, key=lambda k: (k != "name", k))
    return ",".join(f"{k}={spec[k]}" for k in keys)


@route("GET", "/nodes/{node}/lxc", PARAMS)
async def list_cts(ctx, p):
    get_node(ctx.cluster, p["node"])
    return [guest_summary(g) for g in sorted(ctx.cluster.guests.values(), key=lambda g: g.vmid)
            if g.node == p["node"]]


@route("POST", "/nodes/{node}/lxc", PARAMS, perm=("/vms/{vmid}", "VM.Allocate"))
async def create_ct(ctx, p):
    node = get_node(ctx.cluster, p["node"])
    vmid = p["vmid"]
    if p.get("restore"):
        from .backup import restore_ct  # local: backup imports this module

        return await restore_ct(ctx, p)
    if err := already_exists(ctx, vmid):
        raise err
    keys = p.get("ssh-public-keys")
    if keys is not None:
        _validate_ssh_public_keys(keys)
    # ostemplate: a template volume in a storage of this node
    ostemplate = p["ostemplate"]
    store_id, sep, volname = ostemplate.partition(":")
    if not sep:
        raise fail(f"unable to parse volume ID '{ostemplate}'")
    tstore = node.storages.get(store_id)
    if tstore is None:
        raise fail(f"storage '{store_id}' does not exist")
    # "The OS template or backup file", says the schema, but since PVE 7.2 create_vm
    # (PVE::API2::LXC) asks PVE::Storage::check_volume_access for content type 'vztmpl'
    # ('backup' only with restore=1), which dies before the task starts, for root too: a
    # backup named as a template is refused, not unpacked into a new CT (pve-container
    # d387c0b, pve-storage 21c7b54). The type comes from the volume's name.
    vtype = _volume_type(volname)
    if vtype != "vztmpl":
        raise fail(f"unable to use volume {ostemplate} - content type needs to be 'vztmpl'")
    if ostemplate not in tstore.volumes:
        raise fail(f"can't find file '{ostemplate}'")
    # rootfs: STORAGE:SIZE_GiB on a storage that can hold container directories
    rootfs = p.get("rootfs") or f"{p.get('storage', 'local')}:4"
    spec = parse_property_string(_CREATE.props["rootfs"].sub, rootfs)
    volume = spec["volume"]
    disk_store_id, sep, size = volume.partition(":")
    disk_store = node.storages.get(disk_store_id)
    if disk_store is None:
        raise fail(f"storage '{disk_store_id}' does not exist")
    if "rootdir" not in disk_store.content:
        raise param_error({"storage": f"storage '{disk_store_id}' does not support container "
                                      "directories"})
    if not sep or not size.replace(".", "", 1).isdigit():
        raise fail(f"unable to parse volume ID '{volume}'")
    size_gib = float(size)
    if size_gib * (1 << 30) > disk_store.total - disk_store.used:
        raise fail(f"not enough free space in storage '{disk_store_id}'")
    memory = p.get("memory", 512)
    if memory * (1 << 20) > node.memory:
        raise fail(f"memory {memory} MB exceeds the node's {node.memory >> 20} MB")

    config: dict[str, Any] = {"arch": "amd64", "cores": 1, "memory": 512, "swap": 512,
                              "hostname": f"CT{vmid}", "unprivileged": 1}
    config.update(ostype=_guess_ostype(ostemplate))
    for key, value in p.items():
        if key not in NOT_STORED:
            config[key] = _net_with_defaults(value) if key.startswith("net") else _stored(key, value)
    disk_name = f"vm-{vmid}-disk-0"
    size_text = f"{int(size_gib)}G" if size_gib == int(size_gib) else f"{int(size_gib * 1024)}M"
    extra = "".join(f",{k}={v}" for k, v in spec.items() if k not in ("volume", "size"))
    config["rootfs"] = f"{disk_store_id}:{disk_name}{extra},size={size_text}"
    config["lock"] = "create"
    guest = Guest(vmid, node.name, config, authorized_keys=keys)
    ctx.cluster.guests[vmid] = guest  # taken now: a concurrent create of the same id fails at once
    start_after = bool(p.get("start"))

    def undo() -> None:
        ctx.cluster.drop_disks(guest)
        if ctx.cluster.guests.get(vmid) is guest:
            del ctx.cluster.guests[vmid]

    async def work(task: Task) -> None:
        task.log(f'  Logical volume "{disk_name}" created.')
        task.log(f"Creating filesystem with {int(size_gib * 262144)} 4k blocks")
        ctx.cluster.register_disks(guest)
        task.log(f"extracting archive '/var/lib/vz/template/cache/{ostemplate.split('/')[-1]}'")
        await ctx.runner.wait(task)
        task.log("Total bytes read: 524288000 (500MiB, 250MiB/s)")
        task.log(f"Detected container architecture: {config['arch']}")
        task.log("Creating SSH host key 'ssh_host_ed25519_key' - this may take some time ...")
        guest.config.pop("lock", None)
        if start_after:
            _check_bridges(ctx, guest)
            guest.status, guest.started_at = "running", time.time()

    task = ctx.runner.start(node.name, "vzcreate", str(vmid), ctx.identity.userid, work, undo)
    return task.upid


def _validate_ssh_public_keys(raw: str) -> None:
    """PVE::Tools::validate_ssh_public_keys, which create_vm calls before its worker: every
    non-blank line must read as a key to ``ssh-keygen -l``, else one error for them all. Here:
    a type, then base64 whose first wire string is that type."""
    for line in str(raw).split("\n"):
        if not line.strip():
            continue
        fields = line.split()
        try:
            blob = base64.b64decode(fields[1], validate=True) if len(fields) > 1 else b""
        except (binascii.Error, ValueError):
            blob = b""
        size = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
        if size < 1 or blob[4:4 + size] != fields[0].encode():
            raise fail("SSH public key validation error")


_SUBDIR_TYPES = ("vztmpl", "backup", "iso", "snippets", "import")  # named by their subdirectory


def _volume_type(volname: str) -> str:
    """The content type PVE reads from a volume's name (PVE::Storage::Plugin::parse_volname:
    ``vztmpl/<file>``, ``backup/<file>``...; ``<vmid>/<file>`` and ``vm-<vmid>-disk-<n>`` of
    the LVM/ZFS plugins are ``images``)."""
    subdir, slash, _ = volname.partition("/")
    if slash and subdir in _SUBDIR_TYPES:
        return subdir
    if (slash and subdir.isdigit()) or volname.startswith(("vm-", "base-", "subvol-")):
        return "images"
    raise fail(f"unable to parse directory volume name '{volname}'")


def _guess_ostype(ostemplate: str) -> str:
    name = ostemplate.rsplit("/", 1)[-1]
    for os in ("debian", "ubuntu", "alpine", "centos", "fedora", "archlinux", "devuan",
               "opensuse", "gentoo", "nixos"):
        if name.startswith(os):
            return os
    return "unmanaged"


def _check_bridges(ctx, guest: Guest) -> None:
    """Inside a start task: each NIC is plugged into its bridge by pve-container's lxc network
    hook (src/lxcnetaddbr, "bridge '<b>' does not exist"), so PVE::LXC::vm_start fails there.
    A create never looks: create_vm writes the netN keys as given (PVE::LXC::check_bridge_access
    checks only the SDN.Use permission), so a CT on a missing bridge is created, stopped."""
    bridges = ctx.cluster.nodes[guest.node].bridges
    for key, value in guest.config.items():
        if key.startswith("net"):
            for part in str(value).split(","):
                if part.startswith("bridge=") and part[7:] not in bridges:
                    raise TaskError(f"bridge '{part[7:]}' does not exist")


@route("GET", "/nodes/{node}/lxc/{vmid}/config", PARAMS, perm=("/vms/{vmid}", "VM.Audit"))
async def get_config(ctx, p):
    guest = guest_on(ctx, p["node"], p["vmid"])
    return {**guest.config, "digest": guest.digest()}


@route("PUT", "/nodes/{node}/lxc/{vmid}/config", PARAMS,
       perm=("/vms/{vmid}", "VM.Config.Options"))
async def put_config(ctx, p):
    guest = guest_on(ctx, p["node"], p["vmid"])
    if "digest" in p and p["digest"] != guest.digest():
        raise fail("detected modified configuration - file changed by other user? Try again.")
    deletes = split_list(p.get("delete", ""))
    if "lock" not in p and "lock" not in deletes:
        check_lock(guest)
    changes = {k: v for k, v in p.items() if k not in NOT_STORED}
    both = set(changes) & set(deletes)
    if both:
        key = sorted(both)[0]
        raise param_error({"delete": f"cannot set and delete '{key}' at the same time"})
    for key in deletes:
        if key in ("rootfs", "hostname", "arch", "ostype"):
            raise param_error({"delete": f"unable to delete required option '{key}'"})
        guest.config.pop(key, None)
    for key, value in changes.items():
        guest.config[key] = _net_with_defaults(value) if key.startswith("net") else _stored(key, value)
    return None


@route("DELETE", "/nodes/{node}/lxc/{vmid}", PARAMS, perm=("/vms/{vmid}", "VM.Allocate"))
async def delete_ct(ctx, p):
    guest = guest_on(ctx, p["node"], p["vmid"])
    check_lock(guest)
    if guest.config.get("protection"):
        raise fail(f"can't remove CT {guest.vmid} - protection mode enabled")
    if guest.status == "running" and not p.get("force"):
        raise fail(f"unable to destroy CT {guest.vmid} - container is running")

    async def work(task: Task) -> None:
        await ctx.runner.wait(task)
        check_lock(guest)
        guest.status, guest.started_at = "stopped", None
        for volid in ctx.cluster.drop_disks(guest):
            task.log(f'  Logical volume "{volid.split(":", 1)[1]}" successfully removed.')
        ctx.cluster.guests.pop(guest.vmid, None)

    return ctx.runner.start(guest.node, "vzdestroy", str(guest.vmid), ctx.identity.userid,
                            work).upid


@route("GET", "/nodes/{node}/lxc/{vmid}/status/current", PARAMS,
       perm=("/vms/{vmid}", "VM.Audit"))
async def status_current(ctx, p):
    guest = guest_on(ctx, p["node"], p["vmid"])
    out = guest_summary(guest)
    out["ha"] = {"managed": 0}
    return out


def _power(wtype: str, action: str):
    """A start/stop/shutdown/reboot handler: state checked at once, the lock inside the task."""

    async def handler(ctx, p):
        guest = guest_on(ctx, p["node"], p["vmid"])
        running = guest.status == "running"
        if action == "start" and running:
            raise fail(f"CT {guest.vmid} already running")
        if action != "start" and not running:
            raise fail(f"CT {guest.vmid} not running")
        skiplock = bool(p.get("skiplock"))

        async def work(task: Task) -> None:
            if not skiplock and guest.lock:
                raise TaskError(f"CT is locked ({guest.lock})")
            if action in ("start", "reboot"):
                _check_bridges(ctx, guest)
            await ctx.runner.wait(task)
            if action in ("stop", "shutdown"):
                guest.status, guest.started_at = "stopped", None
            else:
                guest.status, guest.started_at = "running", time.time()

        return ctx.runner.start(guest.node, wtype, str(guest.vmid), ctx.identity.userid,
                                work).upid

    return handler


for _action, _wtype in (("start", "vzstart"), ("stop", "vzstop"), ("shutdown", "vzshutdown"),
                        ("reboot", "vzreboot")):
    route("POST", f"/nodes/{{node}}/lxc/{{vmid}}/status/{_action}", PARAMS,
          perm=("/vms/{vmid}", "VM.PowerMgmt"))(_power(_wtype, _action))


@route("POST", "/nodes/{node}/lxc/{vmid}/clone", PARAMS, perm=("/vms/{vmid}", "VM.Clone"))
async def clone_ct(ctx, p):
    source = guest_on(ctx, p["node"], p["vmid"])
    newid = p["newid"]
    if err := already_exists(ctx, newid):
        raise err
    check_lock(source)
    target = get_node(ctx.cluster, p.get("target", source.node))
    if not target.online:
        raise fail(f"target node '{target.name}' is not online")
    old_store = str(source.config.get("rootfs", "")).split(":", 1)[0]
    store_id = p.get("storage", old_store)
    if store_id not in target.storages:
        raise fail(f"storage '{store_id}' does not exist")
    if "rootdir" not in target.storages[store_id].content:
        raise fail(f"storage '{store_id}' does not support container directories")
    # Linked clone (full=0, the default for a template): a thin copy sharing the template's
    # base volume, only on storages with snapshots of that kind (lvmthin, zfspool, rbd).
    template = bool(source.config.get("template"))
    full = bool(p.get("full", not template))
    base_volume = str(source.config.get("rootfs", "")).split(",")[0]
    if not full:
        if not template:
            raise fail("linked clone feature is only available for templates")
        if "storage" in p:
            raise param_error({"storage": "parameter 'storage' not allowed for linked clones"})
        if target.storages[store_id].type not in LINKED_CLONE_TYPES:
            raise fail(f"Linked clone feature for '{base_volume}' is not available")
    config = {k: v for k, v in source.config.items() if k not in ("lock", "template")}
    config["hostname"] = p.get("hostname", f"Copy-of-{source.name}")
    if "description" in p:
        config["description"] = p["description"]
    size = math.ceil(source.maxdisk / (1 << 30)) or 8
    config["rootfs"] = f"{store_id}:vm-{newid}-disk-0,size={size}G"
    if not full:
        config["rootfs"] = f"{base_volume}/vm-{newid}-disk-0,size={size}G"
    for key in [k for k in config if k.startswith("net")]:
        parts = [x for x in str(config[key]).split(",") if not x.startswith("hwaddr=")]
        config[key] = _net_with_defaults(",".join(parts))
    config["lock"] = "create"
    clone = Guest(newid, target.name, config, authorized_keys=source.authorized_keys)
    ctx.cluster.guests[newid] = clone
    if not template:  # a template's disks are read-only: parallel clones of it are fine
        source.config["lock"] = "disk"

    def undo() -> None:
        ctx.cluster.drop_disks(clone)
        if ctx.cluster.guests.get(newid) is clone:
            del ctx.cluster.guests[newid]
        if source.config.get("lock") == "disk":
            source.config.pop("lock")

    async def work(task: Task) -> None:
        kind = "full" if full else "linked"
        task.log(f"create {kind} clone of mountpoint rootfs ({source.config.get('rootfs')})")
        ctx.cluster.register_disks(clone)
        await ctx.runner.wait(task, 1.0 if full else LINKED_CLONE_FACTOR)
        task.log(f'  Logical volume "vm-{newid}-disk-0" created.')
        clone.config.pop("lock", None)
        if source.config.get("lock") == "disk":
            source.config.pop("lock")

    return ctx.runner.start(source.node, "vzclone", str(source.vmid), ctx.identity.userid,
                            work, undo).upid


_STEPS = {"hour": 60, "day": 1800, "week": 10800, "month": 43200, "year": 604800}


@route("GET", "/nodes/{node}/lxc/{vmid}/rrddata", PARAMS, perm=("/vms/{vmid}", "VM.Audit"))
async def rrddata(ctx, p):
    """70 points like PVE's RRD, from the guest's current figures (a load model comes later)."""
    guest = guest_on(ctx, p["node"], p["vmid"])
    step = _STEPS[p["timeframe"]]
    now = int(time.time()) // step * step
    points = []
    for i in range(70):
        t = now - (69 - i) * step
        point: dict[str, Any] = {"time": t, "maxcpu": guest.cpus, "maxmem": guest.maxmem,
                                 "maxdisk": guest.maxdisk}
        up_since = guest.started_at or math.inf
        if guest.status == "running" and t >= up_since - step:
            point.update(cpu=guest.cpu, mem=guest.mem, disk=guest.maxdisk // 5, netin=0.0,
                         netout=0.0, diskread=0.0, diskwrite=0.0)
        points.append(point)
    return points
