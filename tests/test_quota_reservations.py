"""ContainerService's quota reservations against a fake Proxmox whose answers the test paces."""

from __future__ import annotations

import asyncio

import pytest

from bot.proxmox import ContainerSpec, CreateResult, NicSpec
from bot.proxmox.models import GIB, MIB, container_from
from bot.services.access import AccessService
from bot.services.containers import ContainerService, CreateDefaults
from bot.services.errors import QuotaExceeded
from bot.services.quota import ApprovalThresholds, Size
from bot.store import Quota, Store, User

OWNER = 7


class PacedProxmox:
    """CTs appear when their create ends; a listing may be held until the test lets it go."""

    def __init__(self) -> None:
        self.cts: dict[int, dict] = {}
        self.create_gate = asyncio.Event()
        self.listing_gate: asyncio.Event | None = None
        self.listing_started = asyncio.Event()

    async def list_containers(self, node=None, vmids=None):
        if self.listing_gate is not None:
            self.listing_started.set()
            await self.listing_gate.wait()
        return [container_from(r) for v, r in sorted(self.cts.items())
                if vmids is None or v in vmids]

    async def create_container(self, spec, progress=None):
        await self.create_gate.wait()
        self.cts[101] = {"vmid": 101, "node": "pve1", "type": "lxc", "name": spec.hostname,
                         "maxcpu": spec.cores, "maxmem": spec.memory_mb * MIB,
                         "maxdisk": spec.disk_gb * GIB, "tags": ";".join(spec.tags)}
        return CreateResult(101, "pve1")


def spec(name: str) -> ContainerSpec:
    return ContainerSpec(hostname=name, template="debian-12", cores=1, memory_mb=512, disk_gb=8,
                         nics=(NicSpec(name="net0", bridge="vmbr0", dhcp=True),))


async def test_a_create_ending_while_another_check_reads_proxmox_still_counts(tmp_path):
    """A create that ends (owned, its hold given back) while another create's quota check is
    waiting for the cluster listing counts in that check, as its CT or as its hold."""
    px = PacedProxmox()
    with Store(tmp_path / "s.json") as store:
        store.users.put(User(OWNER, "user"))
        store.quotas.put(OWNER, Quota(containers=1, cores=8, memory_mb=8192, disk_gb=64))
        svc = ContainerService(px, store, AccessService(store, ()), Quota(1, 8, 8192, 64),
                               ApprovalThresholds(), CreateDefaults())
        first = asyncio.create_task(svc.create(OWNER, spec("one")))
        await asyncio.sleep(0.01)  # it holds its size and waits for its create task
        px.listing_gate = asyncio.Event()

        async def another_create() -> None:
            async with svc.reserving(OWNER, Size(1, 512, 8)):
                pass

        second = asyncio.create_task(another_create())
        await px.listing_started.wait()  # the second check waits for the cluster listing
        px.create_gate.set()
        await first  # CT 101 is created and owned; its hold is given back
        px.listing_gate.set()
        with pytest.raises(QuotaExceeded, match="containers: 1 in use"):
            await second
