"""Snapshots and migrations of CTs: what clones of running CTs and replicas on other nodes need
on a real cluster (a mixin of `Proxmox`; it uses `_request`, `_run_task`, `_locate`,
`_resources`).

Two rules of PVE shape this (pve-container PVE::API2::LXC clone_vm): a clone may go to another
node only when all of its volumes are on shared storage, and a full clone of a running CT must
be made from a snapshot. So a replica for another node is cloned here and then migrated (a
stopped CT migrates offline, its local volumes copied), and a running source is snapshot
first, the snapshot deleted after.
"""

from __future__ import annotations

import logging
import secrets

from . import errors

log = logging.getLogger(__name__)

SNAPSHOT_PREFIX = "stratus-clone-"


class MovesMixin:
    """Snapshot, delete a snapshot, migrate. Expects the attributes of `Proxmox`."""

    async def snapshot(self, vmid: int, name: str, description: str | None = None) -> str:
        """Take snapshot ``name`` of CT ``vmid``; returns its node."""
        node = await self._locate(vmid, refresh=True)
        try:
            await self._run_task("POST", f"nodes/{node}/lxc/{vmid}/snapshot", node,
                                 action=f"snapshot CT {vmid}", snapname=name,
                                 description=description)
        except errors.TaskFailed as exc:
            if "snapshot feature is not available" in exc.log_line:
                raise errors.ProxmoxError(
                    f"CT {vmid}'s storage cannot take snapshots, and Proxmox copies a running "
                    f"CT only from one: stop CT {vmid}, or make it a template (pct template "
                    f"{vmid} on {node}), then try again.") from None
            raise
        return node

    async def delete_snapshot(self, vmid: int, name: str) -> None:
        node = await self._locate(vmid, refresh=True)
        await self._run_task("DELETE", f"nodes/{node}/lxc/{vmid}/snapshot/{name}", node,
                             action=f"delete snapshot {name} of CT {vmid}")

    async def snapshot_names(self, vmid: int) -> list[str]:
        node = await self._locate(vmid)
        entries = await self._request("GET", f"nodes/{node}/lxc/{vmid}/snapshot",
                                      action=f"list the snapshots of CT {vmid}")
        return [e["name"] for e in entries if e.get("name") != "current"]

    async def temporary_snapshot(self, vmid: int) -> str:
        """A snapshot to clone a running CT from; `drop_temporary_snapshot` removes it."""
        name = f"{SNAPSHOT_PREFIX}{secrets.token_hex(4)}"
        await self.snapshot(vmid, name, "made by Stratus to clone this CT while it runs; "
                                        "deleted once the clone is made")
        return name

    async def drop_temporary_snapshot(self, vmid: int, name: str) -> None:
        """Best effort (a cleanup): a snapshot left behind is logged, never raised."""
        try:
            await self.delete_snapshot(vmid, name)
        except errors.ProxmoxError as exc:
            log.warning("could not delete the temporary snapshot %s of CT %s: %s", name, vmid,
                        exc)

    async def migrate(self, vmid: int, target: str, *, restart: bool = False) -> None:
        """Move CT ``vmid`` to node ``target`` (offline; a running one only with
        ``restart``: shut down, moved, started there). Waits for the vzmigrate task."""
        node = await self._locate(vmid, refresh=True)
        if node == target:
            return
        await self._run_task("POST", f"nodes/{node}/lxc/{vmid}/migrate", node,
                             action=f"migrate CT {vmid} from {node} to {target}", target=target,
                             restart=True if restart else None)
        self._node_of[vmid] = target

    async def storage_is_shared(self, storage: str) -> bool:
        """Does ``storage`` hold the same volumes on every node (NFS, Ceph...)?"""
        return any(str(r.get("shared", 0)) in ("1", "True", "true")
                   for r in await self._resources("storage") if r.get("storage") == storage)

    async def active_bridges(self, node: str) -> set[str]:
        """The bridges (and SDN VNets) applied and active on ``node``."""
        ifaces = await self._request("GET", f"nodes/{node}/network",
                                     action=f"read the network of {node}", type="any_bridge")
        return {i["iface"] for i in ifaces if i.get("active")}
