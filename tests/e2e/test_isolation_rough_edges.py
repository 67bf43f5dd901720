"""The rough edges a new user met in the demo (issue 12, point 7), each fixed."""

from __future__ import annotations

import io
import shlex

import pytest
from e2e_harness import ADMIN_ID, APPROVAL_CHAT, BOB_ID, default_policy, running_bot

from bot.services.netcheck import Facts
from bot.services.scaling import ScalingSettings
from bot.setup.virtualbox import main as virtualbox_main

POOLS = (("vmbr0", "10.0.2.100", "10.0.2.199"), ("vmbr1", "10.10.20.10", "10.10.20.200"))


@pytest.fixture
def policy():
    return default_policy(network_pools=POOLS, network_facts=Facts(
        pc_reachable_via=(("pve1", "vmbr0"),)),
        scaling=ScalingSettings(warmup_s=0, run_job=False))


def done(m):
    return m.content.startswith(("✅", "❌", "ℹ️", "🗑"))


async def create(h, user, text):
    msg = await h.ask(user, text, lambda m: m.content.startswith(("✅", "❌")), timeout=15)
    assert msg.content.startswith("✅"), msg.content
    return int(msg.content.split()[2])


async def vmbr1(h):
    staged = await h.ask(h.admin, "/bridge_add vmbr1 10.10.20.1/24 --node pve1",
                         lambda m: "Staged" in m.content)
    await h.admin.press(staged, "Apply")
    await h.tg.wait_for(lambda m: m.message_id == staged.message_id and "applied" in m.content,
                        chat_id=ADMIN_ID)


async def test_info_by_hostname_shows_the_address_as_by_vmid(harness):
    h = harness
    vmid = await create(h, h.bob, "/create c1 --node pve1")
    by_id = await h.ask(h.bob, f"/info {vmid}", lambda m: m.content.startswith("CT "))
    by_name = await h.ask(h.bob, "/info c1", lambda m: m.content.startswith("CT "))
    assert "IP: 10.0.2.100\n" in by_id.content, by_id.content
    assert "IP: 10.0.2.100\n" in by_name.content, by_name.content
    assert f"Owner: Bob ({BOB_ID})" in by_name.content


async def test_people_are_named_not_numbered(harness):
    h = harness
    vmid = await create(h, h.bob, "/create c1 --node pve1")
    await h.ask(h.bob, f"/ct_delete {vmid}", lambda m: "Waiting" in m.content)
    card = await h.tg.wait_for(lambda m: "Approval request" in m.content, chat_id=APPROVAL_CHAT)
    await h.admin.press(card, "Reject")
    await h.tg.wait_for(lambda m: "Rejected by Ada (1001)" in m.content, chat_id=APPROVAL_CHAT)
    approval_id = card.content.split()[2]  # a second press (another admin, a stale card)
    again = await h.admin.press_data(card, f"ap:{approval_id}:yes")
    await h.tg.wait_until(lambda: again in h.tg.answered_callbacks)
    assert "already rejected by Ada (1001)" in h.tg.answered_callbacks[again].text
    listing = await h.ask(h.admin, "/list", lambda m: "container(s)" in m.content)
    assert f"owner Bob ({BOB_ID})" in listing.content


async def test_starting_a_running_container_is_information_not_an_error(harness):
    h = harness
    vmid = await create(h, h.bob, "/create c1")
    said = await h.ask(h.bob, "/ct_start c1", lambda m: done(m) and "c1" in m.content)
    assert said.content == f"ℹ️ CT {vmid} c1 is already running: nothing to do.", said.content
    await h.ask(h.bob, "/ct_stop c1", lambda m: done(m) and "stopped" in m.content)
    said = await h.ask(h.bob, "/ct_reboot c1", lambda m: done(m) and "reboot" in m.content)
    assert f"CT {vmid} c1 is stopped, so it cannot reboot: start it with /ct_start {vmid}" \
        in said.content
    assert "HTTP 500" not in said.content


async def test_an_unreachable_proxmox_is_described_without_urllib3s_words(sim, tg, tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    real = sim.port
    sim.port = port
    try:
        async with running_bot(sim, tg, tmp_path / "s.json", default_policy()):
            admin = tg.user(ADMIN_ID, "Ada")
            await admin.send("/list")
            msg = await tg.wait_for(lambda m: "Proxmox" in m.content, chat_id=ADMIN_ID,
                                    timeout=30)
    finally:
        sim.port = real
    assert "connection refused: nothing answers on that port" in msg.content, msg.content
    for raw in ("HTTPSConnectionPool", "urllib3", "Max retries", "object at 0x", "Errno"):
        assert raw not in msg.content, msg.content


async def test_a_capitalised_hostname_is_lowercased_and_said_so(harness):
    h = harness
    note = await h.ask(h.bob, "/create C1", lambda m: m.content.startswith("ℹ️"))
    assert note.content.startswith("ℹ️ Hostnames are lower case: C1 is c1"), note.content
    await h.tg.wait_for(lambda m: m.content.startswith("✅"), chat_id=BOB_ID, timeout=15)


async def test_net_set_refuses_a_bridge_that_is_not_there(harness):
    h = harness
    vmid = await create(h, h.bob, "/create c1 --node pve1")
    refused = await h.ask(h.bob, "/net_set c1 net0 --bridge vmbr9")
    assert "There is no network vmbr9 on pve1, where CT" in refused.content, refused.content
    assert "vmbr9" not in h.sim.cluster.guests[vmid].config["net0"]


async def test_one_default_gateway_and_nics_can_be_removed(harness):
    h = harness
    await vmbr1(h)
    vmid = await create(h, h.bob, "/create c1 --node pve1")
    refused = await h.ask(h.bob, "/net_set c1 net1 --bridge vmbr1 --ip 10.10.20.20/24 "
                                 "--gw 10.10.20.1")
    assert f"CT {vmid} already has its default gateway on net0 (10.0.2.2)" in refused.content
    assert "net1" not in h.sim.cluster.guests[vmid].config
    added = await h.ask(h.bob, "/net_set c1 net1 --bridge vmbr1", done)
    assert added.content.startswith("✅"), added.content
    net1 = h.sim.cluster.guests[vmid].config["net1"]
    assert "ip=10.10.20.10/24" in net1 and "gw=" not in net1  # the pool's, without a 2nd gw
    moved = await h.ask(h.bob, "/net_set c1 net0 --gw none", done)
    assert moved.content.startswith("✅") and "gw=" not in h.sim.cluster.guests[vmid].config[
        "net0"], moved.content
    gone = await h.ask(h.bob, "/net_del c1 net1", done)
    assert gone.content.startswith(f"✅ CT {vmid}: net1 removed"), gone.content
    assert "net1" not in h.sim.cluster.guests[vmid].config
    missing = await h.ask(h.bob, "/net_del c1 net1")
    assert f"CT {vmid} has no net1; its NICs: net0." in missing.content
    carol = await h.ask(h.carol, f"/net_del {vmid} net0")
    assert "not yours" in carol.content
    assert "net0" in h.sim.cluster.guests[vmid].config


async def test_an_admin_confirms_deleting_a_users_running_ct_and_the_owner_is_told(harness):
    h = harness
    vmid = await create(h, h.bob, "/create c1")
    ask = await h.ask(h.admin, f"/ct_delete {vmid}", lambda m: "Delete CT" in m.content)
    assert f"Delete CT {vmid} c1 (Bob ({BOB_ID})'s, running on" in ask.content, ask.content
    assert "Its owner will be told." in ask.content
    assert [b.text for b in ask.flat_buttons] == ["Yes, delete", "Cancel"]
    assert vmid in h.sim.cluster.guests
    await h.admin.press(ask, "Yes, delete")
    told = await h.tg.wait_for(lambda m: "was deleted by" in m.content, chat_id=BOB_ID)
    assert told.content == f"🗑 Your CT {vmid} c1 was deleted by Ada ({ADMIN_ID})."
    assert vmid not in h.sim.cluster.guests


async def test_an_identical_backup_schedule_is_refused(harness):
    h = harness
    vmid = await create(h, h.bob, "/create c1")
    made = await h.ask(h.bob, "/schedule_backup c1 02:00 --keep-last 3",
                       lambda m: m.content.startswith(("🗓", "❌")) or "Usage" in m.content)
    assert made.content.startswith("🗓"), made.content
    for calendar in ("02:00", "'*-*-* 02:00'"):
        again = await h.ask(h.bob, f"/schedule_backup c1 {calendar} --keep-last 3")
        assert f"CT {vmid} is already backed up at '02:00' to local by stratus-" \
            in again.content, again.content
    assert len(h.sim.cluster.backup_jobs) == 1
    other = await h.ask(h.bob, "/schedule_backup c1 03:00 --keep-last 3",
                        lambda m: m.content.startswith(("🗓", "❌")) or "already" in m.content)
    assert other.content.startswith("🗓"), other.content


async def test_approval_cards_say_why_they_wait(harness):
    h = harness
    vmid = await create(h, h.bob, "/create c1")
    await h.ask(h.bob, f"/ct_delete {vmid}", lambda m: "Waiting" in m.content)
    card = await h.tg.wait_for(lambda m: "Approval request" in m.content, chat_id=APPROVAL_CHAT)
    assert "Why it waits: a user's delete waits for an admin" in card.content, card.content
    waiting = await h.ask(h.bob, "/create big --cores 3", lambda m: "Waiting" in m.content)
    assert "(3 cores > 2)" in waiting.content
    big = await h.tg.wait_for(lambda m: "create big" in m.content, chat_id=APPROVAL_CHAT)
    assert "Why it waits: 3 cores > 2" in big.content, big.content


async def test_a_group_from_an_ordinary_ct_does_not_copy_its_address(harness):
    h = harness
    vmid = await create(h, h.bob, "/create tpl --node pve1")
    assert "ip=10.0.2.100/24" in h.sim.cluster.guests[vmid].config["net0"]
    answer = await h.ask(h.bob, f"/scale_create web --template {vmid} --min 2 --max 2 "
                                "--target-cpu 60", lambda m: "web" in m.content)
    assert "created" in answer.content, answer.content
    # Clones of an ordinary CT (not a template) lock it one at a time: a clone that found it
    # locked is tried again at the next period.
    for period in range(6):
        await h.app.bot_data["scaler"].tick(1_000_000.0 + 15 * period)
        replicas = [g for v, g in h.sim.cluster.guests.items() if v != vmid and not g.lock]
        if len(replicas) == 2:
            break
    assert len(replicas) == 2
    for g in replicas:
        assert "10.0.2.100" not in g.config["net0"] and "ip=dhcp" in g.config["net0"], \
            g.config["net0"]


def test_the_virtualbox_helper_prints_settings_a_shell_takes_as_they_are():
    out = io.StringIO()
    assert virtualbox_main(["--iso", "/tmp/proxmox-ve.iso"], out=out) == 0
    lines = [line for line in out.getvalue().splitlines() if line.startswith("export STRATUS_")]
    values = dict(shlex.split(line)[1].split("=", 1) for line in lines)
    assert values["STRATUS_PROXMOX_TOKEN_ID"] == "root@pam!stratus"
    assert "export STRATUS_PROXMOX_TOKEN_ID='root@pam!stratus'" in lines
    assert values["STRATUS_PROXMOX_TOKEN_SECRET"] == "<the secret printed by pveum>"
    assert values["STRATUS_NETWORK_PORT_FORWARDS"] == "pve:8006->8006,pve:2222->22"
    assert values["STRATUS_NETWORK_PC_VIA"] == "pve:vmbr0"
    for line in lines:  # nothing an interactive bash would expand or redirect
        _, _, value = line.partition("=")
        assert value.startswith("'") or not any(c in value for c in "!<>&;|$`"), line
