"""The networking parsers: table tests for what PVE accepts, and property tests that nothing but a
UsageError (with its Usage: line) ever escapes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.parsing import UsageError
from bot.parsing_network import (
    parse_bridge_add,
    parse_bridge_del,
    parse_natnet_add,
    parse_net,
    parse_net_set,
    parse_netcheck,
    parse_pools_setting,
    parse_port_forwards_setting,
)

PARSERS = [parse_bridge_add, parse_bridge_del, parse_natnet_add, parse_net, parse_net_set,
           parse_netcheck]


def test_bridge_add_reads_every_option():
    args = parse_bridge_add("vmbr1 10.10.20.1/24 --node pve1 --ports enp0s8,eth2 "
                            "--comment 'lab net' --pool 10.10.20.10-10.10.20.200")
    assert (args.name, args.cidr, args.node, args.ports, args.comment) == (
        "vmbr1", "10.10.20.1/24", "pve1", ("enp0s8", "eth2"), "lab net")
    assert str(args.pool) == "10.10.20.10-10.10.20.200"


@pytest.mark.parametrize("text, problem", [
    ("br1 10.0.0.1/24", "PVE wants vmbr plus digits"),
    ("vmbr12345 10.0.0.1/24", "PVE wants vmbr plus digits"),
    ("vmbr1 10.0.0.0/24", "network address"),
    ("vmbr1 10.0.0.1/24 --pool 10.0.1.5-10.0.1.9", "is not a host address of 10.0.0.0/24"),
    ("vmbr1 10.0.0.1/24 --pool 10.0.0.9-10.0.0.5", "ends before it starts"),
    ("vmbr1", "missing its address"),
])
def test_bridge_add_refusals(text, problem):
    with pytest.raises(UsageError) as err:
        parse_bridge_add(text)
    assert problem in str(err.value) and "Usage: /bridge_add" in str(err.value)


@pytest.mark.parametrize("text, problem", [
    ("nat_1 10.10.30.0/24", "not a valid SDN VNet id"),
    ("n 10.10.30.0/24", "not a valid SDN VNet id"),
    ("toolongname 10.10.30.0/24", "not a valid SDN VNet id"),
    ("1nat 10.10.30.0/24", "not a valid SDN VNet id"),
    ("vmbr5 10.10.30.0/24", "is a Linux bridge name"),
    ("natnet 10.10.30.0/24 --gateway 10.10.31.1", "not a host address"),
    ("natnet 10.10.30.0/31", "prefix length"),
])
def test_natnet_refusals(text, problem):
    with pytest.raises(UsageError) as err:
        parse_natnet_add(text)
    assert problem in str(err.value)


def test_natnet_gateway_defaults_to_the_first_host():
    args = parse_natnet_add("natnet 10.10.30.0/24")
    assert (args.name, str(args.network), args.gateway) == ("natnet", "10.10.30.0/24", "10.10.30.1")


def test_net_set_and_netcheck():
    args = parse_net_set("web1 net1 --bridge vmbr1 --ip 10.10.20.5/24 --gw 10.10.20.1")
    assert (args.ref, args.key, args.bridge, args.ip, args.gw) == (
        "web1", "net1", "vmbr1", "10.10.20.5/24", "10.10.20.1")
    for bad in ("web1 net0", "web1 eth0 --dhcp", "web1 net0 --ip 10.0.0.5/24 --dhcp",
                "web1 net0 --ip 10.0.0.5/24 --gw 10.0.1.1"):
        with pytest.raises(UsageError):
            parse_net_set(bad)
    assert parse_netcheck("101 pc") == (101, "pc")
    assert parse_netcheck("web1 host:pve2") == ("web1", "host:pve2")


def test_settings_values():
    assert parse_pools_setting("vmbr1=10.0.0.10-10.0.0.20, natnet=10.1.0.5-10.1.0.9") == (
        ("vmbr1", "10.0.0.10", "10.0.0.20"), ("natnet", "10.1.0.5", "10.1.0.9"))
    assert parse_port_forwards_setting("pve1:2222->22, pve1:2201->10.10.20.5:22/udp") == (
        ("pve1", 2222, 22, None, "tcp"), ("pve1", 2201, 22, "10.10.20.5", "udp"))
    for bad in ("vmbr1", "vmbr1=10.0.0.9-10.0.0.1"):
        with pytest.raises(UsageError):
            parse_pools_setting(bad)
    with pytest.raises(UsageError):
        parse_port_forwards_setting("pve1:70000->22")


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(PARSERS), st.text(max_size=80))
def test_parsers_raise_only_usage_errors(parser, text):
    try:
        parser(text)
    except UsageError as err:
        assert "Usage:" in str(err)


WORDS = st.sampled_from(["vmbr1", "natnet", "10.10.20.1/24", "10.10.30.0/24", "--node", "pve1",
                         "--pool", "10.10.20.10-10.10.20.20", "--ip", "--gw", "10.10.20.1",
                         "--dhcp", "--bridge", "net0", "web1", "101", "pc", "host", "--ports",
                         "eth1", "--comment", "x", "--gateway", "'", "—node"])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PARSERS), st.lists(WORDS, max_size=8))
def test_parsers_on_plausible_words(parser, words):
    try:
        parser(" ".join(words))
    except UsageError as err:
        assert "Usage:" in str(err)
