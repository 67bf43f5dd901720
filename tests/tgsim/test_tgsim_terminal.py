"""The terminal chat driven the way the demo is: scripted lines in, a transcript out."""

from __future__ import annotations

import io

from tgsim_echo_bot import EchoBot

from tgsim import TelegramStandIn
from tgsim.terminal import TerminalChat


async def run_script(tg: TelegramStandIn, script: str, users) -> str:
    out = io.StringIO()
    chat = TerminalChat(tg, users, stdin=io.StringIO(script), stdout=out, settle=0.1,
                        reply_timeout=5)
    await chat.run()
    return out.getvalue()


async def test_scripted_session_shows_replies_buttons_and_presses(tg: TelegramStandIn,
                                                                  echo_bot: EchoBot):
    alice, bob = tg.user(1001, "Alice", "alice"), tg.user(1002, "Bob")
    transcript = await run_script(tg, "/start\n:1\n:user bob\n/echo from bob\n:quit\n",
                                  [alice, bob])
    lines = transcript.splitlines()

    assert "alice> /start" in lines
    assert "bot #2: Hello Alice, decide:" in lines
    assert "    [1] Approve  [2] Reject" in lines
    assert "(pressed [1] Approve on #2)" in lines
    assert "bot #2 (edited): Chosen: ok by Alice" in lines
    assert "(notice for Approve) you chose ok" in lines
    assert "Bob> /echo from bob" in lines
    assert "bot #2: echo: from bob" in lines  # Bob's own private chat numbers from 1
    assert lines[-1] == "bye"
    # The order a person saw: the card, then the press, then the edit.
    assert lines.index("bot #2: Hello Alice, decide:") < lines.index(
        "bot #2 (edited): Chosen: ok by Alice")
    assert tg.chat(alice.id).messages[0].text == "Chosen: ok by Alice"


async def test_bad_input_gets_a_message_not_a_traceback(tg: TelegramStandIn, echo_bot: EchoBot):
    alice = tg.user(1001, "Alice")
    transcript = await run_script(tg, ":1\n:user nobody\n:chat x\n:frobnicate\n:9@zz\n", [alice])
    assert "! no messages in this chat yet" in transcript
    assert "! no user 'nobody'; users: Alice (1001)" in transcript
    assert "! :chat needs a chat id" in transcript
    assert "! unknown command :frobnicate (:help lists them)" in transcript
    assert transcript.rstrip().endswith("bye")  # EOF ends the chat


async def test_group_chat_view_and_messages_elsewhere_are_labelled(tg: TelegramStandIn,
                                                                   echo_bot: EchoBot):
    tg.group(-5001, "approvals")
    alice = tg.user(1001, "Alice")
    transcript = await run_script(tg, ":chats\n:chat -5001\n/echo in group\n:chat 1001\n:show\n",
                                  [alice])
    assert "now in approvals" in transcript
    assert "bot #2: echo: in group" in transcript
    assert "(no bot messages here)" in transcript
