"""Parsers of what tenants of a self-service portal expect: sharing a container. Pure, like
bot.parsing, whose primitives they reuse."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.parsing import (
    USAGE,
    UsageError,
    _no_options,
    _positionals,
    _reported,
    _short,
    _tokenize,
    parse_ct_ref,
    parse_user_id,
)
from bot.services.policy import ShareRole

# A person by the name they were registered under (letters, digits, '_', '.', '-', an
# optional '@'), or by Telegram id.
_NAME = re.compile(r"@?[A-Za-z][A-Za-z0-9_.-]{0,63}")
USER_USAGE = "a Telegram user id such as 123456789, or the name a user was registered under"


def parse_person(text: str) -> int | str:
    raw = text.strip()
    if raw.isdigit():
        return parse_user_id(raw)
    if _NAME.fullmatch(raw):
        return raw
    raise UsageError(f"{_short(raw)} is not a user id or name", USER_USAGE)


def parse_share_role(text: str) -> ShareRole:
    try:
        return ShareRole[text.strip().upper()]
    except KeyError:
        raise UsageError(f"the role must be viewer, operator or manager, not {_short(text)}",
                         "viewer (sees it), operator (also powers it) or manager (also backs "
                         "up, restores and changes its network)") from None


@dataclass(frozen=True)
class ShareArgs:
    ref: int | str
    user: int | str
    role: ShareRole | None = None  # None: /unshare


def parse_share(args: str, command: str = "share") -> ShareArgs:
    """``/share <ct> <user> <role>``, or with ``command="unshare"``: ``/unshare <ct> <user>``."""
    usage = USAGE[command]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    names = ["the container (id or hostname)", "the user (id or name)"]
    if command == "share":
        names.append("the role (viewer, operator or manager)")
    values = _positionals(tokens, names, len(names), usage)
    ref = _reported(usage, parse_ct_ref, values[0])
    user = _reported(usage, parse_person, values[1])
    role = _reported(usage, parse_share_role, values[2]) if command == "share" else None
    return ShareArgs(ref, user, role)
