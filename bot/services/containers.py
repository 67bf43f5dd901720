"""Container use cases: who may see and touch which container, quotas, create, power, delete.

Every method takes the asker's id first and checks it here, so that no front door (chat, buttons,
a later REST API) can forget to.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from bot.parsing import CreateArgs
from bot.proxmox import Container, ContainerSpec, CreateResult, NicSpec, Proxmox, errors
from bot.proxmox.tasks import task_vmid
from bot.services.access import AccessService
from bot.services.errors import Forbidden, NotFound, QuotaExceeded, ServiceError
from bot.services.quota import ApprovalThresholds, Size, Usage, approval_reasons, quota_problems
from bot.store import Quota, Store

Progress = Callable[[str], Awaitable[None]] | None


class AddressSource(Protocol):
    async def lease(self, network: str, holder: str) -> Any: ...  # .cidr, .gateway, or None

    def release(self, lease: Any) -> None: ...

POWER_ACTIONS = ("start", "stop", "shutdown", "reboot")


@dataclass(frozen=True)
class CreateDefaults:
    template: str = "debian-12"
    bridge: str = "vmbr0"
    cores: int = 1
    memory_mb: int = 512
    disk_gb: int = 8


@dataclass(frozen=True)
class CreatePlan:
    """A create request checked against quota; `approval_reasons` empty means it may run now."""

    spec: ContainerSpec
    approval_reasons: tuple[str, ...]

    @property
    def size(self) -> Size:
        return Size(self.spec.cores, self.spec.memory_mb, self.spec.disk_gb)


def spec_to_payload(spec: ContainerSpec) -> dict:
    """A JSON-safe form of a spec, for approvals stored on disk. Never holds a password."""
    data = dataclasses.asdict(dataclasses.replace(spec, password=None))
    data["nics"] = [dict(n) for n in data["nics"]]
    return data


def spec_from_payload(data: dict) -> ContainerSpec:
    fields = dict(data)
    fields["nics"] = tuple(NicSpec(**n) for n in fields.get("nics", ()))
    fields["tags"] = tuple(fields.get("tags", ()))
    return ContainerSpec(**fields)


class ContainerService:
    def __init__(
        self,
        px: Proxmox,
        store: Store,
        access: AccessService,
        default_quota: Quota,
        thresholds: ApprovalThresholds,
        defaults: CreateDefaults,
    ) -> None:
        self._px = px
        self._store = store
        self._access = access
        self._default_quota = default_quota
        self._thresholds = thresholds
        self.defaults = defaults
        # Hands out pool addresses (bot.services.network.NetworkService); wired by build_services.
        self.addresses: AddressSource | None = None
        # Per owner: a quota check and what it lets through (a create, a scaling group's
        # reservation) are one step; one user's commands run concurrently and each check awaits
        # Proxmox. Creates under way count against the quota until their ownership is recorded.
        self._quota_locks: dict[int, asyncio.Lock] = {}
        self._in_flight: dict[int, list[Size]] = {}

    # ---- seeing -------------------------------------------------------------------------------

    async def visible(
        self, actor_id: int, owner_id: int | None = None, node: str | None = None,
        status: str | None = None,
    ) -> list[Container]:
        """The asker's containers; an admin sees all, optionally filtered by owner/node/status."""
        admin = self._access.is_admin(actor_id)
        if owner_id is not None and not admin and owner_id != actor_id:
            raise Forbidden("Only admins can list other users' containers.")
        if not admin:
            owner_id = actor_id
        mine = None if owner_id is None else set(self._store.ownership.by_owner(owner_id))
        cts = [ct for ct in await self._px.list_containers(node, vmids=mine) if not ct.template]
        if node is not None:
            cts = [ct for ct in cts if ct.node == node]
        if status is not None:
            cts = [ct for ct in cts if ct.status == status]
        return sorted(cts, key=lambda ct: ct.vmid)

    def owner_of(self, vmid: int) -> int | None:
        return self._store.ownership.owner(vmid)

    async def resolve(self, actor_id: int, ref: int | str) -> Container:
        """A container by vmid or hostname, if the asker may act on it."""
        if isinstance(ref, int):
            # Ownership first: to a user, someone else's vmid and a missing one look alike.
            self.check_may_act(actor_id, ref)
            ct = await self._px.get_container(ref)  # errors.NotFound maps to a clear message
        else:
            matches = [ct for ct in await self.visible(actor_id) if ct.hostname == ref]
            if not matches:
                raise NotFound(f"No container named {ref!r} among yours. /list shows them.")
            if len(matches) > 1:
                ids = ", ".join(str(ct.vmid) for ct in matches)
                raise ServiceError(f"Several containers are named {ref!r} ({ids}): use the vmid.")
            ct = matches[0]
        self.check_may_act(actor_id, ct.vmid)
        return ct

    def check_may_act(self, actor_id: int, vmid: int) -> None:
        if self._access.is_admin(actor_id):
            return
        if self._store.ownership.owner(vmid) != actor_id:
            raise Forbidden(f"CT {vmid} is not yours: you can act only on your own containers.")

    # ---- quota and approval -------------------------------------------------------------------

    def quota_of(self, user_id: int) -> Quota:
        return self._store.quotas.get(user_id) or self._default_quota

    async def usage_of(self, user_id: int) -> Usage:
        mine = set(self._store.ownership.by_owner(user_id))
        cts = await self._px.list_containers(vmids=mine)
        return Usage.of((ct.cores, ct.memory_mb, ct.disk_gb) for ct in cts)

    def quota_lock(self, owner_id: int) -> asyncio.Lock:
        return self._quota_locks.setdefault(owner_id, asyncio.Lock())

    async def committed_sizes(self, owner_id: int, *, except_group: str | None = None,
                              ) -> list[tuple[int, int, float] | Size]:
        """(cores, memory_mb, disk_gb) of all that counts against a user's quota: their
        containers outside scaling groups, each of their groups at its maximum (max_replicas
        times its template; ``except_group`` left out, for the caller to count as it plans),
        and the Sizes held for their requests under way (creates, growths); `Usage.of` sums
        them."""
        groups = [g for g in self._store.scaling.all() if g.owner_id == owner_id]
        in_groups = {m.vmid for g in groups for m in g.members + g.spares}
        counted = [g for g in groups if g.name != except_group]
        mine = set(self._store.ownership.by_owner(owner_id)) - in_groups
        # Taken with `mine`, before the await: a create that ends meanwhile (owned, its hold
        # given back) would otherwise be counted neither as a CT nor as a hold.
        held = list(self._in_flight.get(owner_id, []))
        templates = {g.template_vmid for g in counted}
        cts = {ct.vmid: ct for ct in await self._px.list_containers(vmids=mine | templates)}
        sizes = [(cts[v].cores, cts[v].memory_mb, cts[v].disk_gb) for v in mine if v in cts]
        for g in counted:
            t = cts.get(g.template_vmid)
            if t is not None:
                sizes += [(t.cores, t.memory_mb, t.disk_gb)] * g.max_replicas
        sizes += held
        return sizes

    async def check_quota(self, user_id: int, size: Size, context: str = "") -> None:
        """QuotaExceeded, with the numbers, if `size` does not fit; `context` (a sentence)
        says first what asks for it, when that is not plain."""
        used = Usage.of(await self.committed_sizes(user_id))
        problems = quota_problems(self.quota_of(user_id), used, size)
        if problems:
            groups = any(g.owner_id == user_id for g in self._store.scaling.all())
            raise QuotaExceeded(
                (f"{context}\n" if context else "")
                + "Over your quota:\n" + "\n".join(f"- {p}" for p in problems)
                + ("\n(Your scaling groups count at their maximum size.)" if groups else ""))

    @asynccontextmanager
    async def reserving(self, owner_id: int, size: Size, context: str = "",
                        ) -> AsyncIterator[None]:
        """Check ``size`` against the owner's quota and hold it there while the block runs
        (a create, or a growth, under way), so two requests cannot both fit in the same room.
        Admins have no quota."""
        if self._access.is_admin(owner_id):
            yield
            return
        async with self.quota_lock(owner_id):
            await self.check_quota(owner_id, size, context)
            held = self._in_flight.setdefault(owner_id, [])
            held.append(size)
        try:
            yield
        finally:
            held.remove(size)

    async def plan_create(self, actor_id: int, args: CreateArgs) -> CreatePlan:
        d = self.defaults
        bridge, ip, gw = args.bridge or d.bridge, args.ip, args.gw
        lease = None
        if ip is None and not args.dhcp and self.addresses is not None:
            # A network with an address pool: its next free address and its gateway.
            lease = await self.addresses.lease(bridge, args.hostname)
            if lease is not None:
                ip, gw = lease.cidr, lease.gateway
        nic = NicSpec(name="net0", bridge=bridge, ip=ip, gw=gw, dhcp=args.dhcp or ip is None)
        spec = ContainerSpec(
            hostname=args.hostname, template=args.template or d.template,
            cores=args.cores or d.cores, memory_mb=args.memory_mb or d.memory_mb,
            disk_gb=args.disk_gb or d.disk_gb, nics=(nic,), node=args.node,
            tags=("stratus",), start=True,
        )
        plan = CreatePlan(spec, ())
        if self._access.is_admin(actor_id):
            return plan
        try:
            await self.check_quota(actor_id, plan.size)
        except QuotaExceeded:
            if lease is not None:
                self.addresses.release(lease)
            raise
        return dataclasses.replace(plan, approval_reasons=tuple(
            approval_reasons(plan.size, self._thresholds)))

    # ---- acting -------------------------------------------------------------------------------

    async def create(self, owner_id: int, spec: ContainerSpec,
                     progress: Progress = None) -> CreateResult:
        """Create for `owner_id` and record ownership. The quota is checked again here, as
        the create's own reservation: the owner may have asked for more since the request was
        planned (another create, a scaling group, a wait for approval)."""
        async with self.reserving(owner_id, Size(spec.cores, spec.memory_mb, spec.disk_gb)):
            try:
                result = await self._px.create_container(spec, progress=progress)
            except errors.StillRunning as exc:
                # The CT exists in Proxmox and may yet come up: the owner's meanwhile (their
                # /list shows it, their quota counts it), not an orphan only admins see.
                vmid = task_vmid(exc.upid)
                if vmid is not None:
                    self._store.ownership.set(vmid, owner_id, spec.hostname)
                self._store.audit.record(owner_id, "create", f"ct:{vmid}", "still running",
                                         exc.upid)
                raise
            except errors.StartFailed as exc:
                # Created, then it would not start: the owner's all the same (see above).
                self._store.ownership.set(exc.vmid, owner_id, spec.hostname)
                self._store.audit.record(owner_id, "create", f"ct:{exc.vmid}", "not started",
                                         str(exc.cause))
                raise
            except Exception as exc:
                self._store.audit.record(owner_id, "create", spec.hostname, "failed", str(exc))
                raise
            self._store.ownership.set(result.vmid, owner_id, spec.hostname)
        self._store.audit.record(owner_id, "create", f"ct:{result.vmid}", "ok",
                                 f"{spec.hostname} on {result.node}")
        return result

    async def power(self, actor_id: int, vmid: int, action: str) -> Container:
        if action not in POWER_ACTIONS:
            raise ServiceError(f"Unknown action {action!r}: use one of {', '.join(POWER_ACTIONS)}.")
        self.check_may_act(actor_id, vmid)
        try:
            await getattr(self._px, action)(vmid)
        except Exception as exc:
            self._store.audit.record(actor_id, action, f"ct:{vmid}", "failed", str(exc))
            raise
        self._store.audit.record(actor_id, action, f"ct:{vmid}", "ok")
        return await self._px.get_container(vmid)

    def delete_needs_approval(self, actor_id: int) -> bool:
        return not self._access.is_admin(actor_id)

    async def delete(self, actor_id: int, vmid: int) -> None:
        self.check_may_act(actor_id, vmid)
        ct = await self._px.get_container(vmid)
        try:
            if ct.status == "running":
                await self._px.stop(vmid)
            await self._px.delete(vmid)
        except Exception as exc:
            self._store.audit.record(actor_id, "delete", f"ct:{vmid}", "failed", str(exc))
            raise
        self._store.ownership.remove(vmid)
        self._store.audit.record(actor_id, "delete", f"ct:{vmid}", "ok", ct.hostname)
