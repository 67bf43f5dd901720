"""The terminal shows everything a phone would (issue 12, point 4): photos saved to files whose
path is printed, a group chat (`:group`) where approval cards and scaling notices land, any
user (`:user ID NAME`), and admin, scaler and approval actions in /audit."""

from __future__ import annotations

import asyncio
import io
import re
import struct
from pathlib import Path

import pytest
from e2e_harness import ADMIN_ID, APPROVAL_CHAT, BOB_ID, default_policy

from bot.services.scaling import ScalingSettings
from tgsim.terminal import TerminalChat

TEMPLATE = 900
GROUP_CHAT = -100777


@pytest.fixture
def policy():
    return default_policy(scaling=ScalingSettings(warmup_s=0, run_job=False, ready_delay_s=30))


@pytest.fixture(autouse=True)
def template(sim):
    sim.cluster.add_guest(TEMPLATE, "pve1", hostname="web-template", template=1)
    sim.cluster.load.warmup_s = 0


async def terminal(h, script: str, media_dir=None, users=None) -> str:
    out = io.StringIO()
    await TerminalChat(h.tg, users or [h.bob, h.admin], stdin=io.StringIO(script), stdout=out,
                       settle=0.2, reply_timeout=15, media_dir=media_dir).run()
    return out.getvalue()


async def grow_and_shrink(h):
    """A group in its chat, a load that needs 3 replicas, then none: out, then in."""
    h.tg.group(GROUP_CHAT, "web team")
    await h.admin.send(f"/scale_create web --template {TEMPLATE} --min 1 --max 4 "
                       "--target-cpu 60", chat_id=GROUP_CHAT)
    await h.tg.wait_for(lambda m: "web" in m.content, chat_id=GROUP_CHAT)
    controller, now = h.app.bot_data["scaler"], 1_000_000.0
    h.sim.cluster.set_load("web", 150)
    for _ in range(6):
        now += 15
        await controller.tick(now)
    h.sim.cluster.set_load("web", 0)
    for _ in range(30):
        now += 15
        await controller.tick(now)


async def test_a_photo_is_saved_and_its_path_printed(harness, tmp_path):
    h = harness
    await grow_and_shrink(h)
    text = await terminal(h, f":user ada\n:group {GROUP_CHAT}\n/scale_chart web 24h\n",
                          media_dir=tmp_path / "media")
    found = re.search(r"\[photo (\d+)x(\d+), (\d+) bytes, saved to (\S+)\]", text)
    assert found, text
    path = Path(found.group(4))
    data = await asyncio.to_thread(path.read_bytes)
    assert path.parent == tmp_path / "media" and path.suffix == ".png"
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) == int(found.group(3))
    width, height = struct.unpack(">II", data[16:24])  # the IHDR: an image one can open
    assert (width, height) == (int(found.group(1)), int(found.group(2)))


async def test_group_chat_shows_approval_cards_and_scaling_notices(harness):
    h = harness
    await grow_and_shrink(h)
    made = await h.ask(h.bob, "/create box", lambda m: m.content.startswith(("✅", "❌")),
                       timeout=15)
    vmid = int(made.content.split()[2])
    text = await terminal(h, f"/ct_delete {vmid}\n:user ada\n:group\n:1\n"
                             f":group {GROUP_CHAT}\n:show\n")
    assert f"now in the group Stratus approvals ({APPROVAL_CHAT}) as ada" in text
    assert re.search(r"\(pressed \[1\] Approve on #\d+\)", text), text
    assert "✅ Approved by Ada (1001)" in text
    assert vmid not in h.sim.cluster.guests or h.sim.cluster.guests[vmid].status != "running"
    assert "now in the group web team" in text
    group_view = text.split("now in the group web team")[1]
    assert "web: 1 -> " in group_view and "added" in group_view, group_view
    assert "removed" in group_view, group_view


async def test_any_user_can_be_added_and_talks_to_the_bot(harness):
    h = harness
    text = await terminal(h, ":user 2024 Nina Simone\n/list\n:user ada\n/grant 2024\n"
                             ":user nina\n/list\n")
    assert "now nina (2024), in the private chat" in text
    assert "your Telegram id is 2024" in text
    assert "✅ Nina Simone (2024) is now a user." in text
    assert "No containers yet" in text
    assert "! no user" not in text


async def test_audit_shows_admin_scaler_and_approval_actions_by_name(harness):
    h = harness
    await grow_and_shrink(h)
    made = await h.ask(h.bob, "/create box", lambda m: m.content.startswith(("✅", "❌")),
                       timeout=15)
    vmid = int(made.content.split()[2])
    card_text = await h.ask(h.bob, f"/ct_delete {vmid}", lambda m: "Waiting" in m.content)
    assert card_text
    card = await h.tg.wait_for(lambda m: "Approval request" in m.content, chat_id=APPROVAL_CHAT)
    await h.admin.press(card, "Reject")
    await h.tg.wait_for(lambda m: "Rejected by" in m.content, chat_id=APPROVAL_CHAT)
    await h.ask(h.admin, f"/quota {BOB_ID} --containers 5", lambda m: "Quota of" in m.content)
    audit = await h.ask(h.admin, "/audit 100", lambda m: "·" in m.content)
    text = audit.content
    assert re.search(r"Stratus \(automatic\) · scale_out group:web · ok · web-\d \(CT \d+\) "
                     rf"on pve\d; owner {ADMIN_ID}", text), text
    assert re.search(r"Stratus \(automatic\) · scale_in group:web · ok · web-\d", text), text
    assert f"Bob ({BOB_ID}) · request:delete approval:" in text
    assert f"Ada ({ADMIN_ID}) · reject approval:" in text
    assert f"Ada ({ADMIN_ID}) · quota user:{BOB_ID} · ok" in text
    assert f"Ada ({ADMIN_ID}) · scale_create group:web" in text
    assert " · None · " not in text and f" · {ADMIN_ID} · " not in text
