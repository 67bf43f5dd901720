"""/api_token, /api_tokens, /api_token_revoke: a person's keys to the REST API (bot/api)."""

from __future__ import annotations

import time

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ContextTypes

from bot.handlers.common import command_args, reply, services
from bot.parsing import parse_api_token, parse_api_token_revoke
from bot.parsing_backups import parse_no_args


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


async def api_token(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    name = parse_api_token(command_args(update))
    if update.effective_chat.type != ChatType.PRIVATE:
        # A token is a password: shown in a group, every member could act as its owner.
        await reply(update, "I give API tokens only in a private chat with me: send /api_token "
                            "there.")
        return
    secret, record = services(context).tokens.issue(update.effective_user.id, name)
    await reply(update, f"🔑 API token {record.id} ({record.name}):\n{secret}\n"
                        "It is shown only now and not stored anywhere: keep it. Send it as "
                        "'Authorization: Bearer <token>'; it acts as you, with your rights. "
                        f"/api_token_revoke {record.id} revokes it.")


async def api_tokens(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    parse_no_args(command_args(update), "api_tokens")
    items = services(context).tokens.tokens(update.effective_user.id)
    if not items:
        await reply(update, "You have no API tokens. /api_token makes one.")
        return
    lines = [f"• {t.id} · {t.name} · issued {_when(t.created_at)}" for t in items]
    await reply(update, f"{len(items)} API token(s):\n" + "\n".join(lines))


async def api_token_revoke(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    token_id = parse_api_token_revoke(command_args(update))
    record = services(context).tokens.revoke(update.effective_user.id, token_id)
    await reply(update, f"🗑 API token {record.id} ({record.name}) is revoked: it no longer "
                        "lets anyone in.")
