"""Issue 10, defect 6: addresses. A user's static address must be free, of the bridge's pool, and
never a gateway, a node's own address or another tenant's; admins may go outside the pools but
not onto those. Pool leases go back at once when a create fails, is rejected or expires. And
/netcheck does not name another tenant's container for an address a user gave (defect 9).

Through the real PTB Application (tgsim) and pvesim over HTTPS, like the other e2e tests. The
lab: vmbr0 on pve1 is 10.0.2.15/24 with the default gateway 10.0.2.2 (no pool); vmbr1 is
staged and applied here as 10.10.20.1/24 with the 3-address pool 10.10.20.10-10.10.20.12.
"""

from __future__ import annotations

import pytest
from e2e_harness import ADMIN_ID, APPROVAL_CHAT, BOB_ID, default_policy

POOL = "10.10.20.10-10.10.20.12"


def finished(m):
    return m.content.startswith(("✅", "❌", "🗑"))


async def make_vmbr1(h):
    staged = await h.ask(h.admin, f"/bridge_add vmbr1 10.10.20.1/24 --node pve1 --pool {POOL}",
                         lambda m: "Staged" in m.content)
    await h.admin.press(staged, "Apply")
    await h.tg.wait_for(lambda m: m.message_id == staged.message_id and "applied" in m.content,
                        chat_id=ADMIN_ID)


async def create(h, user, text):
    msg = await h.ask(user, text, finished, timeout=15)
    assert msg.content.startswith("✅"), msg.content
    return int(msg.content.split()[2])


def net0(h, vmid):
    return h.sim.cluster.guests[vmid].config["net0"]


def hostnames(h):
    return {g.config.get("hostname") for g in h.sim.cluster.guests.values()}


async def big_create_waiting(h, name):
    """Bob asks for a create above the approval thresholds on vmbr1: its card, pending."""
    await h.ask(h.admin, f"/quota {BOB_ID} --cores 16 --memory 16G",
                lambda m: "Quota of" in m.content)
    await h.bob.send(f"/create {name} --cores 4 --node pve1 --bridge vmbr1")
    return await h.tg.wait_for(lambda m: f"create {name}" in m.content and m.flat_buttons,
                               chat_id=APPROVAL_CHAT)


async def test_the_gateway_is_refused(harness):
    h = harness
    await make_vmbr1(h)
    box = await create(h, h.bob, "/create box --node pve1 --bridge vmbr1")
    assert "ip=10.10.20.10/24" in net0(h, box)
    before = net0(h, box)
    msg = await h.ask(h.bob, f"/net_set {box} net0 --ip 10.10.20.1/24")
    assert "10.10.20.1 is the gateway of vmbr1" in msg.content, msg.content
    assert "free addresses of the vmbr1 pool: 10.10.20.11, 10.10.20.12" in msg.content
    assert net0(h, box) == before
    # Admins may go outside the pools, not onto the gateway.
    msg = await h.ask(h.admin, f"/net_set {box} net0 --ip 10.10.20.1/24")
    assert "10.10.20.1 is the gateway of vmbr1" in msg.content, msg.content
    msg = await h.ask(h.admin, "/create gw --node pve1 --ip 10.0.2.2/24")
    assert "10.0.2.2 is the gateway of vmbr0" in msg.content, msg.content
    assert net0(h, box) == before and "gw" not in hostnames(h)


async def test_the_hosts_own_address_is_refused(harness):
    h = harness
    msg = await h.ask(h.bob, "/create hostile --node pve1 --ip 10.0.2.15/24 --gw 10.0.2.2")
    assert "10.0.2.15 is pve1's own address on vmbr0" in msg.content, msg.content
    msg = await h.ask(h.admin, "/create hostile --node pve1 --ip 10.0.2.15/24 --gw 10.0.2.2")
    assert "10.0.2.15 is pve1's own address on vmbr0" in msg.content, msg.content
    assert "hostile" not in hostnames(h)
    box = await create(h, h.bob, "/create box --node pve1")
    msg = await h.ask(h.bob, f"/net_set {box} net0 --ip 10.0.2.15/24 --gw 10.0.2.2")
    assert "10.0.2.15 is pve1's own address on vmbr0" in msg.content, msg.content
    assert "ip=dhcp" in net0(h, box)


async def test_another_tenants_address_is_refused(harness):
    h = harness
    await make_vmbr1(h)
    carols = await create(h, h.carol, "/create carolweb --node pve1 --bridge vmbr1")
    assert "ip=10.10.20.10/24" in net0(h, carols)
    box = await create(h, h.bob, "/create box --node pve1 --bridge vmbr1")
    before = net0(h, box)
    msg = await h.ask(h.bob, f"/net_set {box} net0 --ip 10.10.20.10/24")
    assert "10.10.20.10 is already used by another container" in msg.content, msg.content
    assert "free addresses of the vmbr1 pool: 10.10.20.12" in msg.content
    assert "carolweb" not in msg.content and f"CT {carols}" not in msg.content
    assert net0(h, box) == before
    msg = await h.ask(h.bob, "/create twin --node pve1 --bridge vmbr1 --ip 10.10.20.10/24")
    assert "10.10.20.10 is already used by another container" in msg.content, msg.content
    # An admin is refused too, and told whose it is.
    msg = await h.ask(h.admin, f"/net_set {box} net0 --ip 10.10.20.10/24")
    assert f"10.10.20.10 is already used by CT {carols} (carolweb)" in msg.content, msg.content
    assert net0(h, box) == before and "twin" not in hostnames(h)


async def test_a_users_address_outside_the_pool_is_refused(harness):
    h = harness
    await make_vmbr1(h)
    msg = await h.ask(h.bob, "/create out --node pve1 --bridge vmbr1 --ip 10.10.20.50/24")
    assert f"10.10.20.50 is not in the address pool of vmbr1 ({POOL})" in msg.content, msg.content
    assert "free addresses of the vmbr1 pool: 10.10.20.10, 10.10.20.11, 10.10.20.12" \
        in msg.content
    # A bridge without a pool has no addresses for users: DHCP, or ask an admin.
    msg = await h.ask(h.bob, "/create out --node pve1 --ip 10.0.2.50/24 --gw 10.0.2.2")
    assert "vmbr0 has no address pool" in msg.content and "--dhcp" in msg.content, msg.content
    box = await create(h, h.bob, "/create box --node pve1 --bridge vmbr1")
    msg = await h.ask(h.bob, f"/net_set {box} net0 --ip 10.10.20.50/24")
    assert "not in the address pool of vmbr1" in msg.content, msg.content
    # Moving a fixed address to a bridge without a pool is the same as naming it there.
    msg = await h.ask(h.bob, f"/net_set {box} net0 --bridge vmbr0")
    assert "vmbr0 has no address pool" in msg.content, msg.content
    assert "out" not in hostnames(h)
    assert "bridge=vmbr1" in net0(h, box) and "ip=10.10.20.10/24" in net0(h, box)
    # An admin may give an address outside the pool.
    admins = await create(h, h.admin, "/create out --node pve1 --bridge vmbr1 --ip 10.10.20.50/24")
    assert "ip=10.10.20.50/24" in net0(h, admins)


async def test_a_free_pool_address_is_accepted_and_leased(harness):
    h = harness
    await make_vmbr1(h)
    await h.ask(h.admin, f"/quota {BOB_ID} --cores 16 --memory 16G",
                lambda m: "Quota of" in m.content)
    # Bob names the pool's first address; his create waits for an admin, its CT not made yet.
    await h.bob.send("/create mine --cores 4 --node pve1 --bridge vmbr1 --ip 10.10.20.10/24")
    card = await h.tg.wait_for(lambda m: "create mine" in m.content and m.flat_buttons,
                               chat_id=APPROVAL_CHAT)
    assert "vmbr1 10.10.20.10/24" in card.content
    # Meanwhile the pool hands the address to no one else.
    carols = await create(h, h.carol, "/create carols --node pve1 --bridge vmbr1")
    assert "ip=10.10.20.11/24" in net0(h, carols)
    msg = await h.ask(h.carol, "/create grab --node pve1 --bridge vmbr1 --ip 10.10.20.10/24")
    assert "10.10.20.10 is held for another request" in msg.content, msg.content
    await h.admin.press(card, "Approve")
    done = await h.tg.wait_for(lambda m: finished(m) and "mine" in m.content, chat_id=BOB_ID,
                               timeout=15)
    assert done.content.startswith("✅"), done.content
    mine = int(done.content.split()[2])
    assert "ip=10.10.20.10/24" in net0(h, mine)
    assert "gw=10.10.20.1" in net0(h, mine)  # the pool's gateway comes with it


async def test_a_failed_create_gives_its_address_back(harness):
    h = harness
    await make_vmbr1(h)
    h.sim.cluster.fail_next_task("vzcreate", "unable to create CT - disk full")
    failed = await h.ask(h.bob, "/create broken --node pve1 --bridge vmbr1", finished, timeout=15)
    assert failed.content.startswith("❌") and "disk full" in failed.content, failed.content
    h.sim.cluster.fail_next_request("POST", "/nodes/{node}/lxc", "unable to parse config")
    failed = await h.ask(h.bob, "/create refused --node pve1 --bridge vmbr1", finished,
                         timeout=15)
    assert failed.content.startswith("❌"), failed.content
    vmid = await create(h, h.bob, "/create works --node pve1 --bridge vmbr1")
    assert "ip=10.10.20.10/24" in net0(h, vmid)


async def test_a_rejected_create_gives_its_address_back(harness):
    h = harness
    await make_vmbr1(h)
    card = await big_create_waiting(h, "big")
    assert "vmbr1 10.10.20.10/24" in card.content
    await h.admin.press(card, "Reject")
    await h.tg.wait_for(lambda m: "was rejected" in m.content, chat_id=BOB_ID)
    vmid = await create(h, h.bob, "/create small --node pve1 --bridge vmbr1")
    assert "ip=10.10.20.10/24" in net0(h, vmid)


@pytest.mark.parametrize("policy", [default_policy(approval_ttl_s=1.0)])
async def test_an_expired_create_gives_its_address_back(harness):
    h = harness
    await make_vmbr1(h)
    card = await big_create_waiting(h, "late")
    assert "vmbr1 10.10.20.10/24" in card.content
    await h.tg.wait_for(lambda m: "expired without a decision" in m.content, chat_id=BOB_ID,
                        timeout=10)
    vmid = await create(h, h.bob, "/create small --node pve1 --bridge vmbr1")
    assert "ip=10.10.20.10/24" in net0(h, vmid)


async def test_netcheck_does_not_name_another_tenants_container(harness):
    """Bob's CT has Carol's address (set outside the bot, or before addresses were checked):
    /netcheck tells him it clashes with another container, not which one; an admin sees it."""
    h = harness
    await make_vmbr1(h)
    carols = await create(h, h.carol, "/create carolweb --node pve1 --bridge vmbr1")
    box = await create(h, h.bob, "/create box --node pve1 --bridge vmbr1")
    guest = h.sim.cluster.guests[box]
    guest.config["net0"] = guest.config["net0"].replace("10.10.20.11/", "10.10.20.10/")
    msg = await h.ask(h.bob, "/netcheck box host", lambda m: m.content.startswith("box -> "))
    assert "NOT reachable" in msg.content and "10.10.20.10" in msg.content, msg.content
    assert "another user's container also has" in msg.content, msg.content
    assert "carolweb" not in msg.content and f"vmid {carols}" not in msg.content
    msg = await h.ask(h.admin, f"/netcheck {box} host",
                      lambda m: m.content.startswith(f"{box} -> "))
    assert f"carolweb (vmid {carols}) also has" in msg.content, msg.content
