"""Defaults that work (issue 12, point 2): `/create c1` alone reaches the host and the PC; users
list the networks they may use (/bridges), the guided create offers them with their subnets and
pools; a user's next container goes to the node of their others, so that containers talking
through a node's own bridges share it, or /netcheck says how to move one there."""

from __future__ import annotations

import pytest
from e2e_harness import ADMIN_ID, BOB_ID, Harness, default_policy, running_bot

from bot.demo import demo_settings
from bot.runtime import chat_policy
from bot.services.netcheck import Facts, PortForward
from bot.store import Store, User

NAT = Facts(pc_reachable_via=(("pve1", "vmbr0"), ("pve2", "vmbr0")),
            nat_port_forwards=(PortForward("pve1", 8006, 8006),),
            forwarding_nodes=frozenset({"pve1", "pve2"}),
            masquerade=(("pve1", "vmbr1", "vmbr0"),))
POOLS = (("vmbr0", "10.0.2.100", "10.0.2.199"),)


@pytest.fixture
def policy():
    return default_policy(network_facts=NAT, network_pools=POOLS)


def done(m):
    return m.content.startswith(("✅", "❌"))


async def add_bridge(h, name, cidr, node="pve1", pool=None):
    text = f"/bridge_add {name} {cidr} --node {node}" + (f" --pool {pool}" if pool else "")
    staged = await h.ask(h.admin, text, lambda m: "Staged" in m.content or "❌" in m.content)
    assert "Staged" in staged.content, staged.content
    await h.admin.press(staged, "Apply")
    await h.tg.wait_for(lambda m: m.message_id == staged.message_id and "applied" in m.content,
                        chat_id=ADMIN_ID)


async def create(h, text):
    msg = await h.ask(h.bob, text, done, timeout=15)
    assert msg.content.startswith("✅"), msg.content
    vmid = int(msg.content.split()[2])
    return vmid, h.sim.cluster.guests[vmid]


async def netcheck(h, a, b):
    msg = await h.ask(h.bob, f"/netcheck {a} {b}", lambda m: m.content.startswith(f"{a} -> "))
    return msg.content


async def test_create_with_no_options_reaches_the_host_and_the_pc_in_the_demo(sim, tg, tmp_path):
    """The demo's own settings (bot.demo.lab_network): the lab's NAT and a pool on vmbr0."""
    policy = chat_policy(demo_settings(tg, sim, tmp_path))
    store_path = tmp_path / "stratus.json"
    Store(store_path).users.put(User(id=BOB_ID, role="user", name="Bob"))
    async with running_bot(sim, tg, store_path, policy) as (services, app):
        h = Harness(sim, tg, services, app, str(store_path))
        _, c1 = await create(h, "/create c1")
        assert "ip=10.0.2.100/24" in c1.config["net0"] and "gw=10.0.2.2" in c1.config["net0"]
        assert "c1 -> host: reachable" in await netcheck(h, "c1", "host")
        assert "c1 -> pc: reachable" in await netcheck(h, "c1", "pc")


async def test_users_list_the_networks_they_may_use(harness):
    h = harness
    await add_bridge(h, "vmbr1", "10.10.20.1/24", pool="10.10.20.10-10.10.20.200")
    await add_bridge(h, "vmbr2", "10.10.40.1/24")  # no pool: not for users' fixed addresses
    listing = await h.ask(h.bob, "/bridges", lambda m: m.content.startswith("Networks you"))
    text = listing.content
    assert ("vmbr0 (default) · 10.0.2.0/24 · addresses from its pool 10.0.2.100-10.0.2.199, "
            "gateway 10.0.2.2 · on pve1, pve2") in text, text
    assert ("vmbr1 · 10.10.20.0/24 · addresses from its pool 10.10.20.10-10.10.20.200, "
            "gateway 10.10.20.1 · on pve1") in text, text
    assert "vmbr2" not in text and "enp0s3" not in text and "Node pve1" not in text
    admin = await h.ask(h.admin, "/bridges", lambda m: m.content.startswith("Node pve1"))
    assert "vmbr2 · 10.10.40.1/24" in admin.content
    assert "Open to users: vmbr0 (default), vmbr1" in admin.content


async def test_the_guided_create_offers_those_networks_and_takes_the_pools_address(harness):
    h, tg = harness, harness.tg
    await add_bridge(h, "vmbr1", "10.10.20.1/24", pool="10.10.20.10-10.10.20.200")
    menu = await h.ask(h.bob, "/create", lambda m: "step 1 of 3" in m.content)
    debian = next(b.text for b in menu.flat_buttons if b.text.startswith("debian-12"))
    await h.bob.press(menu, debian)
    sizes = await tg.wait_for(lambda m: m.message_id == menu.message_id
                              and "Step 2 of 3" in m.content)
    await h.bob.press(sizes, "Small · 1 core, 512 MiB, 8 GiB")
    nets = await tg.wait_for(lambda m: m.message_id == menu.message_id
                             and "Step 3 of 3" in m.content)
    labels = [b.text for b in nets.flat_buttons]
    assert labels == ["vmbr0 · 10.0.2.0/24 · pool 10.0.2.100-10.0.2.199",
                      "vmbr1 · 10.10.20.0/24 · pool 10.10.20.10-10.10.20.200", "Cancel"], labels
    await h.bob.press(nets, labels[1])
    summary = await tg.wait_for(lambda m: m.message_id == menu.message_id
                                and m.content.startswith("Create "))
    assert "vmbr1 (10.10.20.0/24, addresses from its pool 10.10.20.10-10.10.20.200, gateway " \
           "10.10.20.1)?" in summary.content, summary.content
    await h.bob.press(summary, "Create")
    made = await tg.wait_for(done, chat_id=BOB_ID, timeout=15)
    assert made.content.startswith("✅") and "IP 10.10.20.10" in made.content, made.content
    guest = h.sim.cluster.guests[int(made.content.split()[2])]
    assert "bridge=vmbr1" in guest.config["net0"] and "gw=10.10.20.1" in guest.config["net0"]


async def test_a_users_next_container_goes_to_the_node_of_their_others(harness):
    h = harness
    _, c1 = await create(h, "/create c1 --node pve2")
    assert c1.node == "pve2"
    # pve2 now has less free memory than pve1: placement alone would choose pve1
    _, c2 = await create(h, "/create c2")
    assert c2.node == "pve2"
    # Carol's first one is placed as usual, not next to Bob's
    carol = await h.ask(h.carol, "/create c3", done, timeout=15)
    assert h.sim.cluster.guests[int(carol.content.split()[2])].node == "pve1", carol.content


async def test_netcheck_says_how_to_bring_two_containers_onto_the_host_bridges_node(harness):
    """vmbr1 (no uplink) exists on pve1 only, C1 is on pve2: they cannot talk; the advice names
    how to move C1 next to C2."""
    h = harness
    await add_bridge(h, "vmbr1", "10.10.20.1/24", pool="10.10.20.10-10.10.20.200")
    c1_id, _ = await create(h, "/create c1 --node pve2")
    _, c2 = await create(h, "/create c2 --bridge vmbr1")
    assert c2.node == "pve1"  # the only node with vmbr1
    verdict = await netcheck(h, "c2", "c1")
    assert "NOT reachable" in verdict
    assert "vmbr1 on pve1 has no physical port" in verdict
    assert (f"put c1 (vmid {c1_id}) on pve1 too: back it up (/backup {c1_id}), restore it "
            "there (/restore <its backup> --new --node pve1)") in verdict, verdict
