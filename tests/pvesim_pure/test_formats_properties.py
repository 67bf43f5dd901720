"""Property tests of pvesim's named formats (pvesim/formats.py) against PVE's own definitions.

For every format pvesim checks there is a generator of values PVE accepts (written from the Perl
function that registers the format, cited on each row) and a list of mutations, each of which
turns any accepted value into one PVE refuses. Hypothesis then checks: generated values are
accepted, mutated ones refused. A format added to pvesim without a row here fails
``test_every_format_has_generators``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvesim import firewall as fw
from pvesim import formats
from pvesim.privileges import ALL_PRIVILEGES
from pvesim.validator import Method
from pvesim.zone_tab import ZONE_TAB

Mutation = Callable[[str], str]


def regex(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


def digits(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(str)


def mixed_case(words: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(words), st.randoms()).map(
        lambda t: "".join(c.upper() if t[1].random() < 0.5 else c for c in t[0]))


IPV4 = st.ip_addresses(v=4).map(str)
IPV6 = st.one_of(st.ip_addresses(v=6).map(str), st.ip_addresses(v=6).map(lambda a: a.exploded))
STORAGE_ID = regex(r"[a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9]")
IFACE = regex(r"[a-zA-Z][a-zA-Z0-9_]{1,20}([:.][0-9]{1,4})?")
NAME_SEGMENT = regex(r"[A-Za-z0-9_\-]{1,8}").filter(lambda s: s not in (".", ".."))
MASKS = tuple(str(ipaddress.IPv4Network(f"0.0.0.0/{n}").netmask) for n in range(33))
PRUNE_KEYS = ("keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly",
              "keep-yearly")


@st.composite
def startup_order(draw) -> str:
    parts = draw(st.lists(st.one_of(digits(0, 9999), digits(0, 999).map("order={}".format),
                                    digits(0, 999).map("up={}".format),
                                    digits(0, 999).map("down={}".format)), min_size=1,
                          max_size=3))
    text = ",".join(parts)
    return text if text != "0" else "1"  # "0" is Perl-false: refused (see the mutations)


@st.composite
def prune(draw) -> str:
    keys = draw(st.lists(st.sampled_from(PRUNE_KEYS), min_size=1, max_size=4, unique=True))
    return ",".join(f"{k}={draw(digits(1, 50))}" for k in keys)


@st.composite
def calendar_event(draw) -> str:
    time = f"{draw(digits(0, 23))}:{draw(digits(0, 59)):0>2}"
    days = draw(st.sampled_from(("", "mon ", "mon..fri ", "sat,sun ", "*-*-1 ")))
    return draw(st.sampled_from((days + time, "hourly", "daily", "weekly", "*:0/15",
                                 f"{days}*:{draw(digits(0, 59))}")))


@st.composite
def ll_address(draw) -> str:
    address = draw(st.ip_addresses(network="fe80::/64").map(str))
    return f"{address}%{draw(IFACE)}" if draw(st.booleans()) else address


def append(text: str) -> Mutation:
    return lambda v: v + text


def prepend(text: str) -> Mutation:
    return lambda v: text + v


def replace_with(text: str) -> Mutation:
    return lambda _v: text


@dataclass(frozen=True)
class Row:
    valid: st.SearchStrategy[str]
    mutations: tuple[Mutation, ...]


# format -> (values PVE accepts, mutations PVE refuses), each after PVE's Perl function.
FW_NAME = regex(r"[A-Za-z][A-Za-z0-9\-_]{1,30}")
PORT = st.one_of(digits(0, 65535), st.sampled_from(sorted(fw.SERVICES)),
                 st.tuples(digits(0, 30000), digits(0, 30000)).map(
                     lambda t: f"{t[0]}:{int(t[0]) + int(t[1])}"))
PORTS = st.lists(PORT, min_size=1, max_size=5).map(",".join)

ROWS: dict[str, Row] = {
    # pve-common PVE::JSONSchema::pve_verify_node_name
    "pve-node": Row(regex(r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?"),
                    (append("-"), prepend("-"), append("_x"), append(".lan"))),
    # pve_verify_vmid: ^[1-9][0-9]{2,8}$
    "pve-vmid": Row(digits(100, 999_999_999), (prepend("0"), append("0" * 9), replace_with("99"),
                                              append("a"))),
    # pve_verify_configid: $CONFIGID_RE = [a-z][a-z0-9_-]+ (/i)
    "pve-configid": Row(regex(r"[a-zA-Z][a-zA-Z0-9_\-]+"),
                        (prepend("1"), append("."), lambda v: v[0])),
    # verify_storagepair -> parse_idmap (one entry)
    "storage-pair": Row(st.one_of(st.just("1"), STORAGE_ID, st.tuples(STORAGE_ID, STORAGE_ID).map(
        ":".join)), (append(":"), prepend(":"), append(":x:y"), prepend("9"))),
    # parse_id (type 'storage')
    "pve-storage-id": Row(STORAGE_ID, (prepend("1"), append("-"), append(" x"), lambda v: v[0])),
    # pve-storage PVE::Storage::Plugin::parse_volume_id
    "pve-volume-id": Row(st.tuples(STORAGE_ID, regex(r"[a-zA-Z0-9/_.\-]{1,20}")).map(":".join),
                         (lambda v: v.split(":", 1)[1], prepend("9"),
                          lambda v: v.split(":", 1)[0] + ":")),
    # pve-access-control PVE::AccessControl::verify_poolname
    "pve-poolid": Row(regex(r"[A-Za-z0-9.\-_]+(/[A-Za-z0-9.\-_]+){0,2}"),
                      (append("/a/b/c"), append("/"), append(" x"), prepend("/"))),
    # PVE::Auth::Plugin::pve_verify_realm: $realm_regex
    "pve-realm": Row(regex(r"[A-Za-z][A-Za-z0-9.\-_]+"), (prepend("1"), append("@"),
                                                         lambda v: v[0])),
    # PVE::AccessControl::verify_privname: the privileges PVE knows
    "pve-priv": Row(st.sampled_from(ALL_PRIVILEGES), (append("X"), str.lower,
                                                      replace_with("VM.Everything"))),
    # pve_verify_tag: $PVE_TAG_RE = [a-z0-9_][a-z0-9_\-\+\.]* (/i)
    "pve-tag": Row(regex(r"[a-zA-Z0-9_][a-zA-Z0-9_\-+.]*"), (prepend("-"), append(";x"),
                                                            append(" "), replace_with(""))),
    # verify_task_status_type: ok|error|warning|unknown, any case
    "pve-task-status-type": Row(mixed_case(("ok", "error", "warning", "unknown")),
                                (append("s"), prepend("not"), replace_with("running"))),
    # pve-container PVE::LXC::Config::verify_ct_timezone -> pve_verify_timezone (zone.tab)
    "pve-ct-timezone": Row(st.sampled_from(sorted(ZONE_TAB) + ["UTC", "host"]),
                           (append("x"), str.swapcase, replace_with("Etc/GMT+5"),
                            replace_with("US/Eastern"))),
    # pve-storage PVE::Storage::Plugin::verify_content
    "pve-storage-content": Row(st.sampled_from(formats.STORAGE_CONTENT_TYPES),
                               (append("s"), str.upper, replace_with("images,rootdir"))),
    # pve-common PVE::CalendarEvent (proxmox-time)
    "pve-calendar-event": Row(calendar_event(), (prepend("@"), append(" xyz"),
                                                replace_with("99:99"))),
    # pve-storage PVE::Storage::Plugin 'prune-backups' and validate_prune_backups
    "prune-backups": Row(prune(), (append(",keep-all=1"), append(",keep-often=1"),
                                   append(",keep-last=-1"))),
    # pve-manager PVE::API2::Backup::verify_day_of_week
    "pve-day-of-week": Row(st.sampled_from(("mon", "tue", "wed", "thu", "fri", "sat", "sun")),
                           (str.upper, append("day"), replace_with("7"))),
    # pve_verify_email_or_username: $EMAIL_RE or $EMAIL_USER_RE (pve-common PVE::ParseUtils)
    "email-or-username": Row(st.one_of(
        regex(r"[a-zA-Z0-9_+\-~]+(\.[a-zA-Z0-9_+\-~]+)*"),
        regex(r"[a-zA-Z0-9_+\-~]+(\.[a-zA-Z0-9_+\-~]+)*@[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+)*")),
        (prepend("."), append(".."), append("@"), append(" x"))),
    # pve-guest-common PVE::VZDump::Common 'backup-fleecing' (+ verify_backup_fleecing)
    "backup-fleecing": Row(st.one_of(
        STORAGE_ID.map("enabled=1,storage={}".format), STORAGE_ID.map("storage={}".format),
        st.sampled_from(("0", "enabled=0", "1,storage=local"))),
        (append(",colour=red"), replace_with("enabled=1"), replace_with("yes"),
         append(",storage=-x"))),
    # PVE::VZDump::Common 'backup-performance'
    "backup-performance": Row(st.one_of(
        digits(1, 256).map("max-workers={}".format),
        digits(1, 10**9).map("pbs-entries-max={}".format),
        st.tuples(digits(1, 256), digits(1, 99)).map(
            lambda t: f"max-workers={t[0]},pbs-entries-max={t[1]}")),
        (append(",max-workers=0"), prepend("8,"), replace_with("max-workers=257"),
         append(",zstd=1"))),
    # pve_verify_dns_name
    "dns-name": Row(regex(r"(([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)\.){0,3}"
                          r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?"),
                    (append("."), prepend("."), append("-"), append("_x"))),
    # pve_verify_mac_addr: unicast only
    "mac-addr": Row(regex(r"[a-fA-F0-9][02468aceACE](:[a-fA-F0-9]{2}){5}"),
                    (lambda v: v[0] + "1" + v[2:], append(":00"), lambda v: v.replace(":", "-"))),
    # pve_verify_ipv4 / ipv6 / ip ($IPV4RE, $IPV6RE)
    "ipv4": Row(IPV4, (append(".1"), prepend("0"), append("/24"), replace_with("256.1.1.1"))),
    "ipv6": Row(IPV6, (append("%eth0"), append(":::1"), append("/64"), prepend("g"))),
    "ip": Row(st.one_of(IPV4, IPV6), (append("/8"), append(" "), prepend("x"))),
    # pve_verify_ipv4mask: the 33 masks
    "ipv4mask": Row(st.sampled_from(MASKS), (append(".0"), replace_with("255.0.255.0"),
                                             replace_with("24"))),
    # pve_verify_cidrv4 / cidrv6: an address with a prefix from 8
    "CIDRv4": Row(st.tuples(IPV4, digits(8, 32)).map("/".join),
                  (lambda v: v.split("/")[0], lambda v: v.split("/")[0] + "/7",
                   lambda v: v.split("/")[0] + "/33")),
    "CIDRv6": Row(st.tuples(IPV6, digits(8, 128)).map("/".join),
                  (lambda v: v.split("/")[0], lambda v: v.split("/")[0] + "/7",
                   lambda v: v.split("/")[0] + "/129")),
    # pve_verify_ipv4_config / ipv6_config
    "pve-ipv4-config": Row(st.one_of(st.sampled_from(("dhcp", "manual")),
                                     st.tuples(IPV4, digits(8, 32)).map("/".join)),
                           (prepend("x"), append("/"), replace_with("auto"))),
    "pve-ipv6-config": Row(st.one_of(st.sampled_from(("auto", "dhcp", "manual")),
                                     st.tuples(IPV6, digits(8, 128)).map("/".join)),
                           (prepend("x"), append("/"), replace_with("slaac"))),
    # pve-container PVE::LXC::Config::verify_ip_with_ll_iface
    "lxc-ip-with-ll-iface": Row(st.one_of(IPV4, IPV6, ll_address()),
                                (append("%"), append("% x"), prepend("%"))),
    # pve_verify_disk_size -> parse_size
    "disk-size": Row(regex(r"[0-9]{1,6}(\.[0-9]{1,3})?([KMGT](iB)?)?"),
                     (append("B"), append("g"), prepend("-"), append("P"))),
    # pve_verify_startup_order -> pve_parse_startup_order
    "pve-startup-order": Row(startup_order(), (append(",later"), append(",up=-1"),
                                               replace_with("0"), replace_with(""))),
    # pve-container PVE::LXC::Config::verify_lxc_mp_string
    "pve-lxc-mp-string": Row(st.lists(NAME_SEGMENT, min_size=1, max_size=4).map(
        lambda parts: "/" + "/".join(parts)),
        (append("/."), append("/.."), append("/../x"), prepend("../"), append("/./x"))),
    # PVE::LXC::Config::verify_lxc_dev_string
    "pve-lxc-dev-string": Row(st.lists(NAME_SEGMENT, min_size=1, max_size=3).map(
        lambda parts: "/dev/" + "/".join(parts)),
        (append("/.."), append("/./x"), lambda v: v.removeprefix("/dev"), prepend("/host"))),
    # pve_verify_iface
    "pve-iface": Row(IFACE, (prepend("1"), append("-x"), lambda v: v[0],
                             append(".x"))),
    # pve-network PVE::Network::SDN::Fabrics 'pve-sdn-fabric-id'
    "pve-sdn-fabric-id": Row(regex(r"[a-zA-Z0-9][a-zA-Z0-9\-]{0,6}[a-zA-Z0-9]?"),
                             (prepend("-"), append("_"), append("x" * 9))),
    # PVE::Network::SDN::Zones::EvpnPlugin::pve_verify_sdn_bgp_rt
    "pve-sdn-bgp-rt": Row(st.tuples(digits(0, 4294967295), digits(0, 4294967295)).map(":".join),
                          (append(":1"), lambda v: v.replace(":", "."),
                           lambda v: v + "4294967296")),
    # PVE::Network::SDN::SubnetPlugin::parse_sdn_subnet_id
    "pve-sdn-subnet-id": Row(st.one_of(
        st.tuples(IPV4, digits(8, 32)).map("/".join),
        st.tuples(regex(r"[a-z][a-z0-9]{1,7}"), IPV4, digits(8, 32)).map("-".join)),
        (lambda v: v.replace("/", "-") if "/" in v else v.replace("-", "/", 1),
         replace_with("zone-10.0.0.0"), append("9"))),
    # pve_verify_vlan_id_or_range: tags 2..4094, ranges upward
    "pve-vlan-id-or-range": Row(st.one_of(
        digits(2, 4094), st.tuples(digits(2, 4093), digits(1, 2000)).map(
            lambda t: f"{t[0]}-{min(int(t[0]) + int(t[1]), 4094)}")),
        (replace_with("1"), replace_with("4095"), lambda v: v.split("-")[0] + "-1",
         append("-"), prepend("-"))),
    # pve-firewall PVE::Firewall: pve_verify_ip_or_cidr, with aliases
    "IPorCIDR": Row(st.one_of(IPV4, st.tuples(IPV4, digits(8, 32)).map("/".join)),
                    (append("/33"), prepend("x"), replace_with("1.2.3"))),
    "IPorCIDRorAlias": Row(st.one_of(IPV4, FW_NAME),
                           (append("/33"), prepend("%"), replace_with("-x"))),
    # parse_address_list: an ipset, an alias, or addresses of one family
    "pve-fw-addr-spec": Row(st.one_of(IPV4, FW_NAME, FW_NAME.map("+{}".format),
                                      st.lists(IPV4, min_size=1, max_size=4).map(",".join)),
                            (prepend(","), replace_with("10.0.0.1,::1"),
                             replace_with("+" + "x" * 65))),
    # parse_port_name_number_or_range
    "pve-fw-dport-spec": Row(PORTS, (append(","), prepend("x"), replace_with("70000"),
                                     replace_with("90:80"))),
    "pve-fw-sport-spec": Row(PORTS, (append(","), prepend("x"), replace_with("70000"),
                                     replace_with("echo-request"))),
    # /etc/protocols names and numbers
    "pve-fw-protocol-spec": Row(st.sampled_from(sorted(fw.PROTOCOLS)),
                                (append("x"), prepend("z"), replace_with("999"))),
    "pve-fw-icmp-type-spec": Row(st.sampled_from(sorted(fw.ICMP_TYPES)),
                                 (append("x"), prepend("-"))),
}


def test_every_format_has_generators():
    assert sorted(set(formats.FORMATS) - set(ROWS)) == []


@pytest.mark.parametrize("name", sorted(ROWS))
def test_generated_values_are_accepted_and_mutated_ones_refused(name):
    row = ROWS[name]
    check = formats.lookup(name)
    assert check is not None, name

    @settings(max_examples=60, deadline=None)
    @given(value=row.valid, mutation=st.sampled_from(row.mutations))
    def run(value, mutation):
        assert check(value) is None, (name, value, check(value))
        bad = mutation(value)
        assert check(bad) is not None, (name, value, bad)

    run()


@settings(max_examples=60, deadline=None)
@given(items=st.lists(IPV4, max_size=4), sep=st.sampled_from((",", ";", " ", "\0")))
def test_a_list_format_checks_each_item(items, sep):
    """PVE::JSONSchema::check_format with ``-list``: split_list, each item checked (an empty
    list is allowed); one bad item refuses the list."""
    check = formats.lookup("ipv4-list")
    assert check(sep.join(items)) is None
    assert check(sep.join(items + ["1.2.3"])) is not None


@settings(max_examples=60, deadline=None)
@given(value=st.one_of(st.just(""), IPV4))
def test_an_opt_format_allows_the_empty_string(value):
    assert formats.lookup("ipv4-opt")(value) is None
    assert formats.lookup("ipv4-opt")(value + "x") is not None


NET = Method.compile("PUT /x", {"properties": {"net[n]": {"type": "string", "optional": 1}}})


@settings(max_examples=60, deadline=None)
@given(index=st.integers(0, 31))
def test_indexed_keys_are_the_schema_names_only(index):
    """PVE::LXC::Config defines net0..net31 one by one: ``net01`` or ``net32`` are unknown
    parameters, not aliases of net1."""
    assert NET.prop_for(f"net{index}") is not None
    assert NET.prop_for(f"net0{index}") is None
    assert NET.prop_for(f"net{index + 32}") is None
