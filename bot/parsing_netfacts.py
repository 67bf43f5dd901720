"""The grammar of /netfacts: show the network facts, or change one of them.

    /netfacts                              every fact, its value and where it comes from
    /netfacts add pc_via pve1:vmbr0        one item more (several: space-separated)
    /netfacts del masquerade pve1:vmbr1:vmbr0
    /netfacts set forwarding pve1 pve2     the whole value (none: empty)
    /netfacts reset forwarding             back to the setting's value

Items are written as in the settings (``STRATUS_NETWORK_<NAME>``), one per argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.parsing import USAGE, UsageError, _reported, _short, _tokenize
from bot.services import netfacts

OPS = ("add", "del", "set", "reset")


@dataclass(frozen=True)
class NetFactsArgs:
    op: str  # "show", or one of OPS
    name: str | None = None
    items: tuple[Any, ...] = ()


def parse_netfacts(args: str) -> NetFactsArgs:
    usage = USAGE["netfacts"]
    tokens = _tokenize(args, usage)
    if not tokens:
        return NetFactsArgs("show")
    op = tokens[0].lower()
    if op not in OPS:
        raise UsageError(f"{_short(tokens[0])} is not add, del, set or reset", usage)
    if len(tokens) < 2:
        raise UsageError(f"missing the fact's name (one of: {netfacts.NAMES})", usage)
    name = _reported(usage, lambda t: netfacts.kind(t).name, tokens[1])
    texts = tokens[2:]
    if op == "reset":
        if texts:
            raise UsageError("reset takes only the fact's name", usage)
        return NetFactsArgs(op, name)
    if op == "set" and [t.lower() for t in texts] == ["none"]:
        return NetFactsArgs(op, name)
    if not texts:
        example = netfacts.KINDS[name].example
        raise UsageError(f"{op} {name} needs at least one item, e.g. {example}"
                         + (" (set ... none empties it)" if op == "set" else ""), usage)
    if netfacts.KINDS[name].single and len(texts) > 1:
        raise UsageError(f"{name} holds one value, not {len(texts)}", usage)
    return NetFactsArgs(op, name, tuple(netfacts.parse_item(name, t) for t in texts))
