"""Table tests of the tenants' command parsers (bot/parsing_tenants.py)."""

import pytest

from bot.parsing import UsageError
from bot.parsing_tenants import (
    ShareArgs,
    parse_duration_s,
    parse_invite,
    parse_invite_id,
    parse_quota_fields,
    parse_share,
    start_payload,
)
from bot.services.policy import ShareRole


@pytest.mark.parametrize("text, expected", [
    ("web1 123456789 viewer", ShareArgs("web1", 123456789, ShareRole.VIEWER)),
    ("101 @carol OPERATOR", ShareArgs(101, "@carol", ShareRole.OPERATOR)),
    ("101 carol manager", ShareArgs(101, "carol", ShareRole.MANAGER)),
])
def test_share(text, expected):
    assert parse_share(text) == expected


@pytest.mark.parametrize("text, problem", [
    ("", "missing the container"),
    ("web1", "missing the user"),
    ("web1 42", "missing the role"),
    ("web1 42 owner", "viewer, operator or manager"),
    ("web1 4$2 viewer", "not a user id or name"),
    ("web1 42 viewer extra", "unexpected argument"),
])
def test_share_refuses(text, problem):
    with pytest.raises(UsageError, match=problem):
        parse_share(text)


def test_unshare_takes_no_role():
    assert parse_share("web1 42", "unshare") == ShareArgs("web1", 42, None)
    with pytest.raises(UsageError, match="unexpected argument"):
        parse_share("web1 42 viewer", "unshare")


@pytest.mark.parametrize("text, seconds", [("30m", 1800), ("12h", 43200), ("7d", 604800),
                                           ("365d", 365 * 86400)])
def test_duration(text, seconds):
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["7", "7w", "0m", "366d", "-1d", "1.5d"])
def test_duration_refuses(text):
    with pytest.raises(UsageError):
        parse_duration_s(text)


def test_quota_fields():
    assert parse_quota_fields("containers=2,memory=2G") == {"containers": 2, "memory_mb": 2048}
    assert parse_quota_fields("cores=8, disk=64G") == {"cores": 8, "disk_gb": 64}
    for bad, problem in (("ram=2G", "not one of"), ("cores=2,cores=3", "given twice"),
                         ("memory=lots", "memory:"), ("cores", "not one of")):
        with pytest.raises(UsageError, match=problem):
            parse_quota_fields(bad)


def test_invite():
    args = parse_invite("--quota containers=1 --expires 3d --uses 5")
    assert (args.quota, args.expires_s, args.uses) == ({"containers": 1}, 3 * 86400, 5)
    assert parse_invite("") == parse_invite("--uses 1 --expires 7d")
    with pytest.raises(UsageError, match="uses must be from 1"):
        parse_invite("--uses 0")
    assert parse_invite_id("1A2B3C4D") == "1a2b3c4d"
    with pytest.raises(UsageError, match="not an invite id"):
        parse_invite_id("nope")


def test_start_payload():
    assert start_payload("") is None
    assert start_payload("abc_DEF-123") == "abc_DEF-123"
    for bad in ("a b", "a$b", "x" * 65, "100 --cores 1"):
        assert start_payload(bad) is None


def test_resize():
    from bot.parsing_tenants import ResizeArgs, parse_resize

    assert parse_resize("web1 --cores 2 --memory 2G --disk +4G") == ResizeArgs(
        "web1", 2, 2048, 4, True)
    assert parse_resize("101 --disk 12G") == ResizeArgs(101, None, None, 12, False)
    for bad, problem in (("web1", "say what to change"), ("--cores 2", "missing the container"),
                         ("web1 --disk +1.5G", "whole number of GiB"),
                         ("web1 --disk -4G", "not a disk size"),
                         ("web1 --cores 0", "cores must be from 1")):
        with pytest.raises(UsageError, match=problem):
            parse_resize(bad)
