"""Replica operations for scaling groups: clone a template into a tagged replica, retire one.

A mixin of `Proxmox` (it uses `_request`, `_with_new_vmid`, `wait_task`, `_locate` ...). The
rule it keeps: a replica that could not be fully made (clone, tags) is destroyed before the
error reaches the caller, so a scaling group never sees a half-made member.
"""

from __future__ import annotations

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
        """
        source = await self._locate(template_vmid, refresh=True)
        source_config = await self._request(
            "GET", f"nodes/{source}/lxc/{template_vmid}/config",
            action=f"read CT {template_vmid}'s config")
        template = str(source_config.get("template", 0)) in ("1", "True", "true")
        where = target_node or source
        try:
            vmid = await self._clone_once(template_vmid, source, hostname, target_node,
                                          full=None if template else True, on_vmid=on_vmid,
                                          description=description)
        except errors.StillRunning:
            raise
        except errors.ProxmoxError as exc:
            if not (template and "linked clone" in str(exc).lower()):
                raise
            log.info("linked clone of CT %s not possible (%s); cloning fully", template_vmid, exc)
            vmid = await self._clone_once(template_vmid, source, hostname, target_node, full=True,
                                          on_vmid=on_vmid, description=description)
        self._node_of[vmid] = where
        await self.finish_replica(vmid, where, tags=tags, config=config)
        return vmid, where

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
                          description: str | None = None) -> int:
        async def post(new: int) -> str:
            if on_vmid is not None:
                on_vmid(new)
            return await self._request(
                "POST", f"nodes/{source}/lxc/{template_vmid}/clone",
                action=f"clone CT {template_vmid} to {new}", newid=new, hostname=hostname,
                full=full, target=target_node if target_node != source else None,
                description=description)

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
