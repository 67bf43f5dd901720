"""Table tests for every parser, and property tests: no input makes a parser raise anything but a
UsageError carrying a usage line."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import parsing as p
from bot.parsing import (
    AuditArgs,
    CreateArgs,
    CtRef,
    GrantArgs,
    ListArgs,
    QuotaArgs,
    RevokeArgs,
    UsageError,
)

# --- UsageError ----------------------------------------------------------------------------


def test_usage_error_text():
    error = UsageError("missing the hostname", "/create <hostname>")
    assert (error.problem, error.usage) == ("missing the hostname", "/create <hostname>")
    assert str(error) == "missing the hostname\nUsage: /create <hostname>"


def test_usage_and_examples_cover_the_same_commands():
    assert set(p.USAGE) == set(p.EXAMPLES)
    for command, usage in p.USAGE.items():
        assert usage.startswith(f"/{command}")
        assert p.EXAMPLES[command].startswith(f"/{command}")


@pytest.mark.parametrize(
    "command, parser",
    [
        ("create", p.parse_create),
        ("info", p.parse_ct_command),
        ("grant", p.parse_grant),
        ("revoke", p.parse_revoke),
        ("quota", p.parse_quota),
        ("audit", p.parse_audit),
        ("list", p.parse_list),
    ],
)
def test_every_example_parses(command, parser):
    parser(p.EXAMPLES[command].split(" ", 1)[1])


# --- value parsers -------------------------------------------------------------------------


def check(parser, text, expected, *, problem=None):
    """expected is the value, or UsageError; problem, when given, must be in the message."""
    if expected is UsageError:
        with pytest.raises(UsageError) as caught:
            parser(text)
        assert "Usage: " in str(caught.value)
        if problem:
            assert problem in caught.value.problem
    else:
        assert parser(text) == expected


@pytest.mark.parametrize(
    "text, expected, problem",
    [
        ("512M", 512, None),
        ("512", 512, None),
        ("2G", 2048, None),
        ("2g", 2048, None),
        ("1.5G", 1536, None),
        ("2048MiB", 2048, None),
        ("2048MB", 2048, None),
        ("1GiB", 1024, None),
        (" 1 G ", 1024, None),
        ("16", 16, None),
        ("1T", 1024 * 1024, None),
        ("16384K", 16, None),
        ("15", UsageError, "out of range"),
        ("2T", UsageError, "out of range"),
        ("0", UsageError, "out of range"),
        ("1.3G", UsageError, "whole number of MiB"),
        ("512B", UsageError, "bytes"),
        ("", UsageError, "not a size"),
        ("abc", UsageError, "not a size"),
        ("2X", UsageError, "not a size"),
        ("-512M", UsageError, "not a size"),
        ("1e3", UsageError, "not a size"),
        ("٥١٢", UsageError, "not a size"),
        ("1" * 5000, UsageError, "not a size"),
        ("2 G B", UsageError, "not a size"),
    ],
)
def test_parse_size_mb(text, expected, problem):
    check(p.parse_size_mb, text, expected, problem=problem)


@pytest.mark.parametrize(
    "text, expected, problem",
    [
        ("8G", 8, None),
        ("8", 8, None),
        ("512G", 512, None),
        ("1T", 1024, None),
        ("4T", 4096, None),
        ("1.5T", 1536, None),
        ("2048M", 2, None),
        ("8gib", 8, None),
        ("0", UsageError, "out of range"),
        ("5T", UsageError, "out of range"),
        ("8.5G", UsageError, "whole number of GiB"),
        ("512M", UsageError, "whole number of GiB"),
        ("eight", UsageError, "not a disk size"),
        ("8G8", UsageError, "not a disk size"),
    ],
)
def test_parse_disk_gb(text, expected, problem):
    check(p.parse_disk_gb, text, expected, problem=problem)


@pytest.mark.parametrize(
    "text, expected, problem",
    [
        ("web1", "web1", None),
        ("Web-1", "web-1", None),
        ("a", "a", None),
        ("web.example.com", "web.example.com", None),
        ("1web", "1web", None),
        ("x" * 63, "x" * 63, None),
        (
            ".".join(["a" * 63] * 3) + "." + "b" * 61,
            ".".join(["a" * 63] * 3) + "." + "b" * 61,
            None,
        ),
        ("", UsageError, "empty"),
        ("-web", UsageError, "not a valid hostname"),
        ("web-", UsageError, "not a valid hostname"),
        ("we_b", UsageError, "not a valid hostname"),
        ("web 1", UsageError, "not a valid hostname"),
        ("wéb", UsageError, "not a valid hostname"),
        ("\u212aelvin", UsageError, "not a valid hostname"),  # Kelvin sign, folds to k
        ("web..example", UsageError, "empty label"),
        ("web.", UsageError, "empty label"),
        ("x" * 64, UsageError, "longer than 63"),
        (".".join(["a" * 63] * 4), UsageError, "at most 253"),
        ("12345", UsageError, "only digits"),
        ("10.0.0.1", UsageError, "only digits"),
    ],
)
def test_parse_hostname(text, expected, problem):
    check(p.parse_hostname, text, expected, problem=problem)


@pytest.mark.parametrize(
    "text, expected, problem",
    [
        ("10.0.0.5/24", "10.0.0.5/24", None),
        ("192.168.1.1/16", "192.168.1.1/16", None),
        ("10.0.0.5/32", "10.0.0.5/32", None),
        ("10.0.0.0/31", "10.0.0.0/31", None),
        ("10.0.0.1/8", "10.0.0.1/8", None),
        ("10.0.0.5", UsageError, "no prefix"),
        ("10.0.0.0/24", UsageError, "network address"),
        ("10.0.0.255/24", UsageError, "broadcast address"),
        ("10.0.0.5/33", UsageError, "prefix length"),
        ("10.0.0.5/7", UsageError, "prefix length"),
        ("10.0.0.5/", UsageError, "prefix length"),
        ("10.0.0.5/2x", UsageError, "prefix length"),
        ("10.0.0.5/255.255.255.0", UsageError, "prefix length"),
        ("10.0.0.256/24", UsageError, "not an IPv4 address"),
        ("010.0.0.5/24", UsageError, "not an IPv4 address"),
        ("fe80::1/64", UsageError, "not an IPv4 address"),
        ("garbage", UsageError, "no prefix"),
    ],
)
def test_parse_cidr(text, expected, problem):
    check(p.parse_cidr, text, expected, problem=problem)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("10.0.0.1", "10.0.0.1"),
        (" 192.168.0.254 ", "192.168.0.254"),
        ("10.0.0.1/24", UsageError),
        ("10.0.0", UsageError),
        ("1.2.3.4.5", UsageError),
        ("::1", UsageError),
        ("host", UsageError),
        ("", UsageError),
    ],
)
def test_parse_ip(text, expected):
    check(p.parse_ip, text, expected)


@pytest.mark.parametrize(
    "text, expected, problem",
    [
        ("101", 101, None),
        ("100", 100, None),
        ("999999999", 999_999_999, None),
        ("web1", "web1", None),
        ("WEB1", "web1", None),
        ("99", UsageError, "not a container id"),
        ("1000000000", UsageError, "not a container id"),
        ("9" * 50, UsageError, "not a container id"),
        ("web_1", UsageError, "not a valid hostname"),
        ("", UsageError, "empty"),
    ],
)
def test_parse_ct_ref(text, expected, problem):
    check(p.parse_ct_ref, text, expected, problem=problem)


@pytest.mark.parametrize(
    "text, lo, hi, expected, problem",
    [
        ("5", 1, 10, 5, None),
        ("+5", 1, 10, 5, None),
        ("-3", -5, 5, -3, None),
        (" 10 ", 1, 10, 10, None),
        ("11", 1, 10, UsageError, "from 1 to 10"),
        ("0", 1, 10, UsageError, "from 1 to 10"),
        ("5.0", 1, 10, UsageError, "whole number"),
        ("1_0", 1, 100, UsageError, "whole number"),
        ("٣", 1, 10, UsageError, "whole number"),
        ("five", 1, 10, UsageError, "whole number"),
        ("", 1, 10, UsageError, "whole number"),
        ("9" * 5000, 1, 10, UsageError, "whole number"),
    ],
)
def test_parse_int(text, lo, hi, expected, problem):
    check(lambda t: p.parse_int(t, "cores", lo, hi), text, expected, problem=problem)
    if expected is UsageError:
        with pytest.raises(UsageError) as caught:
            p.parse_int(text, "cores", lo, hi)
        assert caught.value.problem.startswith("cores ")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("vmbr0", "vmbr0"),
        ("vmbr9999", "vmbr9999"),
        ("natnet1", "natnet1"),
        ("vnet1", "vnet1"),
        ("ab", "ab"),
        ("vmbr10000", UsageError),
        ("a", UsageError),
        ("1vnet", UsageError),
        ("vnet-1", UsageError),
        ("toolongvnet", UsageError),
        ("eth0.5", UsageError),
        ("", UsageError),
    ],
)
def test_parse_bridge(text, expected):
    check(p.parse_bridge, text, expected)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("pve1", "pve1"),
        ("PVE-node-2", "PVE-node-2"),
        ("1", "1"),
        ("-pve", UsageError),
        ("pve-", UsageError),
        ("pve.local", UsageError),
        ("pve_1", UsageError),
        ("n" * 64, UsageError),
        ("", UsageError),
    ],
)
def test_parse_node(text, expected):
    check(p.parse_node, text, expected)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("debian-12", "debian-12"),
        (
            "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
            "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
        ),
        ("", UsageError),
        ("deb ian", UsageError),
        ("-debian", UsageError),
        ("débian", UsageError),
        ("x" * 256, UsageError),
    ],
)
def test_parse_template(text, expected):
    check(p.parse_template, text, expected)


# --- command parsers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, expected",
    [
        ("web1", CreateArgs("web1")),
        ("Web1", CreateArgs("web1")),
        (
            "web1 --template debian-12 --cores 2 --memory 1G --disk 8G --bridge vmbr1 "
            "--ip 10.0.0.5/24 --gw 10.0.0.1 --node pve2",
            CreateArgs(
                "web1", "debian-12", 2, 1024, 8, "vmbr1", "10.0.0.5/24", "10.0.0.1", False, "pve2"
            ),
        ),
        ("--dhcp web1", CreateArgs("web1", dhcp=True)),
        ("web1 --memory=512M --cores=1", CreateArgs("web1", cores=1, memory_mb=512)),
        ("web1 —cores 4", CreateArgs("web1", cores=4)),  # a phone's em dash
        ("web1 --CORES 4", CreateArgs("web1", cores=4)),
        ("web1 --ip 10.0.0.5/24", CreateArgs("web1", ip="10.0.0.5/24")),
        ("'web1' --bridge natnet", CreateArgs("web1", bridge="natnet")),
    ],
)
def test_parse_create_valid(args, expected):
    assert p.parse_create(args) == expected


@pytest.mark.parametrize(
    "args, problem",
    [
        ("", "missing the hostname"),
        ("--cores 2", "missing the hostname"),
        ("web1 web2", "unexpected argument 'web2'"),
        ("web1 --colors 2", "unknown option '--colors'"),
        ("web1 --cores", "--cores needs a value"),
        ("web1 --cores --dhcp", "--cores needs a value"),
        ("web1 --cores 2 --cores 3", "--cores is given twice"),
        ("web1 --dhcp --dhcp", "--dhcp is given twice"),
        ("web1 --dhcp=yes", "--dhcp takes no value"),
        ("web1 --cores 0", "--cores: cores must be from 1 to 8192"),
        ("web1 --cores two", "--cores: cores must be a whole number"),
        ("web1 --memory 2X", "--memory: '2X' is not a size"),
        ("web1 --disk 0", "--disk: '0' is out of range"),
        ("web1 --bridge vm-br0", "--bridge: 'vm-br0' is not a bridge name"),
        ("web1 --ip 10.0.0.5", "--ip: '10.0.0.5' has no prefix"),
        ("web1 --ip 10.0.0.5/24 --dhcp", "exclude each other"),
        ("web1 --dhcp --gw 10.0.0.1", "--gw needs --ip"),
        ("web1 --gw 10.0.0.1", "--gw needs --ip"),
        ("web1 --ip 10.0.0.5/24 --gw 10.0.1.1", "not inside 10.0.0.0/24"),
        ("web1 --ip 10.0.0.5/24 --gw 10.0.0.5", "own address"),
        ("web1 --ip 10.0.0.5/24 --gw 10.0.0.255", "not a host address"),
        ("web1 --node pve_1", "--node: 'pve_1' is not a node name"),
        ("web1 --template 'a b'", "--template"),
        ("web_1", "not a valid hostname"),
        ("'web1", "cannot read the arguments: no closing quotation"),
        ("web1\\", "cannot read the arguments: no escaped character"),
    ],
)
def test_parse_create_invalid(args, problem):
    with pytest.raises(UsageError) as caught:
        p.parse_create(args)
    assert problem in caught.value.problem
    assert caught.value.usage == p.USAGE["create"]
    assert str(caught.value).endswith("Usage: " + p.USAGE["create"])


@pytest.mark.parametrize(
    "args, expected",
    [("101", CtRef(101)), (" web1 ", CtRef("web1")), ('"Web1"', CtRef("web1"))],
)
def test_parse_ct_command_valid(args, expected):
    assert p.parse_ct_command(args) == expected


@pytest.mark.parametrize(
    "args, problem",
    [
        ("", "missing the container"),
        ("101 102", "unexpected argument"),
        ("50", "not a container id"),
        ("web_1", "not a valid hostname"),
        ("--force 101", "unknown option"),
    ],
)
@pytest.mark.parametrize("command", p.CT_COMMANDS)
def test_parse_ct_command_invalid(args, problem, command):
    with pytest.raises(UsageError) as caught:
        p.parse_ct_command(args, command)
    assert problem in caught.value.problem
    assert caught.value.usage == p.USAGE[command]


@pytest.mark.parametrize(
    "args, expected",
    [
        ("1234", GrantArgs(1234, "user")),
        ("1234 admin", GrantArgs(1234, "admin")),
        ("1234 ADMIN", GrantArgs(1234, "admin")),
        ("1234 user", GrantArgs(1234, "user")),
        (" 1234   admin ", GrantArgs(1234, "admin")),
    ],
)
def test_parse_grant_valid(args, expected):
    assert p.parse_grant(args) == expected


@pytest.mark.parametrize(
    "args, problem",
    [
        ("", "missing the user id"),
        ("abc", "user_id must be a whole number"),
        ("0", "user_id must be from 1"),
        ("-5", "user_id must be from 1"),
        ("1234 root", "the role must be user or admin"),
        ("1234 admin extra", "unexpected argument 'extra'"),
        ("1234 --admin", "unknown option"),
    ],
)
def test_parse_grant_invalid(args, problem):
    with pytest.raises(UsageError) as caught:
        p.parse_grant(args)
    assert problem in caught.value.problem
    assert caught.value.usage == p.USAGE["grant"]


@pytest.mark.parametrize(
    "args, expected",
    [
        ("1234", RevokeArgs(1234)),
        ("", UsageError),
        ("1234 5678", UsageError),
        ("x", UsageError),
        ("--all", UsageError),
    ],
)
def test_parse_revoke(args, expected):
    check(p.parse_revoke, args, expected)


@pytest.mark.parametrize(
    "args, expected",
    [
        ("1234", QuotaArgs(1234)),
        (
            "1234 --containers 5 --cores 8 --memory 8G --disk 64G",
            QuotaArgs(1234, 5, 8, 8192, 64),
        ),
        ("1234 --containers 0", QuotaArgs(1234, containers=0)),
        ("1234 --disk 2T", QuotaArgs(1234, disk_gb=2048)),
        ("1234 --memory 2T", QuotaArgs(1234, memory_mb=2 * 1024 * 1024)),
        ("", UsageError),
        ("--cores 8", UsageError),
        ("1234 --cores", UsageError),
        ("1234 --cores -1", UsageError),
        ("1234 --containers many", UsageError),
        ("1234 --ram 8G", UsageError),
        ("1234 5678", UsageError),
        ("1234 --disk 1.5G", UsageError),
    ],
)
def test_parse_quota(args, expected):
    check(p.parse_quota, args, expected)


def test_quota_is_show():
    assert p.parse_quota("1234").is_show
    assert not p.parse_quota("1234 --containers 0").is_show


@pytest.mark.parametrize(
    "args, expected",
    [
        ("", AuditArgs(20)),
        ("   ", AuditArgs(20)),
        ("50", AuditArgs(50)),
        ("1", AuditArgs(1)),
        ("200", AuditArgs(200)),
        ("0", UsageError),
        ("201", UsageError),
        ("ten", UsageError),
        ("5 6", UsageError),
        ("--n 5", UsageError),
    ],
)
def test_parse_audit(args, expected):
    check(p.parse_audit, args, expected)


@pytest.mark.parametrize(
    "args, expected",
    [
        ("", ListArgs()),
        ("--owner 1234", ListArgs(owner_id=1234)),
        ("--node pve1 --status RUNNING", ListArgs(node="pve1", status="running")),
        ("--status stopped --owner 7 --node pve2", ListArgs(7, "pve2", "stopped")),
        ("--status paused", UsageError),
        ("--owner me", UsageError),
        ("--node", UsageError),
        ("mine", UsageError),
        ("--owner 1 --owner 2", UsageError),
    ],
)
def test_parse_list(args, expected):
    check(p.parse_list, args, expected)


# --- properties: whatever is typed, a dataclass or a UsageError with a usage line ----------

COMMAND_PARSERS = {
    "create": (p.parse_create, CreateArgs),
    "info": (p.parse_ct_command, CtRef),
    "grant": (p.parse_grant, GrantArgs),
    "revoke": (p.parse_revoke, RevokeArgs),
    "quota": (p.parse_quota, QuotaArgs),
    "audit": (p.parse_audit, AuditArgs),
    "list": (p.parse_list, ListArgs),
}

_pieces = st.sampled_from(
    [
        "--template",
        "--cores",
        "--memory",
        "--disk",
        "--bridge",
        "--ip",
        "--gw",
        "--dhcp",
        "--node",
        "--containers",
        "--owner",
        "--status",
        "--",
        "—cores",
        "--memory=2G",
        "web1",
        "Web-1",
        "-web",
        "101",
        "99",
        "0",
        "-1",
        "1234",
        "admin",
        "user",
        "running",
        "stopped",
        "2G",
        "1.5G",
        "512",
        "8G",
        "1T",
        "vmbr0",
        "vmbr99999",
        "natnet1",
        "10.0.0.5/24",
        "10.0.0.1",
        "10.0.0.0/24",
        "999999999999999999999",
        "pve1",
        "'",
        '"',
        "\\",
        "a b",
        "'quoted arg'",
        "=",
        "--cores=",
        "٣",
        "\u212a",
        "\x00",
        "\n",
    ]
)
_structured = st.lists(st.one_of(_pieces, st.text(max_size=8)), max_size=10).map(" ".join)


def _assert_parses_or_usage(command: str, text: str) -> None:
    parser, result_type = COMMAND_PARSERS[command]
    try:
        result = parser(text)
    except UsageError as error:
        assert "Usage: " in str(error)
        assert error.usage == p.USAGE[command]
        assert error.problem
    else:
        assert isinstance(result, result_type)


@pytest.mark.parametrize("command", sorted(COMMAND_PARSERS))
@settings(max_examples=150, deadline=None)
@given(text=st.text())
def test_any_text_parses_or_gives_usage(command, text):
    _assert_parses_or_usage(command, text)


@pytest.mark.parametrize("command", sorted(COMMAND_PARSERS))
@settings(max_examples=300, deadline=None)
@given(text=_structured)
def test_options_mixed_with_garbage_parse_or_give_usage(command, text):
    _assert_parses_or_usage(command, text)


@settings(max_examples=200, deadline=None)
@given(
    hostname=st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True),
    cores=st.integers(1, 64),
    memory_gb=st.integers(1, 64),
    disk=st.integers(1, 4096),
    host=st.integers(2, 250),
    gw=st.integers(1, 254),
)
def test_valid_create_round_trips(hostname, cores, memory_gb, disk, host, gw):
    """Generated valid commands parse to exactly the values they were built from."""
    args = (
        f"{hostname} --cores {cores} --memory {memory_gb}G --disk {disk}G "
        f"--ip 10.1.2.{host}/24" + (f" --gw 10.1.2.{gw}" if gw != host else "")
    )
    parsed = p.parse_create(args)
    assert parsed == CreateArgs(
        hostname,
        cores=cores,
        memory_mb=memory_gb * 1024,
        disk_gb=disk,
        ip=f"10.1.2.{host}/24",
        gw=f"10.1.2.{gw}" if gw != host else None,
    )
