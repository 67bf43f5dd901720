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
    def of(cls, sizes: Iterable[tuple[int, int, float]]) -> Usage:
        """Sum (cores, memory_mb, disk_gb) triples, one per container."""
        n = cores = memory = disk = 0
        for c, m, d in sizes:
            n += 1
            cores += c
            memory += m
            disk += int(round(d))
        return cls(n, cores, memory, disk)


@dataclass(frozen=True)
class Size:
    """What one container asks for."""

    cores: int
    memory_mb: int
    disk_gb: int


@dataclass(frozen=True)
class ApprovalThresholds:
    """A create above any of these, asked by a non-admin, waits for an admin."""

    cores: int = 2
    memory_mb: int = 2048
    disk_gb: int = 16


def quota_problems(quota: Quota, used: Usage, asked: Size) -> list[str]:
    """Each resource the request would push beyond the quota, with the numbers."""
    rows = [
        ("containers", used.containers, 1, quota.containers, ""),
        ("cores", used.cores, asked.cores, quota.cores, ""),
        ("memory", used.memory_mb, asked.memory_mb, quota.memory_mb, " MiB"),
        ("disk", used.disk_gb, asked.disk_gb, quota.disk_gb, " GiB"),
    ]
    return [
        f"{name}: {have}{unit} in use + {want}{unit} asked = {have + want}{unit} > quota {limit}{unit}"
        for name, have, want, limit, unit in rows
        if have + want > limit
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
