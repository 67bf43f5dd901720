"""Parsers of the networking commands (/bridge_add, /natnet_add, /net_set, /netcheck, ...).

Pure, like bot.parsing, whose primitives they reuse. Names follow what PVE accepts: a Linux bridge
is ``vmbr`` + digits (PVE's GUI and ifupdown2 only treat such names as bridges), an SDN id
(zone, VNet) is 2-8 letters and digits starting with a letter (``[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]``
in the API schema).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from bot.parsing import (
    USAGE,
    UsageError,
    _no_options,
    _Option,
    _parse_options,
    _positionals,
    _reported,
    _short,
    _tokenize,
    parse_bridge,
    parse_cidr,
    parse_ct_ref,
    parse_ip,
    parse_node,
)

_VMBR = re.compile(r"vmbr[0-9]{1,4}")
_SDN_ID = re.compile(r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]")
_NIC_KEY = re.compile(r"net([0-9]{1,2})")
_PORT = re.compile(r"[a-zA-Z][a-zA-Z0-9_]{1,20}([:.][0-9]+)?")  # PVE's pve-iface
_COMMENT_MAX = 200
_ENDPOINT = re.compile(r"(pc|host|host:[A-Za-z0-9-]{1,63})", re.I)

VMBR_USAGE = "a Linux bridge name: vmbr followed by 1-4 digits, e.g. vmbr1"
SDN_USAGE = "an SDN VNet id: 2-8 letters and digits, starting with a letter, e.g. natnet"
POOL_USAGE = "an address range FIRST-LAST inside the network, e.g. 10.10.20.10-10.10.20.200"
NETWORK_USAGE = "an IPv4 network with prefix length, e.g. 10.10.30.0/24"
NIC_USAGE = "a NIC of the container: net0 to net31"


def parse_vmbr(text: str) -> str:
    name = text.strip()
    if _VMBR.fullmatch(name):
        return name
    raise UsageError(f"{_short(text)} is not a valid bridge name: PVE wants vmbr plus digits "
                     "(vmbr0-vmbr9999)", VMBR_USAGE)


def parse_sdn_id(text: str) -> str:
    name = text.strip()
    if 2 <= len(name) <= 8 and name.isascii() and _SDN_ID.fullmatch(name):
        return name
    raise UsageError(f"{_short(text)} is not a valid SDN VNet id: 2-8 letters and digits, "
                     "starting with a letter (PVE's rule)", SDN_USAGE)


def parse_network(text: str) -> ipaddress.IPv4Network:
    """A network: ``10.10.30.0/24`` (host bits are refused, to catch typos)."""
    raw = text.strip()
    if "/" not in raw:
        raise UsageError(f"{_short(text)} has no prefix length (e.g. /24)", NETWORK_USAGE)
    try:
        net = ipaddress.IPv4Network(raw, strict=False)
    except ValueError:
        raise UsageError(f"{_short(text)} is not an IPv4 network", NETWORK_USAGE) from None
    if not 8 <= net.prefixlen <= 30:
        raise UsageError(f"{_short(text)}: the prefix length must be from 8 to 30", NETWORK_USAGE)
    return net


@dataclass(frozen=True)
class Pool:
    first: str
    last: str

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


def parse_pool(text: str) -> Pool:
    first, dash, last = text.strip().partition("-")
    if not dash:
        raise UsageError(f"{_short(text)} is not a range FIRST-LAST", POOL_USAGE)
    a = _reported(POOL_USAGE, parse_ip, first)
    b = _reported(POOL_USAGE, parse_ip, last)
    if ipaddress.IPv4Address(a) > ipaddress.IPv4Address(b):
        raise UsageError(f"the range {a}-{b} ends before it starts", POOL_USAGE)
    return Pool(a, b)


def check_pool_inside(pool: Pool, net: ipaddress.IPv4Network, usage: str) -> None:
    for ip in (pool.first, pool.last):
        address = ipaddress.IPv4Address(ip)
        if address not in net or address in (net.network_address, net.broadcast_address):
            raise UsageError(f"--pool {pool}: {ip} is not a host address of {net}", usage)


def parse_port(text: str) -> str:
    if _PORT.fullmatch(text.strip()):
        return text.strip()
    raise UsageError(f"{_short(text)} is not an interface name (e.g. eth1, enp0s8)",
                     "an interface name such as enp0s8")


def _comment(text: str) -> str:
    if len(text) > _COMMENT_MAX or any(c in text for c in "\n\r\0"):
        raise UsageError(f"the comment must be one line of at most {_COMMENT_MAX} characters",
                         "a short comment in quotes")
    return text


@dataclass(frozen=True)
class BridgeAddArgs:
    name: str
    cidr: str  # the node's address on the bridge, "10.10.20.1/24"
    node: str | None = None
    ports: tuple[str, ...] = ()
    comment: str | None = None
    pool: Pool | None = None


def parse_bridge_add(args: str) -> BridgeAddArgs:
    usage = USAGE["bridge_add"]
    tokens = _tokenize(args, usage)
    positionals, opts = _parse_options(tokens, [
        _Option("node", parse_node), _Option("ports", lambda t: tuple(
            parse_port(p) for p in t.replace(",", " ").split())),
        _Option("comment", _comment), _Option("pool", parse_pool)], usage)
    name, cidr = _positionals(positionals, ["the bridge name", "its address (CIDR)"], 2, usage)
    name = _reported(usage, parse_vmbr, name)
    cidr = _reported(usage, parse_cidr, cidr)
    pool = opts.get("pool")
    if pool:
        check_pool_inside(pool, ipaddress.IPv4Interface(cidr).network, usage)
    return BridgeAddArgs(name, cidr, opts.get("node"), opts.get("ports", ()),
                         opts.get("comment"), pool)


@dataclass(frozen=True)
class BridgeDelArgs:
    name: str
    node: str | None = None


def parse_bridge_del(args: str) -> BridgeDelArgs:
    usage = USAGE["bridge_del"]
    positionals, opts = _parse_options(_tokenize(args, usage), [_Option("node", parse_node)],
                                       usage)
    (name,) = _positionals(positionals, ["the bridge name"], 1, usage)
    return BridgeDelArgs(_reported(usage, parse_vmbr, name), opts.get("node"))


@dataclass(frozen=True)
class NatNetArgs:
    name: str
    network: ipaddress.IPv4Network
    gateway: str
    pool: Pool | None = None


def parse_natnet_add(args: str) -> NatNetArgs:
    usage = USAGE["natnet_add"]
    positionals, opts = _parse_options(_tokenize(args, usage), [
        _Option("gateway", parse_ip), _Option("pool", parse_pool)], usage)
    name, cidr = _positionals(positionals, ["the network name", "its network (CIDR)"], 2, usage)
    name = _reported(usage, parse_sdn_id, name)
    if _VMBR.fullmatch(name):
        raise UsageError(f"{name} is a Linux bridge name; a NAT network needs another name "
                         "(e.g. natnet)", usage)
    net = _reported(usage, parse_network, cidr)
    gateway = opts.get("gateway") or str(next(net.hosts()))
    gw = ipaddress.IPv4Address(gateway)
    if gw not in net or gw in (net.network_address, net.broadcast_address):
        raise UsageError(f"--gateway {gateway} is not a host address of {net}", usage)
    pool = opts.get("pool")
    if pool:
        check_pool_inside(pool, net, usage)
    return NatNetArgs(name, net, gateway, pool)


@dataclass(frozen=True)
class NetSetArgs:
    ref: int | str
    key: str  # net0
    bridge: str | None = None
    ip: str | None = None
    gw: str | None = None
    dhcp: bool = False

    @property
    def empty(self) -> bool:
        return not (self.bridge or self.ip or self.gw or self.dhcp)


def parse_nic_key(text: str) -> str:
    m = _NIC_KEY.fullmatch(text.strip().lower())
    if m and int(m.group(1)) < 32:
        return f"net{int(m.group(1))}"
    raise UsageError(f"{_short(text)} is not a NIC name (net0 to net31)", NIC_USAGE)


NO_GATEWAY = "none"  # --gw none: take the default gateway off this NIC


def _gateway(text: str) -> str:
    return NO_GATEWAY if text.strip().lower() == NO_GATEWAY else parse_ip(text)


def parse_net_set(args: str) -> NetSetArgs:
    usage = USAGE["net_set"]
    positionals, opts = _parse_options(_tokenize(args, usage), [
        _Option("bridge", parse_bridge), _Option("ip", parse_cidr), _Option("gw", _gateway),
        _Option("dhcp", None)], usage)
    ref, key = _positionals(positionals, ["the container", "the NIC (net0)"], 2, usage)
    ip, gw, dhcp = opts.get("ip"), opts.get("gw"), opts.get("dhcp", False)
    if ip and dhcp:
        raise UsageError("--ip and --dhcp exclude each other: choose one", usage)
    if gw and dhcp:
        raise UsageError("--gw and --dhcp exclude each other (DHCP brings the gateway)", usage)
    if ip and gw and gw != NO_GATEWAY:
        iface = ipaddress.IPv4Interface(ip)
        if ipaddress.IPv4Address(gw) not in iface.network or gw == str(iface.ip):
            raise UsageError(f"--gw {gw} is not another address of {iface.network}", usage)
    out = NetSetArgs(_reported(usage, parse_ct_ref, ref), _reported(usage, parse_nic_key, key),
                     opts.get("bridge"), ip, gw, dhcp)
    if out.empty:
        raise UsageError("nothing to change: give --bridge, --ip, --gw or --dhcp", usage)
    return out


def parse_net_del(args: str) -> tuple[int | str, str]:
    usage = USAGE["net_del"]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    ref, key = _positionals(tokens, ["the container", "the NIC (e.g. net1)"], 2, usage)
    return _reported(usage, parse_ct_ref, ref), _reported(usage, parse_nic_key, key)


def parse_net(args: str) -> int | str:
    usage = USAGE["net"]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    (ref,) = _positionals(tokens, ["the container"], 1, usage)
    return _reported(usage, parse_ct_ref, ref)


def parse_endpoint(text: str) -> int | str:
    """A /netcheck endpoint: pc, host, host:<node>, a vmid or a hostname."""
    raw = text.strip()
    if _ENDPOINT.fullmatch(raw):
        return raw.lower() if raw.lower() in ("pc", "host") else "host:" + raw.split(":", 1)[1]
    return parse_ct_ref(raw)


def parse_netcheck(args: str) -> tuple[int | str, int | str]:
    usage = USAGE["netcheck"]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    a, b = _positionals(tokens, ["the first endpoint", "the second endpoint"], 2, usage)
    return _reported(usage, parse_endpoint, a), _reported(usage, parse_endpoint, b)


def parse_node_arg(args: str, command: str) -> str | None:
    usage = USAGE[command]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    values = _positionals(tokens, ["the node"], 0, usage)
    return _reported(usage, parse_node, values[0]) if values else None


def parse_no_args(args: str, command: str) -> None:
    usage = USAGE[command]
    tokens = _tokenize(args, usage)
    _positionals(tokens, [], 0, usage)


# --- settings values (comma-separated lists in the environment or the config file) --------------

def _items(text: str) -> list[str]:
    return [item.strip() for item in re.split(r"[,\s]+", text.strip()) if item.strip()]


def parse_pools_setting(text: str) -> tuple[tuple[str, str, str], ...]:
    """``vmbr1=10.10.20.10-10.10.20.200, natnet=10.10.30.10-10.10.30.50``."""
    usage = "NETWORK=FIRST-LAST, ... e.g. vmbr1=10.10.20.10-10.10.20.200"
    out = []
    for item in _items(text):
        name, eq, rng = item.partition("=")
        if not eq:
            raise UsageError(f"{_short(item)} is not NETWORK=FIRST-LAST", usage)
        pool = _reported(usage, parse_pool, rng)
        out.append((_reported(usage, parse_bridge, name), pool.first, pool.last))
    return tuple(out)


def parse_nodes_setting(text: str) -> frozenset[str]:
    return frozenset(_reported("node names, e.g. pve1,pve2", parse_node, n) for n in _items(text))


def parse_node_bridges_setting(text: str, parts: int) -> tuple[tuple[str, ...], ...]:
    """``pve1:vmbr0`` (parts=2) or ``pve1:vmbr1:vmbr0`` (parts=3), comma-separated."""
    usage = "NODE:BRIDGE, e.g. pve1:vmbr0" if parts == 2 else \
        "NODE:INNER:OUT, e.g. pve1:vmbr1:vmbr0 (vmbr1 masqueraded out of vmbr0)"
    out = []
    for item in _items(text):
        fields = item.split(":")
        if len(fields) != parts:
            raise UsageError(f"{_short(item)} is not {usage.split(',')[0]}", usage)
        out.append((_reported(usage, parse_node, fields[0]),
                    *(_reported(usage, parse_bridge, f) for f in fields[1:])))
    return tuple(out)


_FORWARD = re.compile(r"([A-Za-z0-9-]+):([0-9]{1,5})->(?:([0-9.]+):)?([0-9]{1,5})(?:/(tcp|udp))?")


def parse_port_forwards_setting(text: str) -> tuple[tuple[str, int, int, str | None, str], ...]:
    """``pve1:8006->8006, pve1:2201->10.10.20.5:22/tcp``: PC port -> (guest IP and) port."""
    usage = "NODE:PCPORT->[IP:]PORT[/tcp|udp], e.g. pve1:2222->22"
    out = []
    for item in _items(text):
        m = _FORWARD.fullmatch(item)
        if not m or not all(1 <= int(p) <= 65535 for p in (m.group(2), m.group(4))):
            raise UsageError(f"{_short(item)} is not a port forward", usage)
        ip = _reported(usage, parse_ip, m.group(3)) if m.group(3) else None
        out.append((m.group(1), int(m.group(2)), int(m.group(4)), ip, m.group(5) or "tcp"))
    return tuple(out)
