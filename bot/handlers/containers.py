"""Container commands and buttons: parse, check who asks, call a service, reply."""

from __future__ import annotations

import logging
import re

from telegram import Update
from telegram.ext import ContextTypes

from bot.handlers import render
from bot.handlers.approvals import executor, submit
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
from bot.store import Approval

log = logging.getLogger(__name__)


# ---- seeing -----------------------------------------------------------------------------------

async def list_containers(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_list(command_args(update))
    svc = services(context)
    uid = update.effective_user.id
    cts = await svc.containers.visible(uid, owner_id=args.owner_id, node=args.node,
                                       status=args.status)
    owners = svc.store.ownership.all() if svc.access.is_admin(uid) else None
    await reply(update, render.container_list(cts, owners))


async def info(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ref = parse_ct_command(command_args(update)).ref
    svc = services(context)
    ct = await svc.containers.resolve(update.effective_user.id, ref)
    await reply(update, render.container_card(ct, svc.containers.owner_of(ct.vmid)),
                reply_markup=render.card_buttons(ct))


# ---- power and delete -------------------------------------------------------------------------

PROGRESS_WORD = {"start": "Starting", "stop": "Stopping", "shutdown": "Shutting down",
                 "reboot": "Rebooting"}


async def power_in_background(context, actor_id: int, live: LiveMessage, vmid: int,
                              action: str) -> None:
    svc = services(context)

    async def work() -> str:
        ct = await svc.containers.power(actor_id, vmid, action)
        return f"✅ CT {ct.vmid} {ct.hostname} is {ct.status} on {ct.node}."

    context.application.create_task(run_reporting(live, work()))


def power_command(action: str):
    async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        ref = parse_ct_command(command_args(update), command=f"ct_{action}").ref
        ct = await services(context).containers.resolve(update.effective_user.id, ref)
        live = await LiveMessage.post(context.bot, update.effective_chat.id,
                                      f"⏳ {PROGRESS_WORD[action]} CT {ct.vmid} {ct.hostname}…")
        await power_in_background(context, update.effective_user.id, live, ct.vmid, action)

    handler.__name__ = f"ct_{action}"
    return handler


async def delete_or_ask(update: Update, context, ct: Container,
                        live: LiveMessage | None = None) -> None:
    """Delete now (admins), or post the request for approval (users). `live`: a message to
    reuse for the progress, e.g. the card whose button was pressed."""
    svc = services(context)
    uid = update.effective_user.id
    if svc.containers.delete_needs_approval(uid):
        if live is not None:
            await live.edit(f"CT {ct.vmid} {ct.hostname}: deletion sent for approval.")
        await submit(update, context, "delete",
                     {"vmid": ct.vmid, "hostname": ct.hostname, "requester_id": uid},
                     f"delete CT {ct.vmid} {ct.hostname}")
        return
    title = f"⏳ Deleting CT {ct.vmid} {ct.hostname}…"
    if live is None:
        live = await LiveMessage.post(context.bot, update.effective_chat.id, title)
    else:
        await live.edit(title)
    delete_in_background(context, uid, live, ct.vmid, ct.hostname)


def delete_in_background(context, actor_id: int, live: LiveMessage, vmid: int,
                         hostname: str) -> None:
    async def work() -> str:
        await services(context).containers.delete(actor_id, vmid)
        return f"🗑 CT {vmid} {hostname} is deleted."

    context.application.create_task(run_reporting(live, work()))


@executor("delete")
async def execute_delete(context, approval: Approval) -> None:
    vmid, hostname = approval.payload["vmid"], approval.payload["hostname"]
    live = await LiveMessage.post(context.bot, approval.requester_chat_id,
                                  f"⏳ Deleting CT {vmid} {hostname}…")
    delete_in_background(context, approval.payload["requester_id"], live, vmid, hostname)


async def ct_delete(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ref = parse_ct_command(command_args(update), command="ct_delete").ref
    ct = await services(context).containers.resolve(update.effective_user.id, ref)
    await delete_or_ask(update, context, ct)


# ---- the card's buttons: ct:<vmid>:<action> ---------------------------------------------------

# What render.card_buttons and confirm_delete_buttons write: a vmid in PVE's range, an action.
_CARD_BUTTON = re.compile(
    r"ct:([1-9][0-9]{2,8}):(info|start|stop|shutdown|reboot|rm|rm-yes)")


async def on_card_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    vmid_text, action = button_fields(update, _CARD_BUTTON)
    svc = services(context)
    uid = update.effective_user.id
    ct = await svc.containers.resolve(uid, int(vmid_text))  # checks the presser, not the sender
    message = query.message
    live = LiveMessage(context.bot, message.chat_id, message.message_id)
    if action == "info":
        await query.answer()
        await live.edit(render.container_card(ct, svc.containers.owner_of(ct.vmid)),
                        reply_markup=render.card_buttons(ct))
    elif action in PROGRESS_WORD:
        await query.answer()
        await live.edit(f"⏳ {PROGRESS_WORD[action]} CT {ct.vmid} {ct.hostname}…")
        await power_in_background(context, uid, live, ct.vmid, action)
    elif action == "rm":
        await query.answer()
        await live.edit(f"Delete CT {ct.vmid} {ct.hostname}? This cannot be undone.",
                        reply_markup=render.confirm_delete_buttons(ct.vmid))
    elif action == "rm-yes":
        await query.answer()
        await delete_or_ask(update, context, ct, live)
    else:
        await query.answer("This button is not valid any more.", show_alert=True)
