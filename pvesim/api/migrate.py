"""CT migration: POST /nodes/{node}/lxc/{vmid}/migrate (pve-container PVE::API2::LXC
migrate_vm, the work in PVE::LXC::Migrate and pve-guest-common PVE::AbstractMigrate).

A stopped CT migrates offline: its volumes on local storage are copied to the same storage id
(or the one ``target-storage`` maps to) on the target, its config moves there. A running CT
needs ``restart``: it is shut down, migrated, and started on the target. What the API method
checks refuses at once; everything else happens in the ``vzmigrate`` task, whose failures log
``ERROR: migration aborted (duration ...): <why>`` and end with ``TASK ERROR: migration
aborted``. The CT holds the 'migrate' lock while its volumes move.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ..errors import fail, param_error
from ..formats import split_list
from ..model import Task
from ..params.lxc import PARAMS
from ..worker import TaskError
from .lxc import _check_bridges, _cluster_node, guest_on
from .nodes import get_node
from .pve_rules import storage_check_enabled, storage_exists
from .registry import route

MIGRATABLE = ("dir", "zfspool", "lvmthin", "lvm", "btrfs")  # PVE::LXC::Migrate::phase1


class _Aborted(TaskError):
    """A failure before the config moved: the CT stays on the source, unlocked."""


def _storage_map(text: str | None) -> dict[str, str]:
    """PVE::JSONSchema::parse_idmap: '1' (identity), 'sid' (every storage to sid),
    'a:b' pairs; returned as {'*': default, 'a': 'b'}."""
    out: dict[str, str] = {}
    for entry in split_list(text or ""):
        if entry == "1":
            continue
        source, colon, target = entry.partition(":")
        out[source if colon else "*"] = target if colon else source
    return out


async def _copying(ctx, task: Task, factor: float) -> None:
    """The volumes' copy takes its time; a failure there (an injected one) aborts phase 1."""
    try:
        await ctx.runner.wait(task, factor)
    except TaskError as exc:
        raise _Aborted(str(exc)) from None


@route("POST", "/nodes/{node}/lxc/{vmid}/migrate", PARAMS, perm=("/vms/{vmid}", "VM.Migrate"))
async def migrate_ct(ctx, p):
    get_node(ctx.cluster, p["node"])
    if p["target"] == p["node"]:
        raise param_error({"target": "target is local node."})
    target = _cluster_node(ctx, p["target"])
    guest = guest_on(ctx, p["node"], p["vmid"])  # "test if VM exists"
    restart, online = bool(p.get("restart")), bool(p.get("online"))
    if guest.status == "running" and not online and not restart:
        raise fail("can't migrate running container without --online or --restart")
    storage_map = _storage_map(p.get("target-storage"))
    for sid in storage_map.values():  # $check_storage_access_migrate
        storage_check_enabled(ctx.cluster, sid, target.name)
        ctx.check(f"/storage/{sid}", "Datastore.AllocateSpace")
        if "rootdir" not in storage_exists(ctx.cluster, sid).content:
            raise fail(f"storage '{sid}' does not support CT rootdirs")
    source = ctx.cluster.nodes[guest.node]
    started = time.monotonic()

    def log(task: Task, line: str) -> None:
        stamp = datetime.fromtimestamp(int(ctx.cluster.now()), UTC).strftime("%Y-%m-%d %H:%M:%S")
        task.log(f"{stamp} {line}")

    def duration() -> str:
        s = int(time.monotonic() - started)
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"

    async def work(task: Task) -> None:
        was_running = False
        moved = False
        try:
            # prepare
            if guest.lock:
                raise _Aborted(f"CT is locked ({guest.lock})")
            if guest.status == "running":
                if online:
                    raise _Aborted("lxc live migration is currently not implemented")
                was_running = True
            volid = str(guest.config.get("rootfs", "")).split(",")[0]
            sid = volid.partition(":")[0]
            scfg = storage_check_enabled(ctx.cluster, sid, source.name)
            if "rootdir" not in scfg.content:
                raise _Aborted(f"content type 'rootdir' is not available on storage '{sid}'")
            target_sid = sid if scfg.shared else storage_map.get(sid, storage_map.get("*", sid))
            try:
                tcfg = storage_check_enabled(ctx.cluster, target_sid, target.name)
            except Exception as exc:  # an ApiError of the check: the same text, in the task
                raise _Aborted(str(exc)) from None
            if "rootdir" not in tcfg.content:
                raise _Aborted(f"{volid}: content type 'rootdir' is not available on storage "
                               f"'{target_sid}'")
            if not target.online:  # the ssh test of the target
                raise _Aborted("Can't connect to destination address using public key")
            if was_running:
                log(task, f"shutdown CT {guest.vmid}")
                guest.status, guest.started_at = "stopped", None
            # phase1
            log(task, f"starting migration of CT {guest.vmid} to node '{target.name}' "
                      f"(192.168.1.{11 + list(ctx.cluster.nodes).index(target.name)})")
            guest.config["lock"] = "migrate"
            if not scfg.shared:
                problem = None
                if guest.snapshots and scfg.type not in ("zfspool", "btrfs"):
                    problem = "non-migratable snapshot exists"
                elif scfg.type not in MIGRATABLE:
                    problem = f"storage type '{scfg.type}' not supported"
                elif "/" in volid.partition(":")[2]:
                    problem = f"clone of '{volid.partition(':')[2].split('/')[0]}'"
                if problem:
                    log(task, f"found local volume '{volid}' (in current VM config)")
                    log(task, f"can't migrate local volume '{volid}': {problem}")
                    log(task, "ERROR: can't migrate CT - check log")
                    raise _Aborted("can't migrate CT - check log")
                log(task, f"found local volume '{volid}' (in current VM config)")
                await _copying(ctx, task, max(guest.maxdisk / (8 << 30), 0.05))
                volume = scfg.volumes.pop(volid, None)
                new_volid = f"{target_sid}:{volid.partition(':')[2]}"
                if volume is not None:
                    volume.volid = new_volid
                    tcfg.volumes[new_volid] = volume
                guest.config["rootfs"] = str(guest.config["rootfs"]).replace(volid, new_volid, 1)
                log(task, f"volume '{volid}' is '{new_volid}' on the target")
            else:
                log(task, f"volume '{volid}' is on shared storage '{sid}'")
                await _copying(ctx, task, 0.05)
            guest.node = target.name  # move_config_to_node
            moved = True
            # phase3 / final_cleanup
            log(task, "start final cleanup")
            guest.config.pop("lock", None)
            if was_running:
                log(task, "start container on target node")
                try:
                    _check_bridges(ctx, guest)
                except TaskError as exc:
                    log(task, f"ERROR: command '/usr/bin/ssh ... root@{target.name} pct start "
                              f"{guest.vmid}' failed: exit code 1 ({exc})")
                    log(task, f"ERROR: migration finished with problems (duration {duration()})")
                    raise TaskError("migration problems") from None
                guest.status, guest.started_at = "running", time.time()
        except _Aborted as exc:
            if not moved:
                if guest.config.get("lock") == "migrate":
                    guest.config.pop("lock")
                if was_running:
                    log(task, "start container on source node")
                    guest.status, guest.started_at = "running", time.time()
            log(task, f"ERROR: migration aborted (duration {duration()}): {exc}")
            raise TaskError("migration aborted") from None
        log(task, f"migration finished successfully (duration {duration()})")

    return ctx.runner.start(guest.node, "vzmigrate", str(guest.vmid), ctx.identity.userid,
                            work).upid

