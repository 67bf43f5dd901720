"""Backup use cases: back up, list, delete, restore (as a twin or in place), schedules, and the
reports of scheduled runs. Who may see a backup: the owner of its CT (by vmid, in the store),
and admins. Schedules are real PVE backup jobs (they run while the bot is down); their owner is
written in the job's comment, so Proxmox holds that truth too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from bot.parsing import UsageError, parse_hostname
from bot.parsing_backups import ALL_MINE, BackupArgs, RestoreArgs, ScheduleArgs
from bot.proxmox import Proxmox, errors
from bot.proxmox.backups import (
    FOLLOW_TIMEOUT_S,
    BackupInfo,
    BackupJob,
    BackupResult,
    FinishedTask,
    GuestOutcome,
    Progress,
    failure_reason,
    job_error,
    job_vmids,
    parse_vzdump_log,
    settled,
)
from bot.proxmox.models import (
    Container,
    identity_of,
    new_identity,
    parse_property_string,
    size_to_gb,
    split_tags,
)
from bot.proxmox.tasks import duration_text, is_success, task_vmid
from bot.services.access import AccessService
from bot.services.containers import ContainerService
from bot.services.errors import Conflict, Forbidden, NotFound, QuotaExceeded, ServiceError
from bot.services.quota import (
    GIB,
    BackupItem,
    BackupLimits,
    Size,
    backup_commitment,
    backup_quota_problems,
    gib_text,
    growth,
    retention_of,
    size_text,
)
from bot.store import Store

log = logging.getLogger(__name__)

OWNER_TAG = "stratus owner="
REPORT_KEEP_S = 60 * 86400
# How many next runs of a calendar are looked at for its shortest gap (the API's maximum).
# A calendar event has the same times on every day it matches, so its gaps within a day show
# in the first runs; only a gap across midnight between matching days that first come
# together more than 100 runs ahead could escape, which no calendar does by accident.
RUNS_SAMPLED = 100


@dataclass(frozen=True)
class RestorePlan:
    backup: BackupInfo
    config: dict[str, str]


@dataclass(frozen=True)
class RestoreInto:
    """A restore into an existing CT, bound to the target's identity (and the backup's
    ctime): whatever waits before it runs (an approval, a confirmation), it overwrites that
    CT with that backup, or nothing."""

    volid: str
    vmid: int
    identity: str | None
    hostname: str | None  # the copy's, when restoring into another CT
    ctime: int = 0

    def to_payload(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_payload(cls, payload: dict) -> RestoreInto:
        return cls(payload["volid"], payload["vmid"], payload.get("identity"),
                   payload.get("hostname"), payload.get("ctime", 0))


@dataclass(frozen=True)
class RestoreResult:
    vmid: int
    node: str
    hostname: str
    notes: tuple[str, ...]  # what was changed on the way (addresses), to tell the person


@dataclass(frozen=True)
class BackupUsage:
    """A user's backups against their backup quota."""

    count: int  # backups there now, and being made
    size: int  # bytes
    committed_count: int  # with those their schedules will still add, up to their retention
    committed_size: int
    making: int = 0  # of `count`, backups being made


@dataclass
class _Ledger:
    """What counts against a user's backup quota, read once for one decision."""

    items: list[BackupItem]  # their backups, and those being made
    keeps: dict[tuple[int, str], int]  # (CT, storage) -> how many their schedules keep
    estimates: dict[int, int]  # CT -> the size its next backup is counted at
    by_disk: set[int]  # CTs whose estimate is their disk's size (no backup yet)
    making: int  # of `items`, backups being made

    def usage(self) -> BackupUsage:
        count, size = backup_commitment(self.items, self.keeps, self.estimates)
        return BackupUsage(len(self.items), sum(i.size for i in self.items), count, size,
                           self.making)


@dataclass(frozen=True)
class Report:
    """One finished scheduled backup, for its owner and/or the notification chat."""

    upid: str
    vmid: int | None  # None: about a job as a whole (its guests unknown, or its own failure)
    owner_id: int | None  # None: for the notification chat only
    ok: bool
    text: str
    notify: bool = False  # the notification chat gets it too


def tags_with(config: dict[str, str], identity: str) -> str:
    """A backed-up config's tags with `identity` as the CT's marker instead of the one the
    backup carries (the original's): a restore sets it in its own call."""
    kept = [t for t in split_tags(config.get("tags")) if identity_of([t]) is None]
    return ";".join([*kept, identity])


def owner_in(comment: str) -> int | None:
    if OWNER_TAG in comment:
        tail = comment.split(OWNER_TAG, 1)[1].split()[0]
        return int(tail) if tail.isdigit() else None
    return None


def size_of_config(config: dict[str, str]) -> Size:
    """What a backed-up CT takes (its config, as extractconfig gives it): cores, memory and
    root disk; a restore gives the CT exactly that."""
    disk = parse_property_string(config.get("rootfs", ""), "volume").get("size")
    return Size(int(config.get("cores", 1)), int(config.get("memory", 512)),
                max(1, round(size_to_gb(disk))) if disk else 8)


def _backups(n: int) -> str:
    return f"{n} backup{'' if n == 1 else 's'}"


def usage_text(usage: BackupUsage, whose: str = "your") -> str:
    """``3 backups, 1.2 GiB``, and what of it is being made or yet to come from schedules."""
    text = f"{_backups(usage.count)}, {gib_text(usage.size)}"
    if usage.making:
        text += f" ({usage.making} being made)"
    if usage.committed_count > usage.count:
        text += (f", and {usage.committed_count - usage.count} more "
                 f"({gib_text(usage.committed_size - usage.size)}) that {whose} schedules "
                 "will keep")
    return text


def _interval_text(seconds: int) -> str:
    """``5 min``, ``1 h``, ``1 h 30 min``, ``2 d``: a calendar's interval."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min"),
                                           (secs, "s")) if n]
    return " ".join(parts) or "0 s"


def _utc(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


class BackupService:
    def __init__(self, px: Proxmox, store: Store, access: AccessService,
                 containers: ContainerService, default_storage: str = "local",
                 watch_interval_s: float = 60.0,
                 follow_timeout_s: float = FOLLOW_TIMEOUT_S,
                 limits: BackupLimits | None = None) -> None:
        self._px = px
        self._store = store
        self._access = access
        self._containers = containers
        self.default_storage = default_storage
        self.watch_interval_s = watch_interval_s
        self.follow_timeout_s = follow_timeout_s  # then the watcher reports the result
        # Backups this process is following (their result goes to the live message). In memory
        # on purpose: after a crash nobody follows them, so the watcher reports them instead.
        self._following: dict[str, str] = {}  # upid -> the storage it writes to
        self._identities: dict[str, str | None] = {}  # volid -> identity in its config
        # "Stop, then restore" requests waiting for their asker's confirmation (in memory: a
        # restart asks again), each bound to the target CT's identity.
        self._confirmations: dict[str, RestoreInto] = {}
        self._confirm_owner: dict[str, int] = {}  # token -> who may confirm it
        self.limits = limits or BackupLimits()
        # Backups started for users and not seen finished yet: upid -> (owner, the backup as
        # counted). In memory: after a restart the finished ones are listed, and a running
        # one is not counted until it is (at most one per CT: vzdump locks the CT).
        self._making: dict[str, tuple[int, BackupItem]] = {}
        self._quota_locks: dict[int, asyncio.Lock] = {}

    # ---- seeing -------------------------------------------------------------------------------

    async def owner_of_backup(self, backup: BackupInfo) -> int | None:
        """A backup is the owner's of the CT it was taken of, found by the identity marker in
        its config (so a vmid deleted outside the bot and handed to someone else does not
        hand them the old owner's backups, nor the old owner theirs); backups of CTs made
        before markers go by who owned the vmid when it was taken."""
        identity = await self._identity_in(backup)
        if identity is not None:
            return self._store.ownership.owner_of_identity(identity)
        if backup.vmid is None:
            return None
        # No marker: a CT the bot did not make, unless it was owned before markers existed.
        period = self._store.ownership.period_at(backup.vmid, backup.ctime)
        return period["owner_id"] if period and period.get("identity") is None else None

    async def _identity_in(self, backup: BackupInfo) -> str | None:
        if backup.volid not in self._identities:  # an archive never changes: asked once
            config = await self._px.extract_config(backup)
            self._identities[backup.volid] = identity_of(split_tags(config.get("tags")))
        return self._identities[backup.volid]

    async def _may_see(self, actor_id: int, backup: BackupInfo) -> bool:
        if self._access.is_admin(actor_id):
            return True
        # Cheap first: a backup of a vmid the asker never owned is not theirs.
        if backup.vmid is None or backup.vmid not in self._store.ownership.vmids_ever(actor_id):
            return False
        return await self.owner_of_backup(backup) == actor_id

    async def _may_use(self, actor_id: int, backup: BackupInfo, use_case: str) -> bool:
        """`_may_see`, or a backup of a CT shared with the asker far enough for `use_case`
        (bound to the CT's identity, as the share is). Never counted in the asker's quota:
        a backup is its CT's owner's."""
        if await self._may_see(actor_id, backup):
            return True
        shared = {s.vmid for s in self._store.shares.of_user(actor_id)}
        if backup.vmid is None or backup.vmid not in shared:  # cheap first, as in _may_see
            return False
        return self._containers.policy.share_allows(actor_id, use_case,
                                                    await self._identity_in(backup))

    async def visible(self, actor_id: int, ref: int | str | None = None) -> list[BackupInfo]:
        self._containers.policy.authorize(actor_id, "backup.list")
        vmid = None
        if ref is not None:
            vmid = (await self._containers.resolve(actor_id, ref, "backup.list")).vmid
        backups = await self._px.list_backups(vmid)
        mine = await asyncio.gather(*(self._may_use(actor_id, b, "backup.list")
                                      for b in backups))
        return [b for b, ok in zip(backups, mine, strict=True) if ok]

    async def backup_of(self, actor_id: int, volid: str,
                        use_case: str = "backup.list") -> BackupInfo:
        """A backup the asker may use; the same answer for unknown and others' (no probing)."""
        self._containers.policy.authorize(actor_id, use_case)
        # One answer for a missing backup and someone else's: a name cannot be probed.
        unknown = NotFound(f"There is no backup {volid} among yours (none by that name, or "
                           "not yours). /backups lists yours.")
        try:
            backup = await self._px.get_backup(volid)
        except errors.NotFound:
            raise unknown from None
        if not await self._may_use(actor_id, backup, use_case):
            raise unknown
        return backup

    # ---- backing up -------------------------------------------------------------------------

    def backup_needs_approval(self, actor_id: int, args: BackupArgs) -> bool:
        """A protected backup outlives every retention and cannot be deleted by its owner:
        a user's waits for an admin."""
        return args.protected and not self._containers.policy.is_admin(actor_id)

    async def check_backup(self, actor_id: int, args: BackupArgs) -> Container:
        """The CT to back up, after checking that the asker may act on it and that one more
        backup of it fits in their backup quota (admins have none)."""
        ct = await self._containers.resolve(actor_id, args.ref, "backup.create")
        await self._backup_fits(self._containers.accountable(actor_id, ct), ct, args)
        return ct

    async def start(self, actor_id: int, args: BackupArgs, approved: bool = False,
                    identity: str | None = None) -> tuple[int, str, str]:
        """Start vzdump for a CT the asker may act on, within their backup quota (`approved`:
        an admin approved it, if it needed that; `identity`: a deferred request's CT, which
        it must still be); returns (vmid, node, upid)."""
        if self.backup_needs_approval(actor_id, args) and not approved:
            raise Forbidden("A protected backup needs an admin's approval: /backup asks for "
                            "it when you add --protected.")
        # One start at a time per user, and the backup counted from its start: two requests
        # cannot both take the last place in the quota. A backup of a shared CT is its
        # owner's, counted in their quota.
        ct = await self._containers.resolve(actor_id, args.ref, "backup.create", identity)
        payer = self._containers.accountable(actor_id, ct)
        async with self._quota_lock(payer):
            counted = await self._backup_fits(payer, ct, args)
            storage = args.storage or self.default_storage
            node, upid = await self._px.start_backup(
                ct.vmid, storage=storage, mode=args.mode,
                compress=args.compress, notes=args.note, protected=args.protected)
            if counted is not None:
                self._making[upid] = (payer, counted)
        self._following[upid] = storage  # the watcher leaves it to the follow
        self._store.audit.record(actor_id, "backup", f"ct:{ct.vmid}", "started",
                                 upid + self._containers.share_note(actor_id, ct.vmid))
        return ct.vmid, node, upid

    def leave_to_watcher(self, upid: str) -> None:
        """Nobody will follow this backup (its progress message could not be posted): the
        watcher reports its outcome instead."""
        self._following.pop(upid, None)

    async def follow(self, actor_id: int, vmid: int, node: str, upid: str,
                     progress: Progress | None = None, **follow_options) -> BackupResult:
        """Follow to the end; the outcome is then claimed as told (the watcher will not repeat
        it). If the follow itself breaks, or the backup outlasts `follow_timeout_s`, it is
        left to the watcher."""
        follow_options.setdefault("timeout", self.follow_timeout_s)
        try:
            result = await self._px.follow_backup(vmid, node, upid, progress,
                                                  storage=self._following.get(upid),
                                                  **follow_options)
        except errors.TaskFailed as exc:
            self._making.pop(upid, None)  # no archive
            self._store.backup_reports.claim(upid, "own")
            self._store.audit.record(actor_id, "backup", f"ct:{vmid}", "failed", exc.log_line)
            raise ServiceError(f"Backup of CT {vmid} failed: {exc.log_line}") from None
        except errors.StillRunning as exc:
            raise ServiceError(
                f"Backup of CT {vmid} is still running on {node} after "
                f"{duration_text(exc.waited_s)}, so I stopped following it here. Its result will "
                "be reported when it ends; /backups lists it once it is done.") from None
        finally:
            self._following.pop(upid, None)
        self._making.pop(upid, None)  # its archive is listed now
        self._store.backup_reports.claim(upid, "own")
        self._store.audit.record(actor_id, "backup", f"ct:{vmid}", "ok", result.volid)
        return result

    # ---- the backup quota -------------------------------------------------------------------

    def _quota_lock(self, user_id: int) -> asyncio.Lock:
        return self._quota_locks.setdefault(user_id, asyncio.Lock())

    async def _ledger(self, user_id: int, vmids: Iterable[int] = ()) -> _Ledger:
        """A user's backups (those `_may_see` gives them), those being made for them, what
        their schedules keep, and the size the next backup of each CT concerned (`vmids`,
        and the scheduled ones) is counted at."""
        making = [item for owner, item in self._making.values() if owner == user_id]
        listed = await self._px.list_backups()
        mine = await asyncio.gather(*(self._may_see(user_id, b) for b in listed))
        backups = [b for b, ok in zip(listed, mine, strict=True) if ok]
        keeps: dict[tuple[int, str], int] = {}
        for job in await self._px.list_backup_jobs():
            keep = retention_of(job.prune)
            if owner_in(job.comment) != user_id or keep is None:
                # others', and keep-all ones (older than these limits): what they made counts
                continue
            for vmid in job.vmids:
                where = (vmid, job.storage or self.default_storage)
                keeps[where] = max(keeps.get(where, 0), keep)
        # A new backup's size is unknown until it is made: it is counted at the size of the
        # CT's newest backup, else (none yet) at its root disk's size, an upper bound (vzdump
        # writes at most what the disk holds, before compression), so no CT is counted at
        # less than it may take before its first backup shows its real size.
        estimates: dict[int, int] = {}
        for b in backups:  # newest first
            if b.vmid is not None:
                estimates.setdefault(b.vmid, b.size)
        by_disk = (set(vmids) | {vmid for vmid, _ in keeps}) - set(estimates)
        if by_disk:
            for ct in await self._px.list_containers(vmids=by_disk):
                estimates[ct.vmid] = int(ct.disk_gb * GIB)
        items = [BackupItem(b.vmid, b.storage, b.size, b.protected) for b in backups]
        return _Ledger(items + making, keeps, estimates, by_disk, len(making))

    async def backup_usage(self, user_id: int) -> BackupUsage:
        return (await self._ledger(user_id)).usage()

    async def usage_line(self, user_id: int) -> str:
        """A user's backups against their backup quota, as an admin's /quota shows it."""
        if self._access.is_admin(user_id):
            return "Backups: no quota (an admin)."
        usage = await self.backup_usage(user_id)
        line = (f"Backups: {usage.committed_count} of {self.limits.backups}, "
                f"{gib_text(usage.committed_size)} of {self.limits.gb} GiB")
        if usage.committed_count > usage.count or usage.making:
            line += f" ({usage_text(usage, 'their')})"
        return line + "."

    def _over_backup_quota(self, what: str, ledger: _Ledger, count: int, size: int,
                           counted_as: str, fix: str) -> None:
        """QuotaExceeded, with the numbers, if (count, size) goes beyond the backup quota."""
        problems = backup_quota_problems(self.limits, count, size)
        if not problems:
            return
        raise QuotaExceeded(
            f"{what} would go beyond your backup quota ({_backups(self.limits.backups)}, "
            f"{self.limits.gb} GiB):\n" + "\n".join(f"- {p}" for p in problems)
            + f"\n{counted_as}\nYou have {usage_text(ledger.usage())}.\n{fix}")

    async def _backup_fits(self, actor_id: int, ct: Container, args: BackupArgs,
                           ) -> BackupItem | None:
        """QuotaExceeded if one more backup of `ct` goes beyond the asker's backup quota;
        else the backup as counted (None for an admin: no quota)."""
        if self._access.is_admin(actor_id):
            return None
        ledger = await self._ledger(actor_id, (ct.vmid,))
        item = BackupItem(ct.vmid, args.storage or self.default_storage,
                          ledger.estimates.get(ct.vmid, 0), args.protected)
        count, size = backup_commitment(ledger.items + [item], ledger.keeps, ledger.estimates)
        basis = ("its disk's size, as it has no backup yet" if ct.vmid in ledger.by_disk
                 else f"the size of CT {ct.vmid}'s last backup")
        self._over_backup_quota(
            f"Backing up CT {ct.vmid} {ct.hostname}", ledger, count, size,
            f"(This backup is counted as {gib_text(item.size)}, {basis}.)",
            "Delete old backups with /backup_del <volid> (/backups lists them), or ask an "
            "admin.")
        return item

    # ---- deleting ---------------------------------------------------------------------------

    def delete_needs_approval(self, actor_id: int) -> bool:
        return self._containers.policy.needs_approval(actor_id, "backup.delete")

    async def check_deletable(self, actor_id: int, volid: str) -> BackupInfo:
        backup = await self.backup_of(actor_id, volid, "backup.delete")
        if backup.protected:
            raise Conflict(f"Backup {volid} is protected, so it cannot be deleted (PVE refuses "
                           "to remove protected backups). An admin can lift the protection "
                           "first.")
        return backup

    async def delete(self, actor_id: int, volid: str, ctime: int | None = None) -> None:
        """Delete a backup; with `ctime` (a deferred request's), only the very backup the
        request was about."""
        backup = await self.check_deletable(actor_id, volid)
        if ctime is not None and backup.ctime != ctime:
            raise Conflict(f"Backup {volid} is not the one this request was about (it was "
                           "replaced since): nothing was deleted.")
        try:
            await self._px.delete_backup(backup)
        except errors.ProxmoxError as exc:
            self._store.audit.record(actor_id, "backup_del", volid, "failed", str(exc))
            raise
        self._store.audit.record(actor_id, "backup_del", volid, "ok")

    # ---- restoring --------------------------------------------------------------------------

    async def plan_restore(self, actor_id: int, volid: str) -> RestorePlan:
        backup = await self.backup_of(actor_id, volid, "backup.restore_new")
        return RestorePlan(backup, await self._px.extract_config(backup))

    async def _storage_for(self, node: str, wanted: str | None) -> str:
        if wanted:
            return wanted
        resources = await self._px._resources()
        candidates = {r["storage"]: int(r.get("maxdisk") or 0) - int(r.get("disk") or 0)
                      for r in resources if r.get("type") == "storage" and r.get("node") == node
                      and "rootdir" in str(r.get("content", "")).split(",")}
        if not candidates:
            raise ServiceError(f"Node {node} has no storage for container disks; name one "
                               "with --storage.")
        return max(sorted(candidates), key=lambda s: candidates[s])

    async def _copy_hostname(self, config: dict[str, str], source: int | None, suffix: str,
                             wanted: str | None, target: int | None = None) -> str:
        """The hostname of a copy of a backed-up CT: `wanted`, else ``<original>-<suffix>``
        (``-2``, ``-3``... if another CT has it), so the copy never takes the original's."""
        if wanted:
            return wanted
        fallback = f"ct{source}" if source is not None else "ct"
        first, dot, domain = str(config.get("hostname") or fallback).partition(".")
        taken = {ct.hostname for ct in await self._px.list_containers() if ct.vmid != target}
        for n in range(1, 100):
            tail = f"-{suffix}" if n == 1 else f"-{suffix}{n}"
            name = f"{first[:63 - len(tail)].rstrip('-')}{tail}{dot}{domain}"
            try:
                name = parse_hostname(name)
            except UsageError:
                name = parse_hostname(f"{fallback}{tail}")
            if name not in taken:
                return name
        raise Conflict(f"Every name like {first}-{suffix} is taken; give one with --hostname.")

    async def _copy_nics(self, config: dict[str, str], holder: str, source: int | None,
                         ) -> tuple[dict[str, str], list[str], list]:
        """The NICs of a copy of a backed-up CT: the same bridges and options, a new MAC, and
        each static address replaced by a free one of the bridge's pool (the one place
        addresses are handed out), else by DHCP: the original may still hold its own.
        Returns (net keys, notes for the person, the leases to release if the copy fails)."""
        addresses = self._containers.addresses
        out, notes, leases = {}, [], []
        original = f"CT {source}'s" if source is not None else "the original's"
        for key in sorted(k for k in config if k.startswith("net") and k[3:].isdigit()):
            props = parse_property_string(config[key])
            props.pop("hwaddr", None)
            bridge = props.get("bridge", "")
            ip = props.get("ip")
            if ip and ip not in ("dhcp", "manual"):
                got, why = None, "no address pool there"
                if addresses is not None:
                    try:
                        got = await addresses.lease(bridge, holder)
                    except Conflict:
                        why = "its address pool is used up"
                    except ServiceError:  # a pool whose subnet is not visible
                        why = "its address pool cannot be used now"
                    except BaseException:  # Proxmox unreachable, say: nobody will use these
                        self._release(leases)
                        raise
                if got is not None:
                    leases.append(got)
                    props["ip"] = got.cidr
                    if got.gateway:
                        props["gw"] = got.gateway
                    notes.append(f"{key}: {ip} is {original} address; the copy has "
                                 f"{got.cidr}, a free address of the {bridge} pool")
                else:
                    props["ip"] = "dhcp"
                    props.pop("gw", None)
                    notes.append(f"{key}: {ip} is {original} address; the copy uses DHCP on "
                                 f"{bridge} ({why})")
            ip6 = props.get("ip6")
            if ip6 and ip6 not in ("dhcp", "auto", "manual"):
                props["ip6"] = "auto"
                props.pop("gw6", None)
                notes.append(f"{key}: {ip6} is {original} IPv6 address; the copy uses SLAAC")
            out[key] = ",".join(f"{k}={v}" for k, v in props.items())
        return out, notes, leases

    def _release(self, leases: list) -> None:
        for lease in leases:
            self._containers.addresses.release(lease)

    async def restore_new(self, actor_id: int, args: RestoreArgs) -> RestoreResult:
        plan = await self.plan_restore(actor_id, args.volid)
        config = plan.config
        source = plan.backup.vmid
        # Held against the quota (admins have none) until the new CT is owned, like a create.
        async with self._containers.reserving(actor_id, size_of_config(config)):
            hostname = await self._copy_hostname(config, source, "twin", args.hostname)
            node = args.node or plan.backup.node
            await self._check_readable_on(plan.backup, node, "the new container")
            storage = await self._storage_for(node, args.storage)
            nics, notes, leases = await self._copy_nics(config, hostname, source)
            identity = new_identity()  # a new CT: its own marker, never the original's
            try:
                vmid, where = await self._px.restore(plan.backup, storage=storage, node=node,
                                                     unique=True, hostname=hostname,
                                                     tags=tags_with(config, identity), **nics)
            except errors.StillRunning as exc:
                # The copy exists in Proxmox and may yet come up with its addresses: it is
                # the asker's meanwhile, and its leases stay taken.
                vmid = task_vmid(exc.upid)
                if vmid is not None:
                    self._store.ownership.set(vmid, actor_id, hostname, identity=identity)
                self._store.audit.record(actor_id, "restore", args.volid, "still running",
                                         exc.upid)
                raise
            except Exception as exc:
                self._release(leases)
                if isinstance(exc, errors.ProxmoxError):
                    self._store.audit.record(actor_id, "restore", args.volid, "failed",
                                             str(exc))
                raise
            self._store.ownership.set(vmid, actor_id, hostname, identity=identity)
        self._store.audit.record(actor_id, "restore", f"ct:{vmid}", "ok",
                                 f"{args.volid} as a new CT")
        await self._containers.secure(actor_id, vmid)
        return RestoreResult(vmid, where, hostname, tuple(notes))

    async def _check_readable_on(self, backup: BackupInfo, node: str, what: str) -> None:
        """Proxmox reads the archive on the node the restore runs on (pve-container
        PVE::LXC::Create::recover_config): a backup on another node's own storage is not
        there, and the restore task would fail. Refused before anything is stopped or made."""
        if backup.node == node or await self._px.storage_is_shared(backup.storage):
            return
        raise ServiceError(
            f"Backup {backup.volid} is on {backup.node}'s own storage {backup.storage}, which "
            f"{node} (where {what} would be) cannot read: Proxmox restores a backup only on a "
            f"node that holds it. Restore it as a new container on {backup.node} (/restore "
            f"{backup.volid} --new), or keep backups on a shared storage. Nothing was stopped "
            "or restored.")

    def restore_into_needs_approval(self, actor_id: int) -> bool:
        return self._containers.policy.needs_approval(actor_id, "backup.restore_into")

    async def _restore_into_targets(self, actor_id: int, volid: str, ref: int | str,
                                    hostname: str | None, identity: str | None = None,
                                    ) -> tuple[BackupInfo, Container]:
        backup = await self.backup_of(actor_id, volid, "backup.restore_into")
        ct = await self._containers.resolve(actor_id, ref, "backup.restore_into", identity)
        if hostname and backup.vmid == ct.vmid:
            raise ServiceError(f"{volid} is CT {ct.vmid}'s own backup: restoring it in place "
                               "keeps its hostname and network as they were. --hostname is for "
                               "restoring into another container.")
        return backup, ct

    @staticmethod
    def _growth_into(volid: str, ct: Container, config: dict[str, str]) -> tuple[Size, str]:
        """What restoring a backup (its `config`) into `ct` adds to the owner's usage: the
        backup's size minus the CT's, for each resource that grows; and how to say it."""
        now = Size(ct.cores, ct.memory_mb, round(ct.disk_gb))
        then = size_of_config(config)
        return growth(now, then), (f"Restoring {volid} into CT {ct.vmid} {ct.hostname} makes "
                                   f"it {size_text(then)} (now {size_text(now)}).")

    async def check_restore_into(self, actor_id: int, volid: str, ref: int | str,
                                 hostname: str | None = None, identity: str | None = None,
                                 ) -> tuple[RestoreInto, Container]:
        """The request, bound to the target's identity, and the target CT, after checking the
        asker may use both and, for a non-admin, that their quota has room for what the
        target grows by. Restoring a CT from its own backup (in place) keeps its name:
        `hostname` is for restoring into another CT. `identity`: a deferred request's."""
        backup, ct = await self._restore_into_targets(actor_id, volid, ref, hostname, identity)
        await self._check_readable_on(backup, ct.node, f"CT {ct.vmid} {ct.hostname}")
        payer = self._containers.accountable(actor_id, ct)  # a shared CT grows its owner's
        if not self._access.is_admin(payer):
            grows, context = self._growth_into(volid, ct, await self._px.extract_config(backup))
            await self._containers.check_quota(payer, grows, context)
        return RestoreInto(volid, ct.vmid, ct.identity, hostname, backup.ctime), ct

    def ask_confirmation(self, actor_id: int, request: RestoreInto) -> str:
        """File a "stop, then restore" that waits for its asker's confirmation; its token."""
        token = secrets.token_hex(4)
        self._confirmations[token] = dataclasses.replace(request)
        self._confirm_owner[token] = actor_id
        return token

    def take_confirmation(self, actor_id: int, token: str) -> RestoreInto:
        """The request behind a confirmation button, once, and only for whoever asked."""
        self._containers.policy.authorize(actor_id, "backup.restore_into")
        if self._confirm_owner.get(token) != actor_id:
            raise Conflict("This button is not valid any more.")
        del self._confirm_owner[token]
        return self._confirmations.pop(token)

    async def restore_into(self, actor_id: int, request: RestoreInto,
                           stop_first: bool = False) -> RestoreResult:
        """Overwrite the CT of `request` (bound to its identity) with the backup, which gives
        it the backup's size: what it grows by is held against the asker's quota (admins have
        none) while the restore runs. In place (its own backup) everything is as it was; into
        another CT, PVE would copy the original's hostname, MAC and static address (a clash
        while the original runs), so the copy gets `hostname` (else ``<original>-restore``),
        new MACs and free addresses (pool, else DHCP) instead. Either way the CT keeps its
        own identity marker (the backup's config carries the original's)."""
        volid, vmid, hostname = request.volid, request.vmid, request.hostname
        backup, ct = await self._restore_into_targets(actor_id, volid, vmid, hostname,
                                                       request.identity)
        if request.ctime and backup.ctime != request.ctime:
            raise Conflict(f"Backup {volid} is not the one this request was about (it was "
                           "replaced since): nothing was restored.")
        # Everything Proxmox would refuse is checked before the CT is stopped: a refusal
        # after the stop left it stopped (the archive unreadable from its node, a lock).
        await self._check_readable_on(backup, ct.node, f"CT {ct.vmid} {ct.hostname}")
        if ct.lock:
            raise Conflict(f"CT {vmid} is locked ({ct.lock}): wait until that operation ends, "
                           "then try again. Nothing was stopped or restored.")
        original = await self._px.extract_config(backup)
        grows, context = self._growth_into(volid, ct, original)
        # The CT keeps its own marker; one made outside the bot (none) gets one, never the
        # backup's, which would make it pass for the original.
        identity = ct.identity or new_identity()
        async with self._containers.reserving(self._containers.accountable(actor_id, ct),
                                              grows, context):
            copy: dict[str, str] = {}
            notes: list[str] = []
            leases: list = []
            if backup.vmid != vmid:
                name = await self._copy_hostname(original, backup.vmid, "restore", hostname,
                                                 vmid)
                nics, notes, leases = await self._copy_nics(original, name, backup.vmid)
                copy = {"hostname": name, **nics}
                was = original.get("hostname")
                if was and was != name:
                    notes.insert(0, f"hostname: {was} is CT {backup.vmid}'s; the copy is {name}")
            try:
                if ct.status == "running":
                    if not stop_first:
                        raise Conflict(f"CT {vmid} is running; it must be stopped before the "
                                       "restore.")
                    await self._px.stop(vmid)
                config = await self._px.get_config(vmid)
                storage = str(config.get("rootfs", "")).split(":", 1)[0] or \
                    await self._storage_for(ct.node, None)
                await self._px.restore(backup, storage=storage, vmid=vmid, node=ct.node,
                                       force=True, unique=bool(copy), **copy,
                                       tags=tags_with(original, identity))
            except errors.StillRunning as exc:
                # The restore goes on and gives the copy its addresses when it ends (its config
                # shows them only then): their leases stay taken, or they could go twice.
                self._store.audit.record(actor_id, "restore", f"ct:{vmid}", "still running",
                                         exc.upid)
                if not leases:
                    raise
                kept = ", ".join(f"{lease.cidr} of the {lease.network} pool" for lease in leases)
                raise errors.StillRunning(
                    f"{exc} The copy's address{'es are' if len(leases) > 1 else ' is'} kept "
                    f"for it meanwhile: {kept}.", upid=exc.upid, waited_s=exc.waited_s,
                ) from None
            except Exception as exc:
                self._release(leases)
                if isinstance(exc, errors.ProxmoxError):
                    self._store.audit.record(actor_id, "restore", f"ct:{vmid}", "failed",
                                             str(exc))
                raise
        name = copy.get("hostname", ct.hostname)
        owner = self._store.ownership.get(vmid)
        if owner is not None and (copy or owner.identity != identity):
            self._store.ownership.set(vmid, owner.owner_id, name, identity=identity)
        self._store.audit.record(actor_id, "restore", f"ct:{vmid}", "ok",
                                 (f"{volid} in place" if not copy else f"{volid} as {name}")
                                 + self._containers.share_note(actor_id, vmid))
        if owner is not None:  # the backup's config may bring other NICs, another firewall
            await self._containers.secure(owner.owner_id, vmid)
            await self._containers.resecure(owner.owner_id)
        return RestoreResult(vmid, ct.node, name, tuple(notes))

    # ---- schedules --------------------------------------------------------------------------

    async def check_calendar(self, calendar: str) -> list[int]:
        try:
            return await self._px.schedule_analyze(calendar, iterations=RUNS_SAMPLED)
        except errors.InvalidRequest as exc:
            reason = exc.fields.get("schedule", str(exc))
            raise ServiceError(
                f"{calendar!r} is not a calendar event Proxmox accepts: {reason.strip()}\n"
                "Examples: 02:00 (daily), mon..fri 22:30, sat *-1..7 03:00 (first Saturday).") \
                from None

    def schedule_needs_approval(self, actor_id: int, args: ScheduleArgs) -> bool:
        """A user's schedule that keeps more backups of each CT than the limit waits for an
        admin (one without retention is refused: see `check_schedule`)."""
        return bool(self.schedule_approval_reasons(actor_id, args))

    def schedule_approval_reasons(self, actor_id: int, args: ScheduleArgs) -> list[str]:
        keep = retention_of(args.prune)
        if self._access.is_admin(actor_id) or keep is None or keep <= self.limits.keep_above:
            return []
        return [f"{keep} backups of each CT > {self.limits.keep_above}"]

    async def check_schedule(self, actor_id: int, args: ScheduleArgs,
                             ) -> tuple[tuple[int, ...], list[int]]:
        """(the CTs, the next runs) of a schedule the asker may make, after the refusals: a
        calendar PVE accepts, CTs the asker may act on, and for a user a retention, runs at
        least the minimum interval apart and room in their backup quota for what it keeps."""
        self._containers.policy.authorize(actor_id, "schedule.create")
        runs = await self.check_calendar(args.calendar)  # before anything is created
        if args.target == ALL_MINE:
            vmids = tuple(sorted(ct.vmid for ct in
                                 await self._containers.owned_containers(actor_id)))
            if not vmids:
                raise ServiceError("You own no containers yet, so there is nothing to schedule.")
        else:
            vmids = ((await self._containers.resolve(actor_id, args.target,
                                                     "schedule.create")).vmid,)
        await self._refuse_duplicate(actor_id, vmids, args.storage or self.default_storage,
                                     args.calendar, runs)
        if not self._access.is_admin(actor_id):
            keep = retention_of(args.prune)
            if keep is None:
                # Unbounded: no quota can hold it, and an approval would not make it fit.
                raise ServiceError(
                    "A schedule without retention keeps every backup it makes (keep-all), "
                    "so it would fill the storage in the end. Say how many it keeps of each "
                    "CT with --keep-last N, --keep-daily N or --keep-weekly N (at least one "
                    f"above 0; up to {self.limits.keep_above} in all without an admin's "
                    f"approval), e.g. /schedule_backup {args.target} {args.calendar} "
                    f"--keep-last {max(1, self.limits.keep_above)}")
            self._check_interval(args.calendar, runs)
            await self._schedule_fits(actor_id, vmids, args, keep)
        return vmids, runs

    async def _refuse_duplicate(self, actor_id: int, vmids: tuple[int, ...], storage: str,
                                calendar: str, runs: list[int]) -> None:
        """A schedule backing up a CT at the same times to the same storage as one that
        exists would only make each backup twice (and count twice against the quota).
        "Same times": the same calendar, or one Proxmox runs at the same next moments."""
        for job in await self._px.list_backup_jobs():
            shared = sorted(set(vmids) & set(job.vmids))
            if not shared or (job.storage or self.default_storage) != storage:
                continue
            same = job.schedule.split() == calendar.split()
            if not same:
                try:
                    same = (await self.check_calendar(job.schedule))[:len(runs)] == runs
                except ServiceError:
                    continue
            if same:
                name = job.id if self._may_see_job(actor_id, job) else "an existing schedule"
                raise Conflict(
                    f"CT {', '.join(map(str, shared))} is already backed up at "
                    f"{job.schedule!r} to {storage} by {name}: a second one would back it up "
                    "twice. /schedules lists them; /schedule_del one first to change it.")

    def _check_interval(self, calendar: str, runs: list[int]) -> None:
        """A user's schedule runs at most once every `limits.min_interval_s`: its shortest gap
        between the next runs PVE computes (`RUNS_SAMPLED` of them) is at least that."""
        gaps = [(b - a, a, b) for a, b in zip(runs, runs[1:], strict=False)]
        if not gaps:
            return  # runs once (or never): no gap
        gap, first, second = min(gaps)
        least = self.limits.min_interval_s
        if gap < least:
            raise ServiceError(
                f"{calendar!r} has runs only {_interval_text(gap)} apart ({_utc(first)} and "
                f"{_utc(second)}), but your schedules may run at most once every "
                f"{_interval_text(least)}. Choose a calendar whose runs are at least "
                f"{_interval_text(least)} apart, e.g. 02:00 (daily) or mon..fri 22:30; an admin "
                "can make a more frequent one.")

    async def _schedule_fits(self, actor_id: int, vmids: tuple[int, ...], args: ScheduleArgs,
                             keep: int) -> None:
        """QuotaExceeded if what the new schedule keeps (`keep` of each of `vmids`), with
        the asker's backups and other schedules, goes beyond their backup quota."""
        ledger = await self._ledger(actor_id, vmids)
        storage = args.storage or self.default_storage
        keeps = dict(ledger.keeps)
        for vmid in vmids:
            keeps[(vmid, storage)] = max(keeps.get((vmid, storage), 0), keep)
        count, size = backup_commitment(ledger.items, keeps, ledger.estimates)
        by_disk = sorted(set(vmids) & ledger.by_disk)
        basis = "(Each backup to come is counted at the size of its CT's last backup"
        if by_disk:
            basis += (f"; CT {', '.join(map(str, by_disk))}, not backed up yet, at its disk's "
                      "size, until a first /backup shows its real size")
        basis += ".)"
        self._over_backup_quota(
            f"Keeping {keep} backups of CT {', '.join(map(str, vmids))}", ledger, count,
            size, basis,
            "Keep fewer (--keep-last N), delete old backups with /backup_del <volid> "
            "(/backups lists them), or ask an admin.")

    async def create_schedule(self, actor_id: int, args: ScheduleArgs, approved: bool = False,
                              ) -> tuple[BackupJob, list[int]]:
        """Make the schedule after `check_schedule`'s refusals (`approved`: an admin approved
        it, if it needed that)."""
        if self.schedule_needs_approval(actor_id, args) and not approved:
            raise Forbidden(f"A schedule keeping more than {self.limits.keep_above} backups "
                            "of each CT needs an admin's approval: /schedule_backup asks for "
                            "it.")
        # One at a time per user: two schedules cannot both take the last room in the quota.
        async with self._quota_lock(actor_id):
            vmids, runs = await self.check_schedule(actor_id, args)
            job_id = f"stratus-{secrets.token_hex(4)}"
            await self._px.create_backup_job(
                job_id, schedule=args.calendar, vmids=vmids,
                storage=args.storage or self.default_storage, mode=args.mode,
                prune=args.prune, comment=f"{OWNER_TAG}{actor_id}")
        self._store.audit.record(actor_id, "schedule_backup", job_id, "ok",
                                 f"{args.calendar} {vmids}")
        job = next(j for j in await self._px.list_backup_jobs() if j.id == job_id)
        return job, runs

    def _may_see_job(self, actor_id: int, job: BackupJob) -> bool:
        if self._access.is_admin(actor_id):
            return True
        return owner_in(job.comment) == actor_id

    async def schedules(self, actor_id: int) -> list[BackupJob]:
        self._containers.policy.authorize(actor_id, "schedule.list")
        return [j for j in await self._px.list_backup_jobs() if self._may_see_job(actor_id, j)]

    async def job_of(self, actor_id: int, job_id: str,
                     use_case: str = "schedule.list") -> BackupJob:
        self._containers.policy.authorize(actor_id, use_case)
        for job in await self._px.list_backup_jobs():
            if job.id == job_id:
                if not self._may_see_job(actor_id, job):
                    raise Forbidden(f"Schedule {job_id} is not yours.")
                return job
        raise NotFound(f"There is no schedule {job_id}. /schedules lists yours.")

    def schedule_del_needs_approval(self, actor_id: int) -> bool:
        return self._containers.policy.needs_approval(actor_id, "schedule.delete")

    async def delete_schedule(self, actor_id: int, job_id: str,
                              schedule: str | None = None) -> None:
        """Delete a backup job; with `schedule` (a deferred request's), only if the job is
        still the one the request was about."""
        job = await self.job_of(actor_id, job_id, "schedule.delete")
        if schedule is not None and job.schedule != schedule:
            raise Conflict(f"Schedule {job_id} changed since this request ('{job.schedule}', "
                           f"was '{schedule}'): nothing was deleted.")
        await self._px.delete_backup_job(job_id)
        self._store.audit.record(actor_id, "schedule_del", job_id, "ok")

    # ---- reports of scheduled runs ----------------------------------------------------------

    async def new_reports(self) -> list[Report]:
        """Finished vzdump tasks not reported yet, each claimed in the store as it is read
        (claim first: a crash after it loses one report rather than repeating it forever)."""
        tasks = await self._px.finished_vzdump_tasks()
        for task in tasks:  # nobody followed them to the end: their archives are listed now
            self._making.pop(task.upid, None)
        reports = self._store.backup_reports
        if not reports.initialized():
            reports.baseline([t.upid for t in tasks])
            return []
        out: list[Report] = []
        for task in tasks:
            if reports.known(task.upid) or task.upid in self._following:
                continue
            lines = await self._px.task_log(task.node, task.upid)
            if not reports.claim(task.upid):
                continue
            outcomes = settled(parse_vzdump_log(lines), task.status)
            # the job's own failure, beyond its guests' (a failure before any guest is below)
            trouble = job_error(lines, task.status, outcomes) if outcomes else None
            when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(task.starttime))
            # an API token's task is one of ours whose follow was lost (a restart)
            what = "Backup" if task.extra.get("tokenid") else "Scheduled backup"
            if not outcomes and not is_success(task.status):
                # failed before any guest (vzdump's lock held, storage unusable): its guests
                # are the task's id or the job line's, if it got that far
                reason = failure_reason(lines, task.status)
                vmids = [int(task.id)] if task.id.isdigit() else job_vmids(lines)
                outcomes = [GuestOutcome(v, False, error=reason) for v in vmids]
                if not vmids:
                    out.append(Report(task.upid, None, None, False,
                                      f"❌ A {what.lower()} job on {task.node} ({when} UTC) "
                                      f"failed before backing up any container: {reason}",
                                      notify=True))
            involved: dict[int | None, list[str]] = {}  # owner -> "CT 101 web1", ...
            for o in outcomes:
                # whoever owned the vmid when the task ran: it may have been deleted and
                # handed to someone else since (the rule of `_may_see`)
                owner = self._store.ownership.owner_at(o.vmid, task.starttime)
                name = o.name or (self._store.ownership.hostname(o.vmid)
                                  if self._store.ownership.owner(o.vmid) == owner else None) or ""
                involved.setdefault(owner, []).append(f"CT {o.vmid} {name}".strip())
                if o.ok:  # archive and duration unknown if the log lost its end
                    done = (f": {o.archive}" if o.archive else "") + (
                        f" in {o.duration}" if o.duration else "")
                    text = f"✅ {what} of CT {o.vmid} {name} ({when} UTC) done{done}."
                else:
                    text = (f"❌ {what} of CT {o.vmid} {name} ({when} UTC) failed: "
                            f"{o.error}")
                out.append(Report(task.upid, o.vmid, owner, o.ok, text, notify=not o.ok))
            if trouble is not None:
                out += self._job_failed(task, what, when, involved, trouble,
                                        all(o.ok for o in outcomes))
        reports.forget_older_than(REPORT_KEEP_S, listed={t.upid for t in tasks})
        return out

    @staticmethod
    def _job_failed(task: FinishedTask, what: str, when: str, involved: dict[int | None, list[str]],
                    error: str, guests_ok: bool) -> list[Report]:
        """A vzdump task that failed as a whole (its job-end hook, a final step), beyond what
        its guests' reports say: once to each owner involved, naming only their containers,
        and once to the notification chat, naming all of them and the task."""
        done = (" Each container's backup itself is done; a step of the job after them failed."
                if guests_ok else "")

        def text(cts: list[str]) -> str:
            return (f"❌ The {what.lower()} job on {task.node} ({when} UTC) for "
                    f"{', '.join(cts)} failed: {error}.{done}")

        everyone = [ct for cts in involved.values() for ct in cts]
        return [*(Report(task.upid, None, owner, False, text(cts))
                  for owner, cts in involved.items() if owner is not None),
                Report(task.upid, None, None, False,
                       f"{text(everyone)} Task log: {task.upid} on {task.node}.", notify=True)]


def describe_backup(b: BackupInfo) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(b.ctime))
    flags = " 🔒 protected" if b.protected else ""
    notes = f" · {b.notes}" if b.notes else ""
    return f"• CT {b.vmid} · {when} UTC · {_human(b.size)}{flags}{notes}\n  {b.volid}"


def describe_result(r: BackupResult) -> str:
    took = f"took {r.duration} (vzdump), " if r.duration else ""
    return (f"✅ Backup of CT {r.vmid} done: {r.volid}\nSize {_human(r.size)}, {took}"
            f"{r.elapsed_s:.0f} s followed.")


def human_size(n: int) -> str:
    return _human(n)


__all__ = ["BackupService", "RestoreResult", "Report", "describe_backup", "describe_result",
           "human_size"]
