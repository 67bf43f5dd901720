"""A node's network: /etc/network/interfaces with PVE's pending-changes workflow.

README item 11: POST/PUT/DELETE of an iface edit ``interfaces.new`` (a copy of the running file
made on the first change); the listing shows that staged configuration, a staged bridge is not
``active`` yet, and the reply carries a top-level ``changes`` (a unified diff of the two files).
``PUT /nodes/{node}/network`` applies (``ifreload -a``) in a ``srvreload`` task with id
``networking``; ``DELETE /nodes/{node}/network`` drops ``interfaces.new``.

Default nodes look like the lab's Proxmox VM: NICs ``enp0s3`` (VirtualBox NAT) and ``enp0s8``,
and ``vmbr0`` bridged to ``enp0s3`` with the node's address (10.0.2.15/24 for the first node,
.16 for the second...) and VirtualBox NAT's router 10.0.2.2 as gateway.
"""

from __future__ import annotations

import copy
import difflib
import ipaddress
from typing import Any

from ..errors import param_error
from ..formats import split_list
from ..model import Cluster, Node, Task
from ..params.network import PARAMS
from .nodes import get_node
from .registry import Reply, route

NAT_NIC = "enp0s3"
SPARE_NIC = "enp0s8"
NAT_GATEWAY = "10.0.2.2"
BRIDGE_TYPES = ("bridge", "OVSBridge")
# Keys of POST/PUT that are not settings of the iface itself.
_NOT_STORED = {"node", "iface", "delete", "digest", "regenerate-frr"}


def _node_address(cluster: Cluster, node: Node) -> str:
    index = list(cluster.nodes).index(node.name)
    return f"10.0.2.{15 + index}/24"


def running(cluster: Cluster, node: Node) -> dict[str, dict[str, Any]]:
    """The node's applied interfaces (built from ``node.bridges`` the first time)."""
    if not node.interfaces:
        ifaces: dict[str, dict[str, Any]] = {
            "lo": {"type": "loopback", "method": "loopback", "autostart": 1},
            NAT_NIC: {"type": "eth", "method": "manual", "exists": 1},
            SPARE_NIC: {"type": "eth", "method": "manual", "exists": 1},
        }
        for name in sorted(node.bridges):
            bridge: dict[str, Any] = {"type": "bridge", "method": "manual", "autostart": 1,
                                      "bridge_stp": "off", "bridge_fd": "0"}
            if name == "vmbr0":
                bridge.update(method="static", cidr=_node_address(cluster, node),
                              gateway=NAT_GATEWAY, bridge_ports=NAT_NIC)
            ifaces[name] = _normalised(bridge)
        node.interfaces = ifaces
    return node.interfaces


def edited(cluster: Cluster, node: Node) -> dict[str, dict[str, Any]]:
    """What the API lists and edits: interfaces.new when it exists, else the running file."""
    return node.interfaces_new if node.interfaces_new is not None else running(cluster, node)


def _staging(cluster: Cluster, node: Node) -> dict[str, dict[str, Any]]:
    if node.interfaces_new is None:
        node.interfaces_new = copy.deepcopy(running(cluster, node))
    return node.interfaces_new


def _normalised(iface: dict[str, Any]) -> dict[str, Any]:
    """cidr <-> address/netmask as PVE keeps them; method static when there is an address."""
    out = dict(iface)
    if "cidr" in out:
        ip = ipaddress.IPv4Interface(out["cidr"])
        out.update(address=str(ip.ip), netmask=str(ip.network.prefixlen))
    elif "address" in out and "netmask" in out:
        mask = out["netmask"]
        ip = ipaddress.IPv4Interface(f"{out['address']}/{mask}")
        out.update(cidr=str(ip), netmask=str(ip.network.prefixlen))
    if out.get("type") in BRIDGE_TYPES or out.get("type") in ("bond", "vlan", "eth"):
        out["method"] = "static" if "cidr" in out else "manual"
    out.setdefault("families", ["inet"])
    return out


def refresh_bridges(cluster: Cluster) -> None:
    """What a container NIC can attach to on each node: applied Linux bridges and applied SDN
    VNets whose zone spans the node (lxc start checks ``node.bridges``)."""
    zones = cluster.sdn_running["zones"]
    for node in cluster.nodes.values():
        names = {n for n, i in running(cluster, node).items() if i.get("type") in BRIDGE_TYPES}
        for vnet_id, vnet in cluster.sdn_running["vnets"].items():
            zone = zones.get(vnet.get("zone", ""))
            if zone is not None and (not zone.get("nodes")
                                     or node.name in split_list(zone["nodes"])):
                names.add(vnet_id)
        node.bridges = names


# ---- /etc/network/interfaces as text, for the `changes` diff -----------------------------------

def _order(name: str, iface: dict[str, Any]) -> tuple[int, str]:
    rank = {"loopback": 0, "eth": 1, "bond": 2, "bridge": 3, "OVSBridge": 3, "vlan": 4}
    return rank.get(iface.get("type", ""), 5), name


def render(ifaces: dict[str, dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for name, iface in sorted(ifaces.items(), key=lambda kv: _order(*kv)):
        if iface.get("autostart"):
            lines.append(f"auto {name}")
        lines.append(f"iface {name} inet {iface.get('method', 'manual')}")
        for key, opt in (("cidr", "address"), ("gateway", "gateway"), ("mtu", "mtu"),
                         ("bridge_ports", "bridge-ports"), ("bridge_stp", "bridge-stp"),
                         ("bridge_fd", "bridge-fd"), ("bridge_vlan_aware", "bridge-vlan-aware"),
                         ("bridge_vids", "bridge-vids")):
            if key in iface:
                value = iface[key]
                if key == "bridge_ports" and not value:
                    value = "none"
                lines.append(f"\t{opt} {value}")
        if iface.get("type") in BRIDGE_TYPES and "bridge_ports" not in iface:
            lines.append("\tbridge-ports none")
        if iface.get("comments"):
            lines += [f"#{c}" for c in str(iface["comments"]).splitlines()]
        lines.append("")
    return lines


def changes(cluster: Cluster, node: Node) -> str | None:
    if node.interfaces_new is None:
        return None
    diff = difflib.unified_diff(render(running(cluster, node)), render(node.interfaces_new),
                                "/etc/network/interfaces", "/etc/network/interfaces.new",
                                lineterm="")
    text = "\n".join(diff)
    return text + "\n" if text else None


# ---- the endpoints -------------------------------------------------------------------------------

def _entry(cluster: Cluster, node: Node, name: str, iface: dict[str, Any]) -> dict[str, Any]:
    out = {"iface": name, "priority": 0, **iface}
    live = running(cluster, node).get(name)
    if live is not None and (iface.get("type") != "bridge" or name in node.bridges):
        out["active"] = 1
    return out


_ANY_BRIDGE = {"any_bridge", "any_local_bridge"}


@route("GET", "/nodes/{node}/network", PARAMS, perm=("/nodes/{node}", "Sys.Audit"))
async def list_network(ctx, p):
    node = get_node(ctx.cluster, p["node"])
    wanted = p.get("type")
    out = []
    for name, iface in sorted(edited(ctx.cluster, node).items()):
        kind = iface.get("type")
        if name == "lo":
            continue  # PVE: "do not list the loopback device"
        if wanted in _ANY_BRIDGE and kind not in BRIDGE_TYPES:
            continue
        if wanted and wanted not in _ANY_BRIDGE and wanted != "include_sdn" and kind != wanted:
            continue
        out.append(_entry(ctx.cluster, node, name, iface))
    if wanted in ("any_bridge", "include_sdn"):
        for vnet in sorted(n for n in node.bridges if n not in edited(ctx.cluster, node)):
            out.append({"iface": vnet, "type": "vnet", "active": 1})
    diff = changes(ctx.cluster, node)
    return Reply(out, {"changes": diff} if diff else {})


def _check_gateway(ifaces: dict[str, dict[str, Any]], name: str, params: dict[str, Any]) -> None:
    if not params.get("gateway"):
        return
    for other, iface in ifaces.items():
        if other != name and iface.get("gateway"):
            raise param_error({"gateway": f"Default gateway already exists on interface '{other}'."})


_PORT_KEYS = ("bridge_ports", "ovs_ports", "slaves", "ovs_bonds")


def _check_ports(ifaces: dict[str, dict[str, Any]], name: str, params: dict[str, Any]) -> None:
    """A port belongs to one iface (PVE's ``$check_duplicate_ports``)."""
    keys = [k for k in _PORT_KEYS if params.get(k)]
    wanted = {port for k in keys for port in split_list(str(params[k]))}
    for other, iface in ifaces.items():
        if other == name:
            continue
        for k in _PORT_KEYS:
            for port in split_list(str(iface.get(k) or "")):
                if port in wanted:
                    raise param_error({keys[0]: f"{port} is already used on interface '{other}'."})


def _settings(p: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in p.items() if k not in _NOT_STORED}


@route("POST", "/nodes/{node}/network", PARAMS, perm=("/nodes/{node}", "Sys.Modify"))
async def create_iface(ctx, p):
    node = get_node(ctx.cluster, p["node"])
    name = p["iface"]
    if name in edited(ctx.cluster, node):
        raise param_error({"iface": "interface already exists"})
    _check_gateway(edited(ctx.cluster, node), name, p)
    _check_ports(edited(ctx.cluster, node), name, p)
    iface = _settings(p)
    if iface.get("type") in BRIDGE_TYPES:
        iface.setdefault("bridge_stp", "off")
        iface.setdefault("bridge_fd", "0")
    _staging(ctx.cluster, node)[name] = _normalised(iface)
    return None


@route("GET", "/nodes/{node}/network/{iface}", PARAMS, perm=("/nodes/{node}", "Sys.Audit"))
async def get_iface(ctx, p):
    node = get_node(ctx.cluster, p["node"])
    iface = edited(ctx.cluster, node).get(p["iface"])
    if iface is None:
        raise param_error({"iface": "interface does not exist"})
    return {"method": "manual", **iface}


@route("PUT", "/nodes/{node}/network/{iface}", PARAMS, perm=("/nodes/{node}", "Sys.Modify"))
async def update_iface(ctx, p):
    node = get_node(ctx.cluster, p["node"])
    name = p["iface"]
    if name not in edited(ctx.cluster, node):
        raise param_error({"iface": "interface does not exist"})
    _check_gateway(edited(ctx.cluster, node), name, p)
    _check_ports(edited(ctx.cluster, node), name, p)
    staged = _staging(ctx.cluster, node)
    iface = dict(staged[name])
    for key in split_list(p.get("delete", "")):
        iface.pop(key, None)
        if key == "cidr":
            iface.pop("address", None)
            iface.pop("netmask", None)
    iface.update(_settings(p))
    staged[name] = _normalised(iface)
    return None


@route("DELETE", "/nodes/{node}/network/{iface}", PARAMS, perm=("/nodes/{node}", "Sys.Modify"))
async def delete_iface(ctx, p):
    node = get_node(ctx.cluster, p["node"])
    if p["iface"] not in edited(ctx.cluster, node):
        raise param_error({"iface": "interface does not exist"})
    del _staging(ctx.cluster, node)[p["iface"]]
    return None


@route("PUT", "/nodes/{node}/network", PARAMS, perm=("/nodes/{node}", "Sys.Modify"))
async def apply_network(ctx, p):
    """``ifreload -a`` in a worker: interfaces.new becomes the running configuration."""
    node = get_node(ctx.cluster, p["node"])
    cluster = ctx.cluster

    async def work(task: Task) -> None:
        await ctx.runner.wait(task)
        if node.interfaces_new is not None:
            node.interfaces = node.interfaces_new
            node.interfaces_new = None
        refresh_bridges(cluster)

    return ctx.runner.start(node.name, "srvreload", "networking", ctx.identity.userid, work).upid


@route("DELETE", "/nodes/{node}/network", PARAMS, perm=("/nodes/{node}", "Sys.Modify"))
async def revert_network(ctx, p):
    node = get_node(ctx.cluster, p["node"])
    node.interfaces_new = None
    return None
