"""Who may do what: unknown users, roles, ownership, quotas."""

import re

import pytest
from e2e_harness import ADMIN_ID, APPROVAL_CHAT, BOB_ID, STRANGER_ID, default_policy
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler

from bot.commands import BUTTONS
from bot.services.ratelimit import ChatLimits


def registered(app):
    commands, patterns = [], []
    for handlers in app.handlers.values():
        for handler in handlers:
            if isinstance(handler, CommandHandler):
                commands.extend(sorted(handler.commands))
            elif isinstance(handler, CallbackQueryHandler):
                patterns.append(handler.pattern.pattern if handler.pattern else None)
            else:
                assert isinstance(handler, MessageHandler), f"unexpected handler {handler!r}"
    return commands, patterns


# Each refusal is looked at, so the stranger is answered every time (by default he is answered
# once per few minutes: tests/e2e/test_isolation_floods.py).
@pytest.mark.parametrize("policy", [default_policy(limits=ChatLimits(stranger_answer_every_s=0))])
async def test_unknown_user_is_refused_on_every_command_and_button(harness):
    h, tg = harness, harness.tg
    commands, patterns = registered(h.app)
    assert {"create", "ct_delete", "grant", "audit"} <= set(commands)
    examples = {b.pattern: b.example for b in BUTTONS}
    stranger = h.stranger
    vm_before = set(h.sim.cluster.guests)

    for command in commands:
        msg = await h.ask(stranger, f"/{command} 100 --cores 1")
        assert "not registered" in msg.content and str(STRANGER_ID) in msg.content, (command, msg.content)

    # The stranger sends forged callback data, one for each pattern (the catch-all included),
    # on a message of the bot's: every one must refuse him.
    admin_card = await h.ask(h.admin, "/help")
    for pattern in patterns:
        data = examples.get(pattern, "zz:unknown") if pattern else "zz:unknown"
        if pattern:
            assert re.search(pattern, data), f"no example for callback pattern {pattern}"
        query_id = await stranger.press_data(admin_card, data)
        await tg.wait_until(lambda q=query_id: q in tg.answered_callbacks)
        assert "not registered" in tg.answered_callbacks[query_id].text, pattern

    assert set(h.sim.cluster.guests) == vm_before  # nothing was done
    notices = [m for m in tg.chat(APPROVAL_CHAT).messages if str(STRANGER_ID) in m.content]
    assert len(notices) == 1, [m.content for m in notices]  # one notice per unknown user
    assert f"/grant {STRANGER_ID}" in notices[0].content


async def test_admin_commands_refused_to_users(harness):
    for command in ("grant 5", "revoke 5", "users", "quota 5", "pending", "audit"):
        msg = await harness.ask(harness.bob, f"/{command}")
        assert "admins only" in msg.content, command


async def test_help_shows_only_what_the_asker_may_do(harness):
    user_help = await harness.ask(harness.bob, "/help")
    assert "/create" in user_help.content and "/grant" not in user_help.content
    admin_help = await harness.ask(harness.admin, "/help")
    assert "/grant" in admin_help.content and "/audit" in admin_help.content
    usage = await harness.ask(harness.bob, "/help create")
    assert "Usage: /create <hostname>" in usage.content and "Example:" in usage.content
    hidden = await harness.ask(harness.bob, "/help grant")
    assert "No command /grant that you can use" in hidden.content


async def test_grant_and_revoke(harness):
    h = harness
    newcomer = h.tg.user(2024, "Nina")
    refused = await h.ask(newcomer, "/list")
    assert "not registered" in refused.content
    done = await h.ask(h.admin, "/grant 2024")
    assert "Nina (2024) is now a user" in done.content
    allowed = await h.ask(newcomer, "/list")
    assert "No containers yet" in allowed.content
    await h.ask(h.admin, "/revoke 2024")
    again = await h.ask(newcomer, "/list")
    assert "not registered" in again.content
    bad = await h.ask(h.admin, "/grant bob")
    assert "Usage: /grant" in bad.content


async def test_user_cannot_touch_anothers_container(harness):
    h, tg = harness, harness.tg
    made = await h.ask(h.bob, "/create bobs-box", lambda m: m.content.startswith(("✅", "❌")))
    vmid = int(made.content.split()[2])
    for command in (f"/info {vmid}", f"/ct_stop {vmid}", f"/ct_delete {vmid}"):
        msg = await h.ask(h.carol, command)
        assert f"CT {vmid} is not yours" in msg.content, command
    by_name = await h.ask(h.carol, "/info bobs-box")
    assert "No container named 'bobs-box' among yours" in by_name.content
    listing = await h.ask(h.carol, "/list")
    assert "bobs-box" not in listing.content
    # Carol presses the buttons of Bob's card (e.g. it was forwarded to her).
    card = await h.ask(h.bob, f"/info {vmid}", lambda m: m.content.startswith("CT "))
    query_id = await h.carol.press(card, "Stop")
    await tg.wait_until(lambda: query_id in tg.answered_callbacks)
    assert "not yours" in tg.answered_callbacks[query_id].text
    assert h.sim.cluster.guests[vmid].status == "running"
    # The admin sees and may act on everything.
    admin_list = await h.ask(h.admin, "/list")
    assert "bobs-box" in admin_list.content and f"owner Bob ({BOB_ID})" in admin_list.content


async def test_a_user_cannot_tell_anothers_container_from_a_missing_one(harness):
    h = harness
    made = await h.ask(h.bob, "/create bobs-box", lambda m: m.content.startswith(("✅", "❌")))
    vmid = int(made.content.split()[2])
    missing = vmid + 4242
    assert missing not in h.sim.cluster.guests
    for command in ("/info {}", "/ct_stop {}", "/ct_delete {}"):
        theirs = await h.ask(h.carol, command.format(vmid))
        nothing = await h.ask(h.carol, command.format(missing))
        assert theirs.content.replace(str(vmid), "N") == nothing.content.replace(str(missing), "N")
    # The admin, who may see everything, is told the truth.
    told = await h.ask(h.admin, f"/info {missing}")
    assert "not yours" not in told.content


async def test_over_quota_is_refused_with_the_numbers(harness):
    h = harness
    await h.ask(h.admin, f"/quota {BOB_ID} --containers 1 --cores 2")
    first = await h.ask(h.bob, "/create q1", lambda m: m.content.startswith(("✅", "❌")))
    assert first.content.startswith("✅")
    second = await h.ask(h.bob, "/create q2")
    assert "Over your quota" in second.content
    assert "containers: 1 in use + 1 asked = 2 > quota 1" in second.content
    vmids = {g.config.get("hostname") for g in h.sim.cluster.guests.values()}
    assert "q2" not in vmids


async def test_big_create_needs_approval_admin_create_does_not(harness):
    h, tg = harness, harness.tg
    await h.ask(h.admin, f"/quota {BOB_ID} --cores 8 --memory 8G")
    waiting = await h.ask(h.bob, "/create big1 --cores 4")
    assert "Waiting for an admin's approval (4 cores > 2)" in waiting.content
    card = await tg.wait_for(lambda m: "create big1" in m.content, chat_id=APPROVAL_CHAT)
    await h.admin.press(card, "Reject")
    told = await tg.wait_for(lambda m: "was rejected" in m.content, chat_id=BOB_ID)
    assert "big1" in told.content
    assert all(g.config.get("hostname") != "big1" for g in h.sim.cluster.guests.values())
    mine = await h.ask(h.admin, "/create big2 --cores 4",
                       lambda m: m.content.startswith(("✅", "❌")), chat_id=ADMIN_ID)
    assert mine.content.startswith("✅")


async def test_command_menu_is_published_at_start(harness):
    published = {c["command"] for c in harness.tg.bot_commands()}
    assert {"start", "help", "create", "list", "info", "ct_delete"} <= published
    assert not published & {"grant", "revoke", "audit", "quota"}  # admins' commands stay hidden
    assert all(re.fullmatch(r"[a-z0-9_]{1,32}", c) for c in published)  # Telegram's rule
