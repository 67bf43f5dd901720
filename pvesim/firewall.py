"""The Proxmox firewall's configuration as pve-firewall keeps it, and its checks.

``cluster.fw`` (``[OPTIONS]``, ``[IPSET name]``, ``[group name]``) and one ``<vmid>.fw`` per
guest (``[OPTIONS]``, ``[RULES]``), after src/PVE/Firewall.pm of pve-firewall. Only the
configuration is modelled (what the API reads and writes, and the refusals of its checks);
packets are not: the bot's /netcheck reasons about the rules itself.

Not modelled: aliases, a guest's own ipsets, and the copy of a guest's firewall that a clone
makes (``clone_vmfw_conf``) or a restore brings back; the bot sets a new CT's rules either way.
A guest's file goes with the guest (``destroy_vm`` calls ``remove_vmfw_conf``): here, a file
written for a guest is dropped once another guest holds its vmid, or none does.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, fail, param_error

# Firewall.pm: $ipset_name_pattern, $security_group_name_pattern, $ip_alias_pattern
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9\-\_]+$")
MAX_IPSET_NAME = 64  # $max_ipset_name_length

# The rule keys a rule keeps ($rule_properties, without pos and digest), in PVE's order.
RULE_KEYS = ("type", "action", "macro", "source", "dest", "proto", "dport", "sport", "iface",
             "icmp-type", "log", "enable", "comment")
# $rule_env_direction_lookup: the rule types each kind of rule list takes.
RULE_TYPES = {"ct": ("in", "out", "group"), "group": ("in", "out", "forward")}
# $PROTOCOLS_WITH_PORTS
PROTOCOLS_WITH_PORTS = {"tcp", "udp", "udplite", "dccp", "sctp", "6", "17", "33", "132", "136"}
# /etc/protocols, the names PVE accepts (get_etc_protocols), and icmpv6 added by it.
PROTOCOLS = {"ip": 0, "icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "ipv6": 41, "gre": 47,
             "esp": 50, "ah": 51, "ipv6-icmp": 58, "icmpv6": 58, "ospf": 89, "pim": 103,
             "vrrp": 112, "l2tp": 115, "sctp": 132, "udplite": 136, "dccp": 33}
ICMP_PROTOCOLS = {"icmp", "icmpv6", "ipv6-icmp", "1", "58"}
# $icmp_type_names (the IPv4 ones; enough for the checks the bot meets)
ICMP_TYPES = {"any", "echo-reply", "destination-unreachable", "network-unreachable",
              "host-unreachable", "protocol-unreachable", "port-unreachable",
              "fragmentation-needed", "source-quench", "redirect", "echo-request",
              "router-advertisement", "router-solicitation", "time-exceeded",
              "parameter-problem", "timestamp-request", "timestamp-reply"}
# /etc/services names a port list may use (parse_port_name_number_or_range)
SERVICES = {"ssh": 22, "http": 80, "https": 443, "domain": 53, "smtp": 25, "ftp": 21,
            "ntp": 123, "imap": 143, "pop3": 110, "ldap": 389, "mysql": 3306,
            "postgresql": 5432, "submission": 587, "imaps": 993, "pop3s": 995}


# ---- formats (Firewall.pm, PVE::JSONSchema::register_format) ------------------------------


def _ip_or_cidr(v: str) -> str | None:
    """pve_verify_ip_or_cidr: an address, or a network written with its host bits."""
    try:
        ipaddress.ip_network(v, strict=False)
    except ValueError:
        return "value does not look like a valid IP address or CIDR network"
    return None


def _ip_or_cidr_or_alias(v: str) -> str | None:
    if re.match(r"^(dc/|guest/)?[A-Za-z][A-Za-z0-9\-\_]+$", v):
        return None
    return _ip_or_cidr(v)


def parse_address_list(v: str) -> str | None:
    """parse_address_list: an ipset (+name), an alias, or a list of addresses/networks."""
    if v.startswith("+"):
        return "ipset name too long" if len(v) > MAX_IPSET_NAME + 1 else None
    if re.match(r"^(dc/|guest/)?[A-Za-z][A-Za-z0-9\-\_]+$", v):
        return "alias name too long" if len(v) > 64 else None
    items = v.split(",")
    if "" in items:
        return "extraneous commas in list"
    versions = set()
    for item in items:
        try:
            if "-" in item:
                first, last = item.split("-", 1)
                versions.add(ipaddress.ip_address(first).version)
                ipaddress.ip_address(last)
            else:
                versions.add(ipaddress.ip_network(item, strict=False).version)
        except ValueError:
            return f"invalid IP address: {item}"
    if len(versions) > 1:
        return f"detected mixed ipv4/ipv6 addresses in address list '{v}'"
    if any("-" in item for item in items) and len(items) > 1:
        return "you can't use a range in a list"
    return None


def parse_ports(v: str, dport: bool = False) -> str | None:
    """parse_port_name_number_or_range: numbers, a:b ranges and service names; 15 at most."""
    items = v.split(",")
    if "" in items:
        return "extraneous commas in list"
    count = 0
    for item in items:
        if m := re.fullmatch(r"([0-9]+):([0-9]+)", item):
            count += 2
            a, b = int(m[1]), int(m[2])
            for port in (a, b):
                if port > 65535:
                    return f"invalid port '{port}'"
            if a > b:
                return f"backwards range '{a}:{b}' not allowed, did you mean '{b}:{a}'?"
        elif re.fullmatch(r"[0-9]+", item):
            count += 1
            if int(item) > 65535:
                return f"invalid port '{item}'"
        elif not (dport and item in ICMP_TYPES) and item not in SERVICES:
            return f"invalid port '{item}'"
    if count > 15:
        return "too many entries in port list (> 15 numbers)"
    return None


def _protocol(v: str) -> str | None:
    known = v in PROTOCOLS or (v.isdigit() and int(v) in PROTOCOLS.values())
    return None if not v or known else f"unknown protocol '{v}'"


def _icmp_type(v: str) -> str | None:
    return None if v in ICMP_TYPES or v == "" else f"invalid icmp-type value '{v}'"


FORMATS = {
    "IPorCIDR": _ip_or_cidr,
    "IPorCIDRorAlias": _ip_or_cidr_or_alias,
    "pve-fw-addr-spec": parse_address_list,
    "pve-fw-dport-spec": lambda v: parse_ports(v, dport=True),
    "pve-fw-sport-spec": parse_ports,
    "pve-fw-protocol-spec": _protocol,
    "pve-fw-icmp-type-spec": _icmp_type,
}


# ---- the configuration -----------------------------------------------------------------------


def digest_of(entries: list[dict[str, Any]] | dict[str, Any]) -> str:
    """copy_list_with_digest / copy_opject_with_digest: SHA-1 over the sorted key: value lines."""
    sha = hashlib.sha1()
    for entry in entries if isinstance(entries, list) else [entries]:
        for key in sorted(entry):
            sha.update(f"{key}:{entry[key]}\n".encode())
    return sha.hexdigest()


@dataclass
class GuestFirewall:
    """``/etc/pve/firewall/<vmid>.fw``; `guest` is the guest it was written for (see module)."""

    guest: Any
    options: dict[str, Any] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Firewall:
    """``cluster.fw`` and the guests' files."""

    options: dict[str, Any] = field(default_factory=dict)  # enable is off until set
    ipsets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    ipset_comments: dict[str, str] = field(default_factory=dict)
    groups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    group_comments: dict[str, str] = field(default_factory=dict)
    guests: dict[int, GuestFirewall] = field(default_factory=dict)

    def guest_conf(self, vmid: int, guest: Any, create: bool = False) -> GuestFirewall:
        """The guest's file (load_vmfw_conf: none is an empty one); `create` on a write."""
        conf = self.guests.get(vmid)
        if conf is not None and conf.guest is not guest:  # removed with the guest it was for
            del self.guests[vmid]
            conf = None
        if conf is None:
            conf = GuestFirewall(guest)
            if create:
                self.guests[vmid] = conf
        return conf

    @property
    def enabled(self) -> bool:
        return bool(int(self.options.get("enable", 0)))


def verify_rule(rule: dict[str, Any], fw: Firewall, env: str) -> None:
    """Firewall.pm verify_rule, as the API calls it (its first error raises a 400)."""

    def error(param: str, msg: str) -> ApiError:
        return param_error({param: msg})

    kind, action = rule.get("type"), rule.get("action")
    if not kind:
        raise error("type", "missing property")
    if not action:
        raise error("action", "missing property")
    if kind not in RULE_TYPES[env]:
        raise error("type", f"invalid rule type '{kind}' for rule_env '{env}'")
    if kind == "group":
        if not NAME.match(action):
            raise error("action", "invalid characters in security group name")
    elif action not in ("ACCEPT", "DROP", "REJECT"):
        raise error("action", f"unknown action '{action}'")
    if rule.get("iface") and env == "group":
        raise error("type", "parameter -i not allowed for this rule type")
    if rule.get("iface") and env == "ct" and not re.fullmatch(r"net\d+", rule["iface"]):
        raise error("iface", "value does not match the regex pattern 'net\\d+'")
    if rule.get("macro"):
        raise error("macro", f"unknown macro '{rule['macro']}'")  # pvesim knows no macros
    proto = rule.get("proto")
    icmp = proto in ICMP_PROTOCOLS
    for key in ("dport", "sport"):
        if rule.get(key):
            if problem := parse_ports(rule[key], dport=key == "dport" and icmp):
                raise error(key, problem)
            if not proto:
                raise error("proto", f"missing property - '{key}' requires this property")
            if proto not in PROTOCOLS_WITH_PORTS and not (key == "dport" and icmp):
                raise error(key, f"protocol '{proto}' does not support ports")
    if rule.get("icmp-type"):
        if not icmp:
            raise error("proto", "missing property - 'icmp-type' requires this property")
        if rule.get("dport"):
            raise error("icmp-type", "'icmp-type' cannot be specified together with 'dport'")
    for key in ("source", "dest"):
        value = rule.get(key)
        if value and value.startswith("+"):
            m = re.fullmatch(r"\+(guest/|dc/)?([A-Za-z][A-Za-z0-9\-\_]+)", value)
            if m is None:
                raise error(key, f"invalid ipset name '{value}'")
            if m[2].lower() not in fw.ipsets:
                raise error(key, f"no such ipset '{m[2]}'")
        elif value and (problem := parse_address_list(value)):
            raise error(key, problem)


def take_rule(params: dict[str, Any]) -> dict[str, Any]:
    """copy_rule_data: the rule keys given (an empty value or '-' deletes one)."""
    return {k: params[k] for k in RULE_KEYS if k in params and params[k] not in ("", "-")}


def rule_at(rules: list[dict[str, Any]], pos: int) -> dict[str, Any]:
    if pos >= len(rules):
        raise fail(f"no rule at position {pos}")
    return rules[pos]


def listed(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """get_rules: each rule with its position and the list's digest."""
    digest = digest_of(rules)
    return [{**rule, "pos": pos, "digest": digest} for pos, rule in enumerate(rules)]


def check_digest(expected: str | None, current: str) -> None:
    if expected is not None and expected != current:  # PVE::Tools::assert_if_modified
        raise fail("detected modified configuration - file changed by other user? Try again.")
