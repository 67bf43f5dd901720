"""Containers from create to delete on both nodes of a pvesim cluster, over real HTTPS."""

from __future__ import annotations

import logging

import pytest

from bot.proxmox import ContainerSpec, NicSpec, errors
from bot.proxmox.models import GIB

SSH_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx3b2V0ZXN0a2V5Zm9yc3RyYXR1c3Rlc3RzMTIz test@stratus"
)


@pytest.mark.parametrize("node", ["pve1", "pve2"])
async def test_container_lifecycle(px, sim, node):
    stages: list[str] = []

    async def progress(stage: str) -> None:
        stages.append(stage)

    spec = ContainerSpec(
        hostname=f"web-{node}",
        template="debian-12",
        cores=2,
        memory_mb=1024,
        swap_mb=256,
        disk_gb=4,
        nics=(
            NicSpec(ip="10.0.0.5/24", gw="10.0.0.1"),
            NicSpec(name="net1", bridge="vmbr0", dhcp=True),
        ),
        ssh_public_key=SSH_KEY,
        node=node,
        tags=("stratus", "alice"),
        description="made by the test",
    )
    result = await px.create_container(spec, progress=progress)
    assert result.node == node
    assert result.password is None  # a key was given: nothing generated
    assert stages[-1] == f"CT {result.vmid} is ready on {node}"
    assert any(f"Creating CT {result.vmid} on {node}" == s for s in stages)

    guest = sim.cluster.guests[result.vmid]
    assert guest.node == node
    assert str(guest.config["unprivileged"]) == "1"  # sent as 1, not "True"

    ct = await px.get_container(result.vmid)
    assert (ct.vmid, ct.node, ct.hostname, ct.status) == (
        result.vmid,
        node,
        f"web-{node}",
        "stopped",
    )
    assert (ct.cores, ct.memory_mb, ct.swap_mb, ct.disk_gb) == (2, 1024, 256, 4)
    assert ct.nics == (
        NicSpec(name="net0", bridge="vmbr0", ip="10.0.0.5/24", gw="10.0.0.1", firewall=True),
        NicSpec(name="net1", bridge="vmbr0", dhcp=True, firewall=True),
    )
    assert ct.ips == ("10.0.0.5",)
    assert ct.tags == ("alice", "stratus") or ct.tags == ("stratus", "alice")
    assert ct.template is False and ct.lock is None

    await px.start(result.vmid)
    assert sim.cluster.guests[result.vmid].status == "running"
    assert (await px.get_container(result.vmid)).status == "running"
    listed = {c.vmid: c for c in await px.list_containers(node=node)}
    assert listed[result.vmid].status == "running"
    assert listed[result.vmid].disk_gb == pytest.approx(4 * GIB / GIB)

    assert await px.reboot(result.vmid) == "OK"
    assert sim.cluster.guests[result.vmid].status == "running"
    await px.shutdown(result.vmid, timeout=30)
    assert sim.cluster.guests[result.vmid].status == "stopped"
    await px.start(result.vmid)
    await px.stop(result.vmid)
    assert sim.cluster.guests[result.vmid].status == "stopped"

    await px.delete(result.vmid)
    assert result.vmid not in sim.cluster.guests
    with pytest.raises(errors.NotFound, match=str(result.vmid)):
        await px.get_container(result.vmid)
    with pytest.raises(errors.NotFound):
        await px.start(result.vmid)


async def test_generated_password_is_strong_and_never_logged(px, sim, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("proxmoxer").setLevel(logging.DEBUG)
    logging.getLogger("proxmoxer.core").setLevel(logging.DEBUG)
    try:
        result = await px.create_container(ContainerSpec(hostname="pw", template="alpine-3.20"))
    finally:
        logging.getLogger("proxmoxer.core").setLevel(logging.WARNING)
    assert result.password and len(result.password) >= 16
    assert any(c.isdigit() for c in result.password) and any(c.isupper() for c in result.password)
    assert result.password not in caplog.text
    assert result.password not in repr(result)
    assert any("creating CT" in r.getMessage() for r in caplog.records)  # logging did happen


async def test_create_places_on_the_node_with_most_free_memory(px, sim):
    sim.cluster.nodes["pve1"].memory = 4 * GIB
    result = await px.create_container(ContainerSpec(hostname="a", template="debian-12"))
    assert result.node == "pve2"
    sim.cluster.nodes["pve2"].memory = 2 * GIB
    result = await px.create_container(ContainerSpec(hostname="b", template="debian-12"))
    assert result.node == "pve1"


async def test_no_node_fits(px, sim):
    with pytest.raises(errors.NodeUnavailable, match="MiB"):
        await px.create_container(
            ContainerSpec(hostname="huge", template="debian-12", memory_mb=10_000_000)
        )
    assert sim.cluster.guests == {}


async def test_offline_node_is_not_chosen_and_named_one_refused(px, sim):
    sim.cluster.set_node_online("pve1", False)
    nodes = {n.name: n for n in await px.overview()}
    assert nodes["pve1"].online is False and nodes["pve2"].online is True
    assert nodes["pve2"].cpus > 0 and 0 < nodes["pve2"].mem_free_mb <= nodes["pve2"].mem_total_mb
    result = await px.create_container(ContainerSpec(hostname="x", template="debian-12"))
    assert result.node == "pve2"
    with pytest.raises(errors.NodeUnavailable, match="pve1"):
        await px.create_container(ContainerSpec(hostname="y", template="debian-12", node="pve1"))


async def test_templates_and_unknown_template(px):
    templates = await px.templates(node="pve1")
    names = [t.name for t in templates]
    assert any(n.startswith("debian-12-standard") for n in names)
    assert all(t.volid.startswith("local:vztmpl/") and t.size > 0 for t in templates)
    with pytest.raises(errors.NotFound, match="debian-12"):
        await px.create_container(ContainerSpec(hostname="x", template="plan9"))


async def test_clone_and_config(px, sim):
    src = await px.create_container(
        ContainerSpec(hostname="src", template="debian-12", node="pve1")
    )
    new = await px.clone(src.vmid, "copy")
    assert new != src.vmid
    assert sim.cluster.guests[new].config["hostname"] == "copy"
    assert (await px.get_container(new)).node == "pve1"
    await px.set_config(new, cores=3, onboot=True)
    config = await px.get_config(new)
    assert int(config["cores"]) == 3 and int(config["onboot"]) == 1


async def test_create_and_start(px, sim):
    stages: list[str] = []

    async def progress(stage: str) -> None:
        stages.append(stage)
        raise RuntimeError("a broken progress callback must not abort the create")

    result = await px.create_container(
        ContainerSpec(hostname="up", template="ubuntu-24.04", start=True), progress=progress
    )
    assert sim.cluster.guests[result.vmid].status == "running"
    assert f"Starting CT {result.vmid}" in stages
    assert sim.cluster.guests[result.vmid].config["hostname"] == "up"
