"""Replica operations for scaling groups: clone a template into a tagged replica, retire one.

Clones follow real PVE's rules (see `bot.proxmox.moves`): made on the source's node, migrated
to another node when its storage is not shared, from a temporary snapshot when the source runs.

A mixin of `Proxmox` (it uses `_request`, `_with_new_vmid`, `wait_task`, `_locate` ...). The
rule it keeps: a replica that could not be fully made (clone, tags) is destroyed before the
error reaches the caller, so a scaling group never sees a half-made member.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from . import errors

log = logging.getLogger(__name__)


class ScalingMixin:
    """Clone and retire replicas. Expects the attributes of `bot.proxmox.client.Proxmox`."""

    async def clone_replica(
        self, template_vmid: int, hostname: str, *, tags: tuple[str, ...],
        target_node: str | None = None, config: dict[str, Any] | None = None,
        on_vmid: Callable[[int], None] | None = None, description: str | None = None,
    ) -> tuple[int, str]:
        """Clone ``template_vmid`` as ``hostname`` with ``tags`` (and ``config`` keys, e.g. a
        ``net0``); returns ``(vmid, node)`` of the new, stopped CT.

        A template is cloned linked where its storage allows (PVE's default for templates) and
        fully otherwise. The vmid comes from nextid, retried on collision. On any failure the
        new CT, if it exists, is destroyed and the error raised. ``on_vmid(vmid)`` is called
        before each clone request, so the caller can record the CT that may exist from then on
        (a process that stops mid-clone finds it again with `finish_replica`). A clone that
        outlasts the wait (StillRunning, whose ``upid`` names it) goes on in Proxmox: nothing
        is destroyed, and the caller's record is how `finish_replica` finds it once it ends.
        ``description`` is set in the clone call itself (PVE's clone takes no tags: they come
        from the template until `finish_replica`), so a clone is known for the caller's from
        its first moment.

        On a real cluster (pve-container clone_vm): the clone is made on the source's node
        (``target`` is only allowed when its storage is shared), then migrated, stopped, to
        ``target_node``; a running source that is not a template is cloned from a temporary
        snapshot, deleted after. PVE locks the source while it is cloned, so this process
        clones one source one replica at a time. `replica_target` says beforehand whether
        ``target_node`` can take the replica.
        """
        source = await self._locate(template_vmid, refresh=True)
        source_config = await self._request(
            "GET", f"nodes/{source}/lxc/{template_vmid}/config",
            action=f"read CT {template_vmid}'s config")
        template = str(source_config.get("template", 0)) in ("1", "True", "true")
        where = target_node or source
        sid = str(source_config.get("rootfs", "")).split(",")[0].partition(":")[0]
        migrate = where != source and not await self.storage_is_shared(sid)
        target = where if where != source and not migrate else None
        async with self._clone_source_lock(template_vmid):
            snapname = None
            if not template and await self._is_running(template_vmid, source):
                snapname = await self.temporary_snapshot(template_vmid)
            try:
                vmid = await self._clone_linked_or_full(
                    template_vmid, source, hostname, target, linked=template and not migrate,
                    on_vmid=on_vmid, description=description, snapname=snapname)
            finally:
                if snapname is not None:
                    await self.drop_temporary_snapshot(template_vmid, snapname)
        if migrate:
            try:
                await self.migrate(vmid, where)
            except errors.StillRunning:
                raise  # the migration goes on (the CT holds its lock): not ours to destroy
            except BaseException:
                await self.discard(vmid)
                raise
        self._node_of[vmid] = where
        await self.finish_replica(vmid, where, tags=tags, config=config)
        return vmid, where

    async def _clone_linked_or_full(self, template_vmid: int, source: str, hostname: str,
                                    target: str | None, *, linked: bool,
                                    on_vmid: Callable[[int], None] | None,
                                    description: str | None, snapname: str | None) -> int:
        """A linked clone where asked and the storage allows it, else a full one."""
        try:
            return await self._clone_once(template_vmid, source, hostname, target,
                                          full=None if linked else True, on_vmid=on_vmid,
                                          description=description, snapname=snapname)
        except errors.StillRunning:
            raise
        except errors.ProxmoxError as exc:
            if not (linked and "linked clone" in str(exc).lower()):
                raise
            log.info("linked clone of CT %s not possible (%s); cloning fully", template_vmid, exc)
        return await self._clone_once(template_vmid, source, hostname, target, full=True,
                                      on_vmid=on_vmid, description=description,
                                      snapname=snapname)

    def _clone_source_lock(self, vmid: int) -> asyncio.Lock:
        """PVE holds the source's 'disk' lock during a clone (a template's too): a second
        clone of it meanwhile would be refused, so this process waits its turn."""
        return self._clone_sources.setdefault(vmid, asyncio.Lock())

    async def _is_running(self, vmid: int, node: str) -> bool:
        status = await self._request("GET", f"nodes/{node}/lxc/{vmid}/status/current",
                                     action=f"read CT {vmid}'s status")
        return status.get("status") == "running"

    async def replica_target(self, template_vmid: int, wanted: str | None,
                             bridges: set[str] | None = None) -> tuple[str | None, str | None]:
        """Where a replica of ``template_vmid`` asked on ``wanted`` can go: ``wanted`` when
        it is online, holds the template's storage (shared, or the same storage id for
        container disks, to migrate to) and has ``bridges`` (default: the template's) active;
        otherwise the template's own node, and why (a sentence for the group's owner)."""
        if wanted is None:
            return None, None
        source = await self._locate(template_vmid, refresh=True)
        if wanted == source:
            return wanted, None
        config = await self._request("GET", f"nodes/{source}/lxc/{template_vmid}/config",
                                     action=f"read CT {template_vmid}'s config")
        sid = str(config.get("rootfs", "")).split(",")[0].partition(":")[0]
        if bridges is None:
            bridges = {part[7:] for key, value in config.items() if key.startswith("net")
                       for part in str(value).split(",") if part.startswith("bridge=")}
        resources = await self._resources()
        online = any(r.get("type") == "node" and r.get("node") == wanted
                     and r.get("status") == "online" for r in resources)
        store = next((r for r in resources if r.get("type") == "storage"
                      and r.get("node") == wanted and r.get("storage") == sid), None)
        why = None
        if not online:
            why = f"{wanted} is offline"
        elif store is None or store.get("status", "available") != "available" or \
                "rootdir" not in str(store.get("content", "")).split(","):
            why = f"{wanted} has no storage {sid} for container disks to move it to"
        else:
            missing = sorted(bridges - {"vmbr0"} - await self.active_bridges(wanted))
            if missing:
                why = f"{wanted} has no bridge {', '.join(missing)}"
        if why is None:
            return wanted, None
        return source, f"placed on {source}, the template's node: {why}"

    async def finish_replica(self, vmid: int, node: str, *, tags: tuple[str, ...],
                             config: dict[str, Any] | None = None) -> None:
        """Tag a cloned CT (and set ``config``): from then on it is a member Proxmox shows. On
        failure the CT is destroyed and the error raised."""
        try:
            await self._request(
                "PUT", f"nodes/{node}/lxc/{vmid}/config", action=f"tag CT {vmid}",
                tags=";".join(tags), **(config or {}))
        except BaseException:
            await self.discard(vmid)
            raise

    async def _clone_once(self, template_vmid: int, source: str, hostname: str,
                          target_node: str | None, *, full: bool | None,
                          on_vmid: Callable[[int], None] | None = None,
                          description: str | None = None, snapname: str | None = None) -> int:
        async def post(new: int) -> str:
            if on_vmid is not None:
                on_vmid(new)
            return await self._request(
                "POST", f"nodes/{source}/lxc/{template_vmid}/clone",
                action=f"clone CT {template_vmid} to {new}", newid=new, hostname=hostname,
                full=full, target=target_node if target_node != source else None,
                description=description, snapname=snapname)

        new = None
        try:
            new, upid = await self._with_new_vmid(set(), post)
            try:
                await self.wait_task(source, upid)
            except errors.StillRunning:
                raise  # the clone goes on (and holds its lock): not ours to destroy now
            except BaseException:
                await self.discard(new)
                raise
            return new
        finally:
            if new is not None:
                self._reserved_vmids.discard(new)

    async def discard(self, vmid: int) -> None:
        """Best effort: stop and destroy ``vmid`` if it exists (cleanup of a failed replica)."""
        try:
            node = await self._locate(vmid, refresh=True)
        except errors.NotFound:
            return
        try:
            status = await self._request("GET", f"nodes/{node}/lxc/{vmid}/status/current",
                                         action=f"read CT {vmid}'s status")
            if status.get("status") == "running":
                await self._run_task("POST", f"nodes/{node}/lxc/{vmid}/status/stop", node,
                                     action=f"stop CT {vmid}")
            await self._run_task("DELETE", f"nodes/{node}/lxc/{vmid}", node,
                                 action=f"delete CT {vmid}", purge=True)
            self._node_of.pop(vmid, None)
        except errors.ProxmoxError as exc:
            log.warning("could not clean up CT %s after a failed replica: %s", vmid, exc)

    async def retire(self, vmid: int, *, shutdown_timeout: int = 30, destroy: bool = True) -> None:
        """Shut ``vmid`` down (stop it if that fails or times out), then destroy it unless
        ``destroy`` is False (a warm spare). A CT already gone counts as retired."""
        try:
            node = await self._locate(vmid, refresh=True)
        except errors.NotFound:
            return
        status = await self._request("GET", f"nodes/{node}/lxc/{vmid}/status/current",
                                     action=f"read CT {vmid}'s status")
        if status.get("status") == "running":
            try:
                await self._run_task("POST", f"nodes/{node}/lxc/{vmid}/status/shutdown", node,
                                     action=f"shut down CT {vmid}", timeout=shutdown_timeout,
                                     forceStop=True)
            except errors.ProxmoxError as exc:
                log.info("shutdown of CT %s failed (%s); stopping it", vmid, exc)
                await self._run_task("POST", f"nodes/{node}/lxc/{vmid}/status/stop", node,
                                     action=f"stop CT {vmid}")
        if destroy:
            await self._run_task("DELETE", f"nodes/{node}/lxc/{vmid}", node,
                                 action=f"delete CT {vmid}", purge=True)
            self._node_of.pop(vmid, None)
