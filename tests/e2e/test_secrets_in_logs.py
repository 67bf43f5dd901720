"""Secrets never reach the log, even at DEBUG, nor a group chat: the bot token, the Proxmox token
secret, and a generated root password (which exists only in the owner's private chat)."""

import logging
import re

import pytest
from e2e_harness import ADMIN_ID, APPROVAL_CHAT, BOB_ID

from bot.telegram_io import configure_logging

GROUP = -100777


@pytest.fixture
def debug_log(tmp_path, sim, tg):
    """The production logging set-up (python -m bot, the demo), at DEBUG, into a file."""
    root = logging.getLogger()
    saved_root = root.level
    saved = {name: logging.getLogger(name).level
             for name in ("httpx", "telegram.Bot", "telegram.ext.ExtBot")}
    path = tmp_path / "bot.log"
    handler = configure_logging([tg.token, sim.token_secret], level=logging.DEBUG, path=str(path))
    yield path
    root.removeHandler(handler)
    handler.close()
    root.setLevel(saved_root)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


async def test_no_secret_in_debug_log_or_group_chat(harness, debug_log):
    h, tg = harness, harness.tg
    tg.group(GROUP, "Team")
    h.bob.open_chat()
    # Bob creates in a group: the result is shown there, the password only in his private chat.
    await h.bob.send("/create secret-box", chat_id=GROUP)
    done = await tg.wait_for(lambda m: m.content.startswith(("✅", "❌")), chat_id=GROUP)
    assert done.content.startswith("✅"), done.content
    private = await tg.wait_for(lambda m: "Root password" in m.content, chat_id=BOB_ID)
    password = re.search(r": (\S+)\n", private.content).group(1)
    assert len(password) >= 8
    # An approval round trip and an admin command too, for good measure.
    await h.ask(h.admin, f"/quota {BOB_ID} --cores 8 --memory 8G")
    await h.bob.send("/create big-secret --cores 4")
    card = await tg.wait_for(lambda m: "big-secret" in m.content and m.flat_buttons,
                             chat_id=APPROVAL_CHAT)
    await h.admin.press(card, "Approve")
    await tg.wait_for(lambda m: m.content.startswith("✅") and "big-secret" in m.content,
                      chat_id=BOB_ID)
    second = await tg.wait_for(lambda m: "Root password" in m.content and "big-secret"
                               in m.content, chat_id=BOB_ID)
    password2 = re.search(r": (\S+)\n", second.content).group(1)
    await h.settle(0.3)

    for handler in logging.getLogger().handlers:
        handler.flush()
    log_text = debug_log.read_text()
    assert "sendMessage" in log_text or "DEBUG" in log_text  # DEBUG really was on
    for secret in (tg.token, h.sim.token_secret, password, password2):
        assert secret not in log_text
    for chat_id in (GROUP, APPROVAL_CHAT, ADMIN_ID):
        for message in tg.chat(chat_id).messages:
            assert password not in message.content and password2 not in message.content
