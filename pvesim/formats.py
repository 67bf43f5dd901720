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
_POOL = re.compile(r"^[A-Za-z0-9.\-_]+(?:/[A-Za-z0-9.\-_]+){0,2}$")
_REALM = re.compile(r"^[A-Za-z][A-Za-z0-9.\-_]+$")
_SIZE = re.compile(r"^(\d+(\.\d+)?)(([KMGT])(?:iB)?)?$")
_STARTUP = re.compile(r"^((order=)?\d+|up=\d+|down=\d+)$")
_TASK_STATUS = re.compile(r"^(ok|error|warning|unknown)$", re.I)
# pve-storage PVE::Storage::Plugin::verify_content: the content types of a 'dir' storage
# (DirPlugin's plugindata, 'none' included) and 'import'.
STORAGE_CONTENT_TYPES = ("images", "rootdir", "vztmpl", "iso", "backup", "snippets", "none",
                         "import")


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
    # PVE's IPV6RE (pve-common PVE::ParseUtils) has no zone index ("fe80::1%eth0"), which
    # Python's parser accepts.
    try:
        ipaddress.IPv6Address(v)
    except ValueError:
        return "value does not look like a valid IPv6 address"
    return None if "%" not in v else "value does not look like a valid IPv6 address"


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
    """pve-container PVE::LXC::Config::verify_ip_with_ll_iface: ``fe80:...%<iface>`` with a
    valid interface name, else a plain IP address."""
    m = re.match(r"^(fe80:[^%]+)%(.*)$", v, re.S)
    if m and _ip(m.group(1)) is None and _IFACE.match(m.group(2)):
        return None
    return _ip(v)


def _disk_size(v: str) -> str | None:
    return None if _SIZE.match(v) else f"value does not look like a valid disk size: {v}"


def parse_size(v: str) -> int:
    """PVE's parse_size (pve-common PVE::JSONSchema): ``8G``/``8GiB`` -> bytes."""
    m = _SIZE.match(v)
    assert m, v
    factor = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(m.group(4) or "", 1)
    return int(float(m.group(1)) * factor)


def _startup(v: str) -> str | None:
    """PVE::JSONSchema::pve_parse_startup_order: Perl's truth first ("" and "0" are false),
    then each comma-separated part that is not blank."""
    parts = [p for p in v.split(",") if p.strip()]
    if v not in ("", "0") and all(_STARTUP.match(p) for p in parts):
        return None
    return "unable to parse startup options"


def _mp_string(v: str) -> str | None:
    """PVE::LXC::Config::verify_lxc_mp_string: no ``/./`` or ``/../``, no ``/.`` or ``/..`` at
    the end, no ``../`` at the start."""
    if re.search(r"/\.\.?/", v) or re.search(r"/\.\.?$", v) or v.startswith("../"):
        return f"{v} contains illegal character sequences"
    return None


def _dev_string(v: str) -> str | None:
    """PVE::LXC::Config::verify_lxc_dev_string: under /dev/, without ``/.`` or ``/..`` parts."""
    if re.search(r"/\.\.?(?:/|$)", v) or not v.startswith("/dev/"):
        return f"{v} is not a valid device path"
    return None


def _pool(v: str) -> str | None:
    """pve-access-control PVE::AccessControl::verify_poolname."""
    if len([p for p in v.split("/")]) > 3:
        return f"pool name '{v}' nested too deeply (max levels = 3)"
    return None if _POOL.match(v) else f"pool name '{v}' contains invalid characters"


def _storage_id(v: str) -> str | None:
    """pve-common PVE::JSONSchema::parse_id."""
    if len(v) < 2:
        return f"storage ID '{v}' cannot be shorter than 2 characters"
    return None if _STORAGE_ID.match(v) else f"storage ID '{v}' contains illegal characters"


def _storage_pair(v: str) -> str | None:
    """pve-common PVE::JSONSchema::verify_storagepair -> parse_idmap of one entry: '1', a
    storage id (the default target), or 'source:target'."""
    if v == "1":
        return None
    source, colon, target = v.partition(":")
    if colon and (":" in target or not source or not target):
        return f"entry '{v}' contains invalid ID - unable to parse '{v}'"
    for sid in (source, target) if colon else (v,):
        if (err := _storage_id(sid)) is not None:
            return f"entry '{v}' contains invalid ID - {err}"
    return None


def _ct_timezone(v: str) -> str | None:
    """PVE::LXC::Config::verify_ct_timezone: 'host', else PVE::JSONSchema::pve_verify_timezone
    ('UTC' or a zone of zone.tab)."""
    from .zone_tab import ZONE_TAB  # local: 400 names read only when a time zone is checked

    return None if v in ("host", "UTC") or v in ZONE_TAB else f"invalid time zone '{v}'"


def _privilege(v: str) -> str | None:
    """PVE::AccessControl::verify_privname: a privilege PVE knows."""
    from .privileges import ALL_PRIVILEGES

    return None if v in ALL_PRIVILEGES else f"invalid privilege '{v}'"


def _storage_content(v: str) -> str | None:
    return None if v in STORAGE_CONTENT_TYPES else f"invalid content type '{v}'"


_IFACE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{1,20}([:.]\d+)?$")
_FABRIC_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,6}[a-zA-Z0-9]?$")
_BGP_RT = re.compile(r"^\d+:\d+$")
_VLAN_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def _ip(v: str) -> str | None:
    return None if _ipv4(v) is None or _ipv6(v) is None else \
        "value does not look like a valid IP address"


def _ipv4mask(v: str) -> str | None:
    try:
        mask = ipaddress.IPv4Address(v)
        ipaddress.IPv4Network(f"0.0.0.0/{mask}")
    except ValueError:
        return "value does not look like a valid IP netmask"
    return None


def _sdn_subnet_id(v: str) -> str | None:
    """A subnet as CIDR (``10.0.0.0/24``) or as its id (``zone-10.0.0.0-24``): pve-network
    PVE::Network::SDN::SubnetPlugin::parse_sdn_subnet_id (Perl's split keeps the first three
    parts that matter; missing ones are empty)."""
    if "/" in v:
        cidr = v
    else:
        parts = v.split("-") + ["", ""]
        cidr = f"{parts[1]}/{parts[2]}"
    if is_cidr(cidr, 4) or is_cidr(cidr, 6):
        return None
    return "value does not look like a valid CIDR network"


def _vlan_range(v: str) -> str | None:
    """pve-common PVE::JSONSchema::pve_verify_vlan_id_or_range: tags 2..4094, a range upward
    (an end of 0 is Perl-false: no range)."""
    m = _VLAN_RANGE.match(v)
    if not m:
        return f"invalid VLAN configuration '{v}'"
    start, end = int(m.group(1)), int(m.group(2) or 0)
    for tag in (start, end) if end else (start,):
        if not 2 <= tag <= 4094:
            return f"invalid VLAN tag '{tag}'"
    if end and start >= end:
        return f"VLAN range must go from lower to higher tag '{v}'"
    return None


def _bgp_rt(v: str) -> str | None:
    """pve-network PVE::Network::SDN::Zones::EvpnPlugin::pve_verify_sdn_bgp_rt."""
    m = _BGP_RT.match(v)
    if m and all(int(x) <= 4294967295 for x in v.split(":")):
        return None
    return "value does not look like a valid bgp route-target"


FORMATS: dict[str, Checker] = {
    "pve-iface": _regex(_IFACE, "invalid network interface name '{v}'"),
    "pve-sdn-fabric-id": _regex(_FABRIC_ID, "Fabric ID '{v}' contains illegal characters"),
    "pve-sdn-bgp-rt": _bgp_rt,
    "pve-sdn-subnet-id": _sdn_subnet_id,
    "pve-vlan-id-or-range": _vlan_range,
    "ip": _ip,
    "ipv4mask": _ipv4mask,
    "pve-node": _regex(_NODE, "value does not look like a valid node name"),
    "pve-vmid": _regex(_VMID, "value does not look like a valid VM ID"),
    "pve-configid": _regex(_CONFIGID, "invalid configuration ID '{v}'"),
    "pve-storage-id": _storage_id,
    "storage-pair": _storage_pair,
    "pve-volume-id": _regex(_VOLUME_ID, "unable to parse volume ID '{v}'"),
    "pve-poolid": _pool,
    "pve-realm": _regex(_REALM, "value does not look like a valid realm"),
    "pve-priv": _privilege,
    "pve-tag": _regex(_TAG, "invalid characters in tag"),
    "pve-task-status-type": _regex(_TASK_STATUS, "invalid status '{v}'"),
    "pve-ct-timezone": _ct_timezone,
    "pve-storage-content": _storage_content,
    # backups (pvesim.api.backup): schedules and retention are checked by their own modules
    "pve-calendar-event": lambda v: _calendar_event(v),
    "prune-backups": lambda v: _prune_backups(v),
    "pve-day-of-week": lambda v: None if v in _DAYS else f"invalid day '{v}'",
    "email-or-username": lambda v: None if _EMAIL.match(v) or _EMAIL_USER.match(v) else
    "value does not look like a valid email address or user name",
    "backup-fleecing": lambda v: _fleecing(v),
    "backup-performance": lambda v: _performance(v),
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
# pve-common PVE::ParseUtils: $EMAIL_USER_RE and $EMAIL_RE (Perl's \w: ASCII here)
_EMAIL_USER_TEXT = r"[A-Za-z0-9_+\-~]+(\.[A-Za-z0-9_+\-~]+)*"
_EMAIL_USER = re.compile(rf"^{_EMAIL_USER_TEXT}$")
_EMAIL = re.compile(rf"^{_EMAIL_USER_TEXT}@[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+)*$")


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


def _keyed(v: str, keys: dict[str, Checker], default_key: str | None) -> dict[str, str] | str:
    """A small ``key=value,...`` property string (PVE::JSONSchema::parse_property_string):
    the values by key, or the error text."""
    out: dict[str, str] = {}
    for part in v.split(","):
        if not part.strip():
            continue
        key, eq, value = part.partition("=")
        if not eq:
            if default_key is None:
                return "value without key, but schema does not define a default key"
            key, value = default_key, part
        if key not in keys:
            return f"invalid key in comma-separated list property: {key}"
        if key in out:
            return f"duplicate key in comma-separated list property: {key}"
        if (err := keys[key](value)) is not None:
            return f"{key}: {err}"
        out[key] = value
    return out


def _flag(v: str) -> str | None:
    return None if v.lower() in ("1", "on", "yes", "true", "0", "off", "no", "false") else \
        f"type check ('boolean') failed - got '{v}'"


def _integer_in(low: int, high: int | None) -> Checker:
    def check(v: str) -> str | None:
        if not re.match(r"^[+-]?\d+$", v):
            return f"type check ('integer') failed - got '{v}'"
        if int(v) < low:
            return f"value must have a minimum value of {low}"
        if high is not None and int(v) > high:
            return f"value must have a maximum value of {high}"
        return None

    return check


def _fleecing(v: str) -> str | None:
    """pve-guest-common PVE::VZDump::Common 'backup-fleecing' and verify_backup_fleecing."""
    parsed = _keyed(v, {"enabled": _flag, "storage": _storage_id}, "enabled")
    if isinstance(parsed, str):
        return parsed
    if parsed.get("enabled", "0").lower() in ("1", "on", "yes", "true") and "storage" not in parsed:
        return "'storage' parameter is required when 'enabled' is set"
    return None


def _performance(v: str) -> str | None:
    """pve-guest-common PVE::VZDump::Common 'backup-performance'."""
    parsed = _keyed(v, {"max-workers": _integer_in(1, 256),
                        "pbs-entries-max": _integer_in(1, None)}, None)
    return parsed if isinstance(parsed, str) else None


def lookup(name: str) -> Checker | None:
    """The checker of a named format, handling PVE's ``-list``/``-opt`` suffixes
    (PVE::JSONSchema::check_format)."""
    if name in FORMATS:
        return FORMATS[name]
    m = re.match(r"^(.*)-list$", name)
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
