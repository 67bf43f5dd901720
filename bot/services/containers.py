"""Container use cases: who may see and touch which container, quotas, create, power, delete.

Every method takes the asker's id first and checks it here, so that no front door (chat, buttons,
a later REST API) can forget to.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from bot.parsing import CreateArgs
from bot.proxmox import Container, ContainerSpec, CreateResult, NicSpec, Proxmox, errors
from bot.proxmox.models import new_identity
from bot.proxmox.tasks import task_vmid
from bot.services.access import AccessService, Role
from bot.services.errors import (
    Conflict,
    Forbidden,
    NotFound,
    NothingToDo,
    QuotaExceeded,
    ServiceError,
)
from bot.services.quota import ApprovalThresholds, Size, Usage, approval_reasons, quota_problems
from bot.store import Ownership, Quota, Share, Store

Progress = Callable[[str], Awaitable[None]] | None
log = logging.getLogger(__name__)


class AddressSource(Protocol):
    async def lease(self, network: str, holder: str) -> Any: ...  # .cidr, .gateway, or None

    async def claim(self, actor_id: int, network: str, cidr: str, holder: str,
                    vmid: int | None = None) -> Any: ...  # checks a named address; as lease

    def release(self, lease: Any) -> None: ...

    def release_holder(self, holder: str) -> None: ...

class TenantFirewall(Protocol):
    async def protect(self, owner_id: int, vmid: int) -> None: ...

    async def sync_tenant(self, owner_id: int) -> None: ...


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
    # Who holds the pool address leased for it (None: none was): kept with the request, so
    # that a create that fails, is rejected or expires gives it back at once.
    lease_holder: str | None = None

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
        self.policy = access.policy
        self._default_quota = default_quota
        self._thresholds = thresholds
        self.defaults = defaults
        # Hands out pool addresses (bot.services.network.NetworkService); wired by build_services.
        self.addresses: AddressSource | None = None
        self.keys: Any = None  # bot.services.keys.KeyService: a person's SSH key, for creates
        # Isolates each CT the bot makes on the network (bot.services.firewall); wired too.
        self.firewall: TenantFirewall | None = None
        # Per owner: a quota check and what it lets through (a create, a scaling group's
        # reservation) are one step; one user's commands run concurrently and each check awaits
        # Proxmox. Creates under way count against the quota until their ownership is recorded.
        self._quota_locks: dict[int, asyncio.Lock] = {}
        self._in_flight: dict[int, list[Size]] = {}

    # ---- seeing, and who owns what ------------------------------------------------------------

    async def visible(
        self, actor_id: int, owner_id: int | None = None, node: str | None = None,
        status: str | None = None,
    ) -> list[Container]:
        """The asker's containers; an admin sees all, optionally filtered by owner/node/status."""
        role = self.policy.authorize(actor_id, "ct.list")
        admin = role is Role.ADMIN
        if owner_id is not None and not admin and owner_id != actor_id:
            raise Forbidden("Only admins can list other users' containers.")
        if not admin:
            owner_id = actor_id
        if owner_id is None:
            cts = await self._px.list_containers(node)
            self.reconcile(cts, complete=node is None)
        else:
            cts = await self.owned_containers(owner_id)
        if not admin:
            cts += [ct for ct, _ in await self.shared_with(actor_id)]
        cts = [ct for ct in cts if not ct.template]
        if node is not None:
            cts = [ct for ct in cts if ct.node == node]
        if status is not None:
            cts = [ct for ct in cts if ct.status == status]
        return sorted(cts, key=lambda ct: ct.vmid)

    def owners(self, actor_id: int) -> dict[int, int]:
        """vmid -> owner of every container the bot gave someone (admins only)."""
        self.policy.authorize(actor_id, "ct.list")
        if not self.policy.is_admin(actor_id):
            raise Forbidden("Only admins can see who owns which container.")
        return {o.vmid: o.owner_id for o in self._store.ownership.entries()}

    async def all_containers(self) -> list[Container]:
        """Every CT of the cluster (for the bot's own checks, not for a person)."""
        return await self._px.list_containers()

    async def template_names(self, actor_id: int) -> list[str]:
        """The volids of the cluster's OS templates, for the guided create."""
        self.policy.authorize(actor_id, "ct.create")
        return sorted(t.volid for t in await self._px.templates())

    def owner_of(self, vmid: int) -> int | None:
        return self._store.ownership.owner(vmid)

    # ---- shares: other users an owner lets see or act on a CT (bot/services/sharing.py) -------

    async def shared_with(self, user_id: int) -> list[tuple[Container, Share]]:
        """The CTs shared with `user_id`, with their shares; a share whose CT is gone or
        carries another identity now (its vmid handed out again) is dropped on the way."""
        shares = self._store.shares.of_user(user_id)
        if not shares:
            return []
        cts = {ct.vmid: ct for ct in
               await self._px.list_containers(vmids={s.vmid for s in shares})}
        live = []
        for share in shares:
            ct = cts.get(share.vmid)
            if ct is not None and ct.identity == share.identity:
                live.append((ct, share))
            elif ct is not None or not self._shared(user_id, self._store.ownership.get(
                    share.vmid)):  # listed with another identity, or its owner's record gone
                self.forget_shares(share.identity, f"CT {share.vmid} is gone or replaced")
        return live

    def share_owners(self, user_id: int) -> dict[int, int]:
        """vmid -> owner of the CTs shared with `user_id` (for their /list)."""
        return {s.vmid: s.owner_id for s in self._store.shares.of_user(user_id)}

    def forget_shares(self, identity: str | None, why: str) -> None:
        """A CT's shares die with its identity (deleted, or its vmid handed out again)."""
        if identity is None:
            return
        for share in self._store.shares.drop_identity(identity):
            self._store.audit.record(None, "unshare", f"ct:{share.vmid}", "forgotten",
                                     f"with {share.user_id}, owner {share.owner_id}: {why}")

    def accountable(self, actor_id: int, ct: Container) -> int:
        """Whose quota what `actor_id` does to `ct` counts against: its owner's when the actor
        acts through a share (the backup, the growth is the owner's), else the actor's."""
        owner = self.owner_of(ct.vmid)
        shared = owner is not None and owner != actor_id and ct.identity is not None \
            and self._store.shares.get(ct.identity, actor_id) is not None
        return owner if shared and not self.policy.is_admin(actor_id) else actor_id

    def share_note(self, actor_id: int, vmid: int) -> str:
        """`` (owner 1002's CT, shared with 1003 as operator)`` when `actor_id` acts on CT
        `vmid` through a share, else empty: approvals and the audit name both people."""
        record = self._store.ownership.get(vmid)
        if record is None or record.owner_id == actor_id or record.identity is None:
            return ""
        share = self._store.shares.get(record.identity, actor_id)
        if share is None:
            return ""
        return f" (owner {record.owner_id}'s CT, shared with {actor_id} as {share.role})"

    async def owned_containers(self, owner_id: int, *, exclude: set[int] = frozenset(),
                               also: set[int] = frozenset()) -> list[Container]:
        """The CTs that are `owner_id`'s by identity (records whose CT is gone or replaced are
        forgotten on the way), without `exclude`; plus the CTs of `also`, whoever's."""
        mine = set(self._store.ownership.by_owner(owner_id)) - exclude
        cts = await self._px.list_containers(vmids=mine | also)
        self.reconcile([ct for ct in cts if ct.vmid in mine], complete=True, among=mine)
        valid = set(self._store.ownership.by_owner(owner_id))
        return [ct for ct in cts if ct.vmid in valid or (ct.vmid in also and ct.vmid not in mine)]

    def reconcile(self, cts: list[Container], *, complete: bool,
                  among: set[int] | None = None) -> list[Ownership]:
        """Forget the ownership records whose CT is gone (absent from a `complete` listing of
        the vmids `among`, default all) or now carries another identity (deleted outside the
        bot, its vmid handed out again): that CT is no longer anyone's. A CT under a lock
        with no marker (a restore rewrites the config last) is not judged. Returns the
        records forgotten."""
        by_vmid = {ct.vmid: ct for ct in cts}
        forgotten = []
        for record in self._store.ownership.entries():
            if among is not None and record.vmid not in among:
                continue
            ct = by_vmid.get(record.vmid)
            if ct is None and not complete:
                continue
            if ct is not None and self._still_holds(record, ct):
                continue
            self._store.ownership.remove(record.vmid)
            why = "gone from Proxmox" if ct is None else f"CT {ct.vmid} is another container now"
            self._store.audit.record(None, "disown", f"ct:{record.vmid}", "forgotten",
                                     f"owner {record.owner_id}: {why}")
            self.forget_shares(record.identity, why)
            forgotten.append(record)
        return forgotten

    @staticmethod
    def _still_holds(record: Ownership, ct: Container) -> bool:
        if record.identity is None:  # recorded before markers: adopted at start (`adopt_legacy`)
            return ct.identity is None
        if ct.identity is None and ct.lock:
            return True  # being created or restored: its config is not written yet
        return ct.identity == record.identity

    async def adopt_legacy(self) -> int:
        """At start: records made before identity markers get one (a tag on their CT), so
        that from now on they are bound to the CT, not to its number. Returns how many."""
        legacy = [o for o in self._store.ownership.entries() if o.identity is None]
        if not legacy:
            return 0
        cts = {ct.vmid: ct for ct in await self._px.list_containers()}
        self.reconcile(list(cts.values()), complete=True, among={o.vmid for o in legacy})
        adopted = 0
        for record in legacy:
            ct = cts.get(record.vmid)
            if ct is None or self._store.ownership.get(record.vmid) is None:
                continue
            identity = new_identity()
            await self._px.set_config(record.vmid, tags=";".join((*ct.tags, identity)))
            self._store.ownership.set(record.vmid, record.owner_id, record.hostname,
                                      identity=identity)
            adopted += 1
        return adopted

    async def resolve(self, actor_id: int, ref: int | str, use_case: str = "ct.see",
                      identity: str | None = None) -> Container:
        """A container by vmid or hostname, if the asker may do `use_case` on it. With
        `identity` (a deferred request's), the CT must still be the one it was about."""
        self.policy.authorize(actor_id, use_case)
        if isinstance(ref, int):
            # Ownership first: to a user, someone else's vmid and a missing one look alike.
            record = self._store.ownership.get(ref)
            if not self.policy.is_admin(actor_id) and (record is None
                                                      or record.owner_id != actor_id) \
                    and not self._shared(actor_id, record):
                raise Forbidden(f"CT {ref} is not yours: you can act only on your own "
                                "containers.")
            ct = await self._px.get_container(ref)  # errors.NotFound maps to a clear message
            if record is not None and not self._still_holds(record, ct):
                self.reconcile([ct], complete=False, among={ct.vmid})
        else:
            matches = [ct for ct in await self.visible(actor_id) if ct.hostname == ref]
            if not matches:
                raise NotFound(f"No container named {ref!r} among yours. /list shows them.")
            if len(matches) > 1:
                ids = ", ".join(str(ct.vmid) for ct in matches)
                raise ServiceError(f"Several containers are named {ref!r} ({ids}): use the vmid.")
            # The listing that found it carries no NICs: the CT itself, as by vmid.
            ct = await self._px.get_container(matches[0].vmid)
        self.policy.authorize(actor_id, use_case, owner_id=self.owner_of(ct.vmid),
                              what=f"CT {ct.vmid}", identity=ct.identity)
        if identity is not None and ct.identity != identity:
            raise Conflict(f"CT {ct.vmid} is no longer the container this request was about "
                           "(that one was deleted or replaced since): nothing was done.")
        return ct

    def _shared(self, actor_id: int, record: Ownership | None) -> bool:
        return record is not None and record.identity is not None and \
            self._store.shares.get(record.identity, actor_id) is not None

    # ---- quota and approval -------------------------------------------------------------------

    def quota_of(self, user_id: int) -> Quota:
        return self._store.quotas.get(user_id) or self._default_quota

    async def quota_report(self, actor_id: int, user_id: int,
                           changes: dict[str, int] | None = None) -> tuple[Quota, Usage]:
        """A user's quota (changed first by `changes`, if any) and what they use."""
        self.policy.authorize(actor_id, "quota.manage")
        quota = self.quota_of(user_id)
        if changes:
            quota = dataclasses.replace(quota, **changes)
            self._store.quotas.put(user_id, quota)
            self._store.audit.record(actor_id, "quota", f"user:{user_id}", "ok",
                                     f"{quota.containers} containers, {quota.cores} cores, "
                                     f"{quota.memory_mb} MiB memory, {quota.disk_gb} GiB disk")
        return quota, await self.usage_of(user_id)

    async def usage_of(self, user_id: int) -> Usage:
        cts = await self.owned_containers(user_id)
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
        listed = await self.owned_containers(owner_id, exclude=in_groups, also=templates)
        cts = {ct.vmid: ct for ct in listed}  # records found stale on the way are left out
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
        role = self.policy.authorize(actor_id, "ct.create")
        d = self.defaults
        bridge, ip, gw = args.bridge or d.bridge, args.ip, args.gw
        lease, holder = None, f"create:{secrets.token_hex(6)}"
        if ip is not None and self.addresses is not None:
            # An address the asker named: free, theirs to take (a user's: of the pool), leased.
            lease = await self.addresses.claim(actor_id, bridge, ip, holder)
            if lease is not None:
                gw = gw or lease.gateway
        elif ip is None and not args.dhcp and self.addresses is not None:
            # A network with an address pool: its next free address and its gateway.
            lease = await self.addresses.lease(bridge, holder)
            if lease is not None:
                ip, gw = lease.cidr, lease.gateway
        nic = NicSpec(name="net0", bridge=bridge, ip=ip, gw=gw, dhcp=args.dhcp or ip is None)
        spec = ContainerSpec(
            hostname=args.hostname, template=args.template or d.template,
            cores=args.cores or d.cores, memory_mb=args.memory_mb or d.memory_mb,
            disk_gb=args.disk_gb or d.disk_gb, nics=(nic,), node=args.node,
            prefer_node=None if args.node else await self.home_node(actor_id),
            ssh_public_key=self._ssh_key_line(actor_id), tags=("stratus",), start=True,
        )
        plan = CreatePlan(spec, (), holder if lease is not None else None)
        if role is Role.ADMIN:
            return plan
        try:
            await self.check_quota(actor_id, plan.size)
        except QuotaExceeded:
            if lease is not None:
                self.addresses.release(lease)
            raise
        return dataclasses.replace(plan, approval_reasons=tuple(
            approval_reasons(plan.size, self._thresholds)))

    def _ssh_key_line(self, owner_id: int) -> str | None:
        key = self.keys.key_of(owner_id) if self.keys is not None else None
        return key.line if key else None

    async def home_node(self, owner_id: int) -> str | None:
        """The node holding most of the owner's containers (scaling replicas aside), where
        their next one goes when it can: containers that talk through a node's own bridges
        (one without uplink, like the lab's vmbr1, or routed by the node between two bridges)
        reach each other only on the same node."""
        in_groups = {m.vmid for g in self._store.scaling.all() if g.owner_id == owner_id
                     for m in g.members + g.spares}
        cts = await self.owned_containers(owner_id, exclude=in_groups)
        counts = Counter(ct.node for ct in cts if not ct.template)
        return max(sorted(counts), key=counts.__getitem__) if counts else None

    # ---- acting -------------------------------------------------------------------------------

    async def create(self, owner_id: int, spec: ContainerSpec,
                     progress: Progress = None, lease_holder: str | None = None) -> CreateResult:
        """Create for `owner_id` and record ownership of the CT by its identity marker, set
        in the create call. The quota is checked again here, as the create's own reservation:
        the owner may have asked for more since the request was planned (another create, a
        scaling group, a wait for approval). `lease_holder` is the plan's: its addresses go
        back at once if no CT was made (a CT that was made, or may yet be, holds them)."""
        self.policy.authorize(owner_id, "ct.create")
        identity = new_identity()
        spec = dataclasses.replace(spec, tags=(*[t for t in spec.tags if t != identity],
                                               identity))
        made: int | None = None
        try:
            async with self.reserving(owner_id, Size(spec.cores, spec.memory_mb, spec.disk_gb)):
                try:
                    result = await self._px.create_container(spec, progress=progress)
                except Exception as exc:
                    # Whatever failed after Proxmox made the CT (its start, a wait given up),
                    # the CT is the owner's from its first moment: their /list shows it, their
                    # quota counts it; not an orphan only admins see.
                    made = await self._adopt_made(owner_id, spec.hostname, identity, exc)
                    outcome = ("still running" if isinstance(exc, errors.StillRunning) else
                               "not started" if isinstance(exc, errors.StartFailed) else "failed")
                    self._store.audit.record(owner_id, "create", f"ct:{made}" if made else
                                             spec.hostname, outcome, str(exc))
                    if made and isinstance(exc, errors.StartFailed):
                        await self.secure(owner_id, made)
                    raise
                self._store.ownership.set(result.vmid, owner_id, spec.hostname,
                                          identity=identity)
        except BaseException:
            if made is None and lease_holder and self.addresses is not None:
                self.addresses.release_holder(lease_holder)
            raise
        self._store.audit.record(owner_id, "create", f"ct:{result.vmid}", "ok",
                                 f"{spec.hostname} on {result.node}")
        await self.secure(owner_id, result.vmid)
        return result

    async def secure(self, owner_id: int, vmid: int) -> None:
        """Isolate a CT the bot made for `owner_id` on the network (its firewall, its
        owner's ipset). A failure does not undo the CT: it is logged and audited, and /doctor
        and /fw show what is missing."""
        await self._firewall("protect", owner_id, vmid)

    async def resecure(self, owner_id: int) -> None:
        """After a CT of `owner_id` went or changed address: their ipset follows."""
        await self._firewall("sync_tenant", owner_id)

    async def _firewall(self, step: str, owner_id: int, *args: int) -> None:
        if self.firewall is None:
            return
        try:
            await getattr(self.firewall, step)(owner_id, *args)
        except Exception as exc:  # noqa: BLE001 - the CT stands; say what is missing
            log.warning("firewall %s for %s %s failed: %s", step, owner_id, args, exc)
            self._store.audit.record(None, "firewall", f"ct:{args[0]}" if args else
                                     f"user:{owner_id}", "failed", f"{step}: {exc}")

    async def _adopt_made(self, owner_id: int, hostname: str, identity: str,
                          exc: BaseException) -> int | None:
        """The vmid of the CT carrying `identity` if Proxmox made it (recorded as the
        owner's), else None."""
        vmid = None
        if isinstance(exc, errors.StillRunning):
            vmid = task_vmid(exc.upid)
        elif isinstance(exc, errors.StartFailed):  # created, then it would not start
            vmid = exc.vmid
        if vmid is None:
            try:
                made = [ct for ct in await self._px.list_containers() if ct.identity == identity]
            except errors.ProxmoxError:
                made = []
            vmid = made[0].vmid if made else None
        if vmid is not None:
            self._store.ownership.set(vmid, owner_id, hostname, identity=identity)
        return vmid

    async def power(self, actor_id: int, vmid: int, action: str,
                    identity: str | None = None) -> Container:
        if action not in POWER_ACTIONS:
            raise ServiceError(f"Unknown action {action!r}: use one of {', '.join(POWER_ACTIONS)}.")
        ct = await self.resolve(actor_id, vmid, "ct.power", identity)
        self._check_power_state(ct, action)
        try:
            await getattr(self._px, action)(vmid)
        except errors.AlreadyInState:  # changed state meanwhile: what was asked is so
            now = await self._px.get_container(vmid)
            raise NothingToDo(f"CT {vmid} {now.hostname} is already {now.status}: nothing "
                              "to do.") from None
        except Exception as exc:
            self._store.audit.record(actor_id, action, f"ct:{vmid}", "failed", str(exc))
            raise
        self._store.audit.record(actor_id, action, f"ct:{vmid}", "ok",
                                 self.share_note(actor_id, vmid).strip())
        return await self._px.get_container(vmid)

    @staticmethod
    def _check_power_state(ct: Container, action: str) -> None:
        """A start of a running CT (or a stop of a stopped one) is nothing to do, said so
        plainly rather than as Proxmox's error; a stopped CT cannot reboot."""
        if (action == "start" and ct.status == "running") or (
                action in ("stop", "shutdown") and ct.status == "stopped"):
            raise NothingToDo(f"CT {ct.vmid} {ct.hostname} is already {ct.status}: nothing to "
                              "do.")
        if action == "reboot" and ct.status != "running":
            raise Conflict(f"CT {ct.vmid} {ct.hostname} is {ct.status}, so it cannot reboot: "
                           f"start it with /ct_start {ct.vmid}.")

    def delete_needs_confirmation(self, actor_id: int, ct: Container) -> bool:
        """An admin deleting someone else's container, or a running one, confirms first (a
        typed vmid is easy to get wrong; a user's delete waits for an admin instead)."""
        if self.delete_needs_approval(actor_id):
            return False
        return self.owner_of(ct.vmid) not in (None, actor_id) or ct.status == "running"

    def delete_needs_approval(self, actor_id: int) -> bool:
        return self.policy.needs_approval(actor_id, "ct.delete")

    async def delete(self, actor_id: int, vmid: int, identity: str | None = None) -> None:
        """Delete CT `vmid`; with `identity` (an approved or confirmed request's), only if it
        is still the CT the request was about."""
        ct = await self.resolve(actor_id, vmid, "ct.delete", identity)
        try:
            if ct.status == "running":
                await self._px.stop(vmid)
            await self._px.delete(vmid)
        except Exception as exc:
            self._store.audit.record(actor_id, "delete", f"ct:{vmid}", "failed", str(exc))
            raise
        owner = self.owner_of(vmid)
        self._store.ownership.remove(vmid)
        self.forget_shares(ct.identity, "deleted")
        self._store.audit.record(actor_id, "delete", f"ct:{vmid}", "ok", ct.hostname)
        if owner is not None:
            await self.resecure(owner)
