"""SDN: zones, VNets and subnets, edited as pending configuration and applied with PUT /cluster/sdn.

Like PVE, writes change the configuration in /etc/pve/sdn/*.cfg only; ``PUT /cluster/sdn``
copies it to the running configuration in a ``reloadnetworkall`` task, after which a VNet is a
bridge on every node of its zone (a CT NIC can use it). Listings take ``running=1`` (the
applied configuration) or ``pending=1`` (PVE's ``pending_config``: each object with ``state``
new/changed/deleted and the changed values under ``pending``). A subnet's id is
``<zone>-<network>-<prefix>`` (e.g. ``natz-10.20.0.0-24``); ``snat=1`` masquerades it out of the
node's default route, the API's way to a NATed private network (README item 11).
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from ..errors import fail, param_error
from ..formats import split_list
from ..model import Cluster, Task
from ..params.sdn import PARAMS
from .network import refresh_bridges
from .registry import route

_KIND_KEY = {"zones": "zone", "vnets": "vnet", "subnets": "subnet"}
_NOT_STORED = {"zone_id", "vnet_id", "subnet_id", "lock-token", "digest", "delete", "pending",
               "running"}
_PERM_AUDIT = ("/sdn", "SDN.Audit")
_PERM_ALLOCATE = ("/sdn", "SDN.Allocate")
# The methods' own ``permissions => {check => ...}`` (pve-network PVE::API2::Network::SDN::*);
# the others check inside their code, which the two above approximate.
_PERM_ZONES = ("/sdn/zones", "SDN.Allocate")
_PERM_ZONE = ("/sdn/zones/{zone}", "SDN.Allocate")


def _pending_view(cluster: Cluster, kind: str) -> dict[str, dict[str, Any]]:
    """PVE::Network::SDN::pending_config for one kind of object."""
    run, cfg = cluster.sdn_running[kind], cluster.sdn[kind]
    out: dict[str, dict[str, Any]] = {}
    for oid, robj in run.items():
        entry = out.setdefault(oid, {})
        cobj = cfg.get(oid)
        for key, value in robj.items():
            entry[key] = value
            if cobj is None:
                entry["state"] = "deleted"
            elif key not in cobj:
                entry.setdefault("pending", {})[key] = "deleted"
                entry["state"] = "changed"
            elif str(cobj[key]) != str(value):
                entry["state"] = "changed"
    for oid, cobj in cfg.items():
        entry = out.setdefault(oid, {})
        robj = run.get(oid)
        for key, value in cobj.items():
            if key in ("type", "vnet", "zone") and robj is None:
                entry[key] = value
            elif robj is None or str(robj.get(key)) != str(value):
                entry.setdefault("pending", {})[key] = value
            if robj is None:
                entry["state"] = "new"
            elif key not in robj:
                entry["state"] = "changed"
        if entry.get("state") and "pending" not in entry:
            entry["pending"] = {}
    return out


def _view(cluster: Cluster, kind: str, p: dict[str, Any]) -> dict[str, dict[str, Any]]:
    if p.get("pending"):
        return _pending_view(cluster, kind)
    if p.get("running"):
        return cluster.sdn_running[kind]
    return cluster.sdn[kind]


def _listing(kind: str, objects: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for oid, obj in sorted(objects.items()):
        entry = {_KIND_KEY[kind]: oid, **obj}
        if kind == "subnets":
            net = _subnet_network(oid)
            entry.update(cidr=str(net), network=str(net.network_address), mask=str(net.prefixlen))
        out.append(entry)
    return out


def _subnet_network(subnet_id: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    _zone, ip, mask = subnet_id.rsplit("-", 2)
    return ipaddress.ip_network(f"{ip}/{mask}", strict=False)


def _one(cluster: Cluster, kind: str, oid: str, p: dict[str, Any]) -> dict[str, Any]:
    objects = _view(cluster, kind, p)
    if oid not in objects:
        raise fail(f"sdn '{oid}' does not exist")
    return _listing(kind, {oid: objects[oid]})[0]


def _fields(p: dict[str, Any], *skip: str) -> dict[str, Any]:
    return {k: v for k, v in p.items() if k not in _NOT_STORED and k not in skip}


def _update(obj: dict[str, Any], p: dict[str, Any], *skip: str) -> None:
    for key in split_list(p.get("delete", "")):
        obj.pop(key, None)
    obj.update(_fields(p, *skip))


def _exists(cluster: Cluster, kind: str, oid: str) -> dict[str, Any]:
    obj = cluster.sdn[kind].get(oid)
    if obj is None:
        raise fail(f"sdn {_KIND_KEY[kind]} '{oid}' does not exist")
    return obj


@route("GET", "/cluster/sdn", PARAMS, perm=_PERM_AUDIT)
async def sdn_index(ctx, p):
    return [{"id": i} for i in ("controllers", "dns", "fabrics", "ipams", "vnets", "zones")]


@route("PUT", "/cluster/sdn", PARAMS, perm=_PERM_ALLOCATE)
async def sdn_apply(ctx, p):
    """Apply the pending SDN configuration on every node (a ``reloadnetworkall`` task)."""
    cluster = ctx.cluster
    node = next((n.name for n in cluster.nodes.values() if n.online), next(iter(cluster.nodes)))
    config = copy.deepcopy(cluster.sdn)

    async def work(task: Task) -> None:
        for name in cluster.nodes:
            task.log(f"{name}: reloading network config")
        await ctx.runner.wait(task)
        cluster.sdn_running = config
        refresh_bridges(cluster)

    return ctx.runner.start(node, "reloadnetworkall", "", ctx.identity.userid, work).upid


# ---- zones -------------------------------------------------------------------------------------

@route("GET", "/cluster/sdn/zones", PARAMS, perm=_PERM_AUDIT)
async def list_zones(ctx, p):
    zones = _listing("zones", _view(ctx.cluster, "zones", p))
    return [z for z in zones if not p.get("type") or z.get("type") == p["type"]]


@route("POST", "/cluster/sdn/zones", PARAMS, perm=_PERM_ZONES)
async def create_zone(ctx, p):
    zid = p["zone"]
    if zid in ctx.cluster.sdn["zones"]:
        raise fail(f"sdn zone object ID '{zid}' already defined")
    for node in split_list(p.get("nodes", "")):
        if node not in ctx.cluster.nodes:
            raise param_error({"nodes": f"node '{node}' does not exist"})
    ctx.cluster.sdn["zones"][zid] = _fields(p, "zone")
    return None


@route("GET", "/cluster/sdn/zones/{zone}", PARAMS, perm=_PERM_ZONE)
async def get_zone(ctx, p):
    return _one(ctx.cluster, "zones", p["zone"], p)


@route("PUT", "/cluster/sdn/zones/{zone}", PARAMS, perm=_PERM_ZONE)
async def update_zone(ctx, p):
    _update(_exists(ctx.cluster, "zones", p["zone"]), p, "zone")
    return None


@route("DELETE", "/cluster/sdn/zones/{zone}", PARAMS, perm=_PERM_ZONE)
async def delete_zone(ctx, p):
    zid = p["zone"]
    _exists(ctx.cluster, "zones", zid)
    for vid, vnet in ctx.cluster.sdn["vnets"].items():
        if vnet.get("zone") == zid:
            raise fail(f"Can't delete zone '{zid}': vnet '{vid}' uses it")
    del ctx.cluster.sdn["zones"][zid]
    return None


# ---- vnets -------------------------------------------------------------------------------------

@route("GET", "/cluster/sdn/vnets", PARAMS, perm=_PERM_AUDIT)
async def list_vnets(ctx, p):
    return _listing("vnets", _view(ctx.cluster, "vnets", p))


@route("POST", "/cluster/sdn/vnets", PARAMS, perm=_PERM_ZONE)
async def create_vnet(ctx, p):
    vid = p["vnet"]
    if vid in ctx.cluster.sdn["vnets"]:
        raise fail(f"sdn vnet object ID '{vid}' already defined")
    if p["zone"] not in ctx.cluster.sdn["zones"]:
        raise param_error({"zone": f"zone '{p['zone']}' does not exist"})
    ctx.cluster.sdn["vnets"][vid] = {"type": "vnet", **_fields(p, "vnet")}
    return None


@route("GET", "/cluster/sdn/vnets/{vnet}", PARAMS, perm=_PERM_AUDIT)
async def get_vnet(ctx, p):
    return _one(ctx.cluster, "vnets", p["vnet"], p)


@route("PUT", "/cluster/sdn/vnets/{vnet}", PARAMS, perm=_PERM_ALLOCATE)
async def update_vnet(ctx, p):
    vnet = _exists(ctx.cluster, "vnets", p["vnet"])
    if "zone" in p and p["zone"] not in ctx.cluster.sdn["zones"]:
        raise param_error({"zone": f"zone '{p['zone']}' does not exist"})
    _update(vnet, p, "vnet")
    return None


@route("DELETE", "/cluster/sdn/vnets/{vnet}", PARAMS, perm=_PERM_ALLOCATE)
async def delete_vnet(ctx, p):
    vid = p["vnet"]
    _exists(ctx.cluster, "vnets", vid)
    if any(s.get("vnet") == vid for s in ctx.cluster.sdn["subnets"].values()):
        raise fail("Can't delete vnet if subnets exists")
    del ctx.cluster.sdn["vnets"][vid]
    return None


# ---- subnets -----------------------------------------------------------------------------------

def _subnets_of(objects: dict[str, dict[str, Any]], vnet: str) -> dict[str, dict[str, Any]]:
    return {sid: s for sid, s in objects.items() if s.get("vnet") == vnet}


def _subnet_id(cluster: Cluster, vnet_id: str, subnet: str) -> str:
    """The id of a subnet given as its id or as a CIDR of this VNet's zone."""
    if "/" not in subnet:
        return subnet
    zone = cluster.sdn["vnets"][vnet_id].get("zone", "")
    net = ipaddress.ip_network(subnet, strict=False)
    return f"{zone}-{net.network_address}-{net.prefixlen}"


@route("GET", "/cluster/sdn/vnets/{vnet}/subnets", PARAMS, perm=_PERM_AUDIT)
async def list_subnets(ctx, p):
    _exists(ctx.cluster, "vnets", p["vnet"])
    return _listing("subnets", _subnets_of(_view(ctx.cluster, "subnets", p), p["vnet"]))


@route("POST", "/cluster/sdn/vnets/{vnet}/subnets", PARAMS, perm=_PERM_ALLOCATE)
async def create_subnet(ctx, p):
    vid = p["vnet"]
    _exists(ctx.cluster, "vnets", vid)
    if "/" not in p["subnet"]:
        raise param_error({"subnet": "value does not look like a valid CIDR network"})
    sid = _subnet_id(ctx.cluster, vid, p["subnet"])
    if sid in ctx.cluster.sdn["subnets"]:
        raise fail(f"sdn subnet object ID '{sid}' already defined")
    net = _subnet_network(sid)
    if "gateway" in p and ipaddress.ip_address(p["gateway"]) not in net:
        raise param_error({"gateway": f"gateway {p['gateway']} is not in subnet {net}"})
    ctx.cluster.sdn["subnets"][sid] = {"vnet": vid, **_fields(p, "subnet", "vnet")}
    return None


def _subnet(ctx, p) -> tuple[str, dict[str, Any]]:
    _exists(ctx.cluster, "vnets", p["vnet"])
    sid = _subnet_id(ctx.cluster, p["vnet"], p["subnet"])
    return sid, _exists(ctx.cluster, "subnets", sid)


@route("GET", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}", PARAMS, perm=_PERM_AUDIT)
async def get_subnet(ctx, p):
    _exists(ctx.cluster, "vnets", p["vnet"])
    return _one(ctx.cluster, "subnets", _subnet_id(ctx.cluster, p["vnet"], p["subnet"]), p)


@route("PUT", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}", PARAMS, perm=_PERM_ALLOCATE)
async def update_subnet(ctx, p):
    sid, subnet = _subnet(ctx, p)
    if "gateway" in p and ipaddress.ip_address(p["gateway"]) not in _subnet_network(sid):
        raise param_error({"gateway": f"gateway {p['gateway']} is not in subnet "
                                      f"{_subnet_network(sid)}"})
    _update(subnet, p, "subnet", "vnet")
    return None


@route("DELETE", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}", PARAMS, perm=_PERM_ALLOCATE)
async def delete_subnet(ctx, p):
    sid, _ = _subnet(ctx, p)
    del ctx.cluster.sdn["subnets"][sid]
    return None
