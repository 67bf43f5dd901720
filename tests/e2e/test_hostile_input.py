"""Every command with hostile arguments answers in words, within Telegram's message limit.

Very long text, unicode, HTML/Markdown special characters, negative and huge numbers: the bot
sends no parse_mode, so markup cannot break a message, but text echoed back could exceed 4096
characters (Telegram refuses the message and the person would see nothing, or a bug ref).
"""

import pytest
from e2e_harness import ADMIN_ID, APPROVAL_CHAT

from bot.commands import COMMANDS

HOSTILE = [
    "x" * 5000,
    "a" * 300 + " " + "b" * 4000,
    "ünïcødé-ñame 名前 🙂",
    "<b>bold</b> *star* _under_ `code` [l](http://x) &amp;",
    "-5",
    "99999999999999999999999",
    "100 --cores -3 --memory 99999999999G --disk -1",
    '"unclosed quote',
]


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
async def test_hostile_arguments_get_an_answer_within_the_limit(harness, command):
    h, tg = harness, harness.tg
    for args in HOSTILE:
        mark = tg.mark()
        answer = await h.ask(h.admin, f"/{command} {args}", timeout=10)
        await h.settle(0.05)
        sent = [e.message for e in tg.events[mark:] if e.message.chat_id == ADMIN_ID]
        for message in sent:
            assert len(message.content) <= 4096, (command, args[:20], len(message.content))
            assert "Something went wrong" not in message.content, (command, args[:40],
                                                                   message.content)
        assert answer.content, (command, args[:20])
    refused = [(c.method, c.description) for m in ("sendMessage", "editMessageText")
               for c in tg.calls_to(m) if not c.ok]
    assert not refused, refused[:3]  # Telegram took every message the bot sent


async def test_unknown_users_long_text_still_reaches_the_admins(harness):
    """The admins' notice quotes what the stranger tried: a 5000-character message must not make
    that notice too long for Telegram (it is sent once per user, so a lost one is lost for good)."""
    h, tg = harness, harness.tg
    refused = await h.ask(h.stranger, "/create " + "x" * 5000)
    assert "not registered" in refused.content
    notice = await tg.wait_for(lambda m: f"/grant {h.stranger.id}" in m.content,
                               chat_id=APPROVAL_CHAT)
    assert len(notice.content) <= 4096


async def test_unknown_users_button_press_quotes_no_message_text(harness):
    """A stranger's press on a bot message: the notice says "a button", not that message's text
    (which may be someone else's card)."""
    h, tg = harness, harness.tg
    card = await h.ask(h.admin, "/users")
    query_id = await h.stranger.press_data(card, "ct:100:stop")
    await tg.wait_until(lambda: query_id in tg.answered_callbacks)
    notice = await tg.wait_for(lambda m: f"/grant {h.stranger.id}" in m.content,
                               chat_id=APPROVAL_CHAT)
    assert "Users:" not in notice.content and "a button" in notice.content
