"""Backups through PVE: vzdump followed by its task log, backup volumes, restore, backup jobs.

A mixin of `Proxmox` (it uses `_request`, `_locate`, `_resources`, `wait_task`,
`_with_new_vmid`). What real PVE says is in ../shared/pve-api/README.md, items 8-12: vzdump
prints ``INFO:``/``ERROR:`` lines without percentages for containers, so progress is the stage
(the last meaningful line), ``Total bytes written`` once the archive is done, and the time
elapsed; a failed guest leaves ``ERROR: Backup of VM <id> failed - <reason>`` and the task's
exit status is only ``job errors``, so the log is what says why.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .models import parse_property_string
from .tasks import decode_upid, is_success

# ---- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupInfo:
    """One backup volume (``local:backup/vzdump-lxc-101-2026_05_01-02_00_00.tar.zst``)."""

    volid: str
    node: str
    storage: str
    vmid: int | None
    ctime: int
    size: int
    format: str = ""
    notes: str = ""
    protected: bool = False


@dataclass(frozen=True)
class BackupProgress:
    """What a person following a backup is shown."""

    stage: str
    elapsed_s: float
    bytes_written: int | None = None


@dataclass(frozen=True)
class BackupResult:
    vmid: int
    node: str
    upid: str
    volid: str
    size: int
    duration: str  # vzdump's own "HH:MM:SS"
    elapsed_s: float


@dataclass(frozen=True)
class GuestOutcome:
    """One guest's part of a vzdump log."""

    vmid: int
    ok: bool
    volid: str | None = None  # storage-less "backup/vzdump-..." name, see `archive`
    archive: str | None = None  # the file name
    duration: str | None = None
    error: str | None = None
    name: str | None = None  # the CT's hostname then (``CT Name:``), not necessarily now


@dataclass(frozen=True)
class BackupJob:
    id: str
    schedule: str
    vmids: tuple[int, ...]
    all: bool
    storage: str | None
    mode: str | None
    prune: str | None
    enabled: bool
    comment: str
    next_run: int | None


@dataclass(frozen=True)
class FinishedTask:
    upid: str
    node: str
    type: str
    id: str
    user: str
    status: str  # the exit status: OK, WARNINGS: n, or the error
    starttime: int
    endtime: int | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class LogCursor:
    """The part of a task log already read: the next request asks only for what follows."""

    lines: list[str] = field(default_factory=list)

    @property
    def start(self) -> int:
        return len(self.lines)


Progress = Callable[[BackupProgress], Awaitable[None]]

# How long a follow waits for a backup to end before it gives up (the task goes on; its result
# is then the watcher's to report). Generous: a big container's vzdump takes hours.
FOLLOW_TIMEOUT_S = 12 * 3600.0

_ARCHIVE = re.compile(r"creating (?:vzdump )?archive '([^']+)'")
_WRITTEN = re.compile(r"Total bytes written: (\d+)")
_STARTING = re.compile(r"Starting Backup of VM (\d+)")
_FINISHED = re.compile(r"Finished Backup of VM (\d+) \((\d+:\d\d:\d\d)\)")
_FAILED = re.compile(r"ERROR: Backup of VM (\d+) failed - (.*)")
_NAME = re.compile(r"^INFO: CT Name: (\S+)")
_JOB_FAILED = re.compile(r"^ERROR: Backup job failed - (.*)")
_GUEST_ERRORS = "job errors"  # vzdump's exit status when only guests failed

# Log line prefix -> the stage a person reads.
_STAGES = (
    ("starting new backup job", "starting"),
    ("Starting Backup of VM", "starting"),
    ("backup mode:", "preparing"),
    ("create storage snapshot", "taking a snapshot"),
    ("stopping virtual guest", "stopping the container"),
    ("suspend", "suspending the container"),
    ("creating vzdump archive", "writing the archive"),
    ("Total bytes written", "archive written"),
    ("prune older backups", "pruning old backups"),
    ("cleanup temporary", "cleaning up"),
    ("Finished Backup of VM", "finishing"),
)


def stage_of(lines: list[str]) -> str:
    """The stage the newest meaningful line says, e.g. ``writing the archive``."""
    for line in reversed(lines):
        text = line.split(": ", 1)[1] if line[:6] in ("INFO: ", "WARN: ") else line
        for prefix, stage in _STAGES:
            if text.startswith(prefix) or prefix in text[:40]:
                return stage
    return "starting"


def bytes_written(lines: list[str]) -> int | None:
    for line in reversed(lines):
        if m := _WRITTEN.search(line):
            return int(m.group(1))
    return None


_LOG_ENDED_EARLY = "the log ends before this guest finished"
_UNFINISHED_LOG = "unfinished"
_UNFINISHED = (_LOG_ENDED_EARLY, _UNFINISHED_LOG)  # a guest's end not in the log (cut short)


def _task_end(lines: list[str]) -> str | None:
    """The exit status the log's last line gives (``OK``, ``WARNINGS: 1``, the error), or
    None while that line is not there."""
    last = lines[-1] if lines else ""
    if last.startswith(("TASK OK", "TASK WARNINGS:", "TASK ERROR:")):
        return last.removeprefix("TASK ERROR:").removeprefix("TASK ").strip()
    return None


def failure_reason(lines: list[str], exitstatus: str) -> str:
    """Why a task failed, for a person: the last ``ERROR:`` line of its log (vzdump's reason,
    e.g. a lock it could not get), else its exit status."""
    for line in reversed(lines):
        if line.startswith("ERROR: "):
            text = line.removeprefix("ERROR: ").strip()
            if m := _FAILED.search(line):
                text = m.group(2).strip()
            if text:
                return text
    return exitstatus.strip() or "unknown error"


def job_vmids(lines: list[str]) -> list[int]:
    """The guests a vzdump job line names (``starting new backup job: vzdump 101 102 --...``);
    none when the line is missing (the job failed before writing it) or says ``--all``."""
    for line in lines:
        if "starting new backup job: vzdump" in line:
            words = line.split("starting new backup job: vzdump", 1)[1].split()
            return [int(w) for w in words[:next((i for i, w in enumerate(words)
                                                 if w.startswith("-")), len(words))]
                    if w.isdigit()]
    return []


def parse_vzdump_log(lines: list[str]) -> list[GuestOutcome]:
    """Each guest of a vzdump log with its name, archive, duration or ``ERROR:`` reason."""
    out: list[GuestOutcome] = []
    current: dict[str, Any] | None = None

    def close(ok: bool, **kw: Any) -> None:
        nonlocal current
        if current is not None:
            out.append(GuestOutcome(ok=ok, **{**current, **kw}))
            current = None

    for line in lines:
        if m := _STARTING.search(line):
            close(False, error=_LOG_ENDED_EARLY)
            current = {"vmid": int(m.group(1))}
        elif current is not None and (m := _ARCHIVE.search(line)):
            current["archive"] = m.group(1).rsplit("/", 1)[-1]
        elif current is not None and (m := _NAME.search(line)):
            current["name"] = m.group(1)
        elif m := _FAILED.search(line):
            if current is None or current["vmid"] != int(m.group(1)):
                current = {"vmid": int(m.group(1))}
            close(False, error=m.group(2).strip())
        elif m := _FINISHED.search(line):
            if current is not None:
                close(True, duration=m.group(2))
    if current is not None:
        close(False, error=next((ln.removeprefix("TASK ERROR: ") for ln in reversed(lines)
                                 if ln.startswith("TASK ERROR:")), _UNFINISHED_LOG))
    return out


def settled(outcomes: list[GuestOutcome], exitstatus: str) -> list[GuestOutcome]:
    """The guests' outcomes as the task's exit status settles them: a guest whose end the log
    does not show (cut short on the node) ended well if the task did, since vzdump ends with an
    error when any guest failed."""
    if not is_success(exitstatus.strip()):
        return outcomes
    return [GuestOutcome(o.vmid, True, o.archive, o.duration, name=o.name)
            if not o.ok and o.error in _UNFINISHED else o for o in outcomes]


def job_error(lines: list[str], exitstatus: str, outcomes: list[GuestOutcome]) -> str | None:
    """The error of a vzdump task as a whole, beyond its guests' own (None if there is none):
    its guests may all have ended well while the job failed after them (its job-end hook
    script, say: vzdump logs ``ERROR: Backup job failed - <why>`` and exits with <why>). When
    only guests failed the exit status is ``job errors``; a guest cut short by the task's end
    carries the task's error itself."""
    status = exitstatus.strip()
    if is_success(status) or status == _GUEST_ERRORS:
        return None
    if status in {o.error for o in outcomes if not o.ok}:
        return None
    for line in reversed(lines):
        if m := _JOB_FAILED.search(line):
            return m.group(1).strip() or status
    return status or "unknown error"


def parse_config_text(text: str) -> dict[str, str]:
    """``pct config`` text (extractconfig) -> dict; ``#`` lines are the description.

    Stops at the first snapshot section (``[name]``): those are older states, not the config.
    """
    config: dict[str, str] = {}
    description: list[str] = []
    for line in text.splitlines():
        if line.startswith("["):
            break
        if line.startswith("#"):
            description.append(line[1:])
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip():
            config[key.strip()] = value.strip()
    if description:
        config["description"] = "\n".join(description)
    return config


def _job_from(entry: dict) -> BackupJob:
    vmids = tuple(int(v) for v in re.split(r"[,;\s]+", str(entry.get("vmid", ""))) if v)
    return BackupJob(
        id=entry["id"], schedule=str(entry.get("schedule", "")), vmids=vmids,
        all=str(entry.get("all", 0)) in ("1", "True", "true"), storage=entry.get("storage"),
        mode=entry.get("mode"), prune=entry.get("prune-backups"),
        enabled=str(entry.get("enabled", 1)) not in ("0", "False", "false"),
        comment=str(entry.get("comment", "")),
        next_run=int(entry["next-run"]) if entry.get("next-run") is not None else None,
    )


def _prune_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):  # some versions answer the parsed property string
        return ",".join(f"{k}={v}" for k, v in sorted(value.items()))
    return str(value)


# ---- the mixin ---------------------------------------------------------------------------------


class BackupsMixin:
    """Backup operations of `Proxmox`."""

    # -- vzdump -------------------------------------------------------------------------------

    async def start_backup(
        self, vmid: int, *, storage: str, mode: str = "snapshot", compress: str = "zstd",
        notes: str | None = None, protected: bool = False,
    ) -> tuple[str, str]:
        """POST vzdump for one CT; returns (node, upid) at once."""
        node = await self._locate(vmid)
        params: dict[str, Any] = {"vmid": vmid, "storage": storage, "mode": mode,
                                  "compress": compress, "remove": 0}
        if notes:
            params["notes-template"] = notes.replace("\n", " ")
        if protected:
            params["protected"] = True
        upid = await self._request("POST", f"nodes/{node}/vzdump", action=f"back up CT {vmid}",
                                   **params)
        return node, upid

    async def task_log_since(self, node: str, upid: str, cursor: LogCursor) -> list[str]:
        """One request for the lines after `cursor`; they are appended to it and returned."""
        entries = await self._request(
            "GET", f"nodes/{node}/tasks/{upid}/log", action="read the task log",
            start=cursor.start, limit=0,
        )
        new = [str(e.get("t", "")) for e in sorted(entries, key=lambda e: int(e.get("n", 0)))
               if int(e.get("n", 0)) > cursor.start]
        cursor.lines.extend(new)
        return new

    async def follow_backup(
        self, vmid: int, node: str, upid: str, progress: Progress | None = None, *,
        interval: float = 3.0, first_poll: float = 0.05, storage: str | None = None,
        timeout: float = FOLLOW_TIMEOUT_S, status_every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> BackupResult:
        """Follow a vzdump task by its log: one log request per round, and a round at most
        every `interval` seconds after the previous progress report returned, so a caller
        editing a message per report edits at most once per `interval` and makes at most one
        log request per edit. The log's last line (``TASK OK`` / ``TASK ERROR: ...``) says it
        ended. A log that stops growing without that line (cut short on the node) is checked
        against the task's status, at most every `status_every` seconds (default 4 rounds):
        stopped means ended, with the status's exit status. After `timeout` seconds it gives
        up with StillRunning. `storage` is the one the backup was started with (the log's job
        line echoes the note too, so parsing it is only a fallback)."""
        status_every = interval * 4 if status_every is None else status_every
        cursor = LogCursor()
        started = checked = clock()
        delay = first_poll
        while True:
            await sleep(delay)
            new = await self.task_log_since(node, upid, cursor)
            exitstatus = _task_end(cursor.lines)
            if exitstatus is not None:
                break
            if not new and clock() - checked >= status_every:
                checked = clock()
                status = await self._request("GET", f"nodes/{node}/tasks/{upid}/status",
                                             action="read the status of the backup task")
                if status.get("status") == "stopped":
                    await self.task_log_since(node, upid, cursor)  # what it wrote last
                    exitstatus = _task_end(cursor.lines)
                    if exitstatus is None:
                        exitstatus = str(status.get("exitstatus") or "unknown error")
                    break
            if clock() - started >= timeout:
                raise errors.StillRunning(
                    f"Backup of CT {vmid} had not ended after {clock() - started:.0f} s.",
                    upid=upid, waited_s=clock() - started)
            if progress is not None:
                try:
                    await progress(BackupProgress(stage_of(cursor.lines), clock() - started,
                                                  bytes_written(cursor.lines)))
                except Exception:  # noqa: BLE001 - a failed edit must not abort the follow
                    pass
            delay = interval
        elapsed = clock() - started
        outcome = next((o for o in parse_vzdump_log(cursor.lines) if o.vmid == vmid), None)
        if not is_success(exitstatus) or (outcome is not None and outcome.error
                                          and outcome.error not in _UNFINISHED):
            reason = (outcome.error if outcome is not None and outcome.error
                      and outcome.error not in _UNFINISHED
                      else failure_reason(cursor.lines, exitstatus))
            raise errors.TaskFailed(f"Backup of CT {vmid} failed: {reason}", upid=upid,
                                    exitstatus=exitstatus, log_line=reason)
        storage = storage or next((ln.split("--storage ", 1)[1].split()[0]
                                   for ln in cursor.lines if "--storage " in ln), "local")
        if outcome is not None and outcome.ok and outcome.archive:
            volid = f"{storage}:backup/{outcome.archive}"
        else:  # ended well, but the log that names the archive was cut short
            volid = await self._archive_of_task(vmid, node, storage, upid)
        info = await self._request(
            "GET", f"nodes/{node}/storage/{storage}/content/{volid}",
            action=f"read backup {volid}")
        return BackupResult(vmid, node, upid, volid, int(info.get("size") or 0),
                            (outcome.duration if outcome is not None else None) or "", elapsed)

    async def _archive_of_task(self, vmid: int, node: str, storage: str, upid: str) -> str:
        """The newest backup of `vmid` on `storage` made since the task `upid` started."""
        since = int(decode_upid(upid)["starttime"])
        entries = await self._request(
            "GET", f"nodes/{node}/storage/{storage}/content",
            action=f"list the backups of CT {vmid} on {storage}", content="backup", vmid=vmid)
        made = [e for e in entries if int(e.get("ctime") or 0) >= since]
        if not made:
            raise errors.NotFound(f"The backup of CT {vmid} ended well, but its log is cut "
                                  f"short and {storage} on {node} has no new backup of it.")
        return max(made, key=lambda e: (int(e.get("ctime") or 0), e["volid"]))["volid"]

    # -- backup volumes -----------------------------------------------------------------------

    async def list_backups(self, vmid: int | None = None) -> list[BackupInfo]:
        """Backups on every online node's backup storages (shared ones once), newest first."""
        resources = await self._resources()
        online = {r["node"] for r in resources if r.get("type") == "node"
                  and r.get("status") == "online"}
        stores = [(r["node"], r["storage"]) for r in resources if r.get("type") == "storage"
                  and r.get("node") in online
                  and "backup" in str(r.get("content", "")).split(",")]
        params = {"content": "backup", **({"vmid": vmid} if vmid is not None else {})}
        listings = await asyncio.gather(*(
            self._request("GET", f"nodes/{n}/storage/{s}/content",
                          action=f"list the backups of storage {s} on {n}", **params)
            for n, s in stores))
        seen: dict[str, BackupInfo] = {}
        for (node, storage), entries in zip(stores, listings, strict=True):
            for e in entries:
                seen.setdefault(e["volid"], BackupInfo(
                    volid=e["volid"], node=node, storage=storage,
                    vmid=int(e["vmid"]) if e.get("vmid") is not None else None,
                    ctime=int(e.get("ctime") or 0), size=int(e.get("size") or 0),
                    format=str(e.get("format", "")), notes=str(e.get("notes") or ""),
                    protected=str(e.get("protected", 0)) in ("1", "True", "true")))
        return sorted(seen.values(), key=lambda b: (-b.ctime, b.volid))

    async def get_backup(self, volid: str) -> BackupInfo:
        for backup in await self.list_backups():
            if backup.volid == volid:
                return backup
        raise errors.NotFound(f"There is no backup {volid}.")

    async def delete_backup(self, backup: BackupInfo) -> str:
        """Remove the volume (a task; PVE refuses a protected one inside it)."""
        return await self._run_task(
            "DELETE", f"nodes/{backup.node}/storage/{backup.storage}/content/{backup.volid}",
            backup.node, action=f"delete backup {backup.volid}")

    async def set_backup_attributes(self, backup: BackupInfo, *, notes: str | None = None,
                                    protected: bool | None = None) -> None:
        await self._request(
            "PUT", f"nodes/{backup.node}/storage/{backup.storage}/content/{backup.volid}",
            action=f"change backup {backup.volid}", notes=notes, protected=protected)

    async def extract_config(self, backup: BackupInfo) -> dict[str, str]:
        text = await self._request("GET", f"nodes/{backup.node}/vzdump/extractconfig",
                                   action=f"read the config in {backup.volid}",
                                   volume=backup.volid)
        return parse_config_text(str(text))

    # -- restore ------------------------------------------------------------------------------

    async def restore(
        self, backup: BackupInfo, *, storage: str, vmid: int | None = None,
        node: str | None = None, force: bool = False, unique: bool = False,
        **config: Any,
    ) -> tuple[int, str]:
        """Restore `backup` as CT `vmid` (None: a new id) on `node` (default: the backup's).

        `storage` is always sent: PVE's default ``local`` usually cannot hold CT disks.
        `config` overrides keys of the backed-up config (hostname, net0, ...). Waits for the
        ``vzrestore`` task; returns (vmid, node).
        """
        where = node or backup.node

        async def post(new: int) -> str:
            return await self._request(
                "POST", f"nodes/{where}/lxc", action=f"restore {backup.volid} as CT {new}",
                vmid=new, ostemplate=backup.volid, restore=True, storage=storage,
                force=True if force else None, unique=True if unique else None, **config)

        if vmid is not None:
            upid = await post(vmid)
            await self.wait_task(where, upid)
        else:
            vmid = None
            try:
                vmid, upid = await self._with_new_vmid(set(), post)
                await self.wait_task(where, upid)
            finally:
                if vmid is not None:
                    self._reserved_vmids.discard(vmid)
        self._node_of[vmid] = where
        return vmid, where

    # -- backup jobs --------------------------------------------------------------------------

    async def schedule_analyze(self, schedule: str, iterations: int = 3) -> list[int]:
        """The next run times of a calendar event; InvalidRequest (with PVE's reason) if bad."""
        runs = await self._request("GET", "cluster/jobs/schedule-analyze",
                                   action=f"check the schedule {schedule!r}",
                                   schedule=schedule, iterations=iterations)
        return [int(r["timestamp"]) for r in runs]

    async def list_backup_jobs(self) -> list[BackupJob]:
        entries = await self._request("GET", "cluster/backup", action="list the backup jobs")
        return sorted((_job_from({**e, "prune-backups": _prune_text(e.get("prune-backups"))})
                       for e in entries), key=lambda j: j.id)

    async def create_backup_job(
        self, job_id: str, *, schedule: str, vmids: tuple[int, ...], storage: str,
        mode: str = "snapshot", prune: str | None = None, comment: str = "",
        compress: str = "zstd",
    ) -> None:
        await self._request(
            "POST", "cluster/backup", action=f"create the backup job {job_id}", id=job_id,
            schedule=schedule, vmid=",".join(str(v) for v in vmids), storage=storage, mode=mode,
            compress=compress, enabled=True, comment=comment or None,
            **({"prune-backups": prune} if prune else {}))

    async def delete_backup_job(self, job_id: str) -> None:
        await self._request("DELETE", f"cluster/backup/{job_id}",
                            action=f"delete the backup job {job_id}")

    # -- finished vzdump tasks ----------------------------------------------------------------

    async def finished_vzdump_tasks(self, limit: int = 200) -> list[FinishedTask]:
        """Finished vzdump tasks of every online node, oldest first."""
        nodes = [r["node"] for r in await self._resources("node")
                 if r.get("status") == "online"]
        listings = await asyncio.gather(*(
            self._request("GET", f"nodes/{n}/tasks", action=f"list the tasks of {n}",
                          typefilter="vzdump", source="archive", limit=limit)
            for n in nodes))
        out = [FinishedTask(upid=t["upid"], node=t.get("node", n), type=t.get("type", ""),
                            id=str(t.get("id", "")), user=str(t.get("user", "")),
                            status=str(t.get("status", "")), starttime=int(t.get("starttime", 0)),
                            endtime=int(t["endtime"]) if t.get("endtime") else None,
                            extra={"tokenid": t.get("tokenid")})
               for n, tasks in zip(nodes, listings, strict=True) for t in tasks]
        return sorted(out, key=lambda t: (t.starttime, t.upid))

    async def task_log(self, node: str, upid: str) -> list[str]:
        cursor = LogCursor()
        await self.task_log_since(node, upid, cursor)
        return cursor.lines


def nic_props(value: str) -> dict[str, str]:
    return parse_property_string(value)
