"""Container commands and buttons: parse, check who asks, call a service, reply."""

from __future__ import annotations

import logging
import re

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.handlers import render
from bot.handlers.approvals import Asker, deferrable, run_or_ask
from bot.handlers.common import (
    LiveMessage,
    button_fields,
    command_args,
    reply,
    run_reporting,
    services,
)
from bot.parsing import parse_ct_command, parse_list
from bot.proxmox import Container

log = logging.getLogger(__name__)


# ---- seeing -----------------------------------------------------------------------------------

async def list_containers(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_list(command_args(update))
    svc = services(context)
    uid = update.effective_user.id
    cts = await svc.containers.visible(uid, owner_id=args.owner_id, node=args.node,
                                       status=args.status)
    # a user's list names the owner of what others shared with them
    owners = svc.containers.owners(uid) if svc.access.is_admin(uid) else \
        svc.containers.share_owners(uid)
    named = {vmid: svc.access.display(owner) for vmid, owner in owners.items()} \
        if owners is not None else None
    await reply(update, render.container_list(cts, named))


async def info(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ref = parse_ct_command(command_args(update)).ref
    svc = services(context)
    ct = await svc.containers.resolve(update.effective_user.id, ref)
    await reply(update, render.container_card(ct, _owner(svc, ct)),
                reply_markup=render.card_buttons(ct))


def _owner(svc, ct: Container) -> str | None:
    owner = svc.containers.owner_of(ct.vmid)
    return svc.access.display(owner) if owner is not None else None


# ---- power and delete -------------------------------------------------------------------------

PROGRESS_WORD = {"start": "Starting", "stop": "Stopping", "shutdown": "Shutting down",
                 "reboot": "Rebooting"}


async def power_in_background(context, actor_id: int, live: LiveMessage, ct: Container,
                              action: str) -> None:
    svc = services(context)

    async def work() -> str:
        now = await svc.containers.power(actor_id, ct.vmid, action, ct.identity)
        return f"✅ CT {now.vmid} {now.hostname} is {now.status} on {now.node}."

    context.application.create_task(run_reporting(live, work()))


def power_command(action: str):
    async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        ref = parse_ct_command(command_args(update), command=f"ct_{action}").ref
        ct = await services(context).containers.resolve(update.effective_user.id, ref,
                                                        "ct.power")
        live = await LiveMessage.post(context.bot, update.effective_chat.id,
                                      f"⏳ {PROGRESS_WORD[action]} CT {ct.vmid} {ct.hostname}…")
        await power_in_background(context, update.effective_user.id, live, ct, action)

    handler.__name__ = f"ct_{action}"
    return handler


async def delete_or_ask(update: Update, context, ct: Container,
                        live: LiveMessage | None = None) -> None:
    """Delete now (admins), or post the request for approval (users). `live`: a message to
    reuse for the progress, e.g. the card whose button was pressed."""
    svc = services(context)
    needs_approval = svc.containers.delete_needs_approval(update.effective_user.id)
    if needs_approval and live is not None:
        await live.edit(f"CT {ct.vmid} {ct.hostname}: deletion sent for approval.")
    await run_or_ask(update, context, "delete",
                     {"vmid": ct.vmid, "identity": ct.identity, "hostname": ct.hostname},
                     f"delete CT {ct.vmid} {ct.hostname}", needs_approval=needs_approval,
                     live=live)


@deferrable("delete")
async def run_delete(context, asker: Asker, payload: dict) -> None:
    vmid, hostname = payload["vmid"], payload["hostname"]
    title = f"⏳ Deleting CT {vmid} {hostname}…"
    live = asker.live or await LiveMessage.post(context.bot, asker.chat_id, title)
    await live.edit(title)

    async def work() -> str:
        svc = services(context)
        owner = svc.containers.owner_of(vmid)
        await svc.containers.delete(asker.user_id, vmid, payload.get("identity"))
        if owner is not None and owner != asker.user_id:  # not a surprise to find later
            try:
                await context.bot.send_message(
                    owner, f"🗑 Your CT {vmid} {hostname} was deleted by "
                           f"{svc.access.display(asker.user_id)}.")
            except TelegramError as exc:
                log.warning("could not tell the owner of CT %s of its deletion: %s", vmid, exc)
        return f"🗑 CT {vmid} {hostname} is deleted."

    context.application.create_task(run_reporting(live, work()))


async def ct_delete(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ref = parse_ct_command(command_args(update), command="ct_delete").ref
    svc = services(context)
    uid = update.effective_user.id
    ct = await svc.containers.resolve(uid, ref, "ct.delete")
    if svc.containers.delete_needs_confirmation(uid, ct):  # the card's own Yes / Cancel
        owner = _owner(svc, ct)
        whose = f"{owner}'s" if owner and svc.containers.owner_of(ct.vmid) != uid else "yours"
        await reply(update, f"Delete CT {ct.vmid} {ct.hostname} ({whose}, {ct.status} on "
                            f"{ct.node})? This cannot be undone."
                            + (" Its owner will be told." if whose != "yours" else ""),
                    reply_markup=render.confirm_delete_buttons(ct))
        return
    await delete_or_ask(update, context, ct)


# ---- the card's buttons: ct:<vmid>:<action>[:<identity>] --------------------------------------

# What render.card_buttons and confirm_delete_buttons write: a vmid in PVE's range, an action,
# and the CT's identity marker (none for a CT the bot did not make).
_CARD_BUTTON = re.compile(
    r"ct:([1-9][0-9]{2,8}):(info|start|stop|shutdown|reboot|rm|rm-yes)(?::([0-9a-f]{12}))?")


async def on_card_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A card's buttons name the CT by vmid and identity: a card shown for a CT that has been
    replaced since acts on nothing."""
    query = update.callback_query
    vmid_text, action, marker = button_fields(update, _CARD_BUTTON)
    svc = services(context)
    uid = update.effective_user.id
    identity = f"stratus-{marker}" if marker else None
    use_case = {"rm": "ct.delete", "rm-yes": "ct.delete"}.get(
        action, "ct.power" if action in PROGRESS_WORD else "ct.see")
    # checks the presser, not the sender; and that the CT is the card's
    ct = await svc.containers.resolve(uid, int(vmid_text), use_case, identity)
    message = query.message
    live = LiveMessage(context.bot, message.chat_id, message.message_id)
    if action == "info":
        await query.answer()
        await live.edit(render.container_card(ct, _owner(svc, ct)),
                        reply_markup=render.card_buttons(ct))
    elif action in PROGRESS_WORD:
        await query.answer()
        await live.edit(f"⏳ {PROGRESS_WORD[action]} CT {ct.vmid} {ct.hostname}…")
        await power_in_background(context, uid, live, ct, action)
    elif action == "rm":
        await query.answer()
        await live.edit(f"Delete CT {ct.vmid} {ct.hostname}? This cannot be undone.",
                        reply_markup=render.confirm_delete_buttons(ct))
    elif action == "rm-yes":
        await query.answer()
        await delete_or_ask(update, context, ct, live)
    else:
        await query.answer("This button is not valid any more.", show_alert=True)
