"""Storages of a node and their content (templates, backups, guest disks)."""

from __future__ import annotations

from ..errors import ApiError
from ..formats import split_list
from ..model import Storage
from ..params.storage import PARAMS
from .nodes import get_node
from .registry import route


def storage_entry(storage: Storage) -> dict:
    used = storage.used
    return {
        "storage": storage.id, "type": storage.type, "content": storage.content_str(),
        "active": 1, "enabled": int(storage.enabled), "shared": int(storage.shared),
        "total": storage.total, "used": used, "avail": storage.total - used,
        "used_fraction": round(used / storage.total, 6) if storage.total else 0,
    }


@route("GET", "/nodes/{node}/storage", PARAMS)
async def list_storage(ctx, p):
    node = get_node(ctx.cluster, p["node"])
    wanted = set(split_list(p["content"])) if "content" in p else None
    out = []
    for storage in node.storages.values():
        if "storage" in p and storage.id != p["storage"]:
            continue
        if wanted is not None and not wanted & storage.content:
            continue
        if p.get("enabled") and not storage.enabled:
            continue
        out.append(storage_entry(storage))
    return out


@route("GET", "/nodes/{node}/storage/{storage}/content", PARAMS,
       perm=("/storage/{storage}", ("Datastore.Audit", "Datastore.AllocateSpace")))
async def storage_content(ctx, p):
    node = get_node(ctx.cluster, p["node"])
    storage = node.storages.get(p["storage"])
    if storage is None:
        raise ApiError(500, f"storage '{p['storage']}' does not exist")
    out = []
    for vol in storage.volumes.values():
        if "content" in p and vol.content != p["content"]:
            continue
        if "vmid" in p and vol.vmid != p["vmid"]:
            continue
        out.append(vol.as_api())
    return sorted(out, key=lambda v: v["volid"])
