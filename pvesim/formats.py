"""Named formats of PVE's JSON schema (pve-common ``PVE::JSONSchema::register_format``).

Only the formats used by the implemented methods; the conformance test checks that every format
named in the parameter tables is known here. Each checker returns an error text or None.
A name ending in ``-list`` checks each item of a comma/semicolon/space separated list, ``-opt``
allows the empty string (as PVE's ``check_format`` does).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from .firewall import FORMATS as FIREWALL_FORMATS

Checker = Callable[[str], str | None]

_NODE = re.compile(r"^([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)$")
_VMID = re.compile(r"^[1-9][0-9]{2,8}$")
_CONFIGID = re.compile(r"^[a-z][a-z0-9_-]+$", re.I)
_STORAGE_ID = re.compile(r"^[a-z][a-z0-9\-_.]*[a-z0-9]$", re.I)
_DNS_LABEL = r"([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)"
_DNS_NAME = re.compile(rf"^({_DNS_LABEL}\.)*{_DNS_LABEL}$")
_MAC = re.compile(r"^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$", re.I)
_VOLUME_ID = re.compile(r"^([a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$", re.I)
_TAG = re.compile(r"^[a-z0-9_][a-z0-9_\-+.]*$", re.I)
_POOL = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-/]*$")
_REALM = re.compile(r"^[A-Za-z][A-Za-z0-9.\-_]+$")
_PRIV = re.compile(r"^[A-Za-z][A-Za-z.]+$")
_TIMEZONE = re.compile(r"^[A-Za-z0-9_+\-/]+$")
_SIZE = re.compile(r"^(\d+(\.\d+)?)([KMGT])?$")
_STARTUP = re.compile(r"^((order=)?\d+|up=\d+|down=\d+)$")
_TASK_STATUS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
STORAGE_CONTENT_TYPES = ("images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import")


def split_list(text: str) -> list[str]:
    """PVE::Tools::split_list: NUL-separated, else split on commas, semicolons and spaces."""
    if "\0" in text:
        return text.split("\0")
    return text.replace(",", " ").replace(";", " ").split()


def _regex(pattern: re.Pattern, message: str) -> Checker:
    return lambda v: None if pattern.match(v) else message.format(v=v)


def _ipv4(v: str) -> str | None:
    try:
        ipaddress.IPv4Address(v)
    except ValueError:
        return "value does not look like a valid IPv4 address"
    return None


def _ipv6(v: str) -> str | None:
    try:
        ipaddress.IPv6Address(v)
    except ValueError:
        return "value does not look like a valid IPv6 address"
    return None


def is_cidr(v: str, version: int) -> bool:
    """PVE's CIDRv4/CIDRv6: an address (not a network) with a prefix > 7."""
    addr, sep, prefix = v.partition("/")
    if not sep or not prefix.isdigit():
        return False
    limit = 32 if version == 4 else 128
    if not 7 < int(prefix) <= limit:
        return False
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        return False
    return ipaddress.ip_address(addr).version == version


def _cidrv4(v: str) -> str | None:
    return None if is_cidr(v, 4) else "value does not look like a valid IPv4 CIDR network"


def _cidrv6(v: str) -> str | None:
    return None if is_cidr(v, 6) else "value does not look like a valid IPv6 CIDR network"


def _ipv4_config(v: str) -> str | None:
    if v in ("dhcp", "manual") or is_cidr(v, 4):
        return None
    return "value does not look like a valid ipv4 network configuration"


def _ipv6_config(v: str) -> str | None:
    if v in ("auto", "dhcp", "manual") or is_cidr(v, 6):
        return None
    return "value does not look like a valid ipv6 network configuration"


def _ip_with_ll_iface(v: str) -> str | None:
    addr, _, _iface = v.partition("%")
    try:
        ipaddress.ip_address(addr)
    except ValueError:
        return f"unable to parse IP address '{v}'"
    return None


def _disk_size(v: str) -> str | None:
    return None if _SIZE.match(v) else f"value does not look like a valid disk size: {v}"


def parse_size(v: str) -> int:
    """PVE's parse_size: ``8G`` -> bytes (validated input)."""
    m = _SIZE.match(v)
    assert m, v
    factor = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(m.group(3) or "", 1)
    return int(float(m.group(1)) * factor)


def _startup(v: str) -> str | None:
    parts = [p for p in v.split(",") if p.strip()]
    if parts and all(_STARTUP.match(p) for p in parts):
        return None
    return "unable to parse startup options"


def _mp_string(v: str) -> str | None:
    if re.search(r"(^|/)\.\.(/|$)", v):
        return f"{v} contains illegal character sequences"
    return None


def _dev_string(v: str) -> str | None:
    return None if v.startswith("/dev/") else f"'{v}' is not a device path"


def _storage_content(v: str) -> str | None:
    return None if v in STORAGE_CONTENT_TYPES else f"invalid content type '{v}'"


_IFACE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{1,20}([:.]\d+)?$")
_FABRIC_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,6}[a-zA-Z0-9]?$")
_BGP_RT = re.compile(r"^\d+:\d+$")
_VLAN_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def _ip(v: str) -> str | None:
    try:
        ipaddress.ip_address(v)
    except ValueError:
        return "value does not look like a valid IP address"
    return None


def _ipv4mask(v: str) -> str | None:
    try:
        mask = ipaddress.IPv4Address(v)
        ipaddress.IPv4Network(f"0.0.0.0/{mask}")
    except ValueError:
        return "value does not look like a valid IP netmask"
    return None


def _sdn_subnet_id(v: str) -> str | None:
    """A subnet as CIDR (``10.0.0.0/24``) or as its id (``zone-10.0.0.0-24``)."""
    if "/" in v:
        cidr = v
    else:
        parts = v.split("-")
        cidr = f"{parts[1]}/{parts[2]}" if len(parts) == 3 else ""
    if is_cidr(cidr, 4) or is_cidr(cidr, 6):
        return None
    return "value does not look like a valid CIDR network"


def _vlan_range(v: str) -> str | None:
    m = _VLAN_RANGE.match(v)
    if m and all(1 <= int(x) <= 4094 for x in m.groups() if x):
        return None
    return f"invalid vlan id or range '{v}'"


FORMATS: dict[str, Checker] = {
    "pve-iface": _regex(_IFACE, "invalid network interface name '{v}'"),
    "pve-sdn-fabric-id": _regex(_FABRIC_ID, "invalid fabric id '{v}'"),
    "pve-sdn-bgp-rt": _regex(_BGP_RT, "invalid route target '{v}'"),
    "pve-sdn-subnet-id": _sdn_subnet_id,
    "pve-vlan-id-or-range": _vlan_range,
    "ip": _ip,
    "ipv4mask": _ipv4mask,
    "pve-node": _regex(_NODE, "value does not look like a valid node name"),
    "pve-vmid": _regex(_VMID, "value does not look like a valid VM ID"),
    "pve-configid": _regex(_CONFIGID, "invalid configuration ID '{v}'"),
    "pve-storage-id": _regex(_STORAGE_ID, "storage ID '{v}' contains illegal characters"),
    "pve-volume-id": _regex(_VOLUME_ID, "unable to parse volume ID '{v}'"),
    "pve-poolid": _regex(_POOL, "invalid pool ID '{v}'"),
    "pve-realm": _regex(_REALM, "value '{v}' does not look like a valid realm"),
    "pve-priv": _regex(_PRIV, "invalid privilege name '{v}'"),
    "pve-tag": _regex(_TAG, "invalid tag '{v}'"),
    "pve-task-status-type": _regex(_TASK_STATUS, "invalid task status '{v}'"),
    "pve-ct-timezone": _regex(_TIMEZONE, "invalid time zone '{v}'"),
    "pve-storage-content": _storage_content,
    # backups (pvesim.api.backup): schedules and retention are checked by their own modules
    "pve-calendar-event": lambda v: _calendar_event(v),
    "prune-backups": lambda v: _prune_backups(v),
    "pve-day-of-week": lambda v: None if v in _DAYS else f"invalid day of week '{v}'",
    "email-or-username": lambda v: None if _EMAIL_OR_USER.match(v) else "invalid email or user",
    "backup-fleecing": lambda v: _property_string(v),
    "backup-performance": lambda v: _property_string(v),
    "dns-name": _regex(_DNS_NAME, "value does not look like a valid DNS name"),
    "mac-addr": _regex(_MAC, "value does not look like a valid unicast MAC address"),
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "CIDRv4": _cidrv4,
    "CIDRv6": _cidrv6,
    "pve-ipv4-config": _ipv4_config,
    "pve-ipv6-config": _ipv6_config,
    "lxc-ip-with-ll-iface": _ip_with_ll_iface,
    "disk-size": _disk_size,
    "pve-startup-order": _startup,
    "pve-lxc-mp-string": _mp_string,
    "pve-lxc-dev-string": _dev_string,
}
FORMATS.update(FIREWALL_FORMATS)  # pve-firewall's own (src/PVE/Firewall.pm)


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EMAIL_OR_USER = re.compile(r"^[\w+\-~.@]+$")


def _calendar_event(v: str) -> str | None:
    from .calendar import check_format  # local: keeps this module free of heavier imports

    return check_format(v)


def _prune_backups(v: str) -> str | None:
    from .prune import PruneError, parse_prune

    try:
        parse_prune(v)
    except PruneError as err:
        return str(err)
    return None


def _property_string(v: str) -> str | None:
    """``key=value`` lists whose keys pvesim does not interpret (vzdump tuning options)."""
    ok = all("=" in part for part in v.split(",") if part)
    return None if ok else "value without key, but schema does not define a default key"


def lookup(name: str) -> Checker | None:
    """The checker of a named format, handling PVE's ``-list``/``-alist``/``-opt`` suffixes."""
    if name in FORMATS:
        return FORMATS[name]
    m = re.match(r"^(.*)-a?list$", name)
    if m and m.group(1) in FORMATS:
        item = FORMATS[m.group(1)]

        def check_list(v: str) -> str | None:
            for part in split_list(v):
                if err := item(part):
                    return err
            return None

        return check_list
    m = re.match(r"^(.*)-opt$", name)
    if m and m.group(1) in FORMATS:
        base = FORMATS[m.group(1)]
        return lambda v: None if v == "" else base(v)
    return None
