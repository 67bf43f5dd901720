"""The network facts the Proxmox API cannot show, under one set of names.

/netcheck reasons from what the API shows plus a few facts about the lab around Proxmox: which
bridge leads to the PC (VirtualBox's NAT NIC), which nodes forward IP packets, which bridges a
node masquerades (``post-up iptables ... MASQUERADE`` lines the API does not list), the PC ports
forwarded into the lab (VirtualBox ``natpf``) and DHCP servers outside Proxmox.

A fact has ONE name everywhere: the setting ``network.<name>`` / ``STRATUS_NETWORK_<NAME>``
(its initial value), the chat (``/netfacts add <name> <item>``) and /netcheck's advice. An
admin's change from the chat is stored (and audited) and wins over the setting until
``/netfacts reset <name>``. Pure: the table, item parsing and merging; the service stores.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.parsing import UsageError, _short
from bot.parsing_network import (
    parse_node_bridges_setting,
    parse_nodes_setting,
    parse_port_forwards_setting,
)
from bot.services.netcheck import Facts, PortForward

log = logging.getLogger(__name__)

_VM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _one(items: Iterable[Any], text: str, usage: str) -> Any:
    items = list(items)
    if len(items) != 1:
        raise UsageError(f"{_short(text)} is not one item", usage)
    return items[0]


def _forward(text: str) -> PortForward:
    node, pc, port, ip, proto = _one(parse_port_forwards_setting(text), text,
                                     KINDS["port_forwards"].usage)
    return PortForward(node, pc, port, ip, proto)


def _show_forward(f: PortForward) -> str:
    target = f"{f.target_ip}:{f.target_port}" if f.target_ip else str(f.target_port)
    return f"{f.node}:{f.pc_port}->{target}" + ("" if f.proto == "tcp" else f"/{f.proto}")


def _vm_name(text: str) -> str:
    name = text.strip()
    if _VM_NAME.fullmatch(name):
        return name
    raise UsageError(f"{_short(text)} is not a VirtualBox VM name (letters, digits, . _ -)",
                     KINDS["vbox_vm"].usage)


@dataclass(frozen=True)
class FactKind:
    """One fact: its name (the same in settings, chat and advice), the Facts field it fills,
    what it means, how one item is written, and an example."""

    name: str
    field: str
    meaning: str
    usage: str
    example: str
    parse: Callable[[str], Any]  # one item's text -> the value Facts holds
    show: Callable[[Any], str] = str
    single: bool = False  # one value, not a list (vbox_vm)

    @property
    def setting(self) -> str:
        return f"STRATUS_NETWORK_{self.name.upper()}"


KINDS: dict[str, FactKind] = {k.name: k for k in (
    FactKind("pc_via", "pc_reachable_via",
             "the bridge whose uplink leads to the PC (on VirtualBox: vmbr0, on the NAT NIC)",
             "NODE:BRIDGE", "pve1:vmbr0",
             lambda t: _one(parse_node_bridges_setting(t, 2), t, "NODE:BRIDGE, e.g. pve1:vmbr0"),
             ":".join),
    FactKind("forwarding", "forwarding_nodes",
             "nodes that route between their bridges (net.ipv4.ip_forward=1)",
             "NODE", "pve1",
             lambda t: _one(parse_nodes_setting(t), t, "a node name, e.g. pve1")),
    FactKind("masquerade", "masquerade",
             "NODE:INNER:OUT: the node masquerades INNER's traffic out of OUT "
             "(post-up iptables -t nat -A POSTROUTING ... -j MASQUERADE)",
             "NODE:INNER:OUT", "pve1:vmbr1:vmbr0",
             lambda t: _one(parse_node_bridges_setting(t, 3), t, "NODE:INNER:OUT"),
             ":".join),
    FactKind("port_forwards", "nat_port_forwards",
             "PC ports forwarded into the lab (VirtualBox natpf; for a guest behind the node, "
             "plus a DNAT there)",
             "NODE:PCPORT->[IP:]PORT[/udp]", "pve1:8006->8006", _forward, _show_forward),
    FactKind("dhcp", "dhcp_bridges",
             "bridges served by a DHCP server Proxmox does not run",
             "NODE:BRIDGE", "pve1:vmbr0",
             lambda t: _one(parse_node_bridges_setting(t, 2), t, "NODE:BRIDGE, e.g. pve1:vmbr0"),
             ":".join),
    FactKind("vbox_vm", "vbox_vm",
             "the VirtualBox VM's name, for the VBoxManage commands /netcheck suggests",
             "NAME", "pve", _vm_name, single=True),
)}

NAMES = ", ".join(KINDS)


def kind(name: str) -> FactKind:
    found = KINDS.get(name.strip().lower())
    if found is None:
        raise UsageError(f"{_short(name)} is not a network fact; the facts are: {NAMES}",
                         "/netfacts shows them with their meaning")
    return found


def parse_item(name: str, text: str) -> Any:
    """One item of fact `name` as Facts holds it; UsageError saying how to write it."""
    k = kind(name)
    try:
        return k.parse(text)
    except UsageError as error:
        raise UsageError(f"{k.name}: {error.problem}",
                         f"{k.usage}, e.g. /netfacts add {k.name} {k.example}") from None


def items_of(facts: Facts, name: str) -> tuple[Any, ...]:
    k = KINDS[name]
    value = getattr(facts, k.field)
    if k.single:
        return (value,) if value else ()
    return tuple(sorted(value, key=k.show))


def shown(name: str, items: Iterable[Any]) -> tuple[str, ...]:
    return tuple(KINDS[name].show(i) for i in items)


def with_items(facts: Facts, name: str, items: Iterable[Any]) -> Facts:
    k = KINDS[name]
    items = list(items)
    if k.single:
        value: Any = items[-1] if items else Facts().vbox_vm
    elif k.field == "forwarding_nodes":
        value = frozenset(items)
    else:
        value = tuple(dict.fromkeys(items))  # in order, once each
    return dataclasses.replace(facts, **{k.field: value})


def merged(base: Facts, stored: Mapping[str, list[str]]) -> Facts:
    """The settings' facts with each fact set from the chat (stored as item texts) in place
    of the setting's value."""
    facts = base
    for name, texts in stored.items():
        if name not in KINDS:
            continue
        try:
            facts = with_items(facts, name, [parse_item(name, t) for t in texts])
        except UsageError as error:  # written by an older version: the setting stands
            log.warning("stored network fact %s is unreadable (%s); using the setting", name,
                        error.problem)
    return facts


__all__ = ["KINDS", "FactKind", "kind", "parse_item", "items_of", "shown", "with_items",
           "merged"]
