"""Cluster status, resources and nextid."""

from __future__ import annotations

from ..errors import param_error
from ..params.cluster import PARAMS
from .lxc import guest_summary
from .nodes import node_usage
from .registry import route
from .storage import storage_entry


@route("GET", "/cluster/status", PARAMS, perm=("/", "Sys.Audit"))
async def cluster_status(ctx, p):
    nodes = list(ctx.cluster.nodes.values())
    out = [{"type": "cluster", "id": "cluster", "name": ctx.cluster.name, "nodes": len(nodes),
            "quorate": int(sum(n.online for n in nodes) * 2 > len(nodes)), "version": len(nodes)}]
    for i, node in enumerate(nodes, start=1):
        out.append({"type": "node", "id": f"node/{node.name}", "name": node.name, "nodeid": i,
                    "online": int(node.online), "local": int(i == 1), "ip": f"192.168.1.{10 + i}",
                    "level": ""})
    return out


@route("GET", "/cluster/resources", PARAMS)
async def cluster_resources(ctx, p):
    kind = p.get("type")
    out = []
    cluster = ctx.cluster
    if kind in (None, "vm"):
        for guest in sorted(cluster.guests.values(), key=lambda g: g.vmid):
            entry = guest_summary(guest)
            entry.update(id=f"lxc/{guest.vmid}", node=guest.node, type="lxc",
                         maxcpu=entry.pop("cpus"), template=int(guest.config.get("template", 0)),
                         hastate=None)
            entry.pop("hastate")
            if not cluster.nodes[guest.node].online:
                entry["status"] = "unknown"
            out.append(entry)
    if kind in (None, "node"):
        for node in cluster.nodes.values():
            entry = {"id": f"node/{node.name}", "type": "node", "node": node.name,
                     "status": "online" if node.online else "offline", "maxcpu": node.cpus,
                     "maxmem": node.memory, "level": "", "cgroup-mode": 2}
            if node.online:
                usage = node_usage(cluster, node)
                root = node.storages.get("local")
                entry.update(cpu=usage["cpu"], mem=usage["mem"], uptime=node.uptime,
                             disk=root.used if root else 0, maxdisk=root.total if root else 0)
            out.append(entry)
    if kind in (None, "storage"):
        for node in cluster.nodes.values():
            for storage in node.storages.values():
                s = storage_entry(storage)
                out.append({"id": f"storage/{node.name}/{storage.id}", "type": "storage",
                            "node": node.name, "storage": storage.id,
                            "status": "available" if node.online else "unknown",
                            "plugintype": storage.type, "content": s["content"],
                            "disk": s["used"], "maxdisk": s["total"], "shared": s["shared"]})
    return out


@route("GET", "/cluster/nextid", PARAMS)
async def nextid(ctx, p):
    """The lowest free id as a string; it reserves nothing (two callers may get the same)."""
    if "vmid" in p:
        if p["vmid"] in ctx.cluster.guests:
            raise param_error({"vmid": f"VM {p['vmid']} already exists"})
        return str(p["vmid"])
    return str(ctx.cluster.next_free_vmid())
