"""Nodes: the list and a node's status."""

from __future__ import annotations

from ..errors import ApiError
from ..model import Cluster, Node
from ..params.nodes import PARAMS
from .registry import route


def node_usage(cluster: Cluster, node: Node) -> dict:
    """CPU (fraction of all cores) and memory (bytes) in use on ``node``, guests included."""
    running = [g for g in cluster.guests.values() if g.node == node.name and g.status == "running"]
    cpu = node.cpu_load + sum(g.cpu * g.cpus for g in running) / node.cpus
    mem = int(node.memory * 0.08) + sum(g.mem for g in running)
    return {"cpu": round(min(cpu, 1.0), 4), "mem": mem}


def get_node(cluster: Cluster, name: str) -> Node:
    node = cluster.nodes.get(name)
    if node is None:
        raise ApiError(500, f"hostname lookup '{name}' failed - failed to get address info for: "
                            f"{name}: Name or service not known")
    return node


@route("GET", "/nodes", PARAMS)
async def list_nodes(ctx, p):
    out = []
    for node in ctx.cluster.nodes.values():
        entry = {"node": node.name, "id": f"node/{node.name}", "type": "node",
                 "status": "online" if node.online else "offline",
                 "ssl_fingerprint": ctx.sim.fingerprint}
        if node.online:
            usage = node_usage(ctx.cluster, node)
            root = node.storages.get("local")
            entry.update(cpu=usage["cpu"], maxcpu=node.cpus, mem=usage["mem"], maxmem=node.memory,
                         disk=root.used if root else 0, maxdisk=root.total if root else 0,
                         uptime=node.uptime, level="")
        out.append(entry)
    return out


@route("GET", "/nodes/{node}/status", PARAMS, perm=("/nodes/{node}", "Sys.Audit"))
async def node_status(ctx, p):
    node = get_node(ctx.cluster, p["node"])
    usage = node_usage(ctx.cluster, node)
    root = node.storages.get("local")
    total_disk = root.total if root else 0
    used_disk = root.used if root else 0
    return {
        "cpu": usage["cpu"], "wait": 0.0, "idle": 0,
        "cpuinfo": {"cpus": node.cpus, "cores": node.cpus, "sockets": 1, "mhz": "2900.000",
                    "model": "QEMU Virtual CPU version 2.5+", "hvm": "1", "user_hz": 100,
                    "flags": ""},
        "memory": {"total": node.memory, "used": usage["mem"], "free": node.memory - usage["mem"],
                   "available": node.memory - usage["mem"]},
        "swap": {"total": 8 << 30, "used": 0, "free": 8 << 30},
        "rootfs": {"total": total_disk, "used": used_disk, "avail": total_disk - used_disk,
                   "free": total_disk - used_disk},
        "ksm": {"shared": 0},
        "uptime": node.uptime,
        "loadavg": [f"{usage['cpu'] * node.cpus:.2f}"] * 3,
        "kversion": "Linux 6.14.8-2-pve #1 SMP PREEMPT_DYNAMIC PMX 6.14.8-2",
        "pveversion": "pve-manager/9.2.0/3c9d0c5d1f1e2b7a",
        "current-kernel": {"sysname": "Linux", "release": "6.14.8-2-pve", "machine": "x86_64",
                           "version": "#1 SMP PREEMPT_DYNAMIC PMX 6.14.8-2"},
        "boot-info": {"mode": "efi", "secureboot": 0},
    }
