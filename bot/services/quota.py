"""Quota arithmetic and the approval threshold: pure functions, table-tested."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.store import Quota


@dataclass(frozen=True)
class Usage:
    containers: int = 0
    cores: int = 0
    memory_mb: int = 0
    disk_gb: int = 0

    @classmethod
    def of(cls, sizes: Iterable[tuple[int, int, float] | Size]) -> Usage:
        """Sum (cores, memory_mb, disk_gb) triples, one per container, and Sizes held for
        requests under way (each counts its `containers`)."""
        n = cores = memory = disk = 0
        for size in sizes:
            if isinstance(size, Size):
                n += size.containers
                c, m, d = size.cores, size.memory_mb, size.disk_gb
            else:
                n += 1
                c, m, d = size
            cores += c
            memory += m
            disk += int(round(d))
        return cls(n, cores, memory, disk)


@dataclass(frozen=True)
class Size:
    """What a request asks for: a new container's size, or (``containers=0``) what an
    existing container grows by."""

    cores: int
    memory_mb: int
    disk_gb: int
    containers: int = 1


def size_text(size: Size) -> str:
    """``2 core(s), 1024 MiB, 8 GiB``, as a create's summary says it."""
    return f"{size.cores} core(s), {size.memory_mb} MiB, {size.disk_gb} GiB"


def growth(current: Size, wanted: Size) -> Size:
    """What taking a container from `current` to `wanted` adds to its owner's usage: each
    resource that grows by the difference, none for what shrinks, and no new container."""
    return Size(max(0, wanted.cores - current.cores),
                max(0, wanted.memory_mb - current.memory_mb),
                max(0, wanted.disk_gb - current.disk_gb), containers=0)


@dataclass(frozen=True)
class ApprovalThresholds:
    """A create above any of these, asked by a non-admin, waits for an admin."""

    cores: int = 2
    memory_mb: int = 2048
    disk_gb: int = 16


def quota_problems(quota: Quota, used: Usage, asked: Size) -> list[str]:
    """Each resource the request asks for that it would push beyond the quota, with the
    numbers (what it does not ask for, say a container for a growth, is not checked)."""
    rows = [
        ("containers", used.containers, asked.containers, quota.containers, ""),
        ("cores", used.cores, asked.cores, quota.cores, ""),
        ("memory", used.memory_mb, asked.memory_mb, quota.memory_mb, " MiB"),
        ("disk", used.disk_gb, asked.disk_gb, quota.disk_gb, " GiB"),
    ]
    return [
        f"{name}: {have}{unit} in use + {want}{unit} asked = {have + want}{unit} > quota {limit}{unit}"
        for name, have, want, limit, unit in rows
        if want > 0 and have + want > limit
    ]


def approval_reasons(asked: Size, limits: ApprovalThresholds) -> list[str]:
    """Why a create needs an admin's approval (empty: it does not)."""
    reasons = []
    if asked.cores > limits.cores:
        reasons.append(f"{asked.cores} cores > {limits.cores}")
    if asked.memory_mb > limits.memory_mb:
        reasons.append(f"{asked.memory_mb} MiB memory > {limits.memory_mb} MiB")
    if asked.disk_gb > limits.disk_gb:
        reasons.append(f"{asked.disk_gb} GiB disk > {limits.disk_gb} GiB")
    return reasons


# ---- backups -------------------------------------------------------------------------------

GIB = 1024 ** 3


@dataclass(frozen=True)
class BackupLimits:
    """What a user's backups may take (admins have no limits): how many and how many GiB in
    all (what their schedules will keep included); how many backups of each CT a schedule of
    theirs keeps before it waits for an admin; how often such a schedule may run at most."""

    backups: int = 20
    gb: int = 64
    keep_above: int = 7
    min_interval_s: int = 3600


def retention_of(prune: str | None) -> int | None:
    """How many backups of each CT a ``prune-backups`` value keeps at most: the sum of its
    ``keep-*`` numbers (each rule keeps backups the earlier ones did not, pve-storage
    ``prune_mark_backup_group``). None for keep-all, which is also what PVE makes of no
    positive ``keep-*`` (``validate_prune_backups``), and of no value at all (the storage's
    retention applies, keep-all unless an admin set one)."""
    total = 0
    for item in (prune or "").split(","):
        key, _, value = item.strip().partition("=")
        if key == "keep-all" and value.strip() not in ("", "0"):
            return None
        if key.startswith("keep-") and value.strip().isdigit():
            total += int(value)
    return total or None


@dataclass(frozen=True)
class BackupItem:
    """A backup counted against its owner's quota: one that exists, or one being made."""

    vmid: int | None
    storage: str
    size: int  # bytes; of one being made, an estimate
    protected: bool = False


def backup_commitment(items: Iterable[BackupItem], keeps: dict[tuple[int, str], int],
                      estimates: dict[int, int]) -> tuple[int, int]:
    """(how many, bytes) a user's backups come to: `items`, plus, for each (CT, storage)
    that a schedule of theirs prunes to `keeps` backups, those it will still add until it
    keeps that many, each at the CT's estimated size. Protected backups are never pruned
    and take no place among those kept (pve-storage ``prune_backups``)."""
    items = list(items)
    count, size = len(items), sum(i.size for i in items)
    for (vmid, storage), keep in keeps.items():
        have = sum(1 for i in items if i.vmid == vmid and i.storage == storage
                   and not i.protected)
        more = max(0, keep - have)
        count += more
        size += more * estimates.get(vmid, 0)
    return count, size


def gib_text(size: int) -> str:
    return f"{size / GIB:.1f} GiB"


def backup_quota_problems(limits: BackupLimits, count: int, size: int) -> list[str]:
    """Each limit that (count, size) goes beyond, with the numbers."""
    problems = []
    if count > limits.backups:
        problems.append(f"{count} backups > quota {limits.backups}")
    if size > limits.gb * GIB:
        problems.append(f"{gib_text(size)} > quota {limits.gb} GiB")
    return problems
