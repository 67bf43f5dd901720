"""The firewall model /netcheck uses (bot/services/firewall_model.py), table-tested."""

import pytest

from bot.proxmox.firewall import FwRule
from bot.services.firewall_model import End, FirewallView, GuestFirewall

GROUP = FwRule(0, "group", "stratus-guest", comment="stratus: host management")
OWN = FwRule(1, "in", "ACCEPT", source="+stratus-u2", comment="stratus: tenant")
HOSTS_CLOSED = FwRule(0, "out", "DROP", dest="+stratus-hosts", proto="tcp", dport="22,8006")
WEB = FwRule(0, "in", "ACCEPT", proto="tcp", dport="80:90")

C1 = End("c1", 101, "10.0.2.101")
C2 = End("c2", 102, "10.0.2.102")
OTHER = End("c3", 103, "10.0.2.103")
HOST = End("the host", None, "10.0.2.15")
PC = End("the PC")


def view(enabled=True, **guests):
    isolated = GuestFirewall(True, True, rules=(GROUP, OWN))
    table = {101: isolated, 102: isolated, 103: GuestFirewall(True, True, rules=(GROUP,))}
    table.update({int(k[1:]): v for k, v in guests.items()})
    return FirewallView(enabled, table,
                        {"stratus-u2": ("10.0.2.101", "10.0.2.102"),
                         "stratus-hosts": ("10.0.2.15",)},
                        {"stratus-guest": (HOSTS_CLOSED,)})


@pytest.mark.parametrize("src, dst, proto, port, blocked_by, why", [
    (C1, C2, "icmp", None, None, "the owner's CTs reach each other (ipset)"),
    (OTHER, C1, "icmp", None, 101, "another tenant's: C1's IN policy drops it"),
    (C1, OTHER, "icmp", None, 103, "and the other way round"),
    (C1, HOST, "icmp", None, None, "the host answers a ping"),
    (C1, HOST, "tcp", 8006, 101, "the group closes the GUI (OUT of C1)"),
    (C1, HOST, "tcp", 80, None, "other ports of the host stay open"),
    (C1, PC, "icmp", None, None, "out is allowed"),
    (PC, C1, "icmp", None, 101, "an unknown address is in no ipset"),
    (End("dhcp", 104), C1, "icmp", None, 101, "a CT without a known address neither"),
])
def test_who_blocks(src, dst, proto, port, blocked_by, why):
    blocked = view().blocks(src, dst, proto, port)
    assert (blocked.who.vmid if blocked else None) == blocked_by, why


def test_nothing_is_filtered_while_the_datacenter_firewall_is_off():
    assert view(enabled=False).blocks(OTHER, C1) is None


def test_a_guest_firewall_counts_only_when_on_and_on_its_nic():
    assert view(c101=GuestFirewall(False, True, rules=(GROUP, OWN))).blocks(OTHER, C1) is None
    assert view(c101=GuestFirewall(True, False, rules=(GROUP, OWN))).blocks(OTHER, C1) is None


def test_the_first_matching_enabled_rule_decides():
    opened = GuestFirewall(True, True, rules=(WEB, GROUP, OWN))
    assert view(c101=opened).blocks(OTHER, C1, "tcp", 85) is None
    assert view(c101=opened).blocks(OTHER, C1, "tcp", 91).rule is None  # the policy
    disabled = FwRule(0, "in", "ACCEPT", enable=False)
    assert view(c101=GuestFirewall(True, True, rules=(disabled, OWN))).blocks(OTHER, C1)
    dropped = GuestFirewall(True, True, rules=(FwRule(0, "in", "DROP", comment="no"), OWN))
    assert view(c101=dropped).blocks(C2, C1).by == "no"


def test_the_policy_is_said():
    blocked = view().blocks(OTHER, C1)
    assert blocked.direction == "in" and "default policy" in blocked.by
