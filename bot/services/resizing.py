"""Resizing a container: cores, memory, and a disk that only grows.

What a CT grows by counts against its owner's quota (held while the change runs, as a create's
size is: `ContainerService.reserving`); a non-admin's resize that takes the CT above the
approval thresholds waits for an admin, bound to the CT's identity. Proxmox changes a running
CT's cores and memory at once (pve-container's ``vmconfig_hotplug_pending``: cores is a
"fastplug" option, memory a cgroup limit) and grows its disk online (``resize_vm`` runs
``resize2fs`` on the mounted volume), so a restart is needed only where the change would take
memory the CT is using now.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bot.proxmox import Container, Proxmox
from bot.services.containers import ContainerService
from bot.services.errors import Conflict, Forbidden, ServiceError
from bot.services.quota import ApprovalThresholds, Size, approval_reasons, growth, size_text
from bot.store import Store


@dataclass(frozen=True)
class ResizeAsk:
    """What a person asks: new cores and memory, and a disk size or (`disk_grow`) how much
    the disk grows by; None: unchanged."""

    cores: int | None = None
    memory_mb: int | None = None
    disk_gb: int | None = None
    disk_grow: bool = False


@dataclass(frozen=True)
class ResizeRequest:
    """A resize bound to its CT's identity, with the sizes it gives the CT (None: unchanged):
    run now or once approved, it makes that CT this size, or nothing."""

    vmid: int
    identity: str | None
    hostname: str
    cores: int | None
    memory_mb: int | None
    disk_gb: int | None

    def to_payload(self) -> dict:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict) -> ResizeRequest:
        return cls(payload["vmid"], payload.get("identity"), payload.get("hostname", ""),
                   payload.get("cores"), payload.get("memory_mb"), payload.get("disk_gb"))

    def ask(self) -> ResizeAsk:
        return ResizeAsk(self.cores, self.memory_mb, self.disk_gb)


@dataclass(frozen=True)
class ResizePlan:
    request: ResizeRequest
    ct: Container
    now: Size
    wanted: Size
    approval_reasons: tuple[str, ...]  # empty: it may run now

    @property
    def grows(self) -> Size:
        return growth(self.now, self.wanted)

    @property
    def changes(self) -> str:
        """``cores 1 → 2, memory 512 → 1024 MiB, disk 8 → 12 GiB``."""
        rows = (("cores", self.now.cores, self.wanted.cores, ""),
                ("memory", self.now.memory_mb, self.wanted.memory_mb, " MiB"),
                ("disk", self.now.disk_gb, self.wanted.disk_gb, " GiB"))
        return ", ".join(f"{name} {a} → {b}{unit}" for name, a, b, unit in rows if a != b)

    @property
    def summary(self) -> str:
        return f"resize CT {self.ct.vmid} {self.ct.hostname}: {self.changes}"


@dataclass(frozen=True)
class Resized:
    ct: Container  # as it is now
    changes: str
    note: str  # live, or at its next start


def size_of(ct: Container) -> Size:
    return Size(ct.cores, ct.memory_mb, round(ct.disk_gb), containers=0)


class ResizeService:
    def __init__(self, px: Proxmox, store: Store, containers: ContainerService,
                 thresholds: ApprovalThresholds) -> None:
        self._px = px
        self._store = store
        self._containers = containers
        self.policy = containers.policy
        self._thresholds = thresholds

    async def plan(self, actor_id: int, ref: int | str, ask: ResizeAsk,
                   identity: str | None = None) -> ResizePlan:
        """The resize checked: the CT is the asker's (and, with `identity`, still the one a
        request was about), the disk does not shrink, what it grows by fits the quota; and
        why it waits for an admin, if it does."""
        self.policy.authorize(actor_id, "ct.resize")
        ct = await self._containers.resolve(actor_id, ref, "ct.resize", identity)
        now = size_of(ct)
        disk = now.disk_gb if ask.disk_gb is None else (
            now.disk_gb + ask.disk_gb if ask.disk_grow else ask.disk_gb)
        if disk < now.disk_gb:
            raise ServiceError(f"A container's disk only grows: CT {ct.vmid} has "
                               f"{now.disk_gb} GiB, and Proxmox cannot shrink it. Ask for more "
                               f"(e.g. --disk +4G).")
        wanted = Size(ask.cores or now.cores, ask.memory_mb or now.memory_mb, disk, containers=0)
        if wanted == now:
            raise ServiceError(f"Nothing to change: CT {ct.vmid} has {size_text(now)} already. "
                               "Give --cores, --memory or --disk with other values.")
        if ct.lock:
            raise Conflict(f"CT {ct.vmid} is busy ({ct.lock}): try again once that is done.")
        if ct.status == "running" and wanted.memory_mb < min(now.memory_mb, ct.mem_used_mb):
            raise Conflict(f"CT {ct.vmid} uses {ct.mem_used_mb} MiB of memory now: taking it "
                           f"to {wanted.memory_mb} MiB while it runs would make the kernel "
                           f"kill its processes. Stop it (/ct_stop {ct.vmid}), resize it, then "
                           "start it again; or ask for more memory.")
        request = ResizeRequest(ct.vmid, ct.identity, ct.hostname,
                                None if wanted.cores == now.cores else wanted.cores,
                                None if wanted.memory_mb == now.memory_mb else wanted.memory_mb,
                                None if wanted.disk_gb == now.disk_gb else wanted.disk_gb)
        plan = ResizePlan(request, ct, now, wanted, ())
        if self.policy.is_admin(actor_id):
            return plan
        await self._containers.check_quota(actor_id, plan.grows,
                                           f"Resizing CT {ct.vmid}: {plan.changes}.")
        # Measured as a create of the new size would be, on what grows only: a CT an admin
        # let be big does not wait again for a change of something else.
        grows = plan.grows
        measured = Size(wanted.cores if grows.cores else 0,
                        wanted.memory_mb if grows.memory_mb else 0,
                        wanted.disk_gb if grows.disk_gb else 0)
        reasons = approval_reasons(measured, self._thresholds)
        return ResizePlan(request, ct, now, wanted, tuple(reasons))

    async def resize(self, actor_id: int, request: ResizeRequest,
                     approved: bool = False) -> Resized:
        """Give the CT of `request` (bound to its identity) the sizes it names; what it grows
        by is held against the asker's quota meanwhile (admins have none)."""
        plan = await self.plan(actor_id, request.vmid, request.ask(), request.identity)
        if plan.approval_reasons and not approved:
            raise Forbidden(f"This resize needs an admin's approval ("
                            f"{'; '.join(plan.approval_reasons)}): /resize asks for it.")
        ct, now, wanted = plan.ct, plan.now, plan.wanted
        async with self._containers.reserving(actor_id, plan.grows, f"Resizing CT {ct.vmid}."):
            try:
                if wanted.disk_gb > now.disk_gb:
                    await self._px.grow_disk(ct.vmid, wanted.disk_gb - now.disk_gb)
                config = {k: v for k, v in (("cores", wanted.cores),
                                            ("memory", wanted.memory_mb))
                          if v != {"cores": now.cores, "memory": now.memory_mb}[k]}
                if config:
                    await self._px.set_config(ct.vmid, **config)
            except Exception as exc:
                self._store.audit.record(actor_id, "resize", f"ct:{ct.vmid}", "failed",
                                         f"{plan.changes}: {exc}")
                raise
        self._store.audit.record(actor_id, "resize", f"ct:{ct.vmid}", "ok", plan.changes)
        note = ("Applied live: Proxmox changes a running container's cores and memory at "
                "once and grows its disk while it runs; no restart needed."
                if ct.status == "running" else "It is stopped: it starts with its new size.")
        return Resized(await self._px.get_container(ct.vmid), plan.changes, note)

