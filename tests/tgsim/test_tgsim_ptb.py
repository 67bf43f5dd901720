"""The real PTB Application against the stand-in: what a bot sees is what Telegram would do."""

from __future__ import annotations

import asyncio

from telegram import Bot
from telegram.error import NetworkError
from tgsim_echo_bot import EchoBot

from tgsim import TelegramStandIn


async def test_command_gets_a_reply_with_buttons(tg: TelegramStandIn, echo_bot: EchoBot):
    alice = tg.user(1001, "Alice")
    sent = await alice.send("/start")
    assert sent.entities == [{"type": "bot_command", "offset": 0, "length": 6}]

    reply = await tg.wait_for(lambda m: m.chat_id == alice.id)
    assert reply.text == "Hello Alice, decide:"
    assert [b.text for b in reply.flat_buttons] == ["Approve", "Reject"]
    assert reply.reply_to is None  # PTB quotes only in groups by default
    assert tg.chat(alice.id).messages == [reply]
    assert reply.message_id > sent.message_id


async def test_command_with_bot_username_in_a_group(tg: TelegramStandIn, echo_bot: EchoBot):
    tg.group(-5001, "ops")
    bob = tg.user(1002, "Bob", "bob")
    sent = await bob.send(f"/echo@{tg.bot.username} hi there", chat_id=-5001)
    reply = await tg.wait_for(lambda m: m.chat_id == -5001)
    assert reply.text == "echo: hi there"
    assert reply.reply_to is sent  # in groups PTB quotes: reply_parameters is honoured


async def test_button_press_reaches_the_callback_and_edits(tg: TelegramStandIn,
                                                          echo_bot: EchoBot):
    alice = tg.user(1001, "Alice")
    await alice.send("/start")
    card = await tg.wait_for(lambda m: m.buttons)

    query_id = await alice.press(card, "Approve")
    edited = await tg.wait_for(lambda m: m.text.startswith("Chosen"))

    assert edited is card and edited.text == "Chosen: ok by Alice"
    assert edited.buttons == []  # an edit without reply_markup removes the keyboard, as in TG
    assert edited.edit_count == 1 and edited.edits[0].previous_text == "Hello Alice, decide:"
    await tg.wait_until(lambda: query_id in tg.answered_callbacks)
    assert tg.answered_callbacks[query_id].text == "you chose ok"
    assert [c.method for c in tg.calls if c.method.startswith("edit")] == ["editMessageText"]


async def test_429_is_retried_by_the_rate_limiter_and_arrives_once(tg: TelegramStandIn,
                                                                   echo_bot: EchoBot):
    tg.fail_next("sendMessage", status=429, retry_after=1)
    alice = tg.user(1001, "Alice")
    await alice.send("/echo once")
    await tg.wait_for(lambda m: m.text == "echo: once")

    attempts = tg.calls_to("sendMessage")
    assert [c.status for c in attempts] == [429, 200]
    assert [m.text for m in tg.chat(alice.id).messages] == ["echo: once"]
    assert echo_bot.errors == []


async def test_5xx_reaches_the_bot_as_a_network_error(tg: TelegramStandIn, echo_bot: EchoBot):
    tg.fail_next("sendMessage", status=502)
    alice = tg.user(1001, "Alice")
    await alice.send("/echo lost")
    await tg.wait_until(lambda: echo_bot.errors)
    (error,) = echo_bot.errors
    assert isinstance(error, NetworkError) and "Bad Gateway" in str(error)
    assert tg.chat(alice.id).messages == []

    await alice.send("/echo next")  # the fault was for one call only
    assert (await tg.wait_for(lambda m: True)).text == "echo: next"


async def test_photo_bytes_arrive(tg: TelegramStandIn, echo_bot: EchoBot):
    alice = tg.user(1001, "Alice")
    await alice.send("/photo")
    msg = await tg.wait_for(lambda m: m.photo is not None)
    assert msg.photo.is_png and (msg.photo.width, msg.photo.height) == (3, 2)
    assert msg.caption == "a chart" and msg.text is None
    upload = tg.calls_to("sendPhoto")[0]
    assert "bytes>" in upload.params["photo"]  # the log summarizes uploads


async def test_long_poll_returns_when_an_update_arrives(tg: TelegramStandIn):
    alice = tg.user(1001, "Alice")
    async with Bot(tg.token, base_url=tg.base_url) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=40))
        await asyncio.sleep(0.2)
        assert not poll.done()  # it is really waiting
        await alice.send("hello")
        # Guarded so that a poll waiting out its 30 s fails the test instead of hanging it.
        updates = await asyncio.wait_for(poll, 5)
        assert [u.message.text for u in updates] == ["hello"]
        assert updates[0].message.from_user.id == alice.id

        # The offset confirms: the next poll does not see it again.
        assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == ()
    assert tg.updates_delivered == 1


async def test_reply_latency_pairs_each_update_with_its_reply(tg: TelegramStandIn,
                                                              echo_bot: EchoBot):
    users = [tg.user(2000 + i, f"U{i}") for i in range(3)]
    for u in users:
        await u.send(f"/echo {u.first_name}")
    await tg.wait_until(lambda: len(tg.reply_latency()) == 3)
    pairs = {p.chat_id: p for p in tg.reply_latency()}
    assert set(pairs) == {u.id for u in users}
    for p in pairs.values():
        assert p.method == "sendMessage"
        assert p.queued_at <= p.delivered_at <= p.replied_at


async def test_set_my_commands_is_stored_per_scope(tg: TelegramStandIn):
    from telegram import BotCommand, BotCommandScopeChat

    async with Bot(tg.token, base_url=tg.base_url) as bot:
        await bot.set_my_commands([BotCommand("list", "my containers")])
        await bot.set_my_commands([BotCommand("audit", "recent actions")],
                                  scope=BotCommandScopeChat(42))
        assert [c.command for c in await bot.get_my_commands()] == ["list"]
    assert tg.bot_commands() == [{"command": "list", "description": "my containers"}]
    assert tg.bot_commands({"type": "chat", "chat_id": 42})[0]["command"] == "audit"


async def test_stand_in_on_its_own_thread_serves_a_bot_on_this_loop():
    from tgsim_echo_bot import build_echo_app

    from tgsim import TelegramStandInThread

    with TelegramStandInThread() as st:
        bot = build_echo_app(st.tg)
        async with bot.app:
            await bot.app.start()
            await bot.app.updater.start_polling(poll_interval=0.0, timeout=1)

            async def ask(tg):
                await tg.user(1001, "Alice").send("/echo threads")
                return await tg.wait_for(lambda m: m.text.startswith("echo"))

            reply = await st.arun(ask)
            await bot.app.updater.stop()
            await bot.app.stop()
        assert reply.text == "echo: threads"
        assert len(st.tg.reply_latency()) == 1
