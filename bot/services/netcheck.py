"""The connectivity doctor's reasoning: can endpoint A reach endpoint B, and if not, what is missing.

Pure: it reads a snapshot of what the Proxmox API shows (bridges, SDN VNets, guests and their NICs)
plus a few facts declared for what the API cannot show (IP forwarding, masquerading done in `post-up`
lines, which bridge leads to the PC, the NAT's port forwards: bot/services/netfacts.py, /netfacts),
and answers with the path a packet takes or with each missing piece and the command that fixes it. No I/O, no Telegram, no proxmox imports: the
caller fills the dataclasses below from PVE's answers.

"Reach" means a conversation: A's packets get to B and B's answers get back to A. NAT makes the
direction matter (a guest behind NAT reaches the PC; the PC reaches it only through port forwards).

Each rule is one small function; they read like a network engineer's checklist:
the guest runs and has an address, its bridge exists and is applied, same bridge and subnet is
direct (L2), otherwise the gateway must be set, inside the subnet and be the node's address on
that bridge, the node must forward, and leaving the node needs an uplink or NAT.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

__all__ = [
    "Bridge",
    "VNet",
    "Nic",
    "Guest",
    "PortForward",
    "Facts",
    "NetworkSnapshot",
    "Problem",
    "Verdict",
    "check",
]

# Zone types whose VNet is one L2 segment across nodes; a "simple" zone is local to each node.
_SPANNING_ZONES = frozenset({"vlan", "qinq", "vxlan", "evpn"})


# --------------------------------------------------------------------------------------------------
# Inputs: what the API shows, and what settings declare


@dataclass(frozen=True)
class Bridge:
    """A Linux bridge of a node (`GET /nodes/{node}/network`, type=bridge)."""

    node: str
    name: str
    cidr: str | None = None  # the node's address on this bridge, e.g. "10.10.10.1/24"
    ports: tuple[str, ...] = ()  # bridge_ports: physical uplinks, e.g. ("eth0",)
    autostart: bool = True
    pending: bool = False  # staged in interfaces.new, not applied yet
    gateway: str | None = None  # the node's default gateway, when it is on this bridge


@dataclass(frozen=True)
class VNet:
    """An SDN VNet with its (first) subnet (`/cluster/sdn/vnets`, `.../subnets`, `/zones`)."""

    name: str
    zone: str
    zone_type: str = "simple"
    subnet: str | None = None  # e.g. "10.20.0.0/24"
    gateway: str | None = None  # e.g. "10.20.0.1": SDN puts it on the VNet's bridge on each node
    snat: bool = False
    applied: bool = True  # False while `PUT /cluster/sdn` has not run since the last change
    dhcp: bool = False  # the zone runs DHCP (dhcp=dnsmasq) and the subnet has a dhcp-range
    nodes: frozenset[str] | None = None  # the zone's nodes; None = every node


@dataclass(frozen=True)
class Nic:
    """A guest's network device (`net0: name=eth0,bridge=vmbr1,ip=10.10.20.5/24,gw=...`)."""

    bridge: str
    ip: str | None = None  # CIDR, e.g. "10.10.20.5/24"; None when unset or DHCP
    gw: str | None = None
    dhcp: bool = False  # ip=dhcp
    link_up: bool = True  # False when link_down=1
    name: str = "net0"
    tag: int | None = None  # VLAN tag


@dataclass(frozen=True)
class Guest:
    vmid: int
    hostname: str
    node: str
    running: bool
    nics: tuple[Nic, ...] = ()


@dataclass(frozen=True)
class PortForward:
    """A port of the PC that leads into the lab (VirtualBox `--natpf1`, plus a DNAT on the node when
    the target is a guest behind it). `target_ip` None means the node itself (natpf with no guest IP).
    """

    node: str
    pc_port: int
    target_port: int
    target_ip: str | None = None
    proto: str = "tcp"
    name: str = ""


@dataclass(frozen=True)
class Facts:
    """What the API cannot show: the settings' values, or an admin's (/netfacts,
    bot/services/netfacts.py, which names each field the same way everywhere)."""

    forwarding_nodes: frozenset[str] = frozenset()  # nodes with net.ipv4.ip_forward=1
    # (node, inner bridge, out bridge): "the node forwards and masquerades vmbr1 out of vmbr0"
    masquerade: tuple[tuple[str, str, str], ...] = ()
    # (node, bridge): the bridge whose uplink leads to the PC (e.g. vmbr0 on VirtualBox's NAT NIC)
    pc_reachable_via: tuple[tuple[str, str], ...] = ()
    nat_port_forwards: tuple[PortForward, ...] = ()
    # (node, bridge): a DHCP server outside the API's sight serves this bridge
    dhcp_bridges: tuple[tuple[str, str], ...] = ()
    vbox_vm: str = "pve"  # the VirtualBox VM's name, for the VBoxManage commands we suggest


@dataclass(frozen=True)
class NetworkSnapshot:
    bridges: tuple[Bridge, ...] = ()
    vnets: tuple[VNet, ...] = ()
    guests: tuple[Guest, ...] = ()
    # vmids of guests the asker may not see (another tenant's): the verdict may say that an
    # address clashes with one of them, never which one it is.
    hidden: frozenset[int] = frozenset()

    @property
    def nodes(self) -> list[str]:
        return sorted({b.node for b in self.bridges} | {g.node for g in self.guests})

    def bridge(self, node: str, name: str) -> Bridge | None:
        return next((b for b in self.bridges if b.node == node and b.name == name), None)

    def vnet(self, name: str) -> VNet | None:
        return next((v for v in self.vnets if v.name == name), None)


# --------------------------------------------------------------------------------------------------
# Outputs


@dataclass(frozen=True)
class Problem:
    what: str  # the missing piece, e.g. "C2 (vmid 102) has no default gateway"
    fix: str  # what to do, e.g. "set it with /net_set 102 net0 --gw 10.10.20.1"

    def __str__(self) -> str:
        return f"{self.what}: {self.fix}"


@dataclass
class Verdict:
    reachable: bool
    path: list[str] = field(default_factory=list)  # human steps, in order
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # true but not blocking (e.g. autostart off)

    def text(self) -> str:
        head = "reachable" if self.reachable else "NOT reachable"
        lines = [head, *(f"  {s}" for s in self.path), *(f"  ✗ {p}" for p in self.problems)]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Internal views: a segment (bridge or VNet on a node) and a guest's usable attachment to one


@dataclass(frozen=True)
class _Segment:
    node: str
    name: str
    bridge: Bridge | None = None
    vnet: VNet | None = None

    @property
    def host_if(self) -> IPv4Interface | None:
        """The node's own address on this segment."""
        if self.bridge is not None:
            return _iface(self.bridge.cidr)
        if self.vnet is not None and self.vnet.gateway and self.vnet.subnet:
            net = _net(self.vnet.subnet)
            gw = _addr(self.vnet.gateway)
            if net and gw:
                return IPv4Interface(f"{gw}/{net.prefixlen}")
        return None

    @property
    def host_ip(self) -> IPv4Address | None:
        return self.host_if.ip if self.host_if else None

    @property
    def network(self) -> IPv4Network | None:
        if self.vnet is not None:
            return _net(self.vnet.subnet)
        return self.host_if.network if self.host_if else None

    @property
    def uplink_gateway(self) -> IPv4Address | None:
        """The router beyond the node on this bridge (the node's default gateway), if here."""
        return _addr(self.bridge.gateway) if self.bridge and self.bridge.gateway else None

    @property
    def label(self) -> str:
        kind = "VNet " if self.vnet is not None else ""
        return f"{kind}{self.name} on {self.node}"


@dataclass(frozen=True)
class _Port:
    guest: Guest
    nic: Nic
    seg: _Segment
    network: IPv4Network
    ip: IPv4Address | None  # None when handed out by DHCP (unknown but inside `network`)
    gw: IPv4Address | None

    @property
    def who(self) -> str:
        return _who(self.guest)

    @property
    def shown(self) -> str:
        return f"{self.ip}/{self.network.prefixlen}" if self.ip else f"DHCP in {self.network}"

    def net_set(self, **opts: object) -> str:
        args = " ".join(f"--{k} {v}" for k, v in opts.items())
        return f"/net_set {self.guest.vmid} {self.nic.name} {args}"


def _who(g: Guest) -> str:
    return f"{g.hostname} (vmid {g.vmid})"


def _iface(text: str | None) -> IPv4Interface | None:
    try:
        return IPv4Interface(text) if text else None
    except ValueError:
        return None


def _addr(text: str | None) -> IPv4Address | None:
    try:
        return IPv4Address(text.split("/")[0]) if text else None
    except ValueError:
        return None


def _net(text: str | None) -> IPv4Network | None:
    try:
        return IPv4Network(text, strict=False) if text else None
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------
# Endpoints


@dataclass(frozen=True)
class _GuestEnd:
    guest: Guest


@dataclass(frozen=True)
class _HostEnd:
    node: str


@dataclass(frozen=True)
class _PcEnd:
    pass


_End = _GuestEnd | _HostEnd | _PcEnd


def _find_guest(x: int | str, net: NetworkSnapshot) -> Guest | None:
    text = str(x).strip()
    for g in net.guests:
        if text.isdigit() and g.vmid == int(text):
            return g
    return next((g for g in net.guests if g.hostname.lower() == text.lower()), None)


def _resolve(x: int | str, other: int | str, net: NetworkSnapshot) -> _End | Problem:
    """`101`, a hostname, `pc`, `host` (the other guest's node), `host:pve2` or a node name."""
    text = str(x).strip()
    low = text.lower()
    if low == "pc":
        return _PcEnd()
    if low == "host" or low.startswith("host:"):
        node = text.split(":", 1)[1] if ":" in text else ""
        if not node:
            peer = _find_guest(other, net)
            node = peer.node if peer else (net.nodes[0] if net.nodes else "")
        if node in net.nodes:
            return _HostEnd(node)
        return Problem(f"no node named '{node}'", f"use one of: {', '.join(net.nodes) or 'none'}")
    guest = _find_guest(text, net)
    if guest is not None:
        return _GuestEnd(guest)
    if text in net.nodes:
        return _HostEnd(text)
    return Problem(
        f"'{text}' is neither a container, a node, 'host' nor 'pc'",
        "name a container by vmid or hostname, or use host, host:<node> or pc",
    )


# --------------------------------------------------------------------------------------------------
# Rules: one guest NIC on its own


def _segment(node: str, name: str, net: NetworkSnapshot) -> _Segment | None:
    bridge = net.bridge(node, name)
    if bridge is not None:
        return _Segment(node, name, bridge=bridge)
    vnet = net.vnet(name)
    if vnet is not None and (vnet.nodes is None or node in vnet.nodes):
        return _Segment(node, name, vnet=vnet)
    return None


def _segment_ready(seg: _Segment) -> list[Problem]:
    """A staged bridge or an unapplied VNet does not exist on the wire yet."""
    if seg.bridge is not None and seg.bridge.pending:
        return [
            Problem(
                f"{seg.label} has pending changes that are not applied yet",
                f"apply the pending network changes (/bridges {seg.node}, then Apply)",
            )
        ]
    if seg.vnet is not None and not seg.vnet.applied:
        return [
            Problem(
                f"VNet {seg.name} (zone {seg.vnet.zone}) is not applied yet",
                "apply the SDN configuration (PUT /cluster/sdn; GUI: Datacenter > SDN > Apply)",
            )
        ]
    return []


def _segment_notes(seg: _Segment) -> list[str]:
    if seg.bridge is not None and not seg.bridge.autostart:
        return [f"{seg.label} has autostart off: it will be down after the node reboots"]
    return []


def _provides_dhcp(seg: _Segment, facts: Facts) -> bool:
    if seg.vnet is not None:
        return seg.vnet.dhcp and seg.network is not None
    return (seg.node, seg.name) in facts.dhcp_bridges and seg.network is not None


def _advised_gw(seg: _Segment, facts: Facts) -> IPv4Address | None:
    """The gateway a guest on `seg` is best given: the PC-side router on a bridge that leads to the
    PC, otherwise the node itself (or the VNet's gateway)."""
    if (seg.node, seg.name) in facts.pc_reachable_via and seg.uplink_gateway:
        return seg.uplink_gateway
    return seg.host_ip


def _used_ips(net: NetworkSnapshot) -> set[IPv4Address]:
    used = {b_if.ip for b in net.bridges if (b_if := _iface(b.cidr))}
    used |= {a for b in net.bridges if (a := _addr(b.gateway))}
    used |= {a for v in net.vnets if (a := _addr(v.gateway))}
    used |= {i.ip for g in net.guests for n in g.nics if (i := _iface(n.ip))}
    return used


def _suggest_ip(seg: _Segment, net: NetworkSnapshot) -> str:
    """A free address of the segment's network, skipping the low ones routers and NAT engines use."""
    network = seg.network
    if network is None:
        return "<address>/<prefix>"
    used = _used_ips(net)
    hosts = list(network.hosts())
    start = 9 if len(hosts) > 40 else 0  # from .10 on
    for ip in hosts[start:] + hosts[:start]:
        if ip not in used:
            return f"{ip}/{network.prefixlen}"
    return f"<free address>/{network.prefixlen}"


def _address_fix(g: Guest, nic: Nic, seg: _Segment, net: NetworkSnapshot, facts: Facts) -> str:
    gw = _advised_gw(seg, facts)
    tail = f" --gw {gw}" if gw else ""
    return f"/net_set {g.vmid} {nic.name} --ip {_suggest_ip(seg, net)}{tail}"


def _attach(
    g: Guest, nic: Nic, net: NetworkSnapshot, facts: Facts
) -> tuple[_Port | None, list[Problem]]:
    """The NIC as a usable attachment, or the reasons it cannot carry traffic at all."""
    who = _who(g)
    seg = _segment(g.node, nic.bridge, net)
    if seg is None:
        have = (
            ", ".join(
                sorted(
                    {b.name for b in net.bridges if b.node == g.node} | {v.name for v in net.vnets}
                )
            )
            or "none"
        )
        return None, [
            Problem(
                f"{nic.name} of {who} is on {nic.bridge}, which {g.node} does not have",
                f"/net_set {g.vmid} {nic.name} --bridge <one of: {have}> "
                f"or create it: /bridge_add {nic.bridge} <cidr> --node {g.node}",
            )
        ]
    problems = _segment_ready(seg)
    if not nic.link_up:
        problems.append(
            Problem(
                f"{nic.name} of {who} is disconnected (link_down=1)",
                f"reconnect it: clear link_down on {nic.name}",
            )
        )
    ip_if = _iface(nic.ip)
    network, ip = (ip_if.network, ip_if.ip) if ip_if else (None, None)
    gw = _addr(nic.gw)
    if nic.ip and ip_if is None:
        problems.append(
            Problem(
                f"{who} has an unreadable address '{nic.ip}' on {nic.name}",
                _address_fix(g, nic, seg, net, facts),
            )
        )
    elif ip_if is None and nic.dhcp:
        if _provides_dhcp(seg, facts):
            network = seg.network
            gw = gw or _advised_gw(seg, facts)
        else:
            problems.append(
                Problem(
                    f"{who} asks for DHCP on {seg.label}, but nothing the API shows serves DHCP there "
                    "(probably none)",
                    f"give it a static address: {_address_fix(g, nic, seg, net, facts)} (or, "
                    f"if a DHCP server outside Proxmox serves {seg.name}, declare it: "
                    f"/netfacts add dhcp {seg.node}:{seg.name})",
                )
            )
    elif ip_if is None:
        problems.append(
            Problem(
                f"{who} has no address on {nic.name}",
                f"set one: {_address_fix(g, nic, seg, net, facts)}",
            )
        )
    if problems or network is None:
        return None, problems
    return _Port(g, nic, seg, network, ip, gw), []


def _ports(
    g: Guest, net: NetworkSnapshot, facts: Facts
) -> tuple[list[_Port], list[Problem], list[str]]:
    """Every usable NIC of a guest, or why there is none."""
    if not g.running:
        return [], [Problem(f"{_who(g)} is not running", f"start it: /ct_start {g.vmid}")], []
    if not g.nics:
        return (
            [],
            [
                Problem(
                    f"{_who(g)} has no network device",
                    f"add one: /net_set {g.vmid} net0 --bridge <bridge> --ip <cidr> --gw <ip>",
                )
            ],
            [],
        )
    ports, problems, notes = [], [], []
    for nic in g.nics:
        port, why = _attach(g, nic, net, facts)
        problems += why
        if port is not None:
            ports.append(port)
            notes += _segment_notes(port.seg)
    return ports, ([] if ports else problems), notes


def _clash(p: _Port, net: NetworkSnapshot) -> list[Problem]:
    """Two holders of one address on a segment: ARP picks one at random."""
    if p.ip is None:
        return []
    others = [
        "another user's container" if g.vmid in net.hidden else _who(g)
        for g in net.guests
        if g.vmid != p.guest.vmid and g.node == p.guest.node
        for n in g.nics
        if n.bridge == p.nic.bridge and (i := _iface(n.ip)) and i.ip == p.ip
    ]
    if p.seg.host_ip == p.ip:
        others.append(f"{p.seg.node} itself")
    if not others:
        return []
    return [
        Problem(
            f"{p.who} has {p.ip}, which {', '.join(others)} also has on {p.seg.name}",
            f"give it a free address: {p.net_set(ip=_suggest_ip(p.seg, net))}",
        )
    ]


# --------------------------------------------------------------------------------------------------
# Rules: gateways, forwarding, NAT


def _node_addresses(node: str, net: NetworkSnapshot) -> dict[IPv4Address, str]:
    """Every address of the node, with the bridge (or VNet) it sits on."""
    found: dict[IPv4Address, str] = {}
    for b in net.bridges:
        if b.node == node and (i := _iface(b.cidr)) and not b.pending:
            found[i.ip] = b.name
    for v in net.vnets:
        if v.applied and (v.nodes is None or node in v.nodes) and (a := _addr(v.gateway)):
            found[a] = v.name
    return found


def _gateway_is_node(p: _Port, net: NetworkSnapshot, toward: str) -> list[Problem]:
    """The guest's default gateway must be set, inside its subnet, and be the node's own address on
    the guest's bridge: only then do packets for other networks reach a router that knows them."""
    seg, host = p.seg, p.seg.host_ip
    if p.gw is None:
        target = host or "<the node's address on " + seg.name + ">"
        return [
            Problem(
                f"{p.who} has no default gateway",
                f"set it with {p.net_set(gw=target)}",
            )
        ]
    if p.gw not in p.network:
        target = host if host and host in p.network else "<an address of its subnet>"
        return [
            Problem(
                f"{p.who}'s gateway {p.gw} is outside its subnet {p.network}",
                f"{p.net_set(gw=target)}",
            )
        ]
    if host is None:
        if seg.vnet is not None:
            return [
                Problem(
                    f"VNet {seg.name} has no gateway, so {seg.node} has no address on it",
                    f"give its subnet the gateway {p.gw} and apply SDN",
                )
            ]
        return [
            Problem(
                f"{seg.label} has no address: the gateway {p.gw} is not on any bridge of "
                f"{seg.node}",
                f"give {seg.name} the address {p.gw}/{p.network.prefixlen} "
                f"(/bridge_add {seg.name} {p.gw}/{p.network.prefixlen}, or pvesh set "
                f"/nodes/{seg.node}/network/{seg.name} --type bridge --cidr "
                f"{p.gw}/{p.network.prefixlen}, then apply) or fix the gateway",
            )
        ]
    if p.gw == host:
        return []
    if p.gw == seg.uplink_gateway:
        return [
            Problem(
                f"{p.who}'s gateway {p.gw} is the router beyond {seg.node} (its own default "
                f"gateway), which knows nothing of {toward}",
                f"route through the node instead: {p.net_set(gw=host)} "
                f"({seg.node} forwards the rest to {p.gw})",
            )
        ]
    elsewhere = _node_addresses(seg.node, net).get(p.gw)
    if elsewhere:
        return [
            Problem(
                f"{p.who}'s gateway {p.gw} is {seg.node}'s address on {elsewhere}, but "
                f"{p.who} is on {seg.name}",
                p.net_set(gw=host),
            )
        ]
    return [
        Problem(
            f"{p.who}'s gateway {p.gw} is not on any bridge of {seg.node} "
            f"(its address on {seg.name} is {host})",
            p.net_set(gw=host),
        )
    ]


def _masquerades(inner: _Segment, out: _Segment, facts: Facts) -> bool:
    """Traffic from `inner` leaving by `out` gets the node's address on `out` as its source."""
    if (inner.node, inner.name, out.name) in facts.masquerade:
        return True
    # SDN snat masquerades out of the interface carrying the node's default route.
    v = inner.vnet
    return bool(v and v.snat and v.applied and out.uplink_gateway)


def _forwards(a: _Segment, b: _Segment, facts: Facts) -> bool:
    """The node routes between two of its segments: declared, implied by a declared masquerade, or
    by an applied SDN VNet with a gateway (SDN turns ip-forward on for it)."""
    if a.node in facts.forwarding_nodes:
        return True
    pairs = {(a.node, a.name, b.name), (a.node, b.name, a.name)}
    if pairs & set(facts.masquerade):
        return True
    return any(s.vnet is not None and s.vnet.applied and s.host_ip for s in (a, b))


def _forwarding_problem(node: str) -> Problem:
    return Problem(
        f"{node} is not declared to forward IP packets between its bridges",
        f"enable it on {node} (net.ipv4.ip_forward=1 in /etc/sysctl.d/, "
        f"sysctl --system), then declare it: /netfacts add forwarding {node}",
    )


# --------------------------------------------------------------------------------------------------
# Rules: pairs of endpoints


def _joined(a: _Segment, b: _Segment) -> bool:
    """One L2 segment: the same bridge, or a VNet of a spanning zone on both nodes, or two bridges
    of different nodes with physical ports (the LAN joins them)."""
    if a.node == b.node:
        return a.name == b.name
    if a.vnet is not None and b.vnet is not None:
        return a.name == b.name and a.vnet.zone_type in _SPANNING_ZONES
    return bool(a.bridge and b.bridge and a.bridge.ports and b.bridge.ports)


def _l2(pa: _Port, pb: _Port, net: NetworkSnapshot) -> Verdict:
    """Same segment: direct when both are in one subnet (and one VLAN)."""
    if pa.nic.tag != pb.nic.tag:
        return Verdict(
            False,
            problems=[
                Problem(
                    f"{pa.who} (VLAN {pa.nic.tag or 'none'}) and {pb.who} (VLAN {pb.nic.tag or 'none'}) "
                    f"are on {pa.seg.name} in different VLANs",
                    f"use one tag: {pb.net_set(tag=pa.nic.tag or 0)}",
                )
            ],
        )
    same = (
        pa.network == pb.network
        and (pa.ip is None or pa.ip in pb.network)
        and (pb.ip is None or pb.ip in pa.network)
    )
    if not same:
        # Move whoever is outside the bridge's own subnet; else the second one.
        home = pa.seg.network
        mover, stay = (
            (pa, pb) if home and pa.ip and pa.ip not in home and pb.ip in home else (pb, pa)
        )
        suggestion = (
            _suggest_ip(stay.seg, net)
            if stay.seg.network == stay.network
            else f"<free address in {stay.network}>"
        )
        return Verdict(
            False,
            problems=[
                Problem(
                    f"{pa.who} ({pa.shown}) and {pb.who} ({pb.shown}) are on the same bridge "
                    f"{pa.seg.name} but in different subnets, and nothing routes between them",
                    f"put them in one subnet: {mover.net_set(ip=suggestion)}",
                )
            ],
        )
    clash = _clash(pa, net) or _clash(pb, net)  # one clash is reported once
    if clash:
        return Verdict(False, problems=clash)
    where = (
        pa.seg.label
        if pa.seg.node == pb.seg.node
        else (
            f"{pa.seg.name} on {pa.seg.node} and {pb.seg.name} on {pb.seg.node}, joined by the physical network"
        )
    )
    return Verdict(
        True,
        path=[
            f"{pa.who} {pa.shown} -> {pb.who} {pb.shown}: same L2 segment "
            f"({where}) and subnet {pa.network}, direct"
        ],
    )


def _routed(pa: _Port, pb: _Port, net: NetworkSnapshot, facts: Facts) -> Verdict:
    """Different segments of one node: the node is the router. A's gateway must be the node; the
    node must forward; B answers either to the node's own address (masquerade) or through its own
    gateway, which must then be the node too."""
    problems = _gateway_is_node(pa, net, f"{pb.who} in {pb.network}")
    if not _forwards(pa.seg, pb.seg, facts):
        problems.append(_forwarding_problem(pa.seg.node))
    path = [
        f"{pa.who} {pa.shown} -> its gateway {pa.gw} ({pa.seg.node} on {pa.seg.name})",
        f"{pa.seg.node} forwards from {pa.seg.name} to {pb.seg.name}",
        f"-> {pb.who} {pb.shown}",
    ]
    if _masquerades(pa.seg, pb.seg, facts):
        path.append(
            f"{pa.seg.node} masquerades {pa.seg.name} out of {pb.seg.name}: {pb.who} sees "
            f"{pb.seg.host_ip} and answers on its own link"
        )
    else:
        problems += _gateway_is_node(pb, net, f"{pa.who} in {pa.network} (to answer)")
        path.append(f"{pb.who} answers through its gateway {pb.gw} ({pb.seg.node})")
    problems += _clash(pa, net) or _clash(pb, net)
    return Verdict(not problems, path=[] if problems else path, problems=problems)


def _not_joined(pa: _Port, pb: _Port) -> Verdict:
    """Different nodes whose segments the physical network does not join."""
    problems = []
    for p in (pa, pb):
        s = p.seg
        if s.vnet is not None and s.vnet.zone_type not in _SPANNING_ZONES:
            problems.append(
                Problem(
                    f"VNet {s.name} is in a {s.vnet.zone_type} zone, which is local to "
                    f"each node, so {p.who} on {s.node} is isolated from other nodes",
                    "use a VLAN or VXLAN zone for a network spanning nodes",
                )
            )
        elif s.bridge is not None and not s.bridge.ports:
            other = pb if p is pa else pa
            problems.append(
                Problem(
                    f"{s.label} has no physical port, so its traffic never leaves {s.node}",
                    f"put {other.who} on {s.node} too: back it up (/backup "
                    f"{other.guest.vmid}), restore it there (/restore <its backup> --new "
                    f"--node {s.node}) and delete the old one; or give {s.name} an uplink "
                    f"(--ports eth1), or move {p.who} to a bridge with one",
                )
            )
    if not problems:
        problems.append(
            Problem(
                f"{pa.who} on {pa.seg.label} and {pb.who} on {pb.seg.label} are not on one network",
                "put both on the same bridge or a VNet spanning both nodes",
            )
        )
    return Verdict(False, problems=problems)


def _guest_guest(pa: _Port, pb: _Port, net: NetworkSnapshot, facts: Facts) -> Verdict:
    if _joined(pa.seg, pb.seg):
        return _l2(pa, pb, net)
    if pa.seg.node == pb.seg.node:
        return _routed(pa, pb, net, facts)
    return _not_joined(pa, pb)


def _guest_host(p: _Port, node: str, net: NetworkSnapshot) -> Verdict:
    """A guest reaches a node at the node's address on the guest's own bridge; the node's other
    addresses answer through that same hop."""
    seg = p.seg
    if seg.node != node:
        for b in net.bridges:
            here = _Segment(node, b.name, bridge=b)
            if b.node == node and _joined(seg, here) and here.host_ip and here.host_ip in p.network:
                return Verdict(
                    True,
                    path=[
                        f"{p.who} {p.shown} -> {node} {here.host_ip} on {b.name}, "
                        "through the physical network"
                    ],
                )
        return Verdict(
            False,
            problems=[
                Problem(
                    f"{p.who} on {seg.label} shares no network with {node}",
                    f"use a bridge with an uplink on both nodes, in the subnet of {node}'s address",
                )
            ],
        )
    host = seg.host_if
    if host is None:
        what = (
            f"VNet {seg.name} has no gateway, so {node} has no address on it"
            if seg.vnet
            else f"{node} has no address on {seg.name}, so {p.who} cannot reach it there"
        )
        return Verdict(
            False,
            problems=[
                Problem(
                    what,
                    f"give {seg.name} an address in {p.network} "
                    f"(e.g. {next(p.network.hosts(), '')}/{p.network.prefixlen}) "
                    "and apply the pending network changes",
                )
            ],
        )
    if host.ip not in p.network or (p.ip is not None and p.ip not in host.network):
        return Verdict(
            False,
            problems=[
                Problem(
                    f"{p.who} ({p.shown}) and {node}'s address on {seg.name} ({host}) are in different subnets",
                    f"move it into {host.network}: {p.net_set(ip=_suggest_ip(seg, net))}",
                )
            ],
        )
    clash = _clash(p, net)
    if clash:
        return Verdict(False, problems=clash)
    return Verdict(
        True,
        path=[
            f"{p.who} {p.shown} -> {node} {host.ip} on {seg.name} "
            f"(same subnet {host.network}), direct"
        ],
    )


def _node_out(
    node: str, net: NetworkSnapshot, facts: Facts
) -> tuple[_Segment | None, list[Problem]]:
    """The bridge by which the node itself reaches the PC: the declared one carrying its default
    gateway."""
    declared = [
        b for b in net.bridges if b.node == node and (node, b.name) in facts.pc_reachable_via
    ]
    for b in declared:
        if b.gateway and not b.pending:
            return _Segment(node, b.name, bridge=b), []
    if declared:
        b = declared[0]
        return None, [
            Problem(
                f"{node}'s default gateway is not on {b.name}, the bridge declared to "
                "lead to the PC",
                f"set the gateway on {b.name} (e.g. 10.0.2.2 behind VirtualBox NAT) and apply",
            )
        ]
    # The bridge carrying the node's default gateway is the usual way out (vmbr0 on VirtualBox).
    out = next((b.name for b in net.bridges if b.node == node and b.gateway), "vmbr0")
    return None, [
        Problem(
            f"nothing declares how {node} reaches the PC",
            f"declare the bridge whose uplink leads to it: /netfacts add pc_via {node}:{out}",
        )
    ]


def _guest_pc_uplink(p: _Port, facts: Facts) -> Verdict:
    """The guest's bridge itself leads to the PC: it needs an address in that network and the
    PC-side router (or the node) as its gateway."""
    seg = p.seg
    problems = []
    if seg.bridge is not None and not seg.bridge.ports:
        problems.append(
            Problem(
                f"{seg.label} is declared to lead to the PC but has no physical port",
                f"add its uplink (e.g. --ports enp0s3) or, if it does not lead to the PC, "
                f"take the declaration back: /netfacts del pc_via {seg.node}:{seg.name}",
            )
        )
    home, out_gw, host = seg.network, seg.uplink_gateway, seg.host_ip
    if home is not None and p.ip is not None and p.ip not in home:
        return Verdict(
            False,
            problems=problems
            + [
                Problem(
                    f"{p.who}'s address {p.shown} is not in {seg.name}'s network {home}, which leads to the PC",
                    p.net_set(
                        ip=f"<free address in {home}>",
                        gw=out_gw or host or "<router toward the PC>",
                    ),
                )
            ],
        )
    advised = out_gw or host
    if p.gw is None:
        problems.append(
            Problem(
                f"{p.who} has no default gateway",
                f"set it with {p.net_set(gw=advised or '<the router toward the PC>')}",
            )
        )
    elif p.gw not in p.network:
        problems.append(
            Problem(
                f"{p.who}'s gateway {p.gw} is outside its subnet {p.network}",
                p.net_set(gw=advised or "<an address of its subnet>"),
            )
        )
    elif out_gw is not None and p.gw == out_gw:
        pass
    elif host is not None and p.gw == host:
        if not _forwards(seg, seg, facts):
            problems.append(_forwarding_problem(seg.node))
    elif out_gw is not None or host is not None:
        problems.append(
            Problem(
                f"{p.who}'s gateway {p.gw} is neither the router toward the PC "
                f"({out_gw or 'unknown'}) nor {seg.node} ({host or 'no address'})",
                p.net_set(gw=advised),
            )
        )
    if problems:
        return Verdict(False, problems=problems)
    hop = f"{seg.node} (forwarding)" if p.gw == host else "the router beyond the uplink"
    ports = "+".join(seg.bridge.ports) if seg.bridge else seg.name
    return Verdict(
        True,
        path=[
            f"{p.who} {p.shown} -> gateway {p.gw}, {hop}",
            f"out of {seg.label} through {ports} -> the PC",
        ],
    )


def _guest_pc_nat(
    p: _Port, out: _Segment | None, out_problems: list[Problem], net: NetworkSnapshot, facts: Facts
) -> Verdict:
    """The guest's network is NATed by the node: its gateway must be the node's address there, and
    the node itself must reach the PC."""
    seg = p.seg
    problems = _gateway_is_node(p, net, "anything outside its subnet")
    if seg.vnet is None and not _forwards(seg, out or seg, facts):
        problems.append(_forwarding_problem(seg.node))
    problems += out_problems
    if (
        out is not None
        and seg.bridge is not None
        and (seg.node, seg.name, out.name) not in facts.masquerade
    ):
        inner_out = [m[2] for m in facts.masquerade if m[:2] == (seg.node, seg.name)]
        problems.append(
            Problem(
                f"{seg.node} masquerades {seg.name} out of {', '.join(inner_out)}, "
                f"but reaches the PC through {out.name}",
                f"masquerade {seg.name} out of {out.name} on {seg.node}, then declare it: "
                f"/netfacts add masquerade {seg.node}:{seg.name}:{out.name}",
            )
        )
    if problems:
        return Verdict(False, problems=problems)
    assert out is not None  # no out segment always comes with out_problems
    nat = f"SNAT of VNet {seg.name}" if seg.vnet else f"masquerade of {seg.name}"
    return Verdict(
        True,
        path=[
            f"{p.who} {p.shown} -> its gateway {p.gw} ({seg.node})",
            f"{seg.node} forwards and NATs it ({nat}) out of {out.name} as {out.host_ip}",
            f"-> {out.uplink_gateway} -> the PC",
        ],
    )


def _no_way_out(p: _Port, net: NetworkSnapshot, facts: Facts) -> Problem:
    seg = p.seg
    natnets = [
        v
        for v in net.vnets
        if v.snat and v.subnet and v.gateway and (v.nodes is None or seg.node in v.nodes)
    ]
    if seg.vnet is not None:
        sub = seg.vnet.subnet or "<subnet>"
        return Problem(
            f"VNet {seg.name} ({sub}) has no SNAT, so {p.who}'s packets leave "
            f"{seg.node} with a private source the outside cannot answer",
            f"turn snat on for its subnet (pvesh set /cluster/sdn/vnets/{seg.name}/subnets/"
            f"<id> --snat 1) and apply SDN, or create a NAT network with /natnet_add",
        )
    if natnets:
        v = natnets[0]
        move = (
            f"move it to the NAT network {v.name}: /net_set {p.guest.vmid} {p.nic.name} "
            f"--bridge {v.name} --ip <free address in {v.subnet}> --gw {v.gateway}"
        )
    else:
        move = (
            f"create a NAT network (/natnet_add natnet 10.10.30.0/24) and move {p.who} onto it "
            f"(/net_set {p.guest.vmid} {p.nic.name} --bridge natnet ...)"
        )
    out = next((b for n, b in facts.pc_reachable_via if n == seg.node), "vmbr0")
    return Problem(
        f"{seg.label} neither leads to the PC nor is NATed (no SNAT VNet, no declared "
        f"masquerade), so {p.who}'s packets cannot leave {seg.node} and come back",
        f"{move}; or masquerade {seg.name} out of {out} on {seg.node} (post-up iptables -t "
        f"nat -A POSTROUTING -s '{p.network}' -o {out} -j MASQUERADE, and "
        f"net.ipv4.ip_forward=1), then declare it: /netfacts add masquerade "
        f"{seg.node}:{seg.name}:{out}",
    )


def _guest_pc(p: _Port, net: NetworkSnapshot, facts: Facts) -> Verdict:
    seg = p.seg
    if seg.bridge is not None and (seg.node, seg.name) in facts.pc_reachable_via:
        return _guest_pc_uplink(p, facts)
    out, out_problems = _node_out(seg.node, net, facts)
    if seg.vnet is not None and seg.vnet.snat:
        return _guest_pc_nat(p, out, out_problems, net, facts)
    if seg.bridge is not None and any(m[:2] == (seg.node, seg.name) for m in facts.masquerade):
        return _guest_pc_nat(p, out, out_problems, net, facts)
    return Verdict(False, problems=[_no_way_out(p, net, facts)])


def _forward_fix(
    target: str, ip: IPv4Address, port: int, behind: bool, node: str, facts: Facts
) -> str:
    """A VirtualBox NAT port forward straight to the guest when it sits on the PC-side network;
    otherwise a forward to the node plus a DNAT there (which the API cannot show, hence declared)."""
    natpf = f'VBoxManage controlvm {facts.vbox_vm} natpf1 "{target}-{port},tcp,127.0.0.1,<pc port>'
    declare = f"/netfacts add port_forwards {node}:<pc port>->{ip}:{port}"
    if not behind:
        return f"{natpf},{ip},{port}\", then declare it: {declare}"
    return (
        f'forward a PC port to {node} ({natpf},,<pc port>") and DNAT it on {node} to {ip}:{port} '
        f"(iptables -t nat -A PREROUTING -p tcp --dport <pc port> -j DNAT --to-destination "
        f"{ip}:{port}), then declare the forward: {declare}"
    )


def _pc_guest(p: _Port, net: NetworkSnapshot, facts: Facts) -> Verdict:
    """From outside, NAT lets nothing in but port forwards; the guest must also route its answer."""
    seg = p.seg
    on_uplink = seg.bridge is not None and (seg.node, seg.name) in facts.pc_reachable_via
    if p.ip is None:
        return Verdict(
            False,
            problems=[
                Problem(
                    f"{p.who} takes its address from DHCP, so no port forward can name it",
                    f"give it a static address: {p.net_set(ip=_suggest_ip(seg, net))}",
                )
            ],
        )
    fwds = [f for f in facts.nat_port_forwards if f.node == seg.node and _addr(f.target_ip) == p.ip]
    if not fwds:
        return Verdict(
            False,
            problems=[
                Problem(
                    f"the PC reaches the lab only through the NAT's port forwards, and none leads to "
                    f"{p.who} ({p.ip})",
                    _forward_fix(p.guest.hostname, p.ip, 22, not on_uplink, seg.node, facts),
                )
            ],
        )
    problems: list[Problem] = []
    if on_uplink:
        if (
            not (seg.uplink_gateway and seg.uplink_gateway in p.network)
            and p.gw != seg.uplink_gateway
        ):
            problems.append(
                Problem(
                    f"{p.who} cannot answer the NAT router ({seg.uplink_gateway or 'unknown'})",
                    p.net_set(gw=seg.uplink_gateway or "<router toward the PC>"),
                )
            )
    else:
        problems += _gateway_is_node(p, net, "the PC (to answer)")
        out, _ = _node_out(seg.node, net, facts)
        if not _forwards(seg, out or seg, facts):
            problems.append(_forwarding_problem(seg.node))
    if problems:
        return Verdict(False, problems=problems)
    ports = ", ".join(f"{f.proto} {f.pc_port}->{f.target_port}" for f in fwds)
    return Verdict(
        True,
        path=[f"PC 127.0.0.1 -> NAT port forward ({ports}) -> {p.who} {p.ip}"],
        notes=[f"only on the forwarded ports: {ports}"],
    )


def _pc_host(node: str, net: NetworkSnapshot, facts: Facts) -> Verdict:
    mine = set(_node_addresses(node, net))
    fwds = [
        f
        for f in facts.nat_port_forwards
        if f.node == node and (f.target_ip is None or _addr(f.target_ip) in mine)
    ]
    if not fwds:
        return Verdict(
            False,
            problems=[
                Problem(
                    f"the PC reaches {node} only through the NAT's port forwards, and none is declared",
                    f'VBoxManage controlvm {facts.vbox_vm} natpf1 "pve-api,tcp,127.0.0.1,8006,,8006" '
                    f"(and pve-ssh ...,2222,,22), then declare them: /netfacts add port_forwards "
                    f"{node}:8006->8006 {node}:2222->22",
                )
            ],
        )
    ports = ", ".join(f"{f.proto} {f.pc_port}->{f.target_port}" for f in fwds)
    return Verdict(
        True,
        path=[f"PC 127.0.0.1 -> NAT port forward ({ports}) -> {node}"],
        notes=[f"only on the forwarded ports: {ports}"],
    )


def _host_pc(node: str, net: NetworkSnapshot, facts: Facts) -> Verdict:
    out, problems = _node_out(node, net, facts)
    if out is None:
        return Verdict(False, problems=problems)
    return Verdict(
        True, path=[f"{node} -> its default gateway {out.uplink_gateway} on {out.name} -> the PC"]
    )


def _host_host(a: str, b: str, net: NetworkSnapshot) -> Verdict:
    if a == b:
        return Verdict(True, path=[f"{a} is {b}"])
    for ba in net.bridges:
        for bb in net.bridges:
            sa, sb = _Segment(a, ba.name, bridge=ba), _Segment(b, bb.name, bridge=bb)
            if (
                ba.node == a
                and bb.node == b
                and _joined(sa, sb)
                and sa.host_if
                and sb.host_if
                and sa.host_if.network == sb.host_if.network
            ):
                return Verdict(
                    True,
                    path=[
                        f"{a} {sa.host_ip} ({ba.name}) -> {b} {sb.host_ip} "
                        f"({bb.name}) through the physical network"
                    ],
                )
    return Verdict(
        False,
        problems=[
            Problem(
                f"{a} and {b} share no bridge with an uplink in one subnet",
                "connect a bridge of each to the same LAN and subnet",
            )
        ],
    )


# --------------------------------------------------------------------------------------------------
# The entry point


def _best(attempts: Iterable[Verdict]) -> Verdict:
    """The first working path, else every distinct problem from every NIC combination tried."""
    tried = list(attempts)
    for v in tried:
        if v.reachable:
            return v
    problems: list[Problem] = []
    for v in tried:
        problems += [p for p in v.problems if p not in problems]
    return Verdict(False, problems=problems)


def check(
    a: int | str, b: int | str, network: NetworkSnapshot, facts: Facts | None = None
) -> Verdict:
    """Can `a` reach `b` (and get answers back)?

    Endpoints: a container (vmid as int or digits, or its hostname), `host` (the node of the other
    endpoint when it is a container), `host:<node>` or a node name, and `pc` (the machine outside,
    e.g. the VirtualBox host).
    """
    facts = facts or Facts()
    ends = [_resolve(a, b, network), _resolve(b, a, network)]
    bad = [e for e in ends if isinstance(e, Problem)]
    if bad:
        return Verdict(False, problems=bad)
    ea, eb = ends
    if ea == eb:
        return Verdict(True, path=["same endpoint"])

    sides: list[list[_Port]] = []
    problems: list[Problem] = []
    notes: list[str] = []
    for e in (ea, eb):
        if isinstance(e, _GuestEnd):
            ports, why, seen = _ports(e.guest, network, facts)
            sides.append(ports)
            problems += why
            notes += [n for n in seen if n not in notes]
        else:
            sides.append([])
    if problems:
        return Verdict(False, problems=problems, notes=notes)

    verdict = _pair(ea, eb, sides[0], sides[1], network, facts)
    verdict.notes = notes + [n for n in verdict.notes if n not in notes]
    return verdict


def _pair(
    ea: _End, eb: _End, pa: list[_Port], pb: list[_Port], net: NetworkSnapshot, facts: Facts
) -> Verdict:
    if isinstance(ea, _GuestEnd) and isinstance(eb, _GuestEnd):
        return _best(_guest_guest(x, y, net, facts) for x in pa for y in pb)
    if isinstance(ea, _GuestEnd) and isinstance(eb, _HostEnd):
        return _best(_guest_host(x, eb.node, net) for x in pa)
    if isinstance(ea, _HostEnd) and isinstance(eb, _GuestEnd):
        return _best(_guest_host(y, ea.node, net) for y in pb)
    if isinstance(ea, _GuestEnd) and isinstance(eb, _PcEnd):
        return _best(_guest_pc(x, net, facts) for x in pa)
    if isinstance(ea, _PcEnd) and isinstance(eb, _GuestEnd):
        return _best(_pc_guest(y, net, facts) for y in pb)
    if isinstance(ea, _HostEnd) and isinstance(eb, _PcEnd):
        return _host_pc(ea.node, net, facts)
    if isinstance(ea, _PcEnd) and isinstance(eb, _HostEnd):
        return _pc_host(eb.node, net, facts)
    if isinstance(ea, _HostEnd) and isinstance(eb, _HostEnd):
        return _host_host(ea.node, eb.node, net)
    return Verdict(True, path=["same endpoint"])
