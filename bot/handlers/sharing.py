"""Sharing commands: /share, /unshare, /shares. Parse, call the sharing service, reply."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.handlers.common import command_args, reply, services
from bot.parsing_backups import parse_no_args
from bot.parsing_tenants import parse_share

log = logging.getLogger(__name__)


async def _tell(context, user_id: int, text: str) -> None:
    try:
        await context.bot.send_message(user_id, text)
    except TelegramError as exc:  # they never wrote to the bot: the share holds all the same
        log.info("could not tell %s about a share: %s", user_id, exc)


async def share(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_share(command_args(update))
    asker = update.effective_user
    done = await services(context).sharing.share(asker.id, args.ref, args.user, args.role)
    ct, user_id, role = done.ct, done.share.user_id, done.role
    await reply(update, f"✅ CT {ct.vmid} {ct.hostname} is shared with {user_id} as {role.a}: "
                        f"they {role.allows}. /unshare {ct.vmid} {user_id} ends it.")
    await _tell(context, user_id, f"{asker.full_name} ({asker.id}) shared CT {ct.vmid} "
                                  f"{ct.hostname} with you as {role.a}: you {role.allows}. "
                                  f"/info {ct.vmid} shows it.")


async def unshare(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_share(command_args(update), "unshare")
    done = await services(context).sharing.unshare(update.effective_user.id, args.ref,
                                                   args.user)
    ct, user_id = done.ct, done.share.user_id
    await reply(update, f"✅ CT {ct.vmid} {ct.hostname} is no longer shared with {user_id}.")
    await _tell(context, user_id, f"CT {ct.vmid} {ct.hostname} is no longer shared with you.")


async def shares(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    parse_no_args(command_args(update), "shares")
    mine, received = await services(context).sharing.shares(update.effective_user.id)
    if not mine and not received:
        await reply(update, "Nothing is shared by you or with you. /share <ct> <user> "
                            "viewer|operator|manager shares one of yours.")
        return
    lines = []
    if mine:
        lines.append("Shared by you:")
        lines += [f"• CT {s.ct.vmid} {s.ct.hostname} with {s.share.user_id} as {s.role.label}"
                  for s in mine]
    if received:
        lines.append("Shared with you:")
        lines += [f"• CT {s.ct.vmid} {s.ct.hostname} by {s.share.owner_id} as {s.role.label}: "
                  f"you {s.role.allows}" for s in received]
    await reply(update, "\n".join(lines))
