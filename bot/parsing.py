"""Command arguments -> typed values. Pure: no Telegram, no I/O.

Every failure is a ``UsageError`` that says what is wrong and shows the command's usage line, so a
handler can send ``str(error)`` as is. Formats follow what Proxmox VE accepts (``dns-name``,
``pve-node``, ``CIDRv4`` in pve-common's JSONSchema.pm; bridge names as PVE's GUI requires them;
SDN VNet ids as ``/cluster/sdn/vnets`` declares them), so a value that passes here is not refused
later by the API.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

# --- usage lines and examples (also for /help <command>) -------------------------------------

USAGE: dict[str, str] = {
    "start": "/start",
    "help": "/help [command]",
    "create": (
        "/create <hostname> [--template T] [--cores N] [--memory 512M|2G] [--disk 8G] "
        "[--bridge vmbr0] [--ip 10.0.0.5/24 --gw 10.0.0.1 | --dhcp] [--node N]"
    ),
    "list": "/list [--owner USER_ID] [--node N] [--status running|stopped]",
    "info": "/info <vmid|hostname>",
    "ct_start": "/ct_start <vmid|hostname>",
    "ct_stop": "/ct_stop <vmid|hostname>",
    "ct_reboot": "/ct_reboot <vmid|hostname>",
    "ct_delete": "/ct_delete <vmid|hostname>",
    "grant": "/grant <user_id> [user|admin]",
    "revoke": "/revoke <user_id>",
    "users": "/users",
    "quota": "/quota <user_id> [--containers N] [--cores N] [--memory 8G] [--disk 64G]",
    "pending": "/pending",
    "audit": "/audit [n]",
    "backup": ("/backup <vmid|hostname> [--mode snapshot|suspend|stop] [--storage S] "
               "[--compress zstd|gzip|lzo|0] [--note TEXT] [--protected]"),
    "backups": "/backups [vmid|hostname]",
    "backup_del": "/backup_del <volid>",
    "restore": ("/restore <volid> --new [--hostname H] [--node N] [--storage S]  |  "
                "/restore <volid> --into <vmid|hostname> [--hostname H]"),
    "schedule_backup": ("/schedule_backup <vmid|hostname|all-mine> <calendar> [--keep-last N] "
                        "[--keep-daily N] [--keep-weekly N] [--storage S] "
                        "[--mode snapshot|suspend|stop]"),
    "schedules": "/schedules",
    "schedule_del": "/schedule_del <schedule id>",
    "bridges": "/bridges [node]",
    "bridge_add": (
        "/bridge_add <vmbrN> <address/prefix> [--node N] [--ports enp0s8] [--comment TEXT] "
        "[--pool FIRST-LAST]"
    ),
    "bridge_del": "/bridge_del <vmbrN> [--node N]",
    "natnet_add": "/natnet_add <name> <network/prefix> [--gateway IP] [--pool FIRST-LAST]",
    "net": "/net <vmid|hostname>",
    "net_set": ("/net_set <vmid|hostname> <netN> [--bridge B] [--ip 10.0.0.5/24] [--gw IP|none] "
                "[--dhcp]"),
    "net_del": "/net_del <vmid|hostname> <netN>",
    "netcheck": "/netcheck <a> <b>   (a container, host, host:<node> or pc)",
    "doctor": "/doctor",
    "ssh_key": ("/ssh_key <your public key, one line of its .pub file>  |  /ssh_key  |  "
                "/ssh_key --remove"),
    "netfacts": ("/netfacts  |  /netfacts add|del <fact> <item>...  |  /netfacts set <fact> "
                 "<item>...|none  |  /netfacts reset <fact>"),
    "scale_create": (
        "/scale_create <group> --template <ct> --min N --max M [--slo 85] "
        "[--violation-cost 10] [--season 24h|7d|none] [--policy predictive|hpa] "
        "[--target-cpu 80 (hpa)] [--bridge B] [--node-spread] [--approve-above K] "
        "[--warm-spares N]"
    ),
    "scale_status": "/scale_status [group]",
    "scale_set": (
        "/scale_set <group> [--min N] [--max M] [--slo 85] [--violation-cost 10] "
        "[--season 24h|7d|none] [--policy predictive|hpa] [--target-cpu 80 (hpa)] [--bridge B] "
        "[--node-spread|--no-node-spread] [--approve-above K|none] [--warm-spares N]"
    ),
    "scale_pause": "/scale_pause <group>",
    "scale_resume": "/scale_resume <group>",
    "scale_delete": "/scale_delete <group>",
    "scale_chart": "/scale_chart <group> [1h|6h|24h]",
    "api_token": "/api_token [name]",
    "api_tokens": "/api_tokens",
    "api_token_revoke": "/api_token_revoke <token id>",
    "share": "/share <vmid|hostname> <user id|name> viewer|operator|manager",
    "unshare": "/unshare <vmid|hostname> <user id|name>",
    "shares": "/shares",
    "invite": ("/invite [--quota containers=3,cores=4,memory=4G,disk=32G] [--expires 7d] "
               "[--uses N]"),
    "invites": "/invites",
    "invite_revoke": "/invite_revoke <invite id>",
    "resize": "/resize <vmid|hostname> [--cores N] [--memory 2G] [--disk +4G|12G]",
    "fw": "/fw <vmid|hostname>",
    "fw_allow": "/fw_allow <vmid|hostname> tcp/80|udp/53|icmp [from <network|container>]",
    "fw_del": "/fw_del <vmid|hostname> <rule number>",
}

EXAMPLES: dict[str, str] = {
    "start": "/start",
    "help": "/help create",
    "create": "/create web1 --cores 2 --memory 1G --disk 8G --ip 10.0.0.5/24 --gw 10.0.0.1",
    "list": "/list --status running",
    "info": "/info 101",
    "ct_start": "/ct_start web1",
    "ct_stop": "/ct_stop 101",
    "ct_reboot": "/ct_reboot web1",
    "ct_delete": "/ct_delete 101",
    "grant": "/grant 123456789 user",
    "revoke": "/revoke 123456789",
    "users": "/users",
    "quota": "/quota 123456789 --containers 5 --cores 8 --memory 8G --disk 64G",
    "pending": "/pending",
    "audit": "/audit 50",
    "backup": "/backup web1 --note 'before upgrade'",
    "backups": "/backups web1",
    "backup_del": "/backup_del local:backup/vzdump-lxc-101-2026_05_01-02_00_00.tar.zst",
    "restore": "/restore local:backup/vzdump-lxc-101-2026_05_01-02_00_00.tar.zst --new --hostname web1-twin",
    "schedule_backup": "/schedule_backup web1 mon..fri 22:30 --keep-last 3 --keep-daily 4",
    "schedules": "/schedules",
    "schedule_del": "/schedule_del stratus-1a2b3c4d",
    "bridges": "/bridges pve1",
    "bridge_add": "/bridge_add vmbr1 10.10.20.1/24 --pool 10.10.20.10-10.10.20.200",
    "bridge_del": "/bridge_del vmbr1 --node pve1",
    "natnet_add": "/natnet_add natnet 10.10.30.0/24 --pool 10.10.30.10-10.10.30.200",
    "net": "/net web1",
    "net_set": "/net_set web1 net0 --bridge vmbr1 --ip 10.10.20.5/24 --gw 10.10.20.1",
    "net_del": "/net_del web1 net1",
    "netcheck": "/netcheck web1 pc",
    "doctor": "/doctor",
    "netfacts": "/netfacts add masquerade pve1:vmbr1:vmbr0",
    "ssh_key": ("/ssh_key ssh-ed25519 "
                "AAAAC3NzaC1lZDI1NTE5AAAAIHlhSQwpZYAYyd3SfqHN/tlrjGfURzzD3ApCQ23SePDJ bob@laptop"),
    "scale_create": "/scale_create web --template 900 --min 1 --max 6",
    "scale_status": "/scale_status web",
    "scale_set": "/scale_set web --max 8 --approve-above 5",
    "scale_pause": "/scale_pause web",
    "scale_resume": "/scale_resume web",
    "scale_delete": "/scale_delete web",
    "scale_chart": "/scale_chart web 6h",
    "api_token": "/api_token ci",
    "api_tokens": "/api_tokens",
    "api_token_revoke": "/api_token_revoke 1a2b3c4d",
    "share": "/share web1 123456789 operator",
    "unshare": "/unshare web1 123456789",
    "shares": "/shares",
    "invite": "/invite --quota containers=2,memory=2G --expires 3d --uses 5",
    "invites": "/invites",
    "invite_revoke": "/invite_revoke 1a2b3c4d",
    "resize": "/resize web1 --cores 2 --memory 2G --disk +4G",
    "fw": "/fw web1",
    "fw_allow": "/fw_allow web1 tcp/80 from 10.0.2.0/24",
    "fw_del": "/fw_del web1 1",
}

CT_COMMANDS = ("info", "ct_start", "ct_stop", "ct_reboot", "ct_delete")


class UsageError(Exception):
    """Bad input: ``problem`` says what is wrong, ``usage`` how to write it."""

    def __init__(self, problem: str, usage: str) -> None:
        super().__init__(problem, usage)
        self.problem = problem
        self.usage = usage

    def __str__(self) -> str:
        return f"{self.problem}\nUsage: {self.usage}"


# --- limits --------------------------------------------------------------------------------

MIB_PER_GIB = 1024
MEMORY_MIN_MB = 16  # PVE's minimum for "memory"
MEMORY_MAX_MB = 1024 * 1024  # 1 TiB
DISK_MIN_GB = 1
DISK_MAX_GB = 4096
CORES_MAX = 8192  # PVE's maximum for "cores"
VMID_MIN, VMID_MAX = 100, 999_999_999  # PVE's pve-vmid range
USER_ID_MAX = 2**53  # Telegram ids fit in 52 bits
AUDIT_MAX = 200

# Formats written as usage hints for the value parsers (they have no command of their own).
SIZE_USAGE = "a size such as 512M, 2G, 1.5G or 2048MiB (a bare number is MiB)"
DISK_USAGE = "a disk size in whole GiB such as 8G, 512G or 1T (a bare number is GiB)"
HOSTNAME_USAGE = "a DNS name: letters, digits and hyphens, dot-separated, e.g. web-1"
CIDR_USAGE = "an IPv4 address with prefix length, e.g. 10.0.0.5/24"
IP_USAGE = "an IPv4 address, e.g. 10.0.0.1"
CT_REF_USAGE = f"a container id ({VMID_MIN}-{VMID_MAX}) or hostname"
BRIDGE_USAGE = "a bridge vmbrN (N 0-9999) or an SDN VNet id (2-8 letters and digits)"
NODE_USAGE = "a node name: letters, digits and hyphens, e.g. pve1"
TEMPLATE_USAGE = "a template name or volume id, e.g. local:vztmpl/debian-12-standard.tar.zst"

_DIGITS = re.compile(r"[0-9]+")
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(?:([kmgt])(?:i?b)?|(b))?", re.IGNORECASE)
_UNIT_MIB = {"k": Decimal(1) / 1024, "m": Decimal(1), "g": Decimal(1024), "t": Decimal(1024**2)}
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", re.IGNORECASE)
_BRIDGE = re.compile(r"vmbr[0-9]{1,4}")
_VNET = re.compile(r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]")
_TEMPLATE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+-]*")


def _short(text: str, limit: int = 40) -> str:
    """Quote user input in a message without letting a huge paste flood the reply."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


# --- values --------------------------------------------------------------------------------


def parse_int(text: str, name: str, lo: int, hi: int) -> int:
    """A whole number in [lo, hi], ASCII digits only (int() would accept '٣' or '1_0')."""
    raw = text.strip()
    sign = -1 if raw.startswith("-") else 1
    digits = raw[1:] if raw[:1] in "+-" else raw
    usage = f"{name}: a whole number from {lo} to {hi}"
    # The length check also keeps int() away from its 4300-digit limit.
    if not _DIGITS.fullmatch(digits) or len(digits) > 30:
        raise UsageError(f"{name} must be a whole number, not {_short(text)}", usage)
    value = sign * int(digits)
    if not lo <= value <= hi:
        raise UsageError(f"{name} must be from {lo} to {hi}, not {value}", usage)
    return value


def _size_in_mib(text: str, default_unit: str, usage: str, what: str) -> Decimal:
    """The size in MiB (possibly fractional); ``what`` names it, with examples, in errors."""
    match = _SIZE.fullmatch(text.strip()) if text.isascii() and len(text) <= 40 else None
    if not match:
        raise UsageError(f"{_short(text)} is not {what}", usage)
    number, unit, bytes_unit = match.groups()
    if bytes_unit:
        raise UsageError(f"{_short(text)}: sizes in bytes are not accepted; use M or G", usage)
    try:
        return Decimal(number) * _UNIT_MIB[(unit or default_unit).lower()]
    except InvalidOperation:  # pragma: no cover - the regex admits only plain decimals
        raise UsageError(f"{_short(text)} is not {what}", usage) from None


def parse_size_mb(text: str, lo: int = MEMORY_MIN_MB, hi: int = MEMORY_MAX_MB) -> int:
    """A memory size in whole MiB: "512M", "2G", "1.5G", "2048MiB", "512" (bare number = MiB).

    Units are binary, as Proxmox counts memory (1G = 1024 MiB).
    """
    mib = _size_in_mib(text, "m", SIZE_USAGE, "a size (e.g. 512M, 2G)")
    if mib != mib.to_integral_value():
        raise UsageError(f"{_short(text)} is not a whole number of MiB", SIZE_USAGE)
    value = int(mib)
    if not lo <= value <= hi:
        raise UsageError(
            f"{_short(text)} is out of range: from {_mib_text(lo)} to {_mib_text(hi)}", SIZE_USAGE
        )
    return value


def parse_disk_gb(text: str, lo: int = DISK_MIN_GB, hi: int = DISK_MAX_GB) -> int:
    """A disk size in whole GiB: "8G", "8", "512G", "1T" (bare number = GiB)."""
    gib = _size_in_mib(text, "g", DISK_USAGE, "a disk size (e.g. 8G, 1T)") / MIB_PER_GIB
    if gib != gib.to_integral_value():
        raise UsageError(f"{_short(text)} is not a whole number of GiB", DISK_USAGE)
    value = int(gib)
    if not lo <= value <= hi:
        raise UsageError(f"{_short(text)} is out of range: from {lo}G to {hi}G", DISK_USAGE)
    return value


def _mib_text(mib: int) -> str:
    for unit, size in (("T", 1024**2), ("G", 1024)):
        if mib >= size and mib % size == 0:
            return f"{mib // size}{unit}"
    return f"{mib}M"


def parse_hostname(text: str) -> str:
    """A hostname as PVE's ``dns-name`` format accepts it, lowercased.

    Labels of letters, digits and hyphens, not starting or ending with a hyphen, at most 63
    characters each, 253 in all. One deliberate restriction over PVE: a name made only of
    digits is refused, because ``<ct>`` arguments read a number as a container id.
    """
    if not text.isascii():  # checked before lower(): "\u212a".lower() is an ASCII "k"
        raise UsageError(
            f"{_short(text)} is not a valid hostname: use only ASCII letters, digits and hyphens",
            HOSTNAME_USAGE,
        )
    name = text.strip().lower()
    if not name:
        raise UsageError("the hostname is empty", HOSTNAME_USAGE)
    if len(name) > 253:
        raise UsageError(
            f"the hostname is {len(name)} characters long; at most 253", HOSTNAME_USAGE
        )
    for label in name.split("."):
        if not label:
            raise UsageError(
                f"{_short(text)} has an empty label (two dots, or a dot at an end)", HOSTNAME_USAGE
            )
        if len(label) > 63:
            raise UsageError(
                f"the label {_short(label)} is longer than 63 characters", HOSTNAME_USAGE
            )
        if not _DNS_LABEL.fullmatch(label):
            raise UsageError(
                f"{_short(text)} is not a valid hostname: use letters, digits and hyphens, "
                "not starting or ending with a hyphen",
                HOSTNAME_USAGE,
            )
    if _DIGITS.fullmatch(name.replace(".", "")):
        raise UsageError(
            f"{_short(text)} is only digits; a hostname needs a letter (numbers are container ids)",
            HOSTNAME_USAGE,
        )
    return name


def parse_ip(text: str) -> str:
    """An IPv4 address in dotted form ("10.0.0.1"); no leading zeros, no prefix."""
    try:
        address = ipaddress.IPv4Address(text.strip())
    except ValueError:
        raise UsageError(f"{_short(text)} is not an IPv4 address", IP_USAGE) from None
    return str(address)


def parse_cidr(text: str) -> str:
    """A host address with its prefix, as PVE's ``CIDRv4`` (prefix 8-32): "10.0.0.5/24".

    The network and broadcast addresses of the subnet are refused: a container cannot use them.
    """
    raw = text.strip()
    address, slash, prefix = raw.partition("/")
    if not slash:
        raise UsageError(f"{_short(text)} has no prefix length (e.g. /24)", CIDR_USAGE)
    ip = _parse_ip_with_usage(address, CIDR_USAGE)
    if not _DIGITS.fullmatch(prefix) or len(prefix) > 2 or not 8 <= int(prefix) <= 32:
        raise UsageError(f"{_short(text)}: the prefix length must be from 8 to 32", CIDR_USAGE)
    interface = ipaddress.IPv4Interface(f"{ip}/{int(prefix)}")
    network = interface.network
    if network.prefixlen <= 30 and interface.ip in (
        network.network_address,
        network.broadcast_address,
    ):
        kind = "network" if interface.ip == network.network_address else "broadcast"
        raise UsageError(
            f"{interface.ip} is the {kind} address of {network}; pick a host address",
            CIDR_USAGE,
        )
    return str(interface)


def _parse_ip_with_usage(text: str, usage: str) -> str:
    try:
        return parse_ip(text)
    except UsageError as error:
        raise UsageError(error.problem, usage) from None


def parse_ct_ref(text: str) -> int | str:
    """A container reference: a vmid (all digits) or a hostname."""
    raw = text.strip()
    if _DIGITS.fullmatch(raw):
        if len(raw) > 12 or not VMID_MIN <= int(raw) <= VMID_MAX:
            raise UsageError(
                f"{_short(raw)} is not a container id: ids run from {VMID_MIN} to {VMID_MAX}",
                CT_REF_USAGE,
            )
        return int(raw)
    try:
        return parse_hostname(raw)
    except UsageError as error:
        raise UsageError(error.problem, CT_REF_USAGE) from None


def parse_bridge(text: str) -> str:
    """A Linux bridge ``vmbrN`` (as PVE requires, N 0-9999) or an SDN VNet id (2-8 chars)."""
    name = text.strip()
    if _BRIDGE.fullmatch(name) or (2 <= len(name) <= 8 and _VNET.fullmatch(name)):
        return name
    raise UsageError(f"{_short(text)} is not a bridge name (vmbrN or an SDN VNet id)", BRIDGE_USAGE)


def parse_node(text: str) -> str:
    """A node name as PVE's ``pve-node`` format: letters, digits, inner hyphens."""
    name = text.strip()
    if len(name) <= 63 and name.isascii() and _DNS_LABEL.fullmatch(name):
        return name
    raise UsageError(
        f"{_short(text)} is not a node name (letters, digits, inner hyphens)", NODE_USAGE
    )


def parse_template(text: str) -> str:
    """A template: a short name the services resolve, or a volume id ``storage:vztmpl/file``."""
    name = text.strip()
    if len(name) <= 255 and name.isascii() and _TEMPLATE.fullmatch(name):
        return name
    raise UsageError(f"{_short(text)} is not a template name", TEMPLATE_USAGE)


def parse_user_id(text: str) -> int:
    return parse_int(text, "user_id", 1, USER_ID_MAX)


# --- tokenizing and options ----------------------------------------------------------------

# Phones turn "--" into a dash ("—cores"); read those as the option the person meant.
_DASHES = ("\u2014", "\u2013", "\u2012", "\u2212")


def _tokenize(args: str | None, usage: str) -> list[str]:
    if args is None:  # shlex.split(None) would read standard input
        return []
    try:
        tokens = shlex.split(args)
    except ValueError as error:  # "No closing quotation", "No escaped character"
        raise UsageError(f"cannot read the arguments: {str(error).lower()}", usage) from None
    return [("--" + t[1:] if t[:1] in _DASHES else t) for t in tokens]


@dataclass(frozen=True)
class _Option:
    name: str
    convert: Callable[[str], Any] | None  # None: a flag that takes no value


def _parse_options(
    tokens: list[str], options: list[_Option], usage: str
) -> tuple[list[str], dict[str, Any]]:
    """Split tokens into positionals and ``{option name: converted value}``.

    Accepts ``--opt value`` and ``--opt=value``; refuses unknown options, a missing value, a
    flag given a value, and an option given twice. A converter's UsageError is reported with the
    option's name and the command's usage line.
    """
    by_name = {o.name: o for o in options}
    positionals: list[str] = []
    values: dict[str, Any] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if not token.startswith("--") or token == "--":
            positionals.append(token)
            continue
        name, eq, inline = token[2:].partition("=")
        option = by_name.get(name.lower())
        if option is None:
            known = ", ".join(f"--{o.name}" for o in options) or "none"
            raise UsageError(f"unknown option {_short('--' + name)} (options: {known})", usage)
        if option.name in values:
            raise UsageError(f"--{option.name} is given twice", usage)
        if option.convert is None:
            if eq:
                raise UsageError(f"--{option.name} takes no value", usage)
            values[option.name] = True
            continue
        if eq:
            raw = inline
        elif i < len(tokens) and not tokens[i].startswith("--"):
            raw = tokens[i]
            i += 1
        else:
            raise UsageError(f"--{option.name} needs a value", usage)
        try:
            values[option.name] = option.convert(raw)
        except UsageError as error:
            raise UsageError(f"--{option.name}: {error.problem}", usage) from None
    return positionals, values


def _positionals(positionals: list[str], names: list[str], required: int, usage: str) -> list[str]:
    if len(positionals) < required:
        raise UsageError(f"missing {names[len(positionals)]}", usage)
    if len(positionals) > len(names):
        raise UsageError(f"unexpected argument {_short(positionals[len(names)])}", usage)
    return positionals


def _reported(usage: str, convert: Callable[[str], Any], raw: str) -> Any:
    """Run a value parser, re-labelling its error with the command's usage line."""
    try:
        return convert(raw)
    except UsageError as error:
        raise UsageError(error.problem, usage) from None


# --- commands ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateArgs:
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
    # As typed, when it differs (case) from `hostname`: the reply says so. Not part of the
    # request itself (equal requests compare equal).
    typed_hostname: str | None = field(default=None, compare=False)


def parse_create(args: str) -> CreateArgs:
    usage = USAGE["create"]
    tokens = _tokenize(args, usage)
    positionals, opts = _parse_options(
        tokens,
        [
            _Option("template", parse_template),
            _Option("cores", lambda t: parse_int(t, "cores", 1, CORES_MAX)),
            _Option("memory", parse_size_mb),
            _Option("disk", parse_disk_gb),
            _Option("bridge", parse_bridge),
            _Option("ip", parse_cidr),
            _Option("gw", parse_ip),
            _Option("dhcp", None),
            _Option("node", parse_node),
        ],
        usage,
    )
    (typed,) = _positionals(positionals, ["the hostname"], 1, usage)
    hostname = _reported(usage, parse_hostname, typed)
    ip, gw, dhcp = opts.get("ip"), opts.get("gw"), opts.get("dhcp", False)
    if ip and dhcp:
        raise UsageError("--ip and --dhcp exclude each other: choose one", usage)
    if gw and not ip:
        raise UsageError("--gw needs --ip (with --dhcp the gateway comes from DHCP)", usage)
    if gw:
        interface = ipaddress.IPv4Interface(ip)
        gateway = ipaddress.IPv4Address(gw)
        if gateway not in interface.network:
            raise UsageError(f"--gw {gw} is not inside {interface.network} (from --ip)", usage)
        if gateway == interface.ip:
            raise UsageError(f"--gw {gw} is the container's own address", usage)
        if interface.network.prefixlen <= 30 and gateway in (
            interface.network.network_address,
            interface.network.broadcast_address,
        ):
            raise UsageError(f"--gw {gw} is not a host address of {interface.network}", usage)
    return CreateArgs(
        hostname=hostname,
        template=opts.get("template"),
        cores=opts.get("cores"),
        memory_mb=opts.get("memory"),
        disk_gb=opts.get("disk"),
        bridge=opts.get("bridge"),
        ip=ip,
        gw=gw,
        dhcp=dhcp,
        node=opts.get("node"),
        typed_hostname=typed.strip() if typed.strip() != hostname else None,
    )


@dataclass(frozen=True)
class CtRef:
    ref: int | str  # a vmid or a hostname


def parse_ct_command(args: str, command: str = "info") -> CtRef:
    """The single ``<ct>`` argument of /info, /ct_start, /ct_stop, /ct_reboot, /ct_delete.

    ``command`` (without the slash) only chooses the usage line shown on error.
    """
    usage = USAGE.get(command, USAGE["info"])
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    (raw,) = _positionals(tokens, ["the container (id or hostname)"], 1, usage)
    return CtRef(_reported(usage, parse_ct_ref, raw))


def _no_options(tokens: list[str], usage: str) -> None:
    for token in tokens:
        if token.startswith("--"):
            raise UsageError(f"unknown option {_short(token)} (this command takes none)", usage)


@dataclass(frozen=True)
class GrantArgs:
    user_id: int
    role: str = "user"


def parse_grant(args: str) -> GrantArgs:
    usage = USAGE["grant"]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    values = _positionals(tokens, ["the user id", "the role"], 1, usage)
    user_id = _reported(usage, parse_user_id, values[0])
    role = values[1].lower() if len(values) > 1 else "user"
    if role not in ("user", "admin"):
        raise UsageError(f"the role must be user or admin, not {_short(values[1])}", usage)
    return GrantArgs(user_id=user_id, role=role)


@dataclass(frozen=True)
class RevokeArgs:
    user_id: int


def parse_revoke(args: str) -> RevokeArgs:
    usage = USAGE["revoke"]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    (raw,) = _positionals(tokens, ["the user id"], 1, usage)
    return RevokeArgs(_reported(usage, parse_user_id, raw))


@dataclass(frozen=True)
class QuotaArgs:
    user_id: int
    containers: int | None = None
    cores: int | None = None
    memory_mb: int | None = None
    disk_gb: int | None = None

    @property
    def is_show(self) -> bool:
        """Only a user id was given: show the quota rather than change it."""
        return all(v is None for v in (self.containers, self.cores, self.memory_mb, self.disk_gb))


QUOTA_MAX_CONTAINERS = 10_000
QUOTA_MAX_CORES = 100_000
QUOTA_MAX_MEMORY_MB = 64 * 1024 * 1024  # 64 TiB: a quota is a total over containers
QUOTA_MAX_DISK_GB = 1024 * 1024  # 1 PiB


def parse_quota(args: str) -> QuotaArgs:
    usage = USAGE["quota"]
    tokens = _tokenize(args, usage)
    positionals, opts = _parse_options(
        tokens,
        [
            _Option("containers", lambda t: parse_int(t, "containers", 0, QUOTA_MAX_CONTAINERS)),
            _Option("cores", lambda t: parse_int(t, "cores", 0, QUOTA_MAX_CORES)),
            _Option("memory", lambda t: parse_size_mb(t, 0, QUOTA_MAX_MEMORY_MB)),
            _Option("disk", lambda t: parse_disk_gb(t, 0, QUOTA_MAX_DISK_GB)),
        ],
        usage,
    )
    (raw,) = _positionals(positionals, ["the user id"], 1, usage)
    return QuotaArgs(
        user_id=_reported(usage, parse_user_id, raw),
        containers=opts.get("containers"),
        cores=opts.get("cores"),
        memory_mb=opts.get("memory"),
        disk_gb=opts.get("disk"),
    )


@dataclass(frozen=True)
class AuditArgs:
    n: int = 20


def parse_audit(args: str) -> AuditArgs:
    usage = USAGE["audit"]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    values = _positionals(tokens, ["n"], 0, usage)
    if not values:
        return AuditArgs()
    return AuditArgs(_reported(usage, lambda t: parse_int(t, "n", 1, AUDIT_MAX), values[0]))


LIST_STATUSES = ("running", "stopped")


@dataclass(frozen=True)
class ListArgs:
    owner_id: int | None = None
    node: str | None = None
    status: str | None = None  # "running" | "stopped"


def _parse_status(text: str) -> str:
    status = text.strip().lower()
    if status not in LIST_STATUSES:
        raise UsageError(
            f"the status must be running or stopped, not {_short(text)}", "running|stopped"
        )
    return status


def parse_list(args: str) -> ListArgs:
    usage = USAGE["list"]
    tokens = _tokenize(args, usage)
    positionals, opts = _parse_options(
        tokens,
        [
            _Option("owner", parse_user_id),
            _Option("node", parse_node),
            _Option("status", _parse_status),
        ],
        usage,
    )
    _positionals(positionals, [], 0, usage)
    return ListArgs(owner_id=opts.get("owner"), node=opts.get("node"), status=opts.get("status"))


_TOKEN_ID = re.compile(r"[0-9a-f]{8}")


def parse_api_token(args: str) -> str | None:
    """/api_token [name]: the name is checked by the token service (the API shares it)."""
    usage = USAGE["api_token"]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    values = _positionals(tokens, ["the token's name"], 0, usage)
    return values[0] if values else None


def parse_api_token_revoke(args: str) -> str:
    usage = USAGE["api_token_revoke"]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    (raw,) = _positionals(tokens, ["the token id (/api_tokens lists them)"], 1, usage)
    if not _TOKEN_ID.fullmatch(raw.strip().lower()):
        raise UsageError(f"{_short(raw)} is not a token id: 8 hex digits as /api_tokens shows "
                         "them, e.g. 1a2b3c4d", usage)
    return raw.strip().lower()
