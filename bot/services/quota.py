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
