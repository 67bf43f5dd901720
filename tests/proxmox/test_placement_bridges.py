"""Placement honours the bridges a container's NICs need."""

import pytest

from bot.proxmox import ContainerSpec, NicSpec, errors


def on_bridge(name: str, bridge: str) -> ContainerSpec:
    return ContainerSpec(hostname=name, template="debian-12", memory_mb=256, disk_gb=1,
                         nics=(NicSpec(bridge=bridge, ip="10.10.20.5/24", gw="10.10.20.1"),),
                         start=True)


async def test_a_bridge_on_one_node_only_places_the_container_there(px, sim):
    # pve1 has more free memory, so without the bridge rule it would be chosen.
    sim.cluster.nodes["pve2"].memory //= 2
    await px.stage_bridge("pve2", "vmbr1", cidr="10.10.20.1/24")
    with pytest.raises(errors.NotFound, match="No online node has vmbr1 applied"):
        await px.create_container(on_bridge("early", "vmbr1"))  # staged is not applied
    await px.apply_network("pve2")
    result = await px.create_container(on_bridge("c2", "vmbr1"))
    assert result.node == "pve2"
    assert sim.cluster.guests[result.vmid].status == "running"
    plain = await px.create_container(ContainerSpec(hostname="c1", template="debian-12",
                                                    memory_mb=256, disk_gb=1))
    assert plain.node == "pve1"  # vmbr0 only: the usual most-free-memory choice
