"""Backups: vzdump, backup volumes in storage content, extractconfig, restore, backup jobs.

Behaviours follow ../shared/pve-api/README.md items 8-10 and 12:

* ``POST /nodes/{node}/vzdump`` is one task (type ``vzdump``, id = the vmid when one guest is
  backed up) whose log is vzdump's ``INFO:``/``ERROR:`` sequence; the archive takes simulated
  time proportional to the CT's disk (``cluster.durations["vzdump"]`` seconds per GiB, x
  time_scale) and the CT holds the ``backup`` lock meanwhile, so a stop fails inside its task
  with ``CT is locked (backup)``. A guest that fails (``cluster.fail_next_backup``) logs
  ``ERROR: Backup of VM 101 failed - <reason>`` and the task ends with ``job errors``. A job
  that fails before any guest (``cluster.fail_next_backup_job``: vzdump's global lock held, say)
  has no per-guest line at all: ``ERROR: <why>`` and ``TASK ERROR: <exit status>``. A job that
  fails after its guests (``cluster.fail_next_backup_job_end``: its job-end hook script, say)
  ends with ``ERROR: Backup job failed - <why>`` and ``TASK ERROR: <why>``, as PVE::VZDump does.
* The archive becomes ``<storage>:backup/vzdump-lxc-<vmid>-YYYY_MM_DD-HH_MM_SS.tar.zst`` (the
  cluster clock, local time = UTC in pvesim) holding the CT's config for extractconfig and
  restore; ``prune-backups`` is applied to the guest's backups on that storage afterwards.
* ``/cluster/backup`` jobs are stored here and run by ``pvesim.scheduler`` on their calendar
  in the cluster's (simulated) time.

Where real PVE's exact text is not known it is marked so; what the bot relies on is documented
in the README items.
"""

from __future__ import annotations

import asyncio
import math
import re
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..calendar import CalendarError, parse, schedule_analyze
from ..errors import ApiError, fail, param_error
from ..formats import split_list
from ..model import GIB, Guest, Storage, Task, Volume, random_mac
from ..params.backup import PARAMS
from ..prune import parse_prune, retention_text, select
from ..worker import TaskError
from .lxc import (
    _net_with_defaults,
    _stored,
    _volume_type,
    allocate_disk,
    creation_options,
)
from .nodes import get_node
from .pve_rules import (
    check_ct_modify_config_perm,
    check_pool_exist,
    check_volume_access,
    rootdir_storage,
    storage_check_enabled,
    validate_ssh_public_keys,
)
from .registry import ROUTES, _regex, route

if TYPE_CHECKING:
    from ..server import Simulator

# Compression: archive extension and the archive's size as a fraction of the bytes written.
COMPRESSION = {"zstd": (".tar.zst", 0.40), "gzip": (".tar.gz", 0.45), "1": (".tar.lzo", 0.55),
               "lzo": (".tar.lzo", 0.55), "0": (".tar", 1.0)}
USED_FRACTION = 0.2  # how full a CT's disk is: what vzdump writes
# Options of a job that are not vzdump options (the rest is passed on when the job runs).
JOB_ONLY = {"id", "schedule", "enabled", "type", "comment", "starttime", "dow", "repeat-missed",
            "next-run", "node", "vmid", "all", "exclude", "pool"}


# ---- helpers ---------------------------------------------------------------------------------

def _dump_dir(storage: Storage) -> str:
    return "/var/lib/vz/dump" if storage.id == "local" else f"/mnt/pve/{storage.id}/dump"


def archive_path(volid: str, storage: Storage) -> str:
    return f"{_dump_dir(storage)}/{volid.split('/', 1)[1]}"


def _local(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%d %H:%M:%S")


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.2f}{unit}"
        n /= 1024
    return f"{n}"


def backup_store(node, storage_id: str) -> Storage:
    storage = node.storages.get(storage_id)
    if storage is None:
        raise fail(f"storage '{storage_id}' does not exist")
    if "backup" not in storage.content:
        raise fail(f"can't use storage '{storage_id}' for backups - wrong content type")
    return storage


def config_text(config: dict[str, Any]) -> str:
    """A CT config as ``pct config``/extractconfig print it: description as ``#`` lines first,
    then the keys sorted (PVE::LXC::Config::write_pct_config)."""
    lines = [f"#{line}" for line in str(config.get("description", "")).splitlines()
             if "description" in config]
    lines += [f"{k}: {v}" for k, v in sorted(config.items())
              if k not in ("description", "lock", "digest")]
    return "\n".join(lines) + "\n"


def find_volume(node, storage_id: str | None, volume: str) -> tuple[Storage, Volume]:
    """``volume`` as a full volid or relative to ``storage_id`` (``backup/vzdump-...``)."""
    volid = volume if ":" in volume or storage_id is None else f"{storage_id}:{volume}"
    sid = volid.split(":", 1)[0]
    storage = node.storages.get(sid)
    if storage is None:
        raise fail(f"storage '{sid}' does not exist")
    vol = storage.volumes.get(volid)
    if vol is None:
        raise fail(f"volume '{volid}' does not exist")
    return storage, vol


# ---- vzdump ----------------------------------------------------------------------------------

def _selected(cluster, node_name: str, p: dict[str, Any]) -> list[Guest]:
    """The guests of ``node_name`` that ``vmid``/``all``/``exclude`` name (vzdump's selection)."""
    if p.get("all"):
        excluded = {int(v) for v in split_list(str(p.get("exclude", "")))}
        return [g for g in sorted(cluster.guests.values(), key=lambda g: g.vmid)
                if g.node == node_name and g.vmid not in excluded]
    guests = []
    for text in split_list(str(p.get("vmid", ""))):
        guest = cluster.guests.get(int(text))
        if guest is None:
            raise fail(f"VM {text} does not exist")  # exact PVE text unverified
        if guest.node != node_name:
            raise fail(f"guest {text} is not on node '{node_name}'")  # exact PVE text unverified
        guests.append(guest)
    return guests


def _cmdline(p: dict[str, Any]) -> str:
    words = ["vzdump"] + split_list(str(p.get("vmid", "")))
    for key in sorted(p):
        if key != "vmid":
            value = str(p[key])
            words.append(f"--{key} " + (f"'{value}'" if any(c in value for c in " ,={}") else value))
    return " ".join(words)


def _notes(template: str, guest: Guest, node: str, cluster_name: str) -> str:
    return (template.replace("{{guestname}}", guest.name).replace("{{vmid}}", str(guest.vmid))
            .replace("{{node}}", node).replace("{{cluster}}", cluster_name))


def start_vzdump(sim: Simulator, node_name: str, p: dict[str, Any], user: str) -> Task:
    """Start one vzdump task on ``node_name`` for the guests ``p`` selects (the API call and the
    job scheduler share this). Raises ApiError for what PVE refuses before forking."""
    cluster = sim.cluster
    node = get_node(cluster, node_name)
    guests = _selected(cluster, node_name, p)
    if not guests:
        raise fail("No guests selected for backup")  # exact PVE text unverified
    storage = backup_store(node, p.get("storage", "local"))
    retention = parse_prune(p["prune-backups"]) if "prune-backups" in p else None
    compress = str(p.get("compress", "0"))
    ext, ratio = COMPRESSION.get(compress, COMPRESSION["zstd"])
    mode = p.get("mode", "snapshot")
    wid = str(guests[0].vmid) if len(guests) == 1 else ""

    async def backup_one(task: Task, guest: Guest) -> None:
        start = cluster.now()
        task.log(f"INFO: Starting Backup of VM {guest.vmid} (lxc)")
        task.log(f"INFO: Backup started at {_local(start)}")
        if guest.vmid not in cluster.guests:
            raise TaskError(f"CT {guest.vmid} does not exist any more")
        check_lock_in_task(guest)
        running = guest.status == "running"
        task.log(f"INFO: status = {guest.status}")
        task.log(f"INFO: CT Name: {guest.name}")
        task.log("INFO: including mount point rootfs ('/') in backup")
        used_mode = mode if running else "stop"
        task.log(f"INFO: backup mode: {used_mode}")
        task.log("INFO: ionice priority: 7")
        guest.config["lock"] = "backup"
        try:
            if used_mode == "snapshot":
                task.log("INFO: create storage snapshot 'vzdump'")
            elif used_mode == "stop" and running:
                task.log("INFO: stopping virtual guest")
            stamp = int(start)
            while True:  # two backups of one CT in one second would share a name: take the next
                name = (f"vzdump-lxc-{guest.vmid}-"
                        f"{datetime.fromtimestamp(stamp, UTC).strftime('%Y_%m_%d-%H_%M_%S')}{ext}")
                volid = f"{storage.id}:backup/{name}"
                if volid not in storage.volumes:
                    break
                stamp += 1
            task.log(f"INFO: creating vzdump archive '{archive_path(volid, storage)}'")
            gib = guest.maxdisk / GIB
            await sim.runner.wait(task, factor=max(gib, 0.01))
            if (reason := cluster.backup_failures.pop(guest.vmid, None)) is not None:
                raise TaskError(reason)
            config = {k: v for k, v in guest.config.items() if k != "lock"}
            written = max(int(guest.maxdisk * USED_FRACTION), 1 << 20)
            seconds = cluster.durations.get("vzdump", 1.0) * max(gib, 0.01)
            task.log(f"INFO: Total bytes written: {written} ({_human(written)}, "
                     f"{_human(written / max(seconds, 0.001))}/s)")
            size = int(written * ratio)
            task.log(f"INFO: archive file size: {_human(size)}")
            notes = _notes(p["notes-template"], guest, node_name, cluster.name) \
                if "notes-template" in p else None
            if notes:
                task.log("INFO: adding notes to backup")
            if p.get("protected"):
                task.log("INFO: marking backup as protected")
            storage.volumes[volid] = Volume(volid, "backup", size, ext[1:], ctime=stamp,
                                            vmid=guest.vmid, notes=notes,
                                            protected=bool(p.get("protected")), config=config)
            if retention is not None:
                prune_guest(task, storage, guest.vmid, retention)
            if used_mode == "snapshot":
                task.log("INFO: cleanup temporary 'vzdump' snapshot")
            elif used_mode == "stop" and running:
                task.log("INFO: restarting vm")
        finally:
            if guest.config.get("lock") == "backup":
                guest.config.pop("lock")
        task.log(f"INFO: Finished Backup of VM {guest.vmid} ({_hms(seconds)})")
        task.log(f"INFO: Backup finished at {_local(cluster.now())}")

    early = cluster.backup_job_failures.pop(0) if cluster.backup_job_failures else None
    late = cluster.backup_job_end_failures.pop(0) if cluster.backup_job_end_failures else None

    async def work(task: Task) -> None:
        if early is not None:  # e.g. PVE::VZDump::getlock, before the job line
            reason, error = early
            if error:
                task.log(f"ERROR: {error}")
            raise TaskError(reason)
        task.log(f"INFO: starting new backup job: {_cmdline(p)}")
        errors = 0
        for guest in guests:
            try:
                await backup_one(task, guest)
            except TaskError as exc:
                errors += 1
                task.log(f"ERROR: Backup of VM {guest.vmid} failed - {exc}")
                task.log(f"INFO: Failed at {_local(cluster.now())}")
        if late is not None:  # the job-end hook (or another step of the job) failed
            task.log(f"ERROR: Backup job failed - {late}")
            raise TaskError(late)
        if errors:
            task.log("INFO: Backup job finished with errors")
            raise TaskError("job errors")
        task.log("INFO: Backup job finished successfully")

    return sim.runner.start(node_name, "vzdump", wid, user, work)


def check_lock_in_task(guest: Guest) -> None:
    if guest.lock:
        raise TaskError(f"CT is locked ({guest.lock})")


def prune_guest(task: Task, storage: Storage, vmid: int, retention: dict[str, int]) -> None:
    """vzdump's prune after a guest's backup: that guest's lxc archives on that storage."""
    task.log(f"INFO: prune older backups with retention: {retention_text(retention)}")
    group = [(v.volid, v.ctime, v.protected) for v in storage.volumes.values()
             if v.content == "backup" and v.vmid == vmid and "vzdump-lxc-" in v.volid]
    _keep, remove = select(group, retention, tz=UTC)
    for volid in sorted(remove):
        task.log(f"INFO: removing backup '{volid}'")
        del storage.volumes[volid]
    task.log(f"INFO: pruned {len(remove)} backup(s) not covered by keep-retention policy")


@route("POST", "/nodes/{node}/vzdump", PARAMS)
async def vzdump(ctx, p):
    """pve-manager PVE::API2::VZDump: VM.Backup on each guest, Datastore.AllocateSpace on the
    storage (checked in the code: the method is open to all users)."""
    if not p.get("all") and "vmid" not in p and "pool" not in p:
        raise param_error({"vmid": "property is missing and it is not optional"})
    for vmid in split_list(str(p.get("vmid", ""))):
        ctx.check(f"/vms/{vmid}", "VM.Backup")
    ctx.check(f"/storage/{p.get('storage', 'local')}", "Datastore.AllocateSpace")
    if "pool" in p:
        raise fail("pvesim does not implement backups by pool")
    return start_vzdump(ctx.sim, p["node"], p, ctx.identity.userid).upid


@route("GET", "/nodes/{node}/vzdump/extractconfig", PARAMS)
async def extractconfig(ctx, p):
    node = get_node(ctx.cluster, p["node"])
    _check_access(ctx, p["volume"])
    _storage, vol = find_volume(node, None, p["volume"])
    if vol.content != "backup" or vol.config is None:
        raise fail(f"volume '{vol.volid}' is not a backup archive")
    return config_text(vol.config)


# ---- restore (POST /nodes/{node}/lxc with restore=1; called from pvesim.api.lxc) -------------

class _RestoreError(TaskError):
    """A failure the restore worker finds itself (not one injected by a test)."""


async def restore_ct(ctx, p: dict[str, Any]) -> str:
    """create_vm with restore=1 (pve-container PVE::API2::LXC), in its order. Before the
    worker: an existing CT only with force (stopped, unprotected, unlocked), the rights, the
    backup's name and storage, the storage the disk goes to. In the ``vzrestore`` worker:
    the archive itself is read (PVE::LXC::Create::recover_config) on this node, so a backup
    that is on another node's local storage fails there ("can't find file"), before anything
    is changed; only then are the new disks made and an overwritten CT's old ones removed."""
    node = get_node(ctx.cluster, p["node"])
    vmid = p["vmid"]
    existing = ctx.cluster.guests.get(vmid)
    force = bool(p.get("force"))
    if existing is not None and force and existing.node == node.name:
        if existing.status == "running":
            raise fail("can't overwrite running container")
        if existing.config.get("protection"):
            raise fail(f"unable to restore CT {vmid} - protection mode enabled")
    elif existing is not None:
        raise fail(f"CT {vmid} already exists on node '{existing.node}'")
    validate_ssh_public_keys(p.get("ssh-public-keys"))
    check_pool_exist(ctx, p.get("pool"))
    if not (ctx.allowed(f"/vms/{vmid}", "VM.Allocate")
            or (p.get("pool") and ctx.allowed(f"/pool/{p['pool']}", "VM.Allocate"))
            or (existing is not None and ctx.allowed(f"/vms/{vmid}", "VM.Backup"))):
        ctx.check(f"/vms/{vmid}", "VM.Allocate")
    storage_id = p.get("storage", "local")
    options = creation_options(p, storage_id)
    check_ct_modify_config_perm(ctx, vmid, options, [])
    archive = p["ostemplate"]
    sid, _, volname = archive.partition(":")
    owner = re.match(r"^backup/vzdump-(?:lxc|openvz|qemu)-(\d+)-", volname)
    check_volume_access(ctx, archive, "backup", _volume_type(volname),
                        int(owner.group(1)) if owner else None)
    disk_sid = str(options["rootfs"]).split(",")[0].partition(":")[0] if "rootfs" in options \
        else storage_id
    disk_store = rootdir_storage(ctx.cluster, disk_sid, node.name)
    ctx.check(f"/storage/{disk_sid}", "Datastore.AllocateSpace")
    if existing is not None and existing.lock:  # create_and_lock_config($vmid, $force)
        raise fail(f"unable to restore CT {vmid} - CT is locked ({existing.lock})")
    if existing is not None:
        existing.config["lock"] = "create"
        guest = existing
    else:
        guest = Guest(vmid, node.name, {"lock": "create"})
        ctx.cluster.guests[vmid] = guest
    start_after = bool(p.get("start"))
    state = {"changed": False}  # from create_disks on, a failure destroys the CT

    def undo() -> None:
        if not state["changed"]:
            if existing is None:
                ctx.cluster.guests.pop(vmid, None)
            elif guest.config.get("lock") == "create":
                guest.config.pop("lock")  # remove_lock: the old CT is as it was
            return
        ctx.cluster.drop_disks(guest)
        if ctx.cluster.guests.get(vmid) is guest:
            del ctx.cluster.guests[vmid]

    async def work(task: Task) -> None:
        try:
            await _restore(task)
        except _RestoreError as exc:  # what create_vm's worker dies with ($emsg $err)
            raise TaskError(f"unable to restore CT {vmid} - {exc}") from None

    async def _restore(task: Task) -> None:
        if guest.status == "running":
            raise _RestoreError("can't overwrite running container")
        task.log(f"recovering backed-up configuration from '{archive}'")
        try:  # recover_config: storage_check_enabled on this node, abs_filesystem_path
            bstore = storage_check_enabled(ctx.cluster, sid, node.name)
        except ApiError as exc:
            raise _RestoreError(exc.message) from None
        vol = bstore.volumes.get(archive)
        if vol is None:
            raise _RestoreError(f"can't find file '{archive}'")
        if vol.config is None:
            raise _RestoreError(f"unable to read the configuration in '{archive}'")
        config = {k: v for k, v in vol.config.items() if k != "lock"}
        for key, value in options.items():
            if key != "rootfs":
                config[key] = _net_with_defaults(value) if key.startswith("net") else \
                    _stored(key, value)
        if p.get("unique"):
            for key in [k for k in config if k.startswith("net")]:
                parts = [x for x in str(config[key]).split(",") if not x.startswith("hwaddr=")]
                config[key] = ",".join(parts + [f"hwaddr={random_mac()}"])
        old_size = Guest(0, node.name, vol.config).maxdisk
        size_gib = max(1, math.ceil(old_size / GIB))
        if "rootfs" in options:
            size_text = str(options["rootfs"]).split(",")[0].partition(":")[2]
            if size_text.replace(".", "", 1).isdigit():
                size_gib = max(1, math.ceil(float(size_text)))
        config["rootfs"] = f"{disk_sid}:vm-{vmid}-disk-0,size={size_gib}G"
        state["changed"] = True
        try:
            allocate_disk(disk_store, f"vm-{vmid}-disk-0", size_gib)
        except TaskError as exc:
            raise _RestoreError(str(exc)) from None
        if existing is not None:  # destroy_lxc_container: the old volumes go, and the
            ctx.cluster.drop_disks(existing)  # config is replaced by { lock => 'create' }
            existing.config = {"lock": "create"}
        task.log(f'  Logical volume "vm-{vmid}-disk-0" created.')
        ctx.cluster.register_disks(Guest(vmid, node.name, config))
        task.log(f"restoring '{archive}' now..")
        task.log(f"extracting archive '{archive_path(archive, bstore)}'")
        await ctx.runner.wait(task, factor=size_gib)
        written = int(old_size * USED_FRACTION)
        task.log(f"Total bytes read: {written} ({_human(written)})")
        task.log(f"Detected container architecture: {config.get('arch', 'amd64')}")
        task.log("merging backed-up and given configuration..")
        guest.config = config
        if start_after:
            guest.status, guest.started_at = "running", time.time()

    return ctx.runner.start(node.name, "vzrestore", str(vmid), ctx.identity.userid,
                            work, undo).upid


# ---- storage content of one volume ---------------------------------------------------------

VOLUME = "/nodes/{node}/storage/{storage}/content/{volume}"


def _check_access(ctx, volid: str, delete: bool = False) -> None:
    """pve-storage PVE::API2::Storage::Content: read access (check_volume_access) for info,
    attributes and extractconfig; for a delete, Datastore.Allocate, or for a backup
    Datastore.AllocateSpace and VM.Backup on its guest."""
    sid, _, volname = volid.partition(":")
    owner = re.match(r"^backup/vzdump-(?:lxc|openvz|qemu)-(\d+)-", volname)
    if delete and owner is None:
        ctx.check(f"/storage/{sid}", "Datastore.Allocate")
        return
    check_volume_access(ctx, volid, None, _volume_type(volname),
                        int(owner.group(1)) if owner else None)


@route("GET", VOLUME, PARAMS)
async def volume_attributes(ctx, p):
    _check_access(ctx, _full_volid(p))
    storage, vol = find_volume(get_node(ctx.cluster, p["node"]), p["storage"], p["volume"])
    out: dict[str, Any] = {"path": archive_path(vol.volid, storage) if vol.content == "backup"
                           else f"/dev/{storage.id}/{vol.volid.split(':', 1)[1]}",
                           "size": vol.size, "used": vol.size, "format": vol.format,
                           "protected": int(vol.protected)}
    if vol.notes:
        out["notes"] = vol.notes
    return out


@route("PUT", VOLUME, PARAMS)
async def volume_update(ctx, p):
    _check_access(ctx, _full_volid(p))
    _storage, vol = find_volume(get_node(ctx.cluster, p["node"]), p["storage"], p["volume"])
    if "notes" in p:
        vol.notes = p["notes"] or None
    if "protected" in p:
        vol.protected = bool(p["protected"])
    return None


def _full_volid(p: dict[str, Any]) -> str:
    return p["volume"] if ":" in p["volume"] else f"{p['storage']}:{p['volume']}"


@route("DELETE", VOLUME, PARAMS)
async def volume_delete(ctx, p):
    _check_access(ctx, _full_volid(p), delete=True)
    storage, vol = find_volume(get_node(ctx.cluster, p["node"]), p["storage"], p["volume"])
    wid = f"{vol.vmid}@{storage.id}" if vol.vmid is not None else storage.id

    async def work(task: Task) -> None:
        if vol.protected:  # PVE::Storage::archive_remove
            raise TaskError(f"cannot remove protected archive '{archive_path(vol.volid, storage)}'")
        await ctx.runner.wait(task)
        storage.volumes.pop(vol.volid, None)
        task.log(f"Removed volume '{vol.volid}'")

    return ctx.runner.start(p["node"], "imgdel", wid, ctx.identity.userid, work).upid


# A volume id holds a slash (``local:backup/vzdump-...``) and proxmoxer sends it unescaped.
for _r in ROUTES:
    if _r.template == VOLUME:
        _r.regex = re.compile(_regex(VOLUME).pattern.replace("(?P<volume>[^/]+)", "(?P<volume>.+)"))


# ---- backup jobs -----------------------------------------------------------------------------

def job_next_run(cluster, job: dict[str, Any]) -> int | None:
    """The next run after the job's last run (or its creation), as an epoch (UTC = local)."""
    config = job["config"]
    if not int(config.get("enabled", 1)):
        return None
    try:
        event = parse(config["schedule"])
    except CalendarError:
        return None
    after = datetime.fromtimestamp(int(job["last"]), UTC).replace(tzinfo=None)
    nxt = event.next_after(after)
    return int(nxt.replace(tzinfo=UTC).timestamp()) if nxt else None


def _job_api(cluster, job: dict[str, Any]) -> dict[str, Any]:
    out = dict(job["config"])
    if (nxt := job_next_run(cluster, job)) is not None:
        out["next-run"] = nxt
    return out


def _get_job(ctx, job_id: str) -> dict[str, Any]:
    job = ctx.cluster.backup_jobs.get(job_id)
    if job is None:
        raise fail(f"job '{job_id}' not found")  # exact PVE text unverified
    return job


def _schedule_of(p: dict[str, Any]) -> str | None:
    if "schedule" in p:
        return p["schedule"]
    if "starttime" in p:  # the legacy form: dow + starttime
        return (f"{p['dow'].replace(',', ',')} " if "dow" in p else "") + p["starttime"]
    return None


@route("GET", "/cluster/backup", PARAMS, perm=("/", "Sys.Audit"))
async def list_jobs(ctx, p):
    return [_job_api(ctx.cluster, job) for _id, job in sorted(ctx.cluster.backup_jobs.items())]


@route("POST", "/cluster/backup", PARAMS, perm=("/", "Sys.Modify"))
async def create_job(ctx, p):
    p = dict(p)
    job_id = p.pop("id", None) or f"backup-{secrets.token_hex(4)}-{secrets.token_hex(2)}"
    schedule = _schedule_of(p)
    if schedule is None:
        raise param_error({"schedule": "property is missing and it is not optional"})
    if not p.get("all") and "vmid" not in p and "pool" not in p:
        raise param_error({"vmid": "you need to specify 'all', 'vmid' or 'pool'"})
    if job_id in ctx.cluster.backup_jobs:
        raise fail(f"Job '{job_id}' already exists")
    p.pop("starttime", None)
    p.pop("dow", None)
    config = {"id": job_id, "type": "vzdump", "enabled": p.pop("enabled", 1),
              "schedule": schedule, **p}
    ctx.cluster.backup_jobs[job_id] = {"config": config, "last": ctx.cluster.now()}
    return None


@route("GET", "/cluster/backup/{id}", PARAMS, perm=("/", "Sys.Audit"))
async def get_job(ctx, p):
    return dict(_get_job(ctx, p["id"])["config"])


@route("PUT", "/cluster/backup/{id}", PARAMS, perm=("/", "Sys.Modify"))
async def update_job(ctx, p):
    job = _get_job(ctx, p["id"])
    p = dict(p)
    deletes = split_list(p.pop("delete", ""))
    schedule = _schedule_of(p)
    p.pop("starttime", None)
    p.pop("dow", None)
    config = dict(job["config"])
    for key in deletes:
        if key in ("schedule", "id", "type"):
            raise param_error({"delete": f"unable to delete required option '{key}'"})
        config.pop(key, None)
    config.update({k: v for k, v in p.items() if k != "id"})
    if schedule is not None:
        config["schedule"] = schedule
    job["config"] = config
    return None


@route("DELETE", "/cluster/backup/{id}", PARAMS, perm=("/", "Sys.Modify"))
async def delete_job(ctx, p):
    _get_job(ctx, p["id"])
    del ctx.cluster.backup_jobs[p["id"]]
    return None


@route("GET", "/cluster/backup/{id}/included_volumes", PARAMS, perm=("/", "Sys.Audit"))
async def included_volumes(ctx, p):
    config = _get_job(ctx, p["id"])["config"]
    children = []
    for node in ctx.cluster.nodes:
        try:
            guests = _selected(ctx.cluster, node, config)
        except Exception:  # noqa: BLE001 - a guest of the list lives elsewhere: list what is here
            wanted = {int(v) for v in split_list(str(config.get("vmid", "")))}
            guests = [g for g in ctx.cluster.guests.values() if g.node == node and g.vmid in wanted]
        for guest in guests:
            children.append({"id": guest.vmid, "name": guest.name, "type": "lxc", "children": [
                {"id": "rootfs", "name": "rootfs", "included": 1, "reason": "mountpoint"}]})
    return {"children": sorted(children, key=lambda c: c["id"])}


@route("GET", "/cluster/jobs/schedule-analyze", PARAMS, perm=("/", "Sys.Audit"))
async def analyze(ctx, p):
    start = p.get("starttime", int(ctx.cluster.now()))
    try:
        return schedule_analyze(p["schedule"], start, p.get("iterations", 10), tz=UTC)
    except CalendarError as err:
        raise param_error({"schedule": str(err)}) from None


async def wait_tasks(tasks: list[Task]) -> None:
    """Until every task stopped (the scheduler waits for a job's vzdump tasks)."""
    while any(t.status == "running" for t in tasks):  # noqa: ASYNC110 - tasks have no event
        await asyncio.sleep(0.001)
