"""Parsers of what tenants of a self-service portal expect: sharing a container, invite
links, resizing, opening ports in a container's firewall. Pure, like bot.parsing, whose primitives they reuse."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from bot.parsing import (
    CORES_MAX,
    QUOTA_MAX_CONTAINERS,
    QUOTA_MAX_CORES,
    QUOTA_MAX_DISK_GB,
    QUOTA_MAX_MEMORY_MB,
    USAGE,
    UsageError,
    _no_options,
    _Option,
    _parse_options,
    _positionals,
    _reported,
    _short,
    _tokenize,
    parse_ct_ref,
    parse_disk_gb,
    parse_int,
    parse_size_mb,
    parse_user_id,
)
from bot.services.policy import ShareRole

# A person by the name they were registered under (letters, digits, '_', '.', '-', an
# optional '@'), or by Telegram id.
_NAME = re.compile(r"@?[A-Za-z][A-Za-z0-9_.-]{0,63}")
USER_USAGE = "a Telegram user id such as 123456789, or the name a user was registered under"


def parse_person(text: str) -> int | str:
    raw = text.strip()
    if raw.isdigit():
        return parse_user_id(raw)
    if _NAME.fullmatch(raw):
        return raw
    raise UsageError(f"{_short(raw)} is not a user id or name", USER_USAGE)


def parse_share_role(text: str) -> ShareRole:
    try:
        return ShareRole[text.strip().upper()]
    except KeyError:
        raise UsageError(f"the role must be viewer, operator or manager, not {_short(text)}",
                         "viewer (sees it), operator (also powers it) or manager (also backs "
                         "up, restores and changes its network)") from None


@dataclass(frozen=True)
class ShareArgs:
    ref: int | str
    user: int | str
    role: ShareRole | None = None  # None: /unshare


def parse_share(args: str, command: str = "share") -> ShareArgs:
    """``/share <ct> <user> <role>``, or with ``command="unshare"``: ``/unshare <ct> <user>``."""
    usage = USAGE[command]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    names = ["the container (id or hostname)", "the user (id or name)"]
    if command == "share":
        names.append("the role (viewer, operator or manager)")
    values = _positionals(tokens, names, len(names), usage)
    ref = _reported(usage, parse_ct_ref, values[0])
    user = _reported(usage, parse_person, values[1])
    role = _reported(usage, parse_share_role, values[2]) if command == "share" else None
    return ShareArgs(ref, user, role)


# ---- invites ----------------------------------------------------------------------------

INVITE_USES_MAX = 1000
INVITE_EXPIRES_MAX_S = 365 * 86400
DEFAULT_INVITE_EXPIRES_S = 7 * 86400
DURATION_USAGE = "a duration such as 30m, 12h or 7d (at most 365d)"
QUOTA_USAGE = ("containers=N,cores=N,memory=SIZE,disk=SIZE (any of them; the others are the "
               "default quota), e.g. containers=2,memory=2G")
INVITE_ID_USAGE = "an invite id as /invites shows it, e.g. 1a2b3c4d"
_DURATION = re.compile(r"([0-9]{1,6})([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INVITE_ID = re.compile(r"[0-9a-f]{8}")
# Quota fields an invite may set, with their parsers (the bounds of /quota's).
_QUOTA_FIELDS = {
    "containers": ("containers", lambda t: parse_int(t, "containers", 0, QUOTA_MAX_CONTAINERS)),
    "cores": ("cores", lambda t: parse_int(t, "cores", 0, QUOTA_MAX_CORES)),
    "memory": ("memory_mb", lambda t: parse_size_mb(t, 0, QUOTA_MAX_MEMORY_MB)),
    "disk": ("disk_gb", lambda t: parse_disk_gb(t, 0, QUOTA_MAX_DISK_GB)),
}


def parse_duration_s(text: str) -> int:
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise UsageError(f"{_short(text)} is not a duration", DURATION_USAGE)
    seconds = int(match[1]) * _UNIT_S[match[2]]
    if not 60 <= seconds <= INVITE_EXPIRES_MAX_S:
        raise UsageError(f"{_short(text)} is out of range: from 1m to 365d", DURATION_USAGE)
    return seconds


def parse_quota_fields(text: str) -> dict[str, int]:
    """``containers=2,memory=2G`` -> {"containers": 2, "memory_mb": 2048} (Quota fields)."""
    out: dict[str, int] = {}
    for item in text.split(","):
        key, eq, value = item.strip().partition("=")
        field = _QUOTA_FIELDS.get(key.strip().lower())
        if field is None or not eq:
            raise UsageError(f"{_short(item)} is not one of containers=, cores=, memory=, "
                             "disk=", QUOTA_USAGE)
        name, convert = field
        if name in out:
            raise UsageError(f"{key} is given twice", QUOTA_USAGE)
        try:
            out[name] = convert(value)
        except UsageError as error:
            raise UsageError(f"{key}: {error.problem}", QUOTA_USAGE) from None
    return out


@dataclass(frozen=True)
class InviteArgs:
    quota: dict[str, int] | None = None  # Quota fields to change from the default
    expires_s: int = DEFAULT_INVITE_EXPIRES_S
    uses: int = 1


def parse_invite(args: str) -> InviteArgs:
    usage = USAGE["invite"]
    positionals, opts = _parse_options(_tokenize(args, usage), [
        _Option("quota", parse_quota_fields),
        _Option("expires", parse_duration_s),
        _Option("uses", lambda t: parse_int(t, "uses", 1, INVITE_USES_MAX)),
    ], usage)
    _positionals(positionals, [], 0, usage)
    return InviteArgs(opts.get("quota"), opts.get("expires", DEFAULT_INVITE_EXPIRES_S),
                      opts.get("uses", 1))


def parse_invite_id(args: str) -> str:
    usage = USAGE["invite_revoke"]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    (raw,) = _positionals(tokens, ["the invite id"], 1, usage)
    if not _INVITE_ID.fullmatch(raw.lower()):
        raise UsageError(f"{_short(raw)} is not an invite id", INVITE_ID_USAGE)
    return raw.lower()


# What Telegram puts after /start from a deep link: 1-64 of A-Z a-z 0-9 _ - (Bot API).
_START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")


def start_payload(args: str) -> str | None:
    """The token of an invite link (``/start <token>``); None for a plain /start or for text
    no link of ours sends (the stranger gets the usual refusal, with their id)."""
    raw = args.strip()
    return raw if _START_PAYLOAD.fullmatch(raw) else None


# ---- resizing ---------------------------------------------------------------------------

RESIZE_DISK_USAGE = "+4G (grow by 4 GiB) or 12G (grow to 12 GiB); a disk only grows"


@dataclass(frozen=True)
class ResizeArgs:
    ref: int | str
    cores: int | None = None
    memory_mb: int | None = None
    disk_gb: int | None = None
    disk_grow: bool = False  # disk_gb is what it grows by (+4G), not the new size


def parse_disk_change(text: str) -> tuple[int, bool]:
    """``+4G`` -> (4, True): grow by; ``12G`` -> (12, False): grow to."""
    raw = text.strip()
    grow = raw.startswith("+")
    try:
        return parse_disk_gb(raw.removeprefix("+")), grow
    except UsageError as error:
        raise UsageError(error.problem, RESIZE_DISK_USAGE) from None


def parse_resize(args: str) -> ResizeArgs:
    usage = USAGE["resize"]
    positionals, opts = _parse_options(_tokenize(args, usage), [
        _Option("cores", lambda t: parse_int(t, "cores", 1, CORES_MAX)),
        _Option("memory", parse_size_mb),
        _Option("disk", parse_disk_change),
    ], usage)
    (raw,) = _positionals(positionals, ["the container (id or hostname)"], 1, usage)
    if not opts:
        raise UsageError("say what to change: --cores, --memory or --disk", usage)
    disk_gb, grow = opts.get("disk", (None, False))
    return ResizeArgs(_reported(usage, parse_ct_ref, raw), opts.get("cores"),
                      opts.get("memory"), disk_gb, grow)


# ---- the firewall -----------------------------------------------------------------------

PORTS_USAGE = "ports and ranges such as 22,8006 or 80,443,1024-65535"
OPENING_USAGE = "tcp/80, udp/53, tcp/8000-8100 or icmp"
_PORT_ITEM = re.compile(r"([0-9]{1,5})(?:-([0-9]{1,5}))?")


def parse_port_ranges(text: str) -> tuple[tuple[int, int], ...]:
    """``80,443,1024-65535`` -> ((80, 80), (443, 443), (1024, 65535)); "" -> ()."""
    out = []
    for item in (i.strip() for i in text.split(",") if i.strip()):
        match = _PORT_ITEM.fullmatch(item)
        first, last = (int(match[1]), int(match[2] or match[1])) if match else (0, 0)
        if not match or not 1 <= first <= last <= 65535:
            raise UsageError(f"{_short(item)} is not a port (1-65535) or a range of them",
                             PORTS_USAGE)
        out.append((first, last))
    return tuple(out)


def ports_setting_text(text: str) -> str:
    """A port list as PVE's firewall writes it (``22,8006``, ranges ``a:b``); ``none`` (or
    nothing): no port."""
    if text.strip().lower() == "none":
        return ""
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in parse_port_ranges(text))


@dataclass(frozen=True)
class FwAllowArgs:
    ref: int | str
    proto: str
    ports: tuple[int, int] | None
    source: str | int | None  # a CIDR, a CT, or None: anyone


def parse_opening(text: str) -> tuple[str, tuple[int, int] | None]:
    raw = text.strip().lower()
    if raw == "icmp":
        return "icmp", None
    proto, slash, ports = raw.partition("/")
    if proto not in ("tcp", "udp") or not slash:
        raise UsageError(f"{_short(text)} is not a protocol and port", OPENING_USAGE)
    ranges = parse_port_ranges(ports) if ports else ()
    if len(ranges) != 1:
        raise UsageError(f"{_short(text)}: give one port or one range", OPENING_USAGE)
    return proto, ranges[0]


def parse_source(text: str) -> str | int:
    """``from`` what: an IPv4 network (10.0.0.0/24, or one address), or a container."""
    raw = text.strip()
    if "/" in raw or raw.count(".") == 3:
        try:
            return str(ipaddress.IPv4Network(raw if "/" in raw else f"{raw}/32",
                                             strict=False))
        except ValueError:
            raise UsageError(f"{_short(raw)} is not an IPv4 network",
                             "an address range such as 10.0.0.0/24, or a container") from None
    return parse_ct_ref(raw)


def parse_fw_allow(args: str) -> FwAllowArgs:
    usage = USAGE["fw_allow"]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    if len(tokens) >= 3:  # <ct> <what> from <source>
        if tokens[2].lower() != "from" or len(tokens) < 4:
            raise UsageError("say from where: ... from 10.0.0.0/24, or from a container", usage)
        del tokens[2]
    values = _positionals(tokens, ["the container", "what to open (e.g. tcp/80)",
                                   "the source"], 2, usage)
    proto, ports = _reported(usage, parse_opening, values[1])
    source = _reported(usage, parse_source, values[2]) if len(values) > 2 else None
    return FwAllowArgs(_reported(usage, parse_ct_ref, values[0]), proto, ports, source)


@dataclass(frozen=True)
class FwDelArgs:
    ref: int | str
    number: int


def parse_fw_del(args: str) -> FwDelArgs:
    usage = USAGE["fw_del"]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    ref, number = _positionals(tokens, ["the container", "the rule's number (/fw shows it)"],
                               2, usage)
    return FwDelArgs(_reported(usage, parse_ct_ref, ref),
                     _reported(usage, lambda t: parse_int(t, "the rule's number", 1, 10_000),
                               number))
