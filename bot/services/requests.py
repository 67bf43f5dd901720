"""The use cases' own request types, for any door to build.

Each has the fields of the chat grammar's type of the same request (bot/parsing*.py: CreateArgs,
BackupArgs, RestoreArgs, ScheduleArgs, NetSetArgs, GroupOptions), so the services take either
while the chat door still hands them its own; the REST door (bot/api) builds these. Values are
checked by the door that reads them (the chat's parsers, the API's schemas) before they get
here; what only the services can judge (ownership, quota, what Proxmox holds) is judged there.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

ALL_MINE = "all-mine"  # a schedule of every container of the asker's (the chat's word too)


@dataclass(frozen=True)
class CreateRequest:
    hostname: str
    template: str | None = None
    cores: int | None = None
    memory_mb: int | None = None
    disk_gb: int | None = None
    bridge: str | None = None
    ip: str | None = None  # "10.0.0.5/24"
    gw: str | None = None  # "10.0.0.1"
    dhcp: bool = False
    node: str | None = None


@dataclass(frozen=True)
class BackupRequest:
    ref: int | str
    mode: str = "snapshot"
    storage: str | None = None
    compress: str = "zstd"
    note: str | None = None
    protected: bool = False


@dataclass(frozen=True)
class RestoreRequest:
    volid: str
    new: bool  # True: as a new container; False: into `into`
    into: int | str | None = None
    hostname: str | None = None
    node: str | None = None
    storage: str | None = None


@dataclass(frozen=True)
class ScheduleRequest:
    target: int | str  # a container, or ALL_MINE
    calendar: str
    keep_last: int | None = None
    keep_daily: int | None = None
    keep_weekly: int | None = None
    storage: str | None = None
    mode: str = "snapshot"

    @property
    def prune(self) -> str | None:
        keeps = (("keep-last", self.keep_last), ("keep-daily", self.keep_daily),
                 ("keep-weekly", self.keep_weekly))
        text = ",".join(f"{k}={v}" for k, v in keeps if v is not None)
        return text or None


@dataclass(frozen=True)
class NicRequest:
    ref: int | str
    key: str  # net0
    bridge: str | None = None
    ip: str | None = None
    gw: str | None = None
    dhcp: bool = False

    @property
    def empty(self) -> bool:
        return not (self.bridge or self.ip or self.gw or self.dhcp)


@dataclass(frozen=True)
class GroupSettings:
    """A scaling group's settings; None = not given (a change keeps what the group has)."""

    template: int | str | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    target_cpu: int | None = None  # percent
    bridge: str | None = None
    node_spread: bool | None = None
    approve_above: int | None = None  # -1: no approval needed
    warm_spares: int | None = None
    policy: str | None = None  # "predictive" or "hpa"
    slo_cpu: int | None = None  # percent
    violation_cost: float | None = None
    season_s: float | None = None  # 0: none

    def given(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class NewGroup:
    name: str
    options: GroupSettings
