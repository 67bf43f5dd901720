"""Networking through chat on pvesim: bridges (apply/discard), NAT networks, NICs, address pools,
/netcheck on the lab's four cases (working and broken), /doctor, and bad input / non-admins."""

from __future__ import annotations

import asyncio

import pytest
from e2e_harness import ADMIN_ID, APPROVAL_CHAT, BOB_ID, default_policy, running_bot

from bot.services.netcheck import Facts, PortForward

LAB_FACTS = Facts(
    forwarding_nodes=frozenset({"pve1"}),
    masquerade=(("pve1", "vmbr1", "vmbr0"),),
    pc_reachable_via=(("pve1", "vmbr0"),),
    nat_port_forwards=(PortForward("pve1", 8006, 8006), PortForward("pve1", 2222, 22)),
)


@pytest.fixture
def policy():
    return default_policy(network_facts=LAB_FACTS)


def finished(m):
    return m.content.startswith(("✅", "❌", "🗑"))


async def make_vmbr1(h, pool="10.10.20.10-10.10.20.12"):
    staged = await h.ask(h.admin, f"/bridge_add vmbr1 10.10.20.1/24 --node pve1 --pool {pool}",
                         lambda m: "Staged" in m.content or "❌" in m.content)
    assert "Staged vmbr1" in staged.content, staged.content
    assert "+iface vmbr1 inet static" in staged.content
    await h.admin.press(staged, "Apply")
    await h.tg.wait_for(lambda m: m.message_id == staged.message_id and "applied" in m.content,
                        chat_id=ADMIN_ID)


async def create(h, user, text):
    msg = await h.ask(user, text, finished, timeout=15)
    assert msg.content.startswith("✅"), msg.content
    return int(msg.content.split()[2])


async def netcheck(h, a, b):
    msg = await h.ask(h.admin, f"/netcheck {a} {b}", lambda m: m.content.startswith(f"{a} -> "))
    return msg.content


async def test_bridge_apply_and_discard(harness):
    h, sim = harness, harness.sim
    staged = await h.ask(h.admin, "/bridge_add vmbr1 10.10.20.1/24 --node pve1 --comment lab",
                         lambda m: "Staged" in m.content)
    assert [b.text for b in staged.flat_buttons] == ["Apply", "Discard"]
    assert "vmbr1" not in sim.cluster.nodes["pve1"].bridges
    listing = await h.ask(h.admin, "/bridges pve1", lambda m: m.content.startswith("Node pve1"))
    assert "vmbr1 · 10.10.20.1/24" in listing.content and "PENDING" in listing.content
    assert "vmbr0 · 10.0.2.15/24 · gw 10.0.2.2 · ports enp0s3" in listing.content
    await h.admin.press(staged, "Apply")
    await h.tg.wait_for(lambda m: m.message_id == staged.message_id and "applied" in m.content)
    assert "vmbr1" in sim.cluster.nodes["pve1"].bridges
    assert sim.cluster.nodes["pve1"].interfaces_new is None

    again = await h.ask(h.admin, "/bridge_add vmbr2 10.10.40.1/24 --node pve1",
                        lambda m: "Staged" in m.content)
    await h.admin.press(again, "Discard")
    await h.tg.wait_for(lambda m: m.message_id == again.message_id and "discarded" in m.content)
    assert sim.cluster.nodes["pve1"].interfaces_new is None
    assert "vmbr2" not in sim.cluster.nodes["pve1"].interfaces


async def test_duplicate_overlap_and_invalid_names_are_refused(harness):
    h = harness
    await make_vmbr1(h)
    dup = await h.ask(h.admin, "/bridge_add vmbr1 10.10.50.1/24 --node pve1")
    assert "Bridge vmbr1 already exists on pve1" in dup.content
    clash = await h.ask(h.admin, "/bridge_add vmbr3 10.10.20.129/25 --node pve1")
    assert "overlaps vmbr1 on pve1 (10.10.20.1/24)" in clash.content
    clash = await h.ask(h.admin, "/natnet_add natnet 10.0.2.0/24", finished)
    assert "overlaps vmbr0 on pve1 (10.0.2.15/24)" in clash.content
    bad = await h.ask(h.admin, "/bridge_add br1 10.10.60.1/24")
    assert "not a valid bridge name: PVE wants vmbr plus digits" in bad.content
    assert "Usage: /bridge_add" in bad.content
    bad = await h.ask(h.admin, "/natnet_add nat_net1 10.10.60.0/24")
    assert "not a valid SDN VNet id" in bad.content and "Usage: /natnet_add" in bad.content
    bad = await h.ask(h.admin, "/natnet_add averylongname 10.10.60.0/24")
    assert "not a valid SDN VNet id" in bad.content
    assert "vmbr3" not in h.sim.cluster.nodes["pve1"].bridges
    assert h.sim.cluster.sdn["vnets"] == {}


async def test_users_are_refused_admin_network_commands(harness):
    h = harness
    for command in ("bridge_add vmbr1 10.10.20.1/24", "bridge_del vmbr0",
                    "natnet_add natnet 10.10.30.0/24", "doctor"):
        msg = await h.ask(h.bob, f"/{command}")
        assert "admins only" in msg.content, command
    assert h.sim.cluster.nodes["pve1"].interfaces_new is None
    # the Apply button, forged by a user
    card = await h.ask(h.bob, "/help")
    card.reply_markup = {"inline_keyboard": [[{"text": "X", "callback_data": "nw:pve1:apply:0123456789ab"}]]}
    qid = await h.bob.press(card, "X")
    await h.tg.wait_until(lambda: qid in h.tg.answered_callbacks)
    assert "admins only" in h.tg.answered_callbacks[qid].text


async def test_natnet_and_pool_allocation(harness):
    h, sim = harness, harness.sim
    made = await h.ask(h.admin, "/natnet_add natnet 10.10.30.0/24 --pool 10.10.30.10-10.10.30.11",
                       finished)
    assert made.content.startswith("✅ NAT network natnet: 10.10.30.0/24, gateway 10.10.30.1, "
                                   "SNAT on"), made.content
    assert sim.cluster.sdn_running["subnets"]["stratus-10.10.30.0-24"]["snat"] == 1
    assert "natnet" in sim.cluster.nodes["pve2"].bridges
    # two concurrent creates get different addresses of the pool, with its gateway
    await h.bob.send("/create p1 --bridge natnet")
    await h.bob.send("/create p2 --bridge natnet")
    msgs = [await h.tg.wait_for(lambda m, n=n: finished(m) and f" p{n} " in m.content,
                                chat_id=BOB_ID, timeout=15) for n in (1, 2)]
    assert all(m.content.startswith("✅") for m in msgs), [m.content for m in msgs]
    nets = sorted(g.config["net0"] for g in sim.cluster.guests.values())
    ips = sorted(part for n in nets for part in n.split(",") if part.startswith("ip="))
    assert ips == ["ip=10.10.30.10/24", "ip=10.10.30.11/24"]
    assert all("gw=10.10.30.1" in n and "bridge=natnet" in n for n in nets)
    assert all(g.status == "running" for g in sim.cluster.guests.values())
    full = await h.ask(h.admin, "/create p3 --bridge natnet")
    assert "address pool of natnet (10.10.30.10-10.10.30.11) is exhausted" in full.content
    listing = await h.ask(h.admin, "/bridges", lambda m: "NAT / SDN" in m.content)
    assert "natnet · zone stratus · 10.10.30.0/24 · gw 10.10.30.1 · SNAT" in listing.content


async def test_net_and_net_set_owner_or_admin(harness):
    h = harness
    await make_vmbr1(h)
    vmid = await create(h, h.bob, "/create box --node pve1")
    # vmbr0 has no address pool: only an admin may give a user's CT a fixed address there
    await h.ask(h.admin, f"/net_set {vmid} net0 --ip 10.0.2.50/24 --gw 10.0.2.2", finished)
    shown = await h.ask(h.bob, f"/net {vmid}", lambda m: m.content.startswith(f"CT {vmid}"))
    assert "net0: bridge vmbr0 · MAC BC:24:11:" in shown.content
    assert "IP 10.0.2.50/24 · gw 10.0.2.2" in shown.content
    other = await h.ask(h.carol, f"/net_set {vmid} net0 --dhcp")
    assert "not yours" in other.content
    moved = await h.ask(h.bob, f"/net_set {vmid} net0 --bridge vmbr1",
                        lambda m: m.content.startswith(("✅", "❌")) or "Usage" in m.content)
    assert moved.content.startswith(f"✅ CT {vmid} net0:"), moved.content
    assert "ip=10.10.20.10/24" in moved.content and "gw=10.10.20.1" in moved.content
    assert "applies it now" in moved.content  # running
    cfg = h.sim.cluster.guests[vmid].config["net0"]
    assert "bridge=vmbr1" in cfg and "ip=10.10.20.10/24" in cfg and "hwaddr=BC:24:11" in cfg
    bad = await h.ask(h.bob, f"/net_set {vmid} net0 --ip 10.10.20.5/24 --gw 10.9.9.9")
    assert "is not another address of 10.10.20.0/24" in bad.content and "Usage:" in bad.content


async def _lab(h):
    """The lab: C1 on vmbr0 (VirtualBox NAT side), C2 on vmbr1 (pool), built through chat."""
    await make_vmbr1(h)
    c1 = await create(h, h.admin, "/create c1 --node pve1 --ip 10.0.2.50/24 --gw 10.0.2.15")
    c2 = await create(h, h.admin, "/create c2 --node pve1 --bridge vmbr1")
    return c1, c2


async def test_lab_four_cases_working_then_broken(harness):
    h = harness
    c1, c2 = await _lab(h)
    # working
    for a, b in (("c1", "host"), ("c1", "pc"), ("c2", "pc"), ("c2", "c1"), ("c1", "c2")):
        text = await netcheck(h, a, b)
        assert ": reachable" in text, (a, b, text)
    # broken: C1 moved out of vmbr0's subnet -> cannot reach the host; wrong gateways
    await h.ask(h.admin, f"/net_set {c1} net0 --ip 10.0.2.50/24 --gw 10.0.2.99", finished)
    text = await netcheck(h, "c1", "pc")
    assert "NOT reachable" in text and "10.0.2.99" in text
    await h.ask(h.admin, f"/net_set {c2} net0 --gw 10.10.20.99", finished)
    text = await netcheck(h, "c2", "pc")
    assert "NOT reachable" in text and "gateway" in text
    text = await netcheck(h, "c2", "c1")
    assert "NOT reachable" in text
    await h.ask(h.admin, f"/net_set {c1} net0 --ip 192.168.77.5/24 --gw 192.168.77.1", finished)
    text = await netcheck(h, "c1", "host")
    assert "NOT reachable" in text and "/net_set" in text


async def test_netcheck_sees_a_pending_bridge(harness):
    h = harness
    await h.ask(h.admin, "/bridge_add vmbr1 10.10.20.1/24 --node pve1 --pool "
                         "10.10.20.10-10.10.20.20", lambda m: "Staged" in m.content)
    h.sim.cluster.add_guest(150, "pve1", status="running", hostname="c2",
                            net0="name=eth0,bridge=vmbr1,ip=10.10.20.10/24,gw=10.10.20.1")
    text = await netcheck(h, "c2", "host")
    assert "NOT reachable" in text and "pending" in text


async def test_bridge_del_needs_approval_and_refuses_used_bridge(harness):
    h, tg = harness, harness.tg
    await make_vmbr1(h)
    h.sim.cluster.add_guest(150, "pve1", hostname="web",
                            net0="name=eth0,bridge=vmbr1,ip=10.10.20.50/24")
    used = await h.ask(h.admin, "/bridge_del vmbr1 --node pve1")
    assert "vmbr1 on pve1 is used by CT 150 web" in used.content, used.content
    del h.sim.cluster.guests[150]
    await h.admin.send("/bridge_del vmbr1 --node pve1")
    card = await tg.wait_for(lambda m: "delete bridge vmbr1 on pve1" in m.content,
                             chat_id=APPROVAL_CHAT)
    assert "vmbr1" in h.sim.cluster.nodes["pve1"].bridges
    await h.admin.press(card, "Approve")
    gone = await tg.wait_for(lambda m: m.content.startswith("🗑 Bridge vmbr1"), chat_id=ADMIN_ID)
    assert "deleted on pve1" in gone.content
    assert "vmbr1" not in h.sim.cluster.nodes["pve1"].bridges


async def test_doctor_ok_and_missing_privilege(sim, tg, tmp_path):
    sim.cluster.firewall.options["enable"] = 1  # set up as the README says (issue 15)
    async with running_bot(sim, tg, tmp_path / "s.json", default_policy()):
        admin = tg.user(ADMIN_ID, "Ada")
        await admin.send("/doctor")
        msg = await tg.wait_for(lambda m: m.content.startswith("Doctor:"), chat_id=ADMIN_ID)
        assert "❌" not in msg.content, msg.content
        assert f"API reachable at 127.0.0.1:{sim.port}" in msg.content
        assert f"matches the pinned fingerprint {sim.fingerprint}" in msg.content
        assert "Proxmox VE 9.2" in msg.content and "storage for container disks: local-lvm" \
            in msg.content and "storage for backups: local" in msg.content
    token_id, secret = sim.add_token("weak", {"Sys.Audit", "VM.Audit", "Datastore.Audit",
                                              "SDN.Audit"})
    sim.token_id, sim.token_secret = token_id, secret
    async with running_bot(sim, tg, tmp_path / "s.json", default_policy()):
        await admin.send("/doctor")
        await asyncio.sleep(0)
        msg = await tg.wait_for(lambda m: m.content.startswith("Doctor:") and "lacks" in m.content,
                                chat_id=ADMIN_ID)
        # per feature since issue 11 (was one line: "the token lacks VM.Allocate, ...")
        assert "❌ containers: missing VM.Allocate on /vms" in msg.content, msg.content
        assert "create and delete" in msg.content and "pveum acl modify" in msg.content


async def test_lab_c1_to_c2_and_back_each_working_and_broken(harness):
    """The lab's fourth case in both directions: C1 (vmbr0) <-> C2 (vmbr1), routed by pve1.

    Broken C1 -> C2: C1's gateway is VirtualBox's NAT router (10.0.2.2), which knows nothing of
    vmbr1; C2 -> C1 still works (pve1 masquerades vmbr1 out of vmbr0, so C1 answers on its own
    link). Broken C2 -> C1: C2 has no route out (its gateway is not pve1); C1 -> C2 then breaks too,
    as C2 cannot answer. Each fix the doctor names, applied through chat, makes it work again."""
    h = harness
    c1, c2 = await _lab(h)
    assert ": reachable" in await netcheck(h, "c1", "c2")
    assert ": reachable" in await netcheck(h, "c2", "c1")

    await h.ask(h.admin, f"/net_set {c1} net0 --gw 10.0.2.2", finished)
    text = await netcheck(h, "c1", "c2")
    assert "NOT reachable" in text and "router beyond pve1" in text, text
    assert f"/net_set {c1} net0 --gw 10.0.2.15" in text, text
    assert ": reachable" in await netcheck(h, "c2", "c1")
    await h.ask(h.admin, f"/net_set {c1} net0 --gw 10.0.2.15", finished)
    assert ": reachable" in await netcheck(h, "c1", "c2")

    await h.ask(h.admin, f"/net_set {c2} net0 --gw 10.10.20.200", finished)
    for a, b in (("c2", "c1"), ("c1", "c2")):
        text = await netcheck(h, a, b)
        assert "NOT reachable" in text and "10.10.20.200 is not on any bridge of pve1" in text, text
        assert f"/net_set {c2} net0 --gw 10.10.20.1" in text, text
    await h.ask(h.admin, f"/net_set {c2} net0 --gw 10.10.20.1", finished)
    assert ": reachable" in await netcheck(h, "c2", "c1")
    assert ": reachable" in await netcheck(h, "c1", "c2")


async def test_bridge_del_refuses_the_bridge_carrying_the_default_gateway(harness):
    """vmbr0 holds pve1's address and default gateway: deleting it cuts Stratus off the node."""
    h = harness
    msg = await h.ask(h.admin, "/bridge_del vmbr0 --node pve1")
    assert "vmbr0 carries pve1's default gateway" in msg.content, msg.content
    chat = h.tg.chats.get(APPROVAL_CHAT)
    assert not (chat and chat.messages), chat.messages
    assert "vmbr0" in h.sim.cluster.nodes["pve1"].bridges


async def test_netcheck_by_hostname_checks_the_askers_own_container(harness):
    """Two users may name containers alike: Bob's /netcheck web ... is about Bob's web, never
    about Carol's (whose addresses he may not see)."""
    h = harness
    carols = await create(h, h.carol, "/create web --node pve1")
    bobs = await create(h, h.bob, "/create web --node pve1")
    # vmbr0 has no address pool: only an admin may give users' CTs fixed addresses there
    await h.ask(h.admin, f"/net_set {carols} net0 --ip 10.0.2.60/24 --gw 10.0.2.99", finished)
    await h.ask(h.admin, f"/net_set {bobs} net0 --ip 10.0.2.61/24 --gw 10.0.2.2", finished)
    assert carols < bobs
    msg = await h.ask(h.bob, "/netcheck web pc", lambda m: m.content.startswith("web -> "))
    assert "web -> pc: reachable" in msg.content, msg.content
    assert f"vmid {bobs}" in msg.content and f"vmid {carols}" not in msg.content
    assert "10.0.2.60" not in msg.content


async def test_a_discarded_bridges_pool_does_not_outlive_it(harness):
    """--pool is kept for the staged bridge only: after Discard, a bridge of the same name in
    another subnet must not hand out the old pool's addresses (with the new gateway)."""
    h = harness
    staged = await h.ask(h.admin, "/bridge_add vmbr1 10.10.20.1/24 --node pve1 "
                                  "--pool 10.10.20.10-10.10.20.12", lambda m: "Staged" in m.content)
    await h.admin.press(staged, "Discard")
    await h.tg.wait_for(lambda m: m.message_id == staged.message_id and "discarded" in m.content)
    again = await h.ask(h.admin, "/bridge_add vmbr1 10.10.50.1/24 --node pve1",
                        lambda m: "Staged" in m.content)
    await h.admin.press(again, "Apply")
    await h.tg.wait_for(lambda m: m.message_id == again.message_id and "applied" in m.content)
    listing = await h.ask(h.admin, "/bridges pve1", lambda m: m.content.startswith("Node pve1"))
    assert "vmbr1 · 10.10.50.1/24" in listing.content and "pool" not in listing.content
    vmid = await create(h, h.admin, "/create x --node pve1 --bridge vmbr1")
    assert "10.10.20." not in h.sim.cluster.guests[vmid].config["net0"]


async def test_bridge_add_with_a_port_another_bridge_uses_is_refused_clearly(harness):
    h = harness
    msg = await h.ask(h.admin, "/bridge_add vmbr1 10.10.20.1/24 --node pve1 --ports enp0s3")
    assert "enp0s3 is already used on interface 'vmbr0'" in msg.content, msg.content
    assert "Something went wrong" not in msg.content
    assert h.sim.cluster.nodes["pve1"].interfaces_new is None


async def test_bridge_del_does_not_apply_other_pending_changes(harness):
    """Deleting a bridge applies the node's network: an unrelated staged change (not reviewed
    with Apply) must not go live with it, so the deletion waits until it is applied or discarded."""
    h = harness
    await make_vmbr1(h)
    await h.ask(h.admin, "/bridge_add vmbr2 10.10.40.1/24 --node pve1",
                lambda m: "Staged" in m.content)
    msg = await h.ask(h.admin, "/bridge_del vmbr1 --node pve1")
    assert "pve1 has pending network changes" in msg.content, msg.content
    assert "/bridges pve1" in msg.content
    assert "vmbr2" not in h.sim.cluster.nodes["pve1"].bridges
    assert "vmbr1" in h.sim.cluster.nodes["pve1"].bridges


async def test_net_set_gateway_on_a_manual_address_is_answered(harness):
    h = harness
    h.sim.cluster.add_guest(150, "pve1", hostname="manual", net0="name=eth0,bridge=vmbr0,ip=manual")
    msg = await h.ask(h.admin, "/net_set 150 net0 --gw 10.0.2.2",
                      lambda m: m.content.startswith(("✅", "❌")) or "Something" in m.content)
    assert msg.content.startswith("✅ CT 150 net0:"), msg.content
    assert "gw=10.0.2.2" in h.sim.cluster.guests[150].config["net0"]


async def test_a_stale_apply_card_applies_nothing_and_shows_the_changes_now(harness):
    h, sim = harness, harness.sim
    first = await h.ask(h.admin, "/bridge_add vmbr1 10.10.20.1/24 --node pve1",
                        lambda m: "Staged" in m.content)
    # More is staged after the first card was read: its Apply must not apply that unseen.
    await h.ask(h.admin, "/bridge_add vmbr2 10.10.40.1/24 --node pve1",
                lambda m: "Staged" in m.content)
    await h.admin.press(first, "Apply")
    refreshed = await h.tg.wait_for(
        lambda m: m.message_id == first.message_id and "changed since" in m.content)
    assert "nothing was done" in refreshed.content and "vmbr2" in refreshed.content
    assert sim.cluster.nodes["pve1"].interfaces_new is not None  # still pending
    assert "vmbr1" not in sim.cluster.nodes["pve1"].bridges
    await h.admin.press(refreshed, "Apply")
    await h.tg.wait_for(lambda m: m.message_id == first.message_id and "applied" in m.content)
    assert {"vmbr1", "vmbr2"} <= set(sim.cluster.nodes["pve1"].bridges)


async def test_a_stale_discard_card_discards_nothing(harness):
    h, sim = harness, harness.sim
    first = await h.ask(h.admin, "/bridge_add vmbr1 10.10.20.1/24 --node pve1",
                        lambda m: "Staged" in m.content)
    await h.ask(h.admin, "/bridge_add vmbr2 10.10.40.1/24 --node pve1",
                lambda m: "Staged" in m.content)
    qid = await h.admin.press(first, "Discard")
    await h.tg.wait_until(lambda: qid in h.tg.answered_callbacks)
    assert "nothing done" in h.tg.answered_callbacks[qid].text
    assert sim.cluster.nodes["pve1"].interfaces_new is not None


async def test_natnet_add_failing_half_way_undoes_what_it_made(harness):
    """A /natnet_add whose subnet or SDN apply fails deletes the objects it made in this call
    (newest first) and says why it failed: the next attempt does not trip over them, and no
    later apply puts half a network live. A zone made by an earlier network stays."""
    h, cluster = harness, harness.sim.cluster
    empty = {"zones": {}, "vnets": {}, "subnets": {}}
    cluster.fail_next_request("POST", "/cluster/sdn/vnets/{vnet}/subnets",
                              "cfs-lock 'file-sdn_cfg' error: got lock request timeout")
    failed = await h.ask(h.admin, "/natnet_add natnet 10.10.30.0/24", finished)
    assert failed.content.startswith("❌"), failed.content
    assert "create subnet 10.10.30.0/24 of VNet natnet" in failed.content
    assert "got lock request timeout" in failed.content
    assert "undone" in failed.content and "VNet natnet" in failed.content
    assert cluster.sdn == empty and cluster.sdn_running == empty

    cluster.fail_next_task("reloadnetworkall", "ifreload failed on pve2")
    failed = await h.ask(h.admin, "/natnet_add natnet 10.10.30.0/24 --pool 10.10.30.10-10.10.30.20",
                         finished)
    assert failed.content.startswith("❌"), failed.content
    assert "ifreload failed on pve2" in failed.content and "undone" in failed.content
    assert cluster.sdn == empty and cluster.sdn_running == empty
    assert h.services.store.pools.get("natnet") is None

    made = await h.ask(h.admin, "/natnet_add natnet 10.10.30.0/24", finished)
    assert made.content.startswith("✅ NAT network natnet"), made.content
    cluster.fail_next_task("reloadnetworkall", "ifreload failed on pve2")
    failed = await h.ask(h.admin, "/natnet_add natnet2 10.10.40.0/24", finished)
    assert "undone" in failed.content, failed.content
    assert set(cluster.sdn["zones"]) == {"stratus"} and set(cluster.sdn["vnets"]) == {"natnet"}
    assert cluster.sdn == cluster.sdn_running  # natnet as applied; nothing of natnet2
    again = await h.ask(h.admin, "/natnet_add natnet2 10.10.40.0/24", finished)
    assert again.content.startswith("✅ NAT network natnet2"), again.content


async def test_natnet_add_says_what_is_left_when_the_undo_fails(harness):
    h, cluster = harness, harness.sim.cluster
    cluster.fail_next_task("reloadnetworkall", "ifreload failed on pve2")
    cluster.fail_next_request("DELETE", "/cluster/sdn/vnets/natnet",
                              "cfs-lock 'file-sdn_cfg' error: got lock request timeout")
    failed = await h.ask(h.admin, "/natnet_add natnet 10.10.30.0/24", finished)
    text = failed.content
    assert text.startswith("❌") and "ifreload failed on pve2" in text, text
    # the subnet went; the VNet (whose delete failed) and the zone under it are left, pending
    assert cluster.sdn["subnets"] == {} and set(cluster.sdn["vnets"]) == {"natnet"}
    assert set(cluster.sdn["zones"]) == {"stratus"}
    assert "could not be undone" in text and "got lock request timeout" in text
    assert "VNet natnet" in text and "SDN zone stratus" in text
    assert "Left pending" in text
    assert cluster.sdn_running == {"zones": {}, "vnets": {}, "subnets": {}}


async def test_natnet_add_whose_apply_still_runs_is_not_undone(harness, monkeypatch):
    """An SDN apply that outlasts the wait goes on with the whole network: nothing is deleted
    under it, the pool is kept, and the reply says so."""
    from bot.proxmox import tasks

    h, cluster = harness, harness.sim.cluster
    monkeypatch.setitem(tasks.TASK_TIMEOUTS_S, "reloadnetworkall", 0.5)
    cluster.hold_next_task("reloadnetworkall")
    msg = await h.ask(h.admin, "/natnet_add natnet 10.10.30.0/24 --pool 10.10.30.10-10.10.30.20",
                      finished, timeout=15)
    assert msg.content.startswith("❌ Proxmox task reloadnetworkall"), msg.content
    assert "still running" in msg.content and "undone" not in msg.content
    assert set(cluster.sdn["vnets"]) == {"natnet"} and cluster.sdn["subnets"]
    pool = h.services.store.pools.get("natnet")
    assert pool is not None and (pool.first, pool.last) == ("10.10.30.10", "10.10.30.20")
    upid = next(u for u, t in cluster.tasks.items() if t.type == "reloadnetworkall")
    cluster.release_task(upid)
    await h.tg.wait_until(lambda: cluster.tasks[upid].status == "stopped")
    assert set(cluster.sdn_running["vnets"]) == {"natnet"}


async def test_an_apply_that_fails_after_the_press_was_answered_still_tells_the_admin(harness):
    h, sim = harness, harness.sim
    staged = await h.ask(h.admin, "/bridge_add vmbr1 10.10.20.1/24 --node pve1",
                         lambda m: "Staged" in m.content)
    sim.cluster.fail_next_request("PUT", "/nodes/pve1/network",
                                  "cfs-lock 'file-network_interfaces' error: got lock timeout")
    await h.admin.press(staged, "Apply")  # answered "Applying…" before the apply fails
    told = await h.tg.wait_for(lambda m: "lock timeout" in m.content, chat_id=ADMIN_ID)
    assert "network changes" in told.content
