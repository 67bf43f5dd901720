"""Does the Proxmox firewall let A's packets reach B? Pure: a reading of the rules.

As pve-firewall applies them: nothing is filtered unless the datacenter firewall is on; a
guest's rules apply only when its own firewall is on and the NIC has ``firewall=1``; a packet
leaves A through A's OUT chain and enters B through B's IN chain; in each, the first enabled
rule that matches decides (a ``group`` rule stands for its security group's rules of that
direction), else the guest's policy (IN: DROP, OUT: ACCEPT by default). Answers come back
(conntrack accepts ESTABLISHED), so one direction decides a conversation.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from bot.proxmox.firewall import FwRule

ICMP = "icmp"


@dataclass(frozen=True)
class GuestFirewall:
    enabled: bool = False  # its firewall options' enable
    nic_firewall: bool = False  # its NIC has firewall=1 (the packets pass the firewall bridge)
    policy_in: str = "DROP"
    policy_out: str = "ACCEPT"
    rules: tuple[FwRule, ...] = ()

    @property
    def active(self) -> bool:
        return self.enabled and self.nic_firewall


@dataclass(frozen=True)
class End:
    """One end of a conversation: a guest (vmid) or not (the host, the PC), and its address
    if known (None: DHCP, or the PC behind NAT)."""

    label: str
    vmid: int | None = None
    ip: str | None = None


@dataclass(frozen=True)
class Blocked:
    who: End  # whose firewall drops it
    direction: str  # "in" | "out"
    rule: FwRule | None  # None: the chain's policy

    @property
    def by(self) -> str:
        if self.rule is None:
            policy = "incoming" if self.direction == "in" else "outgoing"
            return f"its default policy for {policy} traffic (DROP)"
        return self.rule.comment or f"rule {self.rule.pos + 1} ({self.rule.action})"


@dataclass(frozen=True)
class FirewallView:
    enabled: bool  # the datacenter firewall
    guests: dict[int, GuestFirewall] = field(default_factory=dict)
    ipsets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    groups: dict[str, tuple[FwRule, ...]] = field(default_factory=dict)

    def blocks(self, src: End, dst: End, proto: str = ICMP, port: int | None = None,
               ) -> Blocked | None:
        """The firewall that stops a conversation from `src` to `dst`, or None."""
        if not self.enabled:
            return None
        for end, direction in ((src, "out"), (dst, "in")):
            fw = self.guests.get(end.vmid) if end.vmid is not None else None
            if fw is None or not fw.active:
                continue
            verdict, rule = self._chain(fw, direction, src, dst, proto, port)
            if verdict != "ACCEPT":
                return Blocked(end, direction, rule)
        return None

    def _chain(self, fw: GuestFirewall, direction: str, src: End, dst: End, proto: str,
               port: int | None) -> tuple[str, FwRule | None]:
        for rule in fw.rules:
            if not rule.enable:
                continue
            if rule.type == "group":
                for inner in self.groups.get(rule.action.lower(), ()):
                    if inner.enable and inner.type == direction and \
                            self._matches(inner, src, dst, proto, port):
                        return inner.action, inner
            elif rule.type == direction and self._matches(rule, src, dst, proto, port):
                return rule.action, rule
        return (fw.policy_in if direction == "in" else fw.policy_out), None

    def _matches(self, rule: FwRule, src: End, dst: End, proto: str,
                 port: int | None) -> bool:
        if rule.proto and rule.proto.lower() != proto:
            return False
        if rule.dport and (port is None or not _in_ports(port, rule.dport)):
            return False
        return self._address_in(src.ip, rule.source) and self._address_in(dst.ip, rule.dest)

    def _address_in(self, ip: str | None, spec: str | None) -> bool:
        if not spec:
            return True
        if ip is None:  # an address nobody knows is in no set
            return False
        if spec.startswith("+"):
            name = spec[1:].split("/")[-1].lower()
            return any(_in(ip, cidr) for cidr in self.ipsets.get(name, ()))
        return any(_in(ip, item) for item in spec.split(","))


def _in(ip: str, cidr: str) -> bool:
    try:
        if "-" in cidr:
            first, last = cidr.split("-", 1)
            return ipaddress.ip_address(first) <= ipaddress.ip_address(ip) <= \
                ipaddress.ip_address(last)
        return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False  # an alias: not resolved here


def _in_ports(port: int, spec: str) -> bool:
    for item in spec.split(","):
        first, _, last = item.partition(":")
        if first.isdigit() and int(first) <= port <= int(last or first):
            return True
    return False
