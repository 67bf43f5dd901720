"""What the REST door reads and writes: pydantic models, from which the OpenAPI document's
schemas are generated (their JSON Schema is OpenAPI 3.1's dialect), so nothing is written twice.

Values are checked by the same parsers as the chat's (bot/parsing*.py), so a hostname, a
bridge or an address is refused through the API exactly when, and in the words, the chat
refuses it; each invalid field is named. Unknown fields and query parameters are refused too:
a misspelt option must not be silently ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, create_model
from pydantic_core import PydanticCustomError

from bot.parsing import (
    AUDIT_MAX,
    CORES_MAX,
    DISK_MAX_GB,
    DISK_MIN_GB,
    MEMORY_MAX_MB,
    MEMORY_MIN_MB,
    QUOTA_MAX_CONTAINERS,
    QUOTA_MAX_CORES,
    QUOTA_MAX_DISK_GB,
    QUOTA_MAX_MEMORY_MB,
    UsageError,
    parse_bridge,
    parse_cidr,
    parse_ct_ref,
    parse_hostname,
    parse_ip,
    parse_node,
    parse_template,
)
from bot.parsing_backups import COMPRESSIONS, KEEP_MAX, MODES, NOTE_MAX, parse_storage
from bot.parsing_network import parse_endpoint
from bot.parsing_scaling import MAX_REPLICAS, parse_group
from bot.services.requests import (
    ALL_MINE,
    BackupRequest,
    CreateRequest,
    GroupSettings,
    NewGroup,
    NicRequest,
    RestoreRequest,
    ScheduleRequest,
)

PAGE_MAX = 200


def _checked(parse: Callable[[str], Any]) -> AfterValidator:
    """A chat parser as a field validator: its problem becomes the field's message."""

    def run(value: Any) -> Any:
        try:
            return parse(str(value))
        except UsageError as error:
            raise PydanticCustomError("invalid", "{problem}", {"problem": error.problem}) \
                from None

    return AfterValidator(run)


def Text(parse: Callable[[str], Any], description: str, example: str, max_length: int = 255):  # noqa: N802
    return Annotated[str, Field(max_length=max_length, description=description,
                                examples=[example]), _checked(parse)]


def Count(name: str, lo: int, hi: int, description: str = ""):  # noqa: N802
    """A whole number in [lo, hi], refused in the chat's words ("cores must be from 1 to ...")."""

    def check(value: int) -> int:
        if not lo <= value <= hi:
            raise PydanticCustomError("invalid", "{name} must be from {lo} to {hi}, not {v}",
                                      {"name": name, "lo": lo, "hi": hi, "v": value})
        return value

    schema = {"type": "integer", "minimum": lo, "maximum": hi}
    if description:
        schema["description"] = description
    return Annotated[int, AfterValidator(check), WithJsonSchema(schema)]


Hostname = Text(parse_hostname, "a DNS name: letters, digits and hyphens", "web1", 253)
Template = Text(parse_template, "a template name or volume id", "debian-12")
Bridge = Text(parse_bridge, "a bridge vmbrN or an SDN VNet id", "vmbr0", 16)
Cidr = Text(parse_cidr, "an IPv4 address with its prefix length", "10.0.0.5/24", 24)
Ip = Text(parse_ip, "an IPv4 address", "10.0.0.1", 16)
Node = Text(parse_node, "a node name", "pve1", 63)
Storage = Text(parse_storage, "a storage id", "local", 64)
Group = Text(parse_group, "a group name: 1-20 lower-case letters, digits, inner hyphens", "web", 20)
Endpoint = Annotated[str, Field(max_length=80, examples=["web1"], description=(
    "a container (vmid or hostname), host, host:<node> or pc")), _checked(parse_endpoint)]
CtRef = Annotated[int | str, Field(description="a container id or hostname", examples=[101]),
                  _checked(parse_ct_ref)]
Mode = Literal[MODES]  # type: ignore[valid-type]
Compress = Literal[COMPRESSIONS]  # type: ignore[valid-type]


def _note(value: str) -> str:
    if not value.strip() or any(ord(c) < 32 for c in value):
        raise PydanticCustomError("invalid", "the note must be one line, not empty")
    return value.strip()


Note = Annotated[str, Field(max_length=NOTE_MAX), AfterValidator(_note)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def problems(self) -> list[tuple[str, str]]:
        """What is wrong across fields, as (field, problem), in the chat's words."""
        return []


Query = Body


# ---- requests ---------------------------------------------------------------------------------

class ContainerCreate(Body):
    hostname: Hostname
    template: Template | None = None
    cores: Count("cores", 1, CORES_MAX) | None = None
    memory_mb: Count("memory_mb", MEMORY_MIN_MB, MEMORY_MAX_MB, "MiB") | None = None
    disk_gb: Count("disk_gb", DISK_MIN_GB, DISK_MAX_GB, "GiB") | None = None
    bridge: Bridge | None = None
    ip: Cidr | None = Field(None, description="a fixed address; else DHCP or the bridge's pool")
    gw: Ip | None = None
    dhcp: bool = False
    node: Node | None = None

    def problems(self) -> list[tuple[str, str]]:
        out = []
        if self.ip and self.dhcp:
            out.append(("dhcp", "ip and dhcp exclude each other: choose one"))
        if self.gw and not self.ip:
            out.append(("gw", "gw needs ip (with dhcp the gateway comes from DHCP)"))
        if self.gw and self.ip:
            iface = ipaddress.IPv4Interface(self.ip)
            gw = ipaddress.IPv4Address(self.gw)
            if gw not in iface.network:
                out.append(("gw", f"gw {gw} is not inside {iface.network} (from ip)"))
            elif gw == iface.ip:
                out.append(("gw", f"gw {gw} is the container's own address"))
            elif iface.network.prefixlen <= 30 and gw in (iface.network.network_address,
                                                         iface.network.broadcast_address):
                out.append(("gw", f"gw {gw} is not a host address of {iface.network}"))
        return out

    def request(self) -> CreateRequest:
        return CreateRequest(**self.model_dump())


class NicUpdate(Body):
    bridge: Bridge | None = None
    ip: Cidr | None = None
    gw: Ip | None = None
    dhcp: bool = False

    def problems(self) -> list[tuple[str, str]]:
        out = []
        if not (self.bridge or self.ip or self.gw or self.dhcp):
            out.append(("body", "nothing to change: give bridge, ip, gw or dhcp"))
        if self.ip and self.dhcp:
            out.append(("dhcp", "ip and dhcp exclude each other: choose one"))
        if self.gw and self.dhcp:
            out.append(("gw", "gw and dhcp exclude each other (DHCP brings the gateway)"))
        if self.ip and self.gw:
            iface = ipaddress.IPv4Interface(self.ip)
            if ipaddress.IPv4Address(self.gw) not in iface.network or self.gw == str(iface.ip):
                out.append(("gw", f"gw {self.gw} is not another address of {iface.network}"))
        return out

    def request(self, ref: int | str, key: str) -> NicRequest:
        return NicRequest(ref, key, **self.model_dump())


class BackupCreate(Body):
    ct: CtRef
    mode: Mode = "snapshot"
    storage: Storage | None = None
    compress: Compress = "zstd"
    note: Note | None = None
    protected: bool = False

    def request(self) -> BackupRequest:
        fields = self.model_dump()
        return BackupRequest(ref=fields.pop("ct"), **fields)


class Restore(Body):
    mode: Literal["copy", "into"] = Field(description="copy: as a new container; into: "
                                                      "overwrite the container `into`")
    into: CtRef | None = None
    hostname: Hostname | None = None
    node: Node | None = None
    storage: Storage | None = None
    stop_first: bool = Field(False, description="into a running container: stop it first "
                                                "(else the request is refused)")

    def problems(self) -> list[tuple[str, str]]:
        out = []
        if self.mode == "into" and self.into is None:
            out.append(("into", "say which container to restore into"))
        if self.mode == "copy" and self.into is not None:
            out.append(("into", "into goes with mode into; a copy is a new container"))
        if self.mode == "into" and (self.node or self.storage):
            out.append(("node" if self.node else "storage",
                        "node and storage go with mode copy; into keeps the target's own"))
        return out

    def request(self, volid: str) -> RestoreRequest:
        return RestoreRequest(volid=volid, new=self.mode == "copy", into=self.into,
                              hostname=self.hostname, node=self.node, storage=self.storage)


def _target(value: Any) -> int | str:
    return ALL_MINE if str(value).lower() == ALL_MINE else parse_ct_ref(str(value))


class ScheduleCreate(Body):
    ct: Annotated[int | str, Field(description="a container id or hostname, or all-mine",
                                   examples=[101]), _checked(_target)]
    calendar: str = Field(max_length=128, pattern=r"^[A-Za-z0-9*.,:/ _-]+$",
                          description="a PVE calendar event", examples=["mon..fri 22:30"])
    keep_last: Count("keep_last", 0, KEEP_MAX) | None = None
    keep_daily: Count("keep_daily", 0, KEEP_MAX) | None = None
    keep_weekly: Count("keep_weekly", 0, KEEP_MAX) | None = None
    storage: Storage | None = None
    mode: Mode = "snapshot"

    def request(self) -> ScheduleRequest:
        fields = self.model_dump()
        return ScheduleRequest(target=fields.pop("ct"), **fields)


def _approve_above(value: Any) -> int:
    if value == "none":
        return -1
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_REPLICAS:
        raise PydanticCustomError("invalid", f"approve_above must be from 0 to {MAX_REPLICAS}, "
                                             "or none")
    return value


ApproveAbove = Annotated[int | Literal["none"], AfterValidator(_approve_above), Field(
    description="scale-out beyond this many replicas waits for an admin; none: never")]
Replicas = Count("replicas", 0, MAX_REPLICAS)


# The policy's options, as /scale_create takes them (bot/services/scaling.py checks which
# policy takes which: --target-cpu is HPA's, --slo and --violation-cost the predictive's).
Policy = Literal["predictive", "hpa"]
ViolationCost = Annotated[float, Field(ge=0, le=1e6, description="what a second above the SLO "
                                       "is worth in replica-seconds")]
Season = Annotated[float, Field(ge=0, le=31 * 86400, description="the load's period in "
                                "seconds (0: none)")]


class GroupCreate(Body):
    name: Group
    template: CtRef
    min_replicas: Replicas
    max_replicas: Count("max_replicas", 1, MAX_REPLICAS)
    target_cpu: Count("target_cpu", 5, 100, "percent") | None = None
    bridge: Bridge | None = None
    node_spread: bool = False
    approve_above: ApproveAbove | None = None
    warm_spares: Replicas | None = None
    policy: Policy | None = None
    slo_cpu: Count("slo_cpu", 5, 100, "percent") | None = None
    violation_cost: ViolationCost | None = None
    season_s: Season | None = None

    def problems(self) -> list[tuple[str, str]]:
        if self.min_replicas > self.max_replicas:
            return [("min_replicas", f"min {self.min_replicas} is above max "
                                     f"{self.max_replicas}")]
        return []

    def request(self) -> NewGroup:
        fields = self.model_dump()
        name = fields.pop("name")
        return NewGroup(name, GroupSettings(**fields))


class GroupUpdate(Body):
    min_replicas: Replicas | None = None
    max_replicas: Count("max_replicas", 1, MAX_REPLICAS) | None = None
    target_cpu: Count("target_cpu", 5, 100, "percent") | None = None
    bridge: Bridge | None = None
    node_spread: bool | None = None
    approve_above: ApproveAbove | None = None
    warm_spares: Replicas | None = None
    policy: Policy | None = None
    slo_cpu: Count("slo_cpu", 5, 100, "percent") | None = None
    violation_cost: ViolationCost | None = None
    season_s: Season | None = None

    def problems(self) -> list[tuple[str, str]]:
        out = []
        if not self.model_dump(exclude_none=True):
            out.append(("body", "nothing to change: give at least one setting"))
        if (self.min_replicas is not None and self.max_replicas is not None
                and self.min_replicas > self.max_replicas):
            out.append(("min_replicas", f"min {self.min_replicas} is above max "
                                        f"{self.max_replicas}"))
        return out

    def request(self) -> GroupSettings:
        return GroupSettings(**self.model_dump())


class Decision(Body):
    approve: bool


class Grant(Body):
    role: Literal["user", "admin"] = "user"


class QuotaUpdate(Body):
    containers: Count("containers", 0, QUOTA_MAX_CONTAINERS) | None = None
    cores: Count("cores", 0, QUOTA_MAX_CORES) | None = None
    memory_mb: Count("memory_mb", 0, QUOTA_MAX_MEMORY_MB) | None = None
    disk_gb: Count("disk_gb", 0, QUOTA_MAX_DISK_GB) | None = None

    def problems(self) -> list[tuple[str, str]]:
        if not self.model_dump(exclude_none=True):
            return [("body", "nothing to change: give containers, cores, memory_mb or disk_gb")]
        return []


# ---- query parameters -------------------------------------------------------------------------

class Page(Query):
    limit: Count("limit", 1, PAGE_MAX) = 50
    cursor: str | None = Field(None, max_length=20, pattern=r"^[0-9]+$",
                               description="next_cursor of the previous page")


class ContainerQuery(Page):
    owner: Count("owner", 1, 2**53) | None = Field(None, description="admins: one user's")
    node: Node | None = None
    status: Literal["running", "stopped"] | None = None


class BackupQuery(Page):
    ct: CtRef | None = None


class ApprovalQuery(Page):
    scope: Literal["mine", "pending"] = Field(
        "mine", description="mine: the requests you made; pending: all waiting (admins)")


class NetcheckQuery(Query):
    a: Endpoint
    b: Endpoint


class AuditQuery(Query):
    limit: Count("limit", 1, AUDIT_MAX) = 20


class GroupDelete(Query):
    replicas: Literal["destroy", "keep"] = Field(
        description="destroy the group's replicas, or keep them as ordinary containers")


class ChartQuery(Query):
    window: Literal["1h", "6h", "24h"] = "1h"


class NoQuery(Query):
    pass


# ---- answers ----------------------------------------------------------------------------------

class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class Me(Out):
    user_id: int
    role: Literal["user", "admin"]
    token_id: str


class Nic(Out):
    key: str
    bridge: str
    hwaddr: str | None = None
    ip: str | None = None
    gw: str | None = None
    dhcp: bool = False
    link_up: bool = True


class Container(Out):
    vmid: int
    hostname: str
    node: str
    status: str
    cores: int
    memory_mb: int
    disk_gb: float
    ips: list[str]
    tags: list[str]
    owner_id: int | None = Field(None, description="shown to admins")


class ContainerNics(Out):
    vmid: int
    hostname: str
    node: str
    running: bool
    nics: list[Nic]


class NicChanged(Out):
    vmid: int
    key: str
    before: str
    after: str
    applies: Literal["now", "at next start"]


class Backup(Out):
    volid: str
    vmid: int | None
    node: str
    storage: str
    ctime: int
    size: int
    protected: bool
    notes: str


class Schedule(Out):
    id: str
    calendar: str
    vmids: list[int]
    storage: str | None
    mode: str | None
    keep: str | None
    enabled: bool
    next_run: int | None


class ScheduleCreated(Out):
    schedule: Schedule
    next_runs: list[int]


class Verdict(Out):
    reachable: bool
    path: list[str]
    problems: list[str]
    notes: list[str]
    text: str = Field(description="the chat's wording of the verdict")


class Member(Out):
    vmid: int
    hostname: str
    node: str


class ScalingGroup(Out):
    name: str
    owner_id: int
    template_vmid: int
    min_replicas: int
    max_replicas: int
    target_cpu: int = Field(description="percent")
    bridge: str | None
    node_spread: bool
    approve_above: int | None
    warm_spares: int
    paused: bool
    members: list[Member]
    spares: list[Member]
    pending_approval: str | None
    last_failure: str | None


class Period(Out):
    at: float
    replicas: int
    ready: int
    utilization: float | None
    desired: int


class GroupStatus(Out):
    group: ScalingGroup
    last_period: Period | None


class Approval(Out):
    id: str
    action: str
    summary: str
    status: str
    requester_id: int
    created_at: float
    expires_at: float
    decided_by: int | None
    decided_at: float | None
    href: str


class Operation(Out):
    id: str
    kind: str
    target: str
    state: Literal["running", "succeeded", "failed"]
    progress: list[str]
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    created_at: float
    finished_at: float | None
    href: str


class Accepted(Out):
    """202: the work runs (follow `operation`), or waits for an admin (see `approval`)."""

    state: Literal["running", "awaiting_approval"]
    operation: Operation | None = None
    approval: Approval | None = None
    reasons: list[str] = Field(default_factory=list, description="why it waits, if it does")


class Done(Out):
    detail: str


class User(Out):
    id: int
    role: Literal["user", "admin"]
    name: str


class Quota(Out):
    user_id: int
    containers: int
    cores: int
    memory_mb: int
    disk_gb: int
    used: dict[str, int]
    backups: str = Field(description="the user's backups against their backup quota")


class AuditEntry(Out):
    at: float
    actor_id: int | None
    action: str
    target: str
    outcome: str
    detail: str


class BridgeInfo(Out):
    node: str
    name: str
    cidr: str | None
    gateway: str | None
    ports: list[str]
    autostart: bool
    pending: bool
    pool: str | None


class VNet(Out):
    name: str
    zone: str
    subnet: str | None
    gateway: str | None
    snat: bool
    applied: bool
    pool: str | None


class Networks(Out):
    bridges: list[BridgeInfo]
    vnets: list[VNet]


class FieldError(Out):
    field: str
    detail: str


class Problem(Out):
    """RFC 9457 problem details."""

    type: str = Field(examples=["urn:stratus:problem:forbidden"])
    title: str
    status: int
    detail: str = Field(description="what the chat says for the same error")
    instance: str | None = None
    errors: list[FieldError] | None = Field(None, description="400: each invalid field")
    approval_id: str | None = Field(None, description="already-pending: the waiting request")


def page_of(item: type[BaseModel]) -> type[BaseModel]:
    return create_model(f"{item.__name__}Page", __base__=Out, items=(list[item], ...),
                        next_cursor=(str | None, Field(None, description=(
                            "give it as cursor for the next page; null: the last page"))))


ContainerPage = page_of(Container)
BackupPage = page_of(Backup)
SchedulePage = page_of(Schedule)
GroupPage = page_of(ScalingGroup)
ApprovalPage = page_of(Approval)
OperationPage = page_of(Operation)
UserPage = page_of(User)
AuditPage = page_of(AuditEntry)
