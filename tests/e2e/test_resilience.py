"""Telegram hiccups, bugs and secrets: nothing is lost, nothing leaks."""

import logging

import pytest
from e2e_harness import BOB_ID

from bot.runtime import chat_policy, secrets_of
from bot.settings import Settings
from bot.telegram_io import RedactSecrets


@pytest.mark.parametrize("status", [429, 500, 502])
async def test_send_message_failures_are_retried_and_nothing_is_lost(harness, status):
    tg = harness.tg
    tg.fail_next("sendMessage", status=status, retry_after=1, count=2)
    msg = await harness.ask(harness.bob, "/list", timeout=15)
    assert "No containers yet" in msg.content
    sends = tg.calls_to("sendMessage")
    assert [c.ok for c in sends[-3:]] == [False, False, True]
    assert len([m for m in tg.chat(BOB_ID).messages if "No containers" in m.content]) == 1


async def test_a_bug_answers_with_a_ref_and_logs_the_traceback(harness, monkeypatch, caplog):
    async def failing_visible(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(harness.services.containers, "visible", failing_visible)
    with caplog.at_level(logging.ERROR):
        msg = await harness.ask(harness.bob, "/list")
    assert msg.content.startswith("Something went wrong (ref ")
    ref = msg.content.split("ref ")[1].split(")")[0]
    assert any(ref in r.getMessage() and r.exc_info for r in caplog.records)
    assert "ZeroDivisionError" not in msg.content


async def test_generated_password_goes_only_to_the_private_chat(harness):
    h, tg = harness, harness.tg
    group = tg.group(-4242, "team")
    # Bob never opened a private chat with the bot: the password is not put in the group.
    await h.bob.send("/create nochat", chat_id=group.id)
    done = await tg.wait_for(lambda m: m.content.startswith(("✅", "❌")), chat_id=group.id)
    assert "could not send you its root password privately" in done.content
    h.bob.open_chat()
    await h.bob.send("/create grouped", chat_id=group.id)
    done = await tg.wait_for(lambda m: m.content.startswith(("✅", "❌")), chat_id=group.id)
    assert "root password was sent to you privately" in done.content
    private = await tg.wait_for(lambda m: "Root password" in m.content, chat_id=BOB_ID)
    password = private.content.split(": ", 1)[1].split("\n")[0]
    assert len(password) >= 16
    assert all(password not in m.content for m in group.messages)


def test_secrets_never_reach_the_log(tmp_path):
    env = {
        "STRATUS_TELEGRAM_TOKEN": "123456:SECRET-telegram-token",
        "STRATUS_PROXMOX_HOST": "pve.example", "STRATUS_PROXMOX_TOKEN_ID": "root@pam!stratus",
        "STRATUS_PROXMOX_TOKEN_SECRET": "1f2e3d4c-0000-4000-8000-secretsecret",
        "STRATUS_ADMIN_IDS": "1", "STRATUS_APPROVAL_CHAT_ID": "1",
    }
    settings = Settings.load(env)
    chat_policy(settings)  # the settings map to the chat layer's policy without loss
    log_file = tmp_path / "bot.log"
    handler = logging.FileHandler(log_file)
    handler.addFilter(RedactSecrets(secrets_of(settings)))
    logger = logging.getLogger("secret-test")
    logger.addHandler(handler)
    try:
        logger.warning("starting with %r", settings)
        logger.warning("GET https://api.telegram.org/bot%s/getMe", settings.telegram_token)
        try:
            raise RuntimeError(f"auth header PVEAPIToken=x={settings.proxmox_token_secret}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        handler.close()
    text = log_file.read_text()
    assert "getMe" in text and "RuntimeError" in text  # the lines are there...
    for secret in secrets_of(settings):
        assert secret not in text  # ...without the secrets
