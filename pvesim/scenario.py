"""Scenario files (JSON or TOML): the nodes, storages, templates and guests a simulation starts with.

    name = "lab"                       # cluster name (optional)
    pools = ["dev"]                    # resource pools (optional)
    templates = ["debian-12-standard_12.7-1_amd64.tar.zst"]   # in every node's `local` (optional)
    [[nodes]]
    name = "pve1"
    cpus = 8
    memory = 32768                     # MiB
    online = true
    bridges = ["vmbr0", "vmbr1"]
    [[nodes.storages]]                 # optional; default: local (dir) and local-lvm (lvmthin)
    id = "local-lvm"
    type = "lvmthin"
    content = ["rootdir", "images"]
    total = 200                        # GiB
    shared = false                     # a shared storage (same id on several nodes) is one
                                       # storage: its volumes are seen from each of them
    [[guests]]
    vmid = 101
    node = "pve1"
    status = "running"
    hostname = "web1"                  # any other key: a config value as PVE stores it
    cores = 2
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from .load import configure as configure_loads
from .model import (
    DEFAULT_TEMPLATES,
    GIB,
    MIB,
    Cluster,
    Node,
    Storage,
    add_template,
    default_storages,
)


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message says what is wrong."""


def load_scenario(source: str | Path | dict) -> Cluster:
    """A Cluster from a scenario file path (.json or .toml) or an already parsed dict."""
    if isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        try:
            text = path.read_text()
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (OSError, ValueError) as exc:
            raise ScenarioError(f"cannot read scenario {path}: {exc}") from exc
    try:
        return _build(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenarioError(f"invalid scenario: {exc!r}") from exc


def _storage(spec: dict[str, Any]) -> Storage:
    return Storage(
        id=spec["id"], type=spec.get("type", "dir"), content=set(spec.get("content", ["images"])),
        total=int(spec.get("total", 100)) * GIB, shared=bool(spec.get("shared", False)),
        base_used=int(spec.get("used", 0)) * GIB,
    )


def _build(data: dict[str, Any]) -> Cluster:
    templates = data.get("templates", list(DEFAULT_TEMPLATES))
    nodes = []
    shared: dict[str, Storage] = {}  # a shared storage is the same object on every node
    for spec in data.get("nodes") or [{"name": "pve1"}, {"name": "pve2"}]:
        if "storages" in spec:
            storages = {s["id"]: shared.get(s["id"]) if s.get("shared") and s["id"] in shared
                        else _storage(s) for s in spec["storages"]}
            shared.update({sid: st for sid, st in storages.items() if st.shared})
        else:
            storages = default_storages()
            storages["local"].volumes.clear()
        if "local" in storages:
            for name in templates:
                add_template(storages["local"], name)
        node = Node(
            name=spec["name"], cpus=int(spec.get("cpus", 8)),
            memory=int(spec.get("memory", 32768)) * MIB, online=bool(spec.get("online", True)),
            storages=storages,
        )
        if "bridges" in spec:
            node.bridges = set(spec["bridges"])
        nodes.append(node)
    cluster = Cluster(name=data.get("name", "stratus"), nodes=nodes)
    cluster.pools = set(data.get("pools", []))
    for spec in data.get("guests", []):
        spec = dict(spec)
        vmid, node = int(spec.pop("vmid")), spec.pop("node")
        if node not in cluster.nodes:
            raise ValueError(f"guest {vmid} is on unknown node {node!r}")
        cluster.add_guest(vmid, node, status=spec.pop("status", "stopped"), **spec)
    configure_loads(cluster.load, data.get("loads", []))
    return cluster
