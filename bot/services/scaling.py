"""Scaling groups: who may create and change them, quota, and the replica actions.

The controller (bot/scaler/controller.py) decides *how many*; this service knows *how*: which
CTs are members (Proxmox tags, reconciled with the store), how a replica is cloned, started,
retired, and how a failure is cleaned up so that no half-made member remains.

Quota: a group reserves ``max_replicas`` x the template's size against its owner's quota (the
replicas are the owner's containers), so a user's group can never grow beyond their quota.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.parsing_scaling import GroupOptions, ScaleCreateArgs
from bot.proxmox import Container, Proxmox
from bot.proxmox import errors as px_errors
from bot.proxmox.models import new_identity
from bot.scaler import group_policy
from bot.services.access import AccessService
from bot.services.containers import ContainerService
from bot.services.errors import Conflict, Forbidden, NotFound, QuotaExceeded, ServiceError
from bot.services.quota import Usage
from bot.store import Store
from bot.store.scaling import Member, ScalingGroup

log = logging.getLogger(__name__)

#: Every replica carries this tag besides the group's name (what the bot made).
REPLICA_TAG = "stratus"


@dataclass(frozen=True)
class ScalingSettings:
    sync_s: float = 15.0  # controller period
    warmup_s: float = 30.0  # a started replica counts as ready after this long
    #: The replica delay (clone + start + warm-up) assumed until a group has measured its own.
    ready_delay_s: float = 120.0
    shutdown_timeout_s: int = 30  # clean shutdown before a stop, on scale-in
    auto_approve_s: float = 0.0  # scale-out approvals granted after this long (0: never)
    approval_cooldown_s: float = 600.0  # after a rejection, ask again no sooner
    run_job: bool = True  # False: nothing runs the controller by itself (tests call tick())


@dataclass(frozen=True)
class Replica:
    """A member as Proxmox shows it now."""

    vmid: int
    hostname: str
    node: str
    status: str
    cpu: float
    uptime: int
    lock: str | None
    ready: bool


@dataclass(frozen=True)
class GroupView:
    """A group's members this period, after reconciling the store with Proxmox."""

    group: ScalingGroup
    replicas: tuple[Replica, ...]
    vanished: tuple[Member, ...] = ()  # in the store, gone from Proxmox (deleted by hand)
    adopted: tuple[Member, ...] = ()  # new members: clones the bot began, finished now
    cloning: tuple[Member, ...] = ()  # clones Proxmox still runs (after a restart, or a wait
    # given up): each counts as booting
    joined: tuple[Member, ...] = ()  # the same (kept for the controller's wording)

    @property
    def ready(self) -> tuple[Replica, ...]:
        return tuple(r for r in self.replicas if r.ready)

    @property
    def utilizations(self) -> tuple[float, ...]:
        return tuple(r.cpu for r in self.ready)


@dataclass(frozen=True)
class Added:
    hostname: str
    node: str
    vmid: int
    identity: str | None = None
    note: str | None = None  # e.g. why it is not on the node the spread asked for


@dataclass(frozen=True)
class Failed:
    hostname: str
    reason: str


@dataclass(frozen=True)
class StillCloning:
    """A clone Proxmox still ran when the wait for it ended: it counts as booting and joins
    the members once Proxmox finishes it (`observe` tags it), or is forgotten if it fails."""

    hostname: str
    vmid: int
    waited_s: float


class ScalingService:
    def __init__(self, px: Proxmox, store: Store, access: AccessService,
                 containers: ContainerService, settings: ScalingSettings,
                 clock: Callable[[], float] = time.time) -> None:
        self._px = px
        self._store = store
        self._access = access
        self._containers = containers
        self.settings = settings
        self.clock = clock

    # ---- seeing -------------------------------------------------------------------------------

    def get(self, actor_id: int, name: str, use_case: str = "group.see") -> ScalingGroup:
        self._containers.policy.authorize(actor_id, use_case)
        group = self._store.scaling.get(name)
        if group is None or not self._may_see(actor_id, group):
            raise NotFound(f"No scaling group {name!r} among yours. /scale_status lists them.")
        self._containers.policy.authorize(actor_id, use_case, owner_id=group.owner_id,
                                          what=f"Scaling group {name}")
        return group

    def visible(self, actor_id: int) -> list[ScalingGroup]:
        self._containers.policy.authorize(actor_id, "group.see")
        return [g for g in self._store.scaling.all() if self._may_see(actor_id, g)]

    async def history(self, actor_id: int, name: str, since: float = 0.0) -> list:
        """A group's samples since `since` (read in a worker thread: a day of them)."""
        group = self.get(actor_id, name)
        return await asyncio.to_thread(self._store.scaling_history.since, group.name, since)

    def _may_see(self, actor_id: int, group: ScalingGroup) -> bool:
        return self._access.is_admin(actor_id) or group.owner_id == actor_id

    def all_groups(self) -> list[ScalingGroup]:
        return self._store.scaling.all()

    # ---- creating and changing ----------------------------------------------------------------

    async def create(self, actor_id: int, chat_id: int, args: ScaleCreateArgs) -> ScalingGroup:
        self._containers.policy.authorize(actor_id, "group.create")
        opts = args.options
        if self._store.scaling.get(args.name) is not None:
            raise Conflict(f"A scaling group {args.name!r} exists already.")
        check_policy_options(implied_policy(opts), opts)
        template = await self._template(actor_id, opts.template)
        group = new_group(args, actor_id, chat_id, template.vmid, template.identity,
                          self.clock())
        if opts.bridge is None and template.nics and template.nics[0].ip and \
                not template.nics[0].dhcp:
            # A clone copies the template's fixed address: every replica would hold it, and
            # they would clash on the wire. Replicas take DHCP on the template's bridge.
            group = dataclasses.replace(group, bridge=template.nics[0].bridge)
        async with self._containers.quota_lock(actor_id):
            await self._check_quota(group, template)
            try:
                self._store.scaling.add(group)
            except ValueError:
                raise Conflict(f"A scaling group {args.name!r} exists already.") from None
        self._store.audit.record(actor_id, "scale_create", f"group:{group.name}", "ok",
                                 f"CT {template.vmid}, {group.min_replicas}-{group.max_replicas}")
        return group

    async def change(self, actor_id: int, name: str, opts: GroupOptions) -> ScalingGroup:
        group = self.get(actor_id, name, "group.change")
        changes: dict[str, object] = {}
        for key in ("min_replicas", "max_replicas", "bridge", "node_spread", "warm_spares"):
            if getattr(opts, key) is not None:
                changes[key] = getattr(opts, key)
        check_policy_options(opts.policy or group_policy.effective(group)["policy"], opts)
        changes.update(_policy_changes(opts))
        if opts.approve_above is not None:
            changes["approve_above"] = None if opts.approve_above == -1 else opts.approve_above
        updated = dataclasses.replace(group, **changes)
        if updated.min_replicas > updated.max_replicas:
            raise ServiceError(f"min {updated.min_replicas} would be above max "
                               f"{updated.max_replicas}.")
        async with self._containers.quota_lock(group.owner_id):
            if updated.max_replicas > group.max_replicas:
                await self._check_quota(updated,
                                        await self._px.get_container(group.template_vmid))
            stored = self._store.scaling.update(name, **changes)
        if stored is None:
            raise NotFound(f"Scaling group {name!r} was deleted meanwhile.")
        self._store.audit.record(actor_id, "scale_set", f"group:{name}", "ok",
                                 ", ".join(f"{k}={v}" for k, v in changes.items()))
        return stored

    def set_paused(self, actor_id: int, name: str, paused: bool) -> ScalingGroup:
        self.get(actor_id, name, "group.change")
        group = self._store.scaling.update(name, paused=paused)
        self._store.audit.record(actor_id, "scale_pause" if paused else "scale_resume",
                                 f"group:{name}", "ok")
        return group

    def delete_needs_approval(self, actor_id: int) -> bool:
        return self._containers.policy.needs_approval(actor_id, "group.delete")

    async def delete(self, actor_id: int, name: str, destroy: bool,
                     created_at: float | None = None) -> int:
        """Forget the group; destroy its replicas (and spares) or keep them, untagged as
        members but still owned. Returns how many CTs were destroyed. With `created_at` (a
        deferred request's), only the very group the request was about: not another one
        made since under the same name."""
        group = self.get(actor_id, name, "group.delete")
        if created_at is not None and group.created_at != created_at:
            raise Conflict(f"Scaling group {name} is not the one this request was about (it "
                           "was deleted and made again since): nothing was deleted.")
        self._store.scaling.update(name, paused=True)  # the controller leaves it alone now
        view = await self.observe(group)
        if destroy and view.cloning:
            # Locked until Proxmox ends the clone: it could not be destroyed, and forgetting
            # the group now would leave it behind, untagged and unowned, once it ends.
            self._store.scaling.update(name, paused=group.paused)
            names = ", ".join(f"{c.hostname} (CT {c.vmid})" for c in view.cloning)
            raise Conflict(f"{names} of group {name} is still being cloned by Proxmox and "
                           "cannot be destroyed before the clone ends: nothing was deleted. "
                           "Try again once it has joined the group (/scale_status).")
        destroyed = 0
        if destroy:
            vmids = [r.vmid for r in view.replicas] + [s.vmid for s in group.spares]
            results = await asyncio.gather(
                *(self._px.retire(v, shutdown_timeout=self.settings.shutdown_timeout_s)
                  for v in vmids), return_exceptions=True)
            for vmid, result in zip(vmids, results, strict=True):
                if isinstance(result, BaseException):
                    self._store.scaling.update(name, paused=False)
                    raise ServiceError(f"Could not destroy CT {vmid} of group {name}: {result}")
                self._store.ownership.remove(vmid)
                destroyed += 1
        for c in view.cloning:  # kept: the CT Proxmox is still cloning is the owner's too
            self._store.ownership.set(c.vmid, group.owner_id, c.hostname, identity=c.identity)
        self._store.scaling.remove(name)
        self._store.scaling_history.remove(name)
        self._store.audit.record(actor_id, "scale_delete", f"group:{name}", "ok",
                                 "replicas destroyed" if destroy else "replicas kept")
        return destroyed

    async def _template(self, actor_id: int, ref: int | str) -> Container:
        try:
            ct = await self._containers.resolve(actor_id, ref, "group.create")
        except px_errors.NotFound:
            raise NotFound(f"There is no container {ref} to use as a template.") from None
        return ct

    async def _check_quota(self, group: ScalingGroup, template: Container) -> None:
        """The group at its maximum, on top of all else that counts against the owner's quota
        (their other containers and groups, creates under way), must fit it (admins have
        none). Called under the owner's quota lock."""
        owner = group.owner_id
        if self._access.is_admin(owner):
            return
        quota = self._containers.quota_of(owner)
        sizes = await self._containers.committed_sizes(owner, except_group=group.name)
        sizes += [(template.cores, template.memory_mb, template.disk_gb)] * group.max_replicas
        total = Usage.of(sizes)
        rows = [("containers", total.containers, quota.containers, ""),
                ("cores", total.cores, quota.cores, ""),
                ("memory", total.memory_mb, quota.memory_mb, " MiB"),
                ("disk", total.disk_gb, quota.disk_gb, " GiB")]
        problems = [f"{what}: {have}{unit} with up to {group.max_replicas} replicas > quota "
                    f"{limit}{unit}" for what, have, limit, unit in rows if have > limit]
        if problems:
            raise QuotaExceeded(
                f"Group {group.name} at its maximum would exceed your quota:\n"
                + "\n".join(f"- {p}" for p in problems) + "\nLower --max or ask an admin.")

    # ---- the controller's side ----------------------------------------------------------------

    async def observe(self, group: ScalingGroup) -> GroupView:
        """The members Proxmox shows, reconciled with the store. A member is only a replica
        the bot cloned for this group: the CT at its vmid must carry the marker given in its
        clone (never matched by tag and name: anyone can tag a CT). Members gone from
        Proxmox, or whose vmid now holds another CT, are dropped; clones the bot began are
        finished and join."""
        cts = {ct.vmid: ct for ct in await self._px.list_containers()}
        seen = {m.vmid: cts[m.vmid] for m in group.members + group.spares
                if self._is_replica(group, m, cts.get(m.vmid))}
        cloning, finished = await self._settle_clones(group, cts, seen)
        spare_ids = {s.vmid for s in group.spares}
        known = {m.vmid for m in group.members}
        vanished = tuple(m for m in group.members if m.vmid not in seen)
        joined = tuple(m for m in finished if m.vmid not in known and m.vmid not in spare_ids)
        spares = tuple(s for s in group.spares if s.vmid in seen)
        if vanished or joined or len(spares) != len(group.spares):
            members = tuple(m for m in group.members if m.vmid in seen) + joined
            group = self._store.scaling.update(group.name, members=members, spares=spares) \
                or group
            for m in vanished + tuple(s for s in group.spares if s.vmid not in seen):
                self._store.ownership.forget(m.vmid, m.identity)
            for m in joined:
                self._store.ownership.set(m.vmid, group.owner_id, m.hostname,
                                          identity=m.identity)
        replicas = tuple(self._replica(seen[m.vmid]) for m in group.members if m.vmid in seen)
        return GroupView(group, replicas, vanished, joined, cloning, joined)

    def _is_replica(self, group: ScalingGroup, member: Member, ct: Container | None) -> bool:
        if ct is None or ct.template:
            return False
        if member.identity is not None:
            return ct.identity == member.identity
        # Recorded before markers existed: still the group's tag and a replica's name.
        return group.name in ct.tags and ct.hostname == member.hostname

    async def _settle_clones(self, group: ScalingGroup, cts: dict[int, Container],
                             seen: dict[int, Container]) -> tuple[tuple[Member, ...],
                                                                  tuple[Member, ...]]:
        """Clones recorded as begun but not finished (the bot stopped mid-clone, or stopped
        waiting for it): one Proxmox still runs (locked) is returned, to count as a booting
        replica rather than be cloned again; one it finished, and that carries the marker of
        its clone call (in its description), is tagged now (added to ``seen``, and to the
        members returned); one that never came to be is forgotten."""
        still: list[Member] = []
        settled: set[int] = set()
        finished: list[Member] = []
        for c in group.cloning:
            ct = cts.get(c.vmid)
            if ct is not None and ct.vmid not in seen and ct.lock:
                still.append(c)  # PVE writes the clone's config (hostname) only at the end
                continue
            settled.add(c.vmid)
            if ct is None or ct.vmid in seen or ct.template or not await self._made_by(c, ct):
                continue
            try:
                await self._px.finish_replica(ct.vmid, ct.node, tags=self._tags(group, c),
                                              config=self._replica_config(group))
                seen[ct.vmid] = ct
                finished.append(dataclasses.replace(c, node=ct.node, added_at=self.clock()))
            except px_errors.ProxmoxError as exc:  # finish_replica destroyed it
                log.warning("group %s: could not finish clone CT %s: %s", group.name, ct.vmid,
                            exc)
        if settled:
            current = self._store.scaling.get(group.name)
            if current is not None:
                self._store.scaling.update(group.name, cloning=tuple(
                    c for c in current.cloning if c.vmid not in settled))
        return tuple(still), tuple(finished)

    async def _made_by(self, clone: Member, ct: Container) -> bool:
        """Is `ct` the clone recorded as `clone`: its marker (tag, or the description set in
        the clone call), else (recorded before markers) its hostname."""
        if clone.identity is None:
            return ct.hostname == clone.hostname
        if ct.identity == clone.identity:
            return True
        try:
            config = await self._px.get_config(ct.vmid)
        except px_errors.ProxmoxError:
            return False
        return clone.identity in str(config.get("description", ""))

    @staticmethod
    def _tags(group: ScalingGroup, member: Member) -> tuple[str, ...]:
        return (REPLICA_TAG, group.name) + ((member.identity,) if member.identity else ())

    def _begin_clone(self, name: str, clone: Member) -> None:
        """Record, before the clone request, the CT that may exist from then on."""
        current = self._store.scaling.get(name)
        if current is not None:
            self._store.scaling.update(name, cloning=tuple(
                c for c in current.cloning if c.hostname != clone.hostname) + (clone,))

    def _end_clone(self, name: str, hostname: str) -> None:
        current = self._store.scaling.get(name)
        if current is not None:
            self._store.scaling.update(name, cloning=tuple(
                c for c in current.cloning if c.hostname != hostname))

    @staticmethod
    def _replica_config(group: ScalingGroup) -> dict[str, str]:
        if group.bridge:
            return {"net0": f"name=eth0,bridge={group.bridge},ip=dhcp,firewall=1"}
        return {}

    def _replica(self, ct: Container) -> Replica:
        ready = (ct.status == "running" and ct.lock is None
                 and ct.uptime >= self.settings.warmup_s)
        return Replica(ct.vmid, ct.hostname, ct.node, ct.status, ct.cpu, ct.uptime, ct.lock,
                       ready)

    async def add_replicas(self, group: ScalingGroup,
                           count: int) -> list[Added | Failed | StillCloning]:
        """Start warm spares first, then clone the rest in parallel. Each result is an Added
        (member recorded), a Failed (nothing left behind) or a StillCloning (Proxmox goes on
        with it; it counts as booting until it ends)."""
        spares = list(group.spares[:count])
        first = group.next_index
        names = [f"{group.name}-{first + i}" for i in range(count - len(spares))]
        # The names are taken before cloning: a crash mid-way never reuses one.
        group = self._store.scaling.update(group.name, next_index=first + len(names)) or group
        nodes = await self._spread_targets(group, len(names)) if group.node_spread else \
            [None] * len(names)
        template_problem = await self._template_problem(group) if names else None
        results = await asyncio.gather(
            *(self._wake(s) for s in spares),
            *(self._clone(group, name, node) if template_problem is None
              else _failed(Failed(name, template_problem))
              for name, node in zip(names, nodes, strict=True)))
        added = [r for r in results if isinstance(r, Added)]
        woken = {s.vmid for s in spares} & {a.vmid for a in added}
        if added:
            now = self.clock()
            current = self._store.scaling.get(group.name) or group
            made = {a.vmid for a in added}
            self._store.scaling.update(
                group.name,
                members=current.members + tuple(Member(a.vmid, a.hostname, a.node, now,
                                                       a.identity) for a in added),
                spares=tuple(s for s in current.spares if s.vmid not in woken),
                cloning=tuple(c for c in current.cloning if c.vmid not in made))
            for a in added:
                self._store.ownership.set(a.vmid, group.owner_id, a.hostname,
                                          identity=a.identity)
                await self._containers.secure(group.owner_id, a.vmid)
        for r in results:  # the scaler acts for the group's owner: the trail says so
            if isinstance(r, Added):
                self._audit("scale_out", group, "ok", f"{r.hostname} (CT {r.vmid}) on {r.node}")
            elif isinstance(r, Failed):
                self._audit("scale_out", group, "failed", f"{r.hostname}: {r.reason}")
        return results

    def _audit(self, action: str, group: ScalingGroup, outcome: str, detail: str) -> None:
        """An action of the scaling controller (no person: actor None, shown as the scaler),
        naming the group and its owner."""
        self._store.audit.record(None, action, f"group:{group.name}", outcome,
                                 f"{detail}; owner {group.owner_id}")

    async def _template_problem(self, group: ScalingGroup) -> str | None:
        """Why the group's template may not be cloned now (None: it may): it must still be
        the CT the group was made from, never whatever holds its vmid since."""
        try:
            template = await self._px.get_container(group.template_vmid)
        except px_errors.NotFound:
            return f"its template CT {group.template_vmid} is gone"
        if group.template_identity is not None and template.identity != group.template_identity:
            return (f"CT {group.template_vmid} is no longer the group's template (deleted "
                    "and replaced since); set a new group up from a template of yours")
        return None

    async def _wake(self, spare: Member) -> Added | Failed:
        try:
            await self._px.start(spare.vmid)
        except px_errors.ProxmoxError as exc:
            return Failed(spare.hostname, f"start of warm spare CT {spare.vmid} failed: {exc}")
        return Added(spare.hostname, spare.node, spare.vmid, spare.identity)

    async def _clone(self, group: ScalingGroup, hostname: str,
                     node: str | None) -> Added | Failed | StillCloning:
        identity = new_identity()
        note = None
        if node is not None:  # a node the clone can be brought to, else the template's
            try:
                node, note = await self._px.replica_target(
                    group.template_vmid, node, {group.bridge} if group.bridge else None)
            except px_errors.ProxmoxError as exc:
                return Failed(hostname, f"cannot place a clone of CT {group.template_vmid}: "
                                        f"{exc}")
        try:
            vmid, where = await self._px.clone_replica(
                group.template_vmid, hostname,
                tags=self._tags(group, Member(0, hostname, "", 0.0, identity)),
                target_node=node, config=self._replica_config(group),
                description=f"Stratus replica {hostname} of group {group.name} ({identity})",
                on_vmid=lambda v: self._begin_clone(
                    group.name, Member(v, hostname, node or "", self.clock(), identity)))
        except px_errors.StillRunning as exc:
            # Proxmox goes on with the clone: its record (from _begin_clone) stays, so it counts
            # as booting, is not cloned again, and observe tags it as a member once it ends.
            current = self._store.scaling.get(group.name)
            record = next((c for c in (current.cloning if current else ())
                           if c.hostname == hostname), None)
            if record is not None:
                return StillCloning(hostname, record.vmid, exc.waited_s)
            return Failed(hostname, f"clone of CT {group.template_vmid}: {exc}")
        except px_errors.ProxmoxError as exc:
            self._end_clone(group.name, hostname)  # clone_replica left nothing behind
            return Failed(hostname, f"clone of CT {group.template_vmid} failed: {exc}")
        # Its clone record stays until add_replicas records it as a member: a stop in between
        # leaves the record, by which the next process finds it (its marker) and lets it join.
        try:
            await self._px.start(vmid)
        except px_errors.ProxmoxError as exc:
            await self._px.discard(vmid)
            self._end_clone(group.name, hostname)
            return Failed(hostname, f"start of CT {vmid} failed: {exc}")
        return Added(hostname, where, vmid, identity, note)

    async def _spread_targets(self, group: ScalingGroup, count: int) -> list[str | None]:
        """Nodes for ``count`` new replicas: each to the online node with fewest members."""
        online = [n.name for n in await self._px.overview() if n.online]
        if not online:
            return [None] * count
        load = {n: 0 for n in online}
        for m in group.members:
            if m.node in load:
                load[m.node] += 1
        out = []
        for _ in range(count):
            best = min(sorted(load), key=lambda n: load[n])
            load[best] += 1
            out.append(best)
        return out

    async def remove_replicas(self, group: ScalingGroup, view: GroupView,
                              count: int) -> list[tuple[Replica, str | None]]:
        """Retire the ``count`` newest members (booting ones first). Returns (replica, error)
        pairs; a retired replica leaves the members, kept as a warm spare while the group has
        fewer than ``warm_spares``."""
        order = {m.vmid: m.added_at for m in group.members}
        victims = sorted(view.replicas, key=lambda r: (r.ready, -order.get(r.vmid, 0),
                                                       -r.vmid))[:count]
        keep = max(0, group.warm_spares - len(group.spares))
        as_spare = {v.vmid for v in victims[:keep]}
        results = await asyncio.gather(
            *(self._px.retire(v.vmid, shutdown_timeout=self.settings.shutdown_timeout_s,
                              destroy=v.vmid not in as_spare) for v in victims),
            return_exceptions=True)
        out: list[tuple[Replica, str | None]] = []
        gone: set[int] = set()
        for victim, result in zip(victims, results, strict=True):
            if isinstance(result, Exception):
                out.append((victim, str(result)))
                continue
            gone.add(victim.vmid)
            if victim.vmid not in as_spare:
                self._store.ownership.remove(victim.vmid)
            out.append((victim, None))
        for victim, error in out:
            kept = " (kept stopped as a warm spare)" if victim.vmid in as_spare else ""
            self._audit("scale_in", group, "failed" if error else "ok",
                        f"{victim.hostname} (CT {victim.vmid}) on {victim.node}{kept}"
                        + (f": {error}" if error else ""))
        current = self._store.scaling.get(group.name) or group
        spares = tuple(m for m in current.members if m.vmid in gone & as_spare)
        self._store.scaling.update(
            group.name, members=tuple(m for m in current.members if m.vmid not in gone),
            spares=current.spares + spares)
        return out

    async def start_stopped(self, view: GroupView) -> list[tuple[Replica, str | None]]:
        """Members found stopped (by hand, or a node restart) are started again."""
        stopped = [r for r in view.replicas if r.status == "stopped" and r.lock is None]
        out = []
        for r in stopped:
            try:
                await self._px.start(r.vmid)
                out.append((r, None))
            except px_errors.ProxmoxError as exc:
                out.append((r, str(exc)))
        return out

    def record(self, name: str, **changes) -> ScalingGroup | None:
        """Store controller state (policy state, approvals, last failure) of a group."""
        return self._store.scaling.update(name, **changes)

    def check_owner_or_admin(self, actor_id: int, group: ScalingGroup) -> None:
        if not self._may_see(actor_id, group):
            raise Forbidden(f"Scaling group {group.name} is not yours.")


async def _failed(failure: Failed) -> Failed:
    return failure


# ---- a group's policy options --------------------------------------------------------------------

def implied_policy(opts: GroupOptions) -> str | None:
    """The policy /scale_create asks for: --policy, else HPA when only --target-cpu (HPA's knob,
    as in Kubernetes) is given, else the default (None)."""
    if opts.policy is None and opts.target_cpu is not None:
        return "hpa"
    return opts.policy


def check_policy_options(policy: str | None, opts: GroupOptions) -> None:
    """Refuse options the group's policy would not use, saying which ones it takes."""
    policy = policy or group_policy.DEFAULT_POLICY
    if policy == "hpa":
        extra = [name for name, value in (("--slo", opts.slo_cpu),
                                          ("--violation-cost", opts.violation_cost),
                                          ("--season", opts.season_s)) if value is not None]
        if extra:
            raise ServiceError(
                f"{', '.join(extra)} belong(s) to the predictive policy; the HPA policy takes "
                "only --target-cpu (the average CPU it keeps, default 80). Drop "
                f"{', '.join(extra)}, or use --policy predictive.")
    elif opts.target_cpu is not None:
        raise ServiceError(
            "--target-cpu is the HPA policy's target; the predictive policy takes --slo (the CPU "
            "above which your service slows down, default 85) and --violation-cost (what a "
            "second over it is worth in replica-seconds, default "
            f"{group_policy.DEFAULT_VIOLATION_COST:g}). Drop --target-cpu, or use --policy hpa "
            "--target-cpu N.")


def _policy_changes(opts: GroupOptions) -> dict[str, object]:
    """The store's fields for the policy options given (fractions, not percentages)."""
    changes: dict[str, object] = {}
    if opts.policy is not None:
        changes["policy"] = opts.policy
    if opts.target_cpu is not None:
        changes["target_cpu"] = opts.target_cpu / 100
    if opts.slo_cpu is not None:
        changes["slo_cpu"] = opts.slo_cpu / 100
    if opts.violation_cost is not None:
        changes["violation_cost"] = opts.violation_cost
    if opts.season_s is not None:
        changes["season_s"] = opts.season_s
    return changes


def new_group(args: ScaleCreateArgs, owner_id: int, chat_id: int, template_vmid: int,
              template_identity: str | None, now: float) -> ScalingGroup:
    """The group /scale_create makes from its arguments (options not given stay None: the
    defaults of bot/scaler/group_policy.py). Pure: the bench builds its groups with it too."""
    opts = args.options
    policy = dict(_policy_changes(opts), policy=implied_policy(opts))
    policy.setdefault("target_cpu", group_policy.DEFAULT_HPA_TARGET)
    return ScalingGroup(
        name=args.name, owner_id=owner_id, template_vmid=template_vmid,
        template_identity=template_identity,
        min_replicas=opts.min_replicas, max_replicas=opts.max_replicas,
        notify_chat_id=chat_id, bridge=opts.bridge, node_spread=bool(opts.node_spread),
        approve_above=None if opts.approve_above in (None, -1) else opts.approve_above,
        warm_spares=opts.warm_spares or 0, created_at=now, **policy,
    )
