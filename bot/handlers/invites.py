"""Invite links: /invite, /invites, /invite_revoke (admins), and what a stranger's
``/start <token>`` does (the link's deep-link payload). Parse, call the invite service, reply."""

from __future__ import annotations

import logging
import time

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes
from telegram.helpers import create_deep_linked_url

from bot.handlers.common import command_args, reply, services
from bot.parsing_backups import parse_no_args
from bot.parsing_tenants import parse_invite, parse_invite_id
from bot.services.invites import quota_text

log = logging.getLogger(__name__)


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


async def invite(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_invite(command_args(update))
    svc = services(context)
    made = svc.invites.create(update.effective_user.id, args.quota, args.expires_s, args.uses)
    link = create_deep_linked_url(context.bot.username, made.token)
    inv = made.invite
    uses = "once" if inv.uses == 1 else f"by up to {inv.uses} people"
    await reply(update, f"✅ Invite {inv.id}: whoever opens this link is registered as a user "
                        f"with {quota_text(svc.invites.quota_of(inv))}. It can be used {uses} "
                        f"until {_when(inv.expires_at)}.\n{link}\n"
                        f"Give it only to whom you mean to let in. /invite_revoke {inv.id} "
                        "ends it.")


async def invites(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    parse_no_args(command_args(update), "invites")
    svc = services(context)
    rows = svc.invites.invites(update.effective_user.id)
    if not rows:
        await reply(update, "No invites yet. /invite makes one.")
        return
    lines = [f"{inv.id} · {state} · {len(inv.used_by)}/{inv.uses} used"
             + (f" by {', '.join(map(str, inv.used_by))}" if inv.used_by else "")
             + f" · until {_when(inv.expires_at)} · {quota_text(svc.invites.quota_of(inv))}"
             for inv, state in rows]
    await reply(update, "Invites:\n" + "\n".join(lines))


async def invite_revoke(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    invite_id = parse_invite_id(command_args(update))
    services(context).invites.revoke(update.effective_user.id, invite_id)
    await reply(update, f"✅ Invite {invite_id} is revoked: its link registers nobody now. "
                        "Who joined with it stays (/revoke takes a user's access away).")


async def join(update: Update, context: ContextTypes.DEFAULT_TYPE, token: str) -> None:
    """A stranger opened an invite link: register them, welcome them, tell the admins."""
    svc = services(context)
    user = update.effective_user
    name = f"@{user.username}" if user.username else user.full_name
    _, quota, inv = svc.invites.redeem(user.id, name, token)
    await reply(update, f"Welcome, {user.first_name}! You are registered with Stratus, with "
                        f"a quota of {quota_text(quota)}. /help lists what you can do; "
                        "/create <hostname> makes your first container.")
    try:
        await context.bot.send_message(
            svc.approval_chat_id, f"{user.full_name} ({name}, id {user.id}) joined with "
                                  f"invite {inv.id} of {inv.created_by}.")
    except TelegramError as exc:
        log.warning("could not tell the admins about a new user: %s", exc)
