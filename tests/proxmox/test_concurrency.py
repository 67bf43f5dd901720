"""Concurrent creates: distinct vmids from one client, and collisions with another client retried."""

from __future__ import annotations

import asyncio

from bot.proxmox import ContainerSpec, Proxmox


async def test_twenty_concurrent_creates_get_distinct_vmids(px, sim, settings_for):
    specs = [
        ContainerSpec(hostname=f"ct{i}", template="debian-12", memory_mb=256) for i in range(20)
    ]
    results = await asyncio.gather(*(px.create_container(s) for s in specs))
    vmids = [r.vmid for r in results]
    assert len(set(vmids)) == 20
    assert set(vmids) <= set(sim.cluster.guests)
    # Memory promised to creates in flight counts in placement: they spread over both nodes.
    assert {r.node for r in results} == {"pve1", "pve2"}
    hostnames = {sim.cluster.guests[r.vmid].config["hostname"] for r in results}
    assert hostnames == {f"ct{i}" for i in range(20)}
    # Needless collisions avoided: no create of ours was refused as "already exists".
    refused = [
        r
        for r in sim.requests
        if r.method == "POST" and r.route == "/nodes/{node}/lxc" and r.status >= 400
    ]
    assert refused == []


async def test_collision_with_another_client_is_retried(sim, settings_for):
    async with Proxmox(settings_for(sim)) as a, Proxmox(settings_for(sim)) as b:
        specs = [
            ContainerSpec(hostname=f"h{i}", template="debian-12", memory_mb=256) for i in range(6)
        ]
        results = await asyncio.gather(
            *(client.create_container(s) for client, s in zip([a, b] * 3, specs, strict=True))
        )
    vmids = [r.vmid for r in results]
    assert len(set(vmids)) == 6
    assert set(vmids) <= set(sim.cluster.guests)


async def test_vmid_taken_between_nextid_and_create_is_retried(px, sim):
    # Another client's create lands right after PVE answered our nextid: our POST then gets
    # "CT 100 already exists" and must move on to the next id.
    answer = sim.cluster.next_free_vmid

    def racing_next_free_vmid(start: int = 100) -> int:
        vmid = answer(start)
        if vmid not in sim.cluster.guests and not sim.cluster.guests:
            sim.cluster.add_guest(vmid, "pve2", hostname="other-client")
        return vmid

    sim.cluster.next_free_vmid = racing_next_free_vmid
    result = await px.create_container(ContainerSpec(hostname="mine", template="debian-12"))
    assert result.vmid == 101
    assert sim.cluster.guests[100].config["hostname"] == "other-client"
    assert sim.cluster.guests[101].config["hostname"] == "mine"
    refused = [r for r in sim.requests if r.method == "POST" and r.status == 500]
    assert len(refused) == 1
