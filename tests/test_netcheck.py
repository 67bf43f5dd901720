"""Table tests for the connectivity doctor (bot.services.netcheck).

The lab: pve1 in VirtualBox behind NAT. vmbr0 (10.0.2.15/24, port enp0s3, default gateway 10.0.2.2,
the VirtualBox NAT router) leads to the PC; vmbr1 (10.10.20.1/24, no port) is private and masqueraded
out of vmbr0. C1 (101) sits on vmbr0, C2 (102) on vmbr1. Each case changes one thing of the working
lab and checks both the verdict and that the problem names the missing piece and its fix.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.services.netcheck import (
    Bridge,
    Facts,
    Guest,
    NetworkSnapshot,
    Nic,
    PortForward,
    VNet,
    check,
)

VMBR0 = Bridge("pve1", "vmbr0", "10.0.2.15/24", ("enp0s3",), gateway="10.0.2.2")
VMBR1 = Bridge("pve1", "vmbr1", "10.10.20.1/24")
C1 = Guest(101, "C1", "pve1", True, (Nic("vmbr0", "10.0.2.20/24", "10.0.2.15"),))
C2 = Guest(102, "C2", "pve1", True, (Nic("vmbr1", "10.10.20.5/24", "10.10.20.1"),))
NATNET = VNet("natnet", "natz", subnet="10.10.30.0/24", gateway="10.10.30.1", snat=True)
C3 = Guest(103, "C3", "pve1", True, (Nic("natnet", "10.10.30.5/24", "10.10.30.1"),))

LAB = NetworkSnapshot(bridges=(VMBR0, VMBR1), guests=(C1, C2))
FACTS = Facts(
    forwarding_nodes=frozenset({"pve1"}),
    masquerade=(("pve1", "vmbr1", "vmbr0"),),
    pc_reachable_via=(("pve1", "vmbr0"),),
    nat_port_forwards=(PortForward("pve1", 8006, 8006, name="pve-api"),),
)


def nic(guest: Guest, **changes) -> Guest:
    return replace(guest, nics=(replace(guest.nics[0], **changes),))


def lab(*guests: Guest, bridges=(VMBR0, VMBR1), vnets=()) -> NetworkSnapshot:
    """The lab with some guests or bridges replaced (matched by vmid / name)."""
    by_id = {g.vmid: g for g in (C1, C2, C3)} | {g.vmid: g for g in guests}
    wanted = [by_id[101], by_id[102]] + ([by_id[103]] if vnets else [])
    return NetworkSnapshot(bridges=tuple(bridges), vnets=tuple(vnets), guests=tuple(wanted))


NO_MASQ = replace(FACTS, masquerade=())
NO_FWD = replace(FACTS, forwarding_nodes=frozenset(), masquerade=())


# (id, a, b, snapshot, facts, reachable, words that the problems must contain)
CASES = [
    # --- the lab's four cases, working ---
    ("c1-host", 101, "host", LAB, FACTS, True, []),
    ("host-c1", "host", 101, LAB, FACTS, True, []),
    ("c1-pc via node", 101, "pc", LAB, FACTS, True, []),
    ("c1-pc direct gw", 101, "pc", lab(nic(C1, gw="10.0.2.2")), FACTS, True, []),
    ("c2-pc masquerade", 102, "pc", LAB, FACTS, True, []),
    ("c2-c1", 102, 101, LAB, FACTS, True, []),
    ("c1-c2", 101, 102, LAB, FACTS, True, []),
    ("by hostname", "C2", "c1", LAB, FACTS, True, []),
    # --- the lab's four cases, broken ---
    (
        "c1-host other subnet",
        101,
        "host",
        lab(nic(C1, ip="10.0.3.20/24")),
        FACTS,
        False,
        ["different subnets", "10.0.2.15/24", "/net_set 101 net0 --ip 10.0.2."],
    ),
    (
        "c1-pc no gateway",
        101,
        "pc",
        lab(nic(C1, gw=None)),
        FACTS,
        False,
        ["C1 (vmid 101) has no default gateway", "/net_set 101 net0 --gw 10.0.2.2"],
    ),
    (
        "c1-pc wrong gateway",
        101,
        "pc",
        lab(nic(C1, gw="10.0.2.9")),
        FACTS,
        False,
        ["gateway 10.0.2.9", "/net_set 101 net0 --gw 10.0.2.2"],
    ),
    (
        "c1-pc address outside uplink",
        101,
        "pc",
        lab(nic(C1, ip="192.168.5.5/24", gw="192.168.5.1")),
        FACTS,
        False,
        ["not in vmbr0's network 10.0.2.0/24"],
    ),
    (
        "c2-pc no masquerade no snat",
        102,
        "pc",
        LAB,
        NO_MASQ,
        False,
        ["neither leads to the PC nor is NATed", "/natnet_add", "MASQUERADE"],
    ),
    (
        "c2-pc no gateway",
        102,
        "pc",
        lab(nic(C2, gw=None)),
        FACTS,
        False,
        ["C2 (vmid 102) has no default gateway", "/net_set 102 net0 --gw 10.10.20.1"],
    ),
    (
        "c2-c1 no gateway",
        102,
        101,
        lab(nic(C2, gw=None)),
        FACTS,
        False,
        ["C2 (vmid 102) has no default gateway: set it with /net_set 102 net0 --gw 10.10.20.1"],
    ),
    (
        "c1-c2 gateway beyond node",
        101,
        102,
        lab(nic(C1, gw="10.0.2.2")),
        FACTS,
        False,
        ["router beyond pve1", "/net_set 101 net0 --gw 10.0.2.15"],
    ),
    (
        "c2-c1 no forwarding",
        102,
        101,
        LAB,
        NO_FWD,
        False,
        ["pve1 is not declared to forward", "ip_forward"],
    ),
    (
        "c1-c2 answer needs C2 gateway",
        101,
        102,
        lab(nic(C2, gw=None)),
        NO_MASQ,
        False,
        ["C2 (vmid 102) has no default gateway", "--gw 10.10.20.1"],
    ),
    # --- more broken variants ---
    (
        "gateway outside subnet",
        102,
        101,
        lab(nic(C2, gw="10.10.99.1")),
        FACTS,
        False,
        [
            "gateway 10.10.99.1 is outside its subnet 10.10.20.0/24",
            "/net_set 102 net0 --gw 10.10.20.1",
        ],
    ),
    (
        "gateway not on any bridge",
        102,
        101,
        lab(nic(C2, gw="10.10.20.254")),
        FACTS,
        False,
        ["10.10.20.254 is not on any bridge of pve1", "/net_set 102 net0 --gw 10.10.20.1"],
    ),
    (
        "bridge without address",
        102,
        101,
        lab(bridges=(VMBR0, replace(VMBR1, cidr=None))),
        FACTS,
        False,
        [
            "vmbr1 on pve1 has no address: the gateway 10.10.20.1 is not on any bridge of pve1",
            "10.10.20.1/24",
            "or fix the gateway",
        ],
    ),
    (
        "gateway is another bridge's address",
        102,
        101,
        lab(nic(C2, ip="10.10.20.5/8", gw="10.0.2.15")),
        FACTS,
        False,
        ["pve1's address on vmbr0", "--gw 10.10.20.1"],
    ),
    (
        "different subnets on one bridge",
        102,
        104,
        NetworkSnapshot(
            (VMBR0, VMBR1),
            guests=(
                C1,
                C2,
                Guest(104, "C4", "pve1", True, (Nic("vmbr1", "10.10.40.5/24", "10.10.40.1"),)),
            ),
        ),
        FACTS,
        False,
        ["same bridge vmbr1 but in different subnets", "/net_set 104 net0 --ip 10.10.20."],
    ),
    (
        "stopped guest",
        102,
        101,
        lab(replace(C1, running=False)),
        FACTS,
        False,
        ["C1 (vmid 101) is not running", "/ct_start 101"],
    ),
    (
        "pending bridge",
        102,
        "pc",
        lab(bridges=(VMBR0, replace(VMBR1, pending=True))),
        FACTS,
        False,
        ["vmbr1 on pve1 has pending changes", "apply the pending network changes"],
    ),
    (
        "guest without address",
        102,
        "host",
        lab(nic(C2, ip=None)),
        FACTS,
        False,
        ["C2 (vmid 102) has no address", "/net_set 102 net0 --ip 10.10.20.10/24 --gw 10.10.20.1"],
    ),
    (
        "dhcp on a plain bridge",
        102,
        "host",
        lab(nic(C2, ip=None, dhcp=True)),
        FACTS,
        False,
        ["DHCP", "probably none", "/net_set 102 net0 --ip"],
    ),
    (
        "missing bridge",
        102,
        "host",
        lab(nic(C2, bridge="vmbr7")),
        FACTS,
        False,
        ["vmbr7, which pve1 does not have", "/bridge_add vmbr7"],
    ),
    ("link down", 102, "host", lab(nic(C2, link_up=False)), FACTS, False, ["disconnected"]),
    (
        "address clash",
        102,
        104,
        NetworkSnapshot(
            (VMBR0, VMBR1),
            guests=(
                C1,
                C2,
                Guest(104, "C4", "pve1", True, (Nic("vmbr1", "10.10.20.5/24", "10.10.20.1"),)),
            ),
        ),
        FACTS,
        False,
        ["also has on vmbr1"],
    ),
    ("unknown endpoint", 102, "C9", LAB, FACTS, False, ["'C9' is neither a container"]),
    # --- SDN NAT networks ---
    ("snat vnet to pc", 103, "pc", lab(vnets=(NATNET,)), NO_MASQ, True, []),
    ("snat vnet to c1 (snat to vmbr0)", 103, 101, lab(vnets=(NATNET,)), NO_FWD, True, []),
    (
        "snat vnet not applied",
        103,
        "pc",
        lab(vnets=(replace(NATNET, applied=False),)),
        NO_MASQ,
        False,
        ["VNet natnet", "not applied", "PUT /cluster/sdn"],
    ),
    (
        "vnet without snat",
        103,
        "pc",
        lab(vnets=(replace(NATNET, snat=False),)),
        NO_MASQ,
        False,
        ["has no SNAT", "--snat 1"],
    ),
    (
        "snat vnet wrong gateway",
        103,
        "pc",
        lab(nic(C3, gw="10.10.30.254"), vnets=(NATNET,)),
        NO_MASQ,
        False,
        ["10.10.30.254 is not on any bridge of pve1", "--gw 10.10.30.1"],
    ),
    (
        "vnet dhcp counts as address",
        103,
        "host",
        lab(nic(C3, ip=None, gw=None, dhcp=True), vnets=(replace(NATNET, dhcp=True),)),
        NO_MASQ,
        True,
        [],
    ),
    (
        "c2 told about the existing NAT network",
        102,
        "pc",
        lab(vnets=(NATNET,)),
        NO_MASQ,
        False,
        ["/net_set 102 net0 --bridge natnet", "--gw 10.10.30.1"],
    ),
    (
        "pc side not declared",
        103,
        "pc",
        lab(vnets=(NATNET,)),
        replace(NO_MASQ, pc_reachable_via=()),
        False,
        ["nothing declares how pve1 reaches the PC"],
    ),
    # --- the PC and the host ---
    ("pc-host via forward", "pc", "host", LAB, FACTS, True, []),
    (
        "pc-host no forward",
        "pc",
        "host",
        LAB,
        replace(FACTS, nat_port_forwards=()),
        False,
        ["none is declared", "natpf1", "8006"],
    ),
    ("host-pc", "host", "pc", LAB, FACTS, True, []),
    (
        "pc-c1 no forward",
        "pc",
        101,
        LAB,
        FACTS,
        False,
        ["none leads to C1 (vmid 101)", "10.0.2.20"],
    ),
    (
        "pc-c1 forward",
        "pc",
        101,
        LAB,
        replace(FACTS, nat_port_forwards=(PortForward("pve1", 2201, 22, "10.0.2.20"),)),
        True,
        [],
    ),
    (
        "pc-c2 forward and DNAT",
        "pc",
        102,
        LAB,
        replace(FACTS, nat_port_forwards=(PortForward("pve1", 2202, 22, "10.10.20.5"),)),
        True,
        [],
    ),
    (
        "pc-c2 forward but no gateway to answer",
        "pc",
        102,
        lab(nic(C2, gw=None)),
        replace(FACTS, nat_port_forwards=(PortForward("pve1", 2202, 22, "10.10.20.5"),)),
        False,
        ["C2 (vmid 102) has no default gateway", "--gw 10.10.20.1"],
    ),
    ("pc-c2 needs DNAT", "pc", 102, LAB, FACTS, False, ["DNAT", "10.10.20.5:22"]),
]


@pytest.mark.parametrize(
    ("a", "b", "snapshot", "facts", "reachable", "words"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_table(a, b, snapshot, facts, reachable, words):
    verdict = check(a, b, snapshot, facts)
    assert verdict.reachable is reachable, verdict.text()
    text = "\n".join(str(p) for p in verdict.problems)
    if reachable:
        assert verdict.path and not verdict.problems
    else:
        assert verdict.problems and not verdict.path
    for w in words:
        assert w in text, f"{w!r} not in:\n{text}"


def test_path_says_how():
    """A working verdict reads as the hops a packet takes."""
    v = check(102, "pc", LAB, FACTS)
    joined = " ".join(v.path)
    assert (
        "gateway 10.10.20.1" in joined and "masquerade of vmbr1" in joined and "10.0.2.2" in joined
    )
    assert check(101, "host", LAB, FACTS).path == [
        "C1 (vmid 101) 10.0.2.20/24 -> pve1 10.0.2.15 on vmbr0 (same subnet 10.0.2.0/24), direct"
    ]


def test_reachability_to_pc_is_directional():
    """NAT lets the guest out, but not the PC in."""
    assert check(102, "pc", LAB, FACTS).reachable
    assert not check("pc", 102, LAB, FACTS).reachable


def test_second_nic_is_used_when_the_first_cannot_reach():
    two = replace(
        C2,
        nics=(
            Nic("vmbr1", "10.10.20.5/24", "10.10.20.1"),
            Nic("vmbr0", "10.0.2.30/24", "10.0.2.2", name="net1"),
        ),
    )
    v = check(102, 101, lab(two), NO_FWD)
    assert v.reachable and "vmbr0" in v.path[0]


def test_autostart_off_is_a_note_not_a_failure():
    v = check(102, "host", lab(bridges=(VMBR0, replace(VMBR1, autostart=False))), FACTS)
    assert v.reachable and any("autostart off" in n for n in v.notes)


def test_different_nodes_need_uplinks_on_both():
    b2 = Bridge("pve2", "vmbr1", "10.10.20.2/24")
    c5 = Guest(105, "C5", "pve2", True, (Nic("vmbr1", "10.10.20.6/24", "10.10.20.2"),))
    snap = NetworkSnapshot((VMBR0, VMBR1, b2), guests=(C1, C2, c5))
    v = check(102, 105, snap, FACTS)
    assert not v.reachable
    assert "vmbr1 on pve1 has no physical port" in str(v.problems[0])
    joined = NetworkSnapshot(
        (VMBR0, replace(VMBR1, ports=("eth1",)), replace(b2, ports=("eth1",))), guests=(C1, C2, c5)
    )
    assert check(102, 105, joined, FACTS).reachable
    assert check(105, "host:pve1", joined, FACTS).reachable


def test_simple_zone_is_local_to_each_node():
    c6 = Guest(106, "C6", "pve2", True, (Nic("natnet", "10.10.30.6/24", "10.10.30.1"),))
    snap = NetworkSnapshot(
        (VMBR0, VMBR1, Bridge("pve2", "vmbr0")), vnets=(NATNET,), guests=(C1, C2, C3, c6)
    )
    v = check(103, 106, snap, FACTS)
    assert not v.reachable and "local to each node" in str(v.problems[0])
    spanning = replace(snap, vnets=(replace(NATNET, zone_type="vxlan"),))
    assert check(103, 106, spanning, FACTS).reachable


def test_problem_text_is_what_then_fix():
    v = check(102, 101, lab(nic(C2, gw=None)), FACTS)
    p = v.problems[0]
    assert p.what == "C2 (vmid 102) has no default gateway"
    assert p.fix == "set it with /net_set 102 net0 --gw 10.10.20.1"
    assert "NOT reachable" in v.text()


# --- robustness: whatever the API or the settings hold, the doctor answers instead of crashing ---


_addresses = st.sampled_from(
    [
        None,
        "",
        "10.0.2.15/24",
        "10.0.2.20/24",
        "10.10.20.1/24",
        "10.10.20.5/24",
        "10.0.2.2",
        "10.10.20.1",
        "300.1.1.1/24",
        "garbage",
        "10.10.20.5/33",
        "fe80::1/64",
    ]
)
_bridges = st.sampled_from(["vmbr0", "vmbr1", "natnet", "vmbr9"])
_nics = st.builds(
    Nic,
    bridge=_bridges,
    ip=_addresses,
    gw=_addresses,
    dhcp=st.booleans(),
    link_up=st.booleans(),
    tag=st.sampled_from([None, 10]),
)
_guests = st.builds(
    Guest,
    vmid=st.sampled_from([101, 102]),
    hostname=st.just("C"),
    node=st.sampled_from(["pve1", "pve2"]),
    running=st.booleans(),
    nics=st.lists(_nics, max_size=2).map(tuple),
)
_bridge_list = st.lists(
    st.builds(
        Bridge,
        node=st.sampled_from(["pve1", "pve2"]),
        name=_bridges,
        cidr=_addresses,
        ports=st.sampled_from([(), ("eth0",)]),
        autostart=st.booleans(),
        pending=st.booleans(),
        gateway=_addresses,
    ),
    max_size=3,
).map(tuple)
_vnet_list = st.lists(
    st.builds(
        VNet,
        name=st.just("natnet"),
        zone=st.just("z"),
        subnet=_addresses,
        gateway=_addresses,
        snat=st.booleans(),
        applied=st.booleans(),
        dhcp=st.booleans(),
    ),
    max_size=1,
).map(tuple)
_ends = st.sampled_from([101, 102, "host", "pc", "host:pve2", "nobody"])


@settings(max_examples=300, deadline=None)
@given(_bridge_list, _vnet_list, st.lists(_guests, max_size=2).map(tuple), _ends, _ends)
def test_never_crashes_and_always_explains(bridges, vnets, guests, a, b):
    v = check(a, b, NetworkSnapshot(bridges, vnets, guests), FACTS)
    assert v.reachable == (not v.problems)
    assert v.path if v.reachable else v.problems
    for p in v.problems:
        assert p.what and p.fix
