"""LXC containers: list, create, config, delete, power, clone, rrddata.

Behaviours follow ../shared/pve-api/README.md items 5-7: locks (create holds ``create``, clone
holds ``disk`` on the source and ``create`` on the new CT, start/stop/shutdown check the lock
inside the task, DELETE of a locked CT fails at once), existing ids, unprivileged by default.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

from ..errors import ApiError, config_missing, fail, param_error
from ..formats import split_list
from ..model import GIB, Guest, Task, random_mac
from ..params.lxc import PARAMS
from ..validator import compiled, parse_property_string
from ..worker import TaskError
from .nodes import get_node
from .pve_rules import (
    check_bridge_access,
    check_ct_modify_config_perm,
    check_hookscript,
    check_pool_exist,
    check_volume_access,
    rootdir_storage,
    storage_check_enabled,
    storage_exists,
    validate_ssh_public_keys,
)
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


@route("POST", "/nodes/{node}/lxc", PARAMS)
async def create_ct(ctx, p):
    """PVE::API2::LXC create_vm, in its order: what it checks before forking the worker is
    refused at once (500, 400 or 403); what the worker finds (a template file that is not
    there, a storage without room) fails the task, which then removes what it made."""
    if p.get("restore"):
        from .backup import restore_ct  # local: backup imports this module

        return await restore_ct(ctx, p)
    node = get_node(ctx.cluster, p["node"])
    vmid = p["vmid"]
    unprivileged = p.get("unprivileged", 1)
    if not unprivileged:
        ctx.check("/", "Sys.Modify")
    if err := already_exists(ctx, vmid):  # PVE::Cluster::check_vmid_unused
        raise err
    validate_ssh_public_keys(p.get("ssh-public-keys"))
    check_pool_exist(ctx, p.get("pool"))
    check_allocate(ctx, vmid, p.get("pool"))
    storage_id = p.get("storage", "local")
    ostemplate = p["ostemplate"]
    options = creation_options(p, storage_id)
    check_ct_modify_config_perm(ctx, vmid, options, [])
    # check_volume_access(ostemplate, 'vztmpl'): the storage must be configured and, since
    # PVE 7.2, the content type the volume's name says must be 'vztmpl' ('backup' only with
    # restore=1), for root too: a backup named as a template is refused (pve-container
    # d387c0b, pve-storage 21c7b54). Whether the file is there only the worker finds.
    store_id, sep, volname = ostemplate.partition(":")
    if not sep:
        raise fail(f"unable to parse volume ID '{ostemplate}'")
    check_volume_access(ctx, ostemplate, "vztmpl", _volume_type(volname))
    # rootfs: STORAGE:SIZE_GiB, or a bare size on `storage` (default 'local'; 4 GiB without
    # rootfs), on a storage enabled on this node that holds container directories.
    rootfs = options.get("rootfs") or f"{storage_id}:4"
    spec = parse_property_string(_CREATE.props["rootfs"].sub, rootfs)
    disk_store_id, sep, size = spec["volume"].partition(":")
    if not sep or not NEW_DISK.match(size):
        raise fail(f"unable to parse volume ID '{spec['volume']}'")
    disk_store = rootdir_storage(ctx.cluster, disk_store_id, node.name)
    ctx.check(f"/storage/{disk_store_id}", "Datastore.AllocateSpace")
    if "hookscript" in p:  # update_pct_config
        check_hookscript(ctx, node.name, p["hookscript"])
    size_gib = float(size)

    config: dict[str, Any] = {"arch": "amd64", "cores": 1, "memory": 512, "swap": 512,
                              "hostname": f"CT{vmid}", "unprivileged": 1}
    config.update(ostype=_guess_ostype(ostemplate))
    for key, value in options.items():
        config[key] = _net_with_defaults(value) if key.startswith("net") else _stored(key, value)
    config["unprivileged"] = unprivileged
    disk_name = f"vm-{vmid}-disk-0"
    size_text = f"{int(size_gib)}G" if size_gib == int(size_gib) else f"{int(size_gib * 1024)}M"
    extra = "".join(f",{k}={v}" for k, v in spec.items() if k not in ("volume", "size"))
    config["rootfs"] = f"{disk_store_id}:{disk_name}{extra},size={size_text}"
    config["lock"] = "create"
    guest = Guest(vmid, node.name, config, authorized_keys=p.get("ssh-public-keys"))
    ctx.cluster.guests[vmid] = guest  # taken now: a concurrent create of the same id fails at once
    start_after = bool(p.get("start"))

    def undo() -> None:
        ctx.cluster.drop_disks(guest)
        if ctx.cluster.guests.get(vmid) is guest:
            del ctx.cluster.guests[vmid]

    async def work(task: Task) -> None:
        try:
            allocate_disk(disk_store, disk_name, size_gib)
            task.log(f'  Logical volume "{disk_name}" created.')
            task.log(f"Creating filesystem with {int(size_gib * 262144)} 4k blocks")
            ctx.cluster.register_disks(guest)
            # PVE::LXC::Create::restore_archive -> PVE::Storage::abs_filesystem_path
            tstore = node.storages.get(store_id)
            if tstore is None:
                raise TaskError(f"storage '{store_id}' is not available on node '{node.name}'")
            if ostemplate not in tstore.volumes:
                raise TaskError(f"can't find file '{ostemplate}'")
        except TaskError as exc:
            raise TaskError(f"unable to create CT {vmid} - {exc}") from None
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


NEW_DISK = re.compile(r"^\d+(\.\d+)?$")  # PVE::LXC::NEW_DISK_RE's size: "<storage>:<GiB>"


def creation_options(p: dict[str, Any], storage_id: str) -> dict[str, Any]:
    """The config options of a create call (what create_vm leaves in $param after taking out
    its own): a bare ``rootfs=8`` means 8 GiB on ``storage`` ("allow to use simple numbers
    (add default storage in that case)")."""
    options = {k: v for k, v in p.items() if k not in NOT_STORED and k != "unprivileged"}
    if "rootfs" in options:
        volume, comma, rest = str(options["rootfs"]).partition(",")
        if NEW_DISK.match(volume):
            options["rootfs"] = f"{storage_id}:{volume}{comma}{rest}"
    return options


def check_allocate(ctx, vmid: int, pool: str | None) -> None:
    """create_vm/clone_vm: VM.Allocate on /vms/<vmid>, or on the pool the CT joins."""
    if ctx.allowed(f"/vms/{vmid}", "VM.Allocate"):
        return
    if pool is not None and ctx.allowed(f"/pool/{pool}", "VM.Allocate"):
        return
    ctx.check(f"/vms/{vmid}", "VM.Allocate")


def allocate_disk(storage, name: str, size_gib: float) -> None:
    """A new volume, as the storage plugin's alloc_image makes it. Thin pools (lvmthin), ZFS,
    Ceph and the files of a directory storage may promise more than they hold; a thick LVM
    volume group refuses what it has no extents for (PVE::Storage::LVMPlugin::alloc_image,
    lvcreate)."""
    free = storage.total - storage.used
    if storage.type == "lvm" and size_gib * GIB > free:
        raise TaskError(f'lvcreate \'{storage.id}/{name}\' error:   Volume group "{storage.id}" '
                        f"has insufficient free space ({free >> 22} extents): "
                        f"{int(size_gib * GIB) >> 22} required.")


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
       perm=("/vms/{vmid}", ("VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory",
                             "VM.Config.Network", "VM.Config.Options")))
async def put_config(ctx, p):
    """pve-container PVE::API2::LXC::Config update_vm and PVE::LXC::Config::update_pct_config,
    in their order (a stopped CT: the changes apply at once)."""
    guest = guest_on(ctx, p["node"], p["vmid"])
    changes = {k: v for k, v in p.items() if k not in ("node", "vmid", "digest", "delete",
                                                        "revert")}
    if not changes and "delete" not in p and "revert" not in p:
        raise fail("no options specified")
    deletes = split_list(p.get("delete", ""))
    check_lock(guest)  # always: 'delete=lock' cannot unlock (only 'pct unlock' can)
    if "digest" in p and p["digest"] != guest.digest():
        raise fail("detected modified configuration - file changed by other user? Try again.")
    check_ct_modify_config_perm(ctx, guest.vmid, {}, deletes, guest.config)
    for key in deletes:
        if _UPDATE.prop_for(key) is None:
            raise param_error({"delete": f"unknown option '{key}'"})
        if key in changes:
            raise param_error({"delete": f"you can't use '-{key}' and -delete {key}' at the "
                                         "same time"})
    check_ct_modify_config_perm(ctx, guest.vmid, changes, [], guest.config)
    for key in deletes:
        if key not in guest.config:
            continue  # "cannot delete '<key>' - not set in current configuration!" (a warning)
        if key in ("memory", "rootfs", "ostype"):
            raise fail(f"unable to delete required option '{key}'")
        if key == "unprivileged":
            raise fail(f"unable to delete read-only option: '{key}'")
    for key, value in sorted(changes.items()):
        if key == "rootfs" or re.match(r"^mp\d+$", key):
            if guest.config.get("protection"):
                raise fail(f"can't update CT {guest.vmid} drive '{key}' - protection mode enabled")
            sid = str(value).split(",")[0].partition(":")[0]
            if "rootdir" not in storage_exists(ctx.cluster, sid).content:
                raise fail(f"storage '{sid}' does not allow content type 'rootdir' (Container)")
        elif key == "hookscript":
            check_hookscript(ctx, guest.node, value)
        elif key == "unprivileged":
            raise fail(f"unable to modify read-only option: '{key}'")
    for key in deletes:
        guest.config.pop(key, None)
    for key, value in changes.items():
        guest.config[key] = _net_with_defaults(value) if key.startswith("net") else _stored(key, value)
    return None


_UPDATE = compiled("PUT /nodes/{node}/lxc/{vmid}/config", PARAMS["PUT /nodes/{node}/lxc/{vmid}/config"])


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
    """pve-container PVE::API2::LXC clone_vm, in its order. Everything but the copy itself is
    decided before the worker starts: refusals answer at once, and the source holds the
    'disk' lock (a template too: two clones of one CT never run at once) until the copy ends.
    With ``target`` the clone is made here and its config moved there at the end, which only
    works when every volume is on shared storage."""
    source = guest_on(ctx, p["node"], p["vmid"])
    newid, pool, snapname = p["newid"], p.get("pool"), p.get("snapname")
    check_allocate(ctx, newid, pool)
    check_pool_exist(ctx, pool)
    target_name = p.get("target")
    if target_name in (source.node, "localhost"):
        target_name = None
    target = _cluster_node(ctx, target_name) if target_name else None
    if "storage" in p:
        storage_check_enabled(ctx.cluster, p["storage"], source.node)
        if target is not None:
            scfg = storage_check_enabled(ctx.cluster, p["storage"], target.name)
            if not scfg.shared:
                raise fail(f"can't clone to non-shared storage '{p['storage']}'")
    check_lock(source)  # PVE::LXC::Config->set_lock($vmid, 'disk')
    if err := already_exists(ctx, newid):  # create_and_lock_config($newid)
        raise err
    running = source.status == "running"
    template = bool(source.config.get("template"))
    full = bool(p.get("full", not template))
    if "storage" in p and not full:
        raise fail("parameter 'storage' not allowed for linked clones")
    if snapname is not None and snapname not in source.snapshots:
        raise fail(f"snapshot '{snapname}' does not exist")
    src_conf = source.snapshots[snapname]["config"] if snapname else source.config
    volume = str(src_conf.get("rootfs", "")).split(",")[0]
    old_sid = volume.partition(":")[0]
    store_id = p.get("storage", old_sid)
    disk_store = storage_exists(ctx.cluster, store_id)
    ctx.check(f"/storage/{store_id}", "Datastore.AllocateSpace")
    if full and running and snapname is None:
        raise fail("Full clone of a running container is only possible from a snapshot")
    if not full:
        old_store = storage_exists(ctx.cluster, old_sid)
        # PVE::Storage::volume_has_feature('clone'): of a template's base volume, or of a
        # snapshot, on storages with thin clones (lvmthin, zfspool, rbd)
        if old_store.type not in LINKED_CLONE_TYPES or not (template or snapname):
            raise fail(f"Linked clone feature for '{volume}' is not available")
    config = {k: v for k, v in src_conf.items()
              if k not in ("lock", "template", "parent", "snaptime", "snapstate")}
    for key in [k for k in config if k.startswith("net")]:  # "always change MAC! address"
        parts = [x for x in str(config[key]).split(",") if not x.startswith("hwaddr=")]
        config[key] = _net_with_defaults(",".join(parts))
        check_bridge_access(ctx, config[key])
    if target is not None and not disk_store.shared:
        raise fail(f"can't clone CT to node '{target.name}' (CT uses local storage)")
    if "hostname" in p:
        config["hostname"] = p["hostname"]
    if "description" in p:
        config["description"] = p["description"]
    size = math.ceil(Guest(0, source.node, src_conf).maxdisk / GIB) or 8
    new_disk = f"vm-{newid}-disk-0"
    if not full and old_store.type != "lvmthin":  # ZFS, RBD: the name says its base
        new_disk = f"{volume.partition(':')[2]}/{new_disk}"
    config["rootfs"] = f"{store_id}:{new_disk},size={size}G"
    config["lock"] = "create"
    clone = Guest(newid, source.node, config, authorized_keys=source.authorized_keys)
    ctx.cluster.guests[newid] = clone
    source.config["lock"] = "disk"

    def unlock_source() -> None:
        if source.config.get("lock") == "disk":
            source.config.pop("lock")

    def undo() -> None:
        ctx.cluster.drop_disks(clone)
        if ctx.cluster.guests.get(newid) is clone:
            del ctx.cluster.guests[newid]
        unlock_source()

    async def work(task: Task) -> None:
        task.log(f"creating a clone of container {source.vmid} with ID {newid}")
        kind = "full" if full else "linked"
        task.log(f"create {kind} clone of mountpoint rootfs ({volume})")
        ctx.cluster.register_disks(clone)
        await ctx.runner.wait(task, 1.0 if full else LINKED_CLONE_FACTOR)
        task.log(f'  Logical volume "vm-{newid}-disk-0" created.')
        unlock_source()
        clone.config.pop("lock", None)
        if target is not None:  # PVE::LXC::Config->move_config_to_node
            clone.node = target.name

    return ctx.runner.start(source.node, "vzclone", str(source.vmid), ctx.identity.userid,
                            work, undo).upid


def _cluster_node(ctx, name: str):
    """PVE::Cluster::check_node_exists."""
    node = ctx.cluster.nodes.get(name)
    if node is None:
        raise fail(f"no such cluster node '{name}'")
    return node


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
