"""The firewall API the bot uses: datacenter options, ipsets and security groups, and a
container's options and rules (pve-firewall's src/PVE/API2/Firewall/{Cluster,IPSet,Groups,
Rules,VM}.pm over the configuration of pvesim.firewall).

As PVE: a new rule or ipset entry goes first in its list (``unshift``), a rule created without
``enable`` is disabled, every rule passes ``verify_rule`` (an ipset it names must exist), lists
carry a digest a change may be bound to, and options are returned as set, with their digest.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..errors import fail, param_error
from ..firewall import (
    Firewall,
    GuestFirewall,
    check_digest,
    digest_of,
    listed,
    rule_at,
    take_rule,
    verify_rule,
)
from ..formats import split_list
from ..params.firewall import PARAMS
from .nodes import get_node
from .registry import route

_NOT_OPTIONS = {"node", "vmid", "delete", "digest"}


def _fw(ctx) -> Firewall:
    return ctx.cluster.firewall


def _set_options(options: dict[str, Any], p: dict[str, Any]) -> None:
    """set_options: digest first, then deletions, then the values given (Cluster.pm, VM.pm)."""
    check_digest(p.get("digest"), digest_of(options))
    for key in split_list(p.get("delete", "")):
        options.pop(key, None)
    for key, value in p.items():
        if key not in _NOT_OPTIONS:
            options[key] = value


# ---- datacenter options -------------------------------------------------------------------

@route("GET", "/cluster/firewall/options", PARAMS, perm=("/", "Sys.Audit"))
async def get_cluster_options(ctx, p):
    options = _fw(ctx).options
    return {**options, "digest": digest_of(options)}


@route("PUT", "/cluster/firewall/options", PARAMS, perm=("/", "Sys.Modify"))
async def set_cluster_options(ctx, p):
    _set_options(_fw(ctx).options, p)
    return None


# ---- ipsets -------------------------------------------------------------------------------

def _ipset(fw: Firewall, name: str) -> list[dict[str, Any]]:
    entries = fw.ipsets.get(name.lower())
    if entries is None:
        raise fail(f"no such IPSet '{name}'")
    return entries


@route("GET", "/cluster/firewall/ipset", PARAMS, perm=("/", "Sys.Audit"))
async def list_ipsets(ctx, p):
    fw = _fw(ctx)
    out = []
    for name in sorted(fw.ipsets):
        entry = {"name": name, "digest": digest_of(fw.ipsets[name])}
        if name in fw.ipset_comments:
            entry["comment"] = fw.ipset_comments[name]
        out.append(entry)
    return out


@route("POST", "/cluster/firewall/ipset", PARAMS, perm=("/", "Sys.Modify"))
async def create_ipset(ctx, p):
    fw, name = _fw(ctx), p["name"].lower()  # the config parser reads names lower-cased
    if "rename" in p:
        raise param_error({"rename": "renaming is not modelled by pvesim"})
    if name in fw.ipsets:
        raise param_error({"name": f"IPSet '{name}' already exists"})
    fw.ipsets[name] = []
    if "comment" in p:
        fw.ipset_comments[name] = p["comment"]
    return None


@route("GET", "/cluster/firewall/ipset/{name}", PARAMS, perm=("/", "Sys.Audit"))
async def list_ipset(ctx, p):
    entries = _ipset(_fw(ctx), p["name"])
    digest = digest_of(entries)
    return [{**e, "digest": digest} for e in entries]


def _clean_cidr(cidr: str) -> str:
    """clean_cidr + parse_ip_or_cidr: host bits cleared, a single address without /32."""
    if "/" not in cidr:
        return str(ipaddress.ip_address(cidr))
    net = ipaddress.ip_network(cidr, strict=False)
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


@route("POST", "/cluster/firewall/ipset/{name}", PARAMS, perm=("/", "Sys.Modify"))
async def add_ip(ctx, p):
    entries = _ipset(_fw(ctx), p["name"])
    cidr = p["cidr"]
    if not cidr[0].isalpha():
        cidr = _clean_cidr(cidr)
    if any(e["cidr"] == cidr for e in entries):
        raise param_error({"cidr": f"address '{cidr}' already exists"})
    if cidr.endswith("/0"):
        raise param_error({"cidr": "a zero prefix is not allowed in ipset entries"})
    entry: dict[str, Any] = {"cidr": cidr}
    if p.get("nomatch"):
        entry["nomatch"] = 1
    if p.get("comment"):
        entry["comment"] = p["comment"]
    entries.insert(0, entry)
    return None


@route("DELETE", "/cluster/firewall/ipset/{name}", PARAMS, perm=("/", "Sys.Modify"))
async def delete_ipset(ctx, p):
    fw = _fw(ctx)
    if _ipset(fw, p["name"]) and not p.get("force"):
        raise fail(f"IPSet '{p['name']}' is not empty")
    fw.ipsets.pop(p["name"].lower())
    fw.ipset_comments.pop(p["name"].lower(), None)
    return None


@route("DELETE", "/cluster/firewall/ipset/{name}/{cidr}", PARAMS, perm=("/", "Sys.Modify"))
async def remove_ip(ctx, p):
    entries = _ipset(_fw(ctx), p["name"])
    check_digest(p.get("digest"), digest_of(entries))
    kept = [e for e in entries if e["cidr"] != p["cidr"]]
    if len(kept) == len(entries):
        raise param_error({"cidr": "no such IP/Network"})
    entries[:] = kept
    return None


# ---- security groups ------------------------------------------------------------------------

def _group(fw: Firewall, name: str) -> list[dict[str, Any]]:
    rules = fw.groups.get(name.lower())
    if rules is None:
        raise fail(f"no such security group '{name}'")
    return rules


@route("GET", "/cluster/firewall/groups", PARAMS, perm=("/", "Sys.Audit"))
async def list_groups(ctx, p):
    fw = _fw(ctx)
    out = []
    for name in sorted(fw.groups):
        entry = {"group": name, "digest": digest_of(fw.groups[name])}
        if name in fw.group_comments:
            entry["comment"] = fw.group_comments[name]
        out.append(entry)
    return out


@route("POST", "/cluster/firewall/groups", PARAMS, perm=("/", "Sys.Modify"))
async def create_group(ctx, p):
    fw, name = _fw(ctx), p["group"].lower()
    if "rename" in p:
        raise param_error({"rename": "renaming is not modelled by pvesim"})
    if name in fw.groups:
        raise param_error({"group": f"Security group '{name}' already exists"})
    fw.groups[name] = []
    if "comment" in p:
        fw.group_comments[name] = p["comment"]
    return None


@route("GET", "/cluster/firewall/groups/{group}", PARAMS, perm=("/", "Sys.Audit"))
async def group_rules(ctx, p):
    return listed(_group(_fw(ctx), p["group"]))


def _create_rule(fw: Firewall, rules: list[dict[str, Any]], p: dict[str, Any], env: str):
    """RulesBase create_rule: verified, disabled unless `enable` is given, put first."""
    rule = take_rule(p)
    verify_rule(rule, fw, env)
    rule.setdefault("enable", 0)
    rules.insert(0, rule)


@route("POST", "/cluster/firewall/groups/{group}", PARAMS, perm=("/", "Sys.Modify"))
async def add_group_rule(ctx, p):
    fw = _fw(ctx)
    _create_rule(fw, _group(fw, p["group"]), p, "group")
    return None


@route("DELETE", "/cluster/firewall/groups/{group}/{pos}", PARAMS, perm=("/", "Sys.Modify"))
async def delete_group_rule(ctx, p):
    rules = _group(_fw(ctx), p["group"])
    check_digest(p.get("digest"), digest_of(rules))
    rule_at(rules, p.get("pos", 0))
    del rules[p.get("pos", 0)]
    return None


# ---- a container's firewall ------------------------------------------------------------------

def _guest_fw(ctx, p, write: bool = False) -> GuestFirewall:
    """The CT's <vmid>.fw; like PVE, a CT that does not exist has an empty one (the node must)."""
    get_node(ctx.cluster, p["node"])
    vmid = p["vmid"]
    return _fw(ctx).guest_conf(vmid, ctx.cluster.guests.get(vmid), create=write)


@route("GET", "/nodes/{node}/lxc/{vmid}/firewall/options", PARAMS,
       perm=("/vms/{vmid}", "VM.Audit"))
async def get_ct_options(ctx, p):
    options = _guest_fw(ctx, p).options
    return {**options, "digest": digest_of(options)}


@route("PUT", "/nodes/{node}/lxc/{vmid}/firewall/options", PARAMS,
       perm=("/vms/{vmid}", "VM.Config.Network"))
async def set_ct_options(ctx, p):
    _set_options(_guest_fw(ctx, p, write=True).options, p)
    return None


@route("GET", "/nodes/{node}/lxc/{vmid}/firewall/rules", PARAMS,
       perm=("/vms/{vmid}", "VM.Audit"))
async def ct_rules(ctx, p):
    return listed(_guest_fw(ctx, p).rules)


@route("POST", "/nodes/{node}/lxc/{vmid}/firewall/rules", PARAMS,
       perm=("/vms/{vmid}", "VM.Config.Network"))
async def add_ct_rule(ctx, p):
    _create_rule(_fw(ctx), _guest_fw(ctx, p, write=True).rules, p, "ct")
    return None


@route("GET", "/nodes/{node}/lxc/{vmid}/firewall/rules/{pos}", PARAMS,
       perm=("/vms/{vmid}", "VM.Audit"))
async def ct_rule(ctx, p):
    rules = _guest_fw(ctx, p).rules
    pos = p.get("pos", 0)
    rule_at(rules, pos)
    return listed(rules)[pos]


@route("DELETE", "/nodes/{node}/lxc/{vmid}/firewall/rules/{pos}", PARAMS,
       perm=("/vms/{vmid}", "VM.Config.Network"))
async def delete_ct_rule(ctx, p):
    rules = _guest_fw(ctx, p, write=True).rules
    check_digest(p.get("digest"), digest_of(rules))
    pos = p.get("pos", 0)
    rule_at(rules, pos)
    del rules[pos]
    return None
