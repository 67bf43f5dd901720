"""A copy's NICs: addresses leased for it are given back when a later one cannot be had."""

import pytest

from bot.proxmox import Proxmox, ProxmoxSettings
from bot.proxmox.errors import ProxmoxError
from bot.runtime import build_services
from bot.services.network import Lease
from bot.store import Store


class Addresses:
    """The first lease succeeds; the second finds Proxmox unreachable."""

    def __init__(self):
        self.held: list[Lease] = []

    async def lease(self, network, holder):
        if self.held:
            raise ProxmoxError("Proxmox at https://pve:8006 did not answer")
        lease = Lease(network, "10.0.2.100/24", "10.0.2.1")
        self.held.append(lease)
        return lease

    def release(self, lease):
        self.held.remove(lease)


async def test_leases_taken_before_a_failing_one_are_released(tmp_path):
    from e2e_harness import default_policy

    px = Proxmox(ProxmoxSettings(host="pve", token_id="root@pam!t", token_secret="s"))
    try:
        services = build_services(px, Store(tmp_path / "s.json"), default_policy())
        addresses = Addresses()
        services.containers.addresses = addresses
        config = {"net0": "name=eth0,bridge=vmbr0,ip=10.0.2.5/24,gw=10.0.2.1",
                  "net1": "name=eth1,bridge=vmbr0,ip=10.0.2.6/24"}
        with pytest.raises(ProxmoxError):
            await services.backups._copy_nics(config, "copy", 100)
        assert addresses.held == []
    finally:
        await px.aclose()
