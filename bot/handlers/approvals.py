"""Approval cards in the admins' chat, and the one flow of every action that may wait for one.

An action that can wait for approval registers how it is carried out (`@deferrable("delete")`):
`run_or_ask` runs it at once or files the request, and an approval runs the very same code with
the same payload, which names the object by its identity (its vmid *and* its marker), so what
is approved is what was asked for, or nothing. This module knows nothing of containers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.handlers import render
from bot.handlers.common import (
    ACCESS,
    WATCH,
    BackgroundWatch,
    LiveMessage,
    button_fields,
    command_args,
    reply,
    services,
)
from bot.parsing_backups import parse_no_args
from bot.store import Approval

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Asker:
    """Who asked and where the outcome goes: the person now, or the requester once approved;
    `live` is a message to reuse for the progress (the card whose button was pressed)."""

    user_id: int
    chat_id: int
    live: LiveMessage | None = None
    approved: bool = False  # an admin approved it (the service refuses what needs that else)


Run = Callable[[ContextTypes.DEFAULT_TYPE, Asker, dict], Awaitable[None]]
RUNS: dict[str, Run] = {}

# Why a request of each kind waits for an admin when the service gave no measured reason
# (bot/services/policy.py: Approve.USERS, ALWAYS), for the card and the requester.
WHY = {
    "delete": "a user's delete waits for an admin",
    "backup_del": "a user's backup deletion waits for an admin",
    "restore_into": "a restore overwrites a container: a user's waits for an admin",
    "schedule_del": "a user's schedule deletion waits for an admin",
    "scale_delete": "a user's scaling group deletion waits for an admin",
    "bridge_del": "deleting a bridge always waits for an admin's approval, even an admin's",
}


def deferrable(action: str) -> Callable[[Run], Run]:
    """Register how `action` is carried out, now or once approved, from its payload."""

    def register(fn: Run) -> Run:
        RUNS[action] = fn
        return fn

    return register


async def run_or_ask(update: Update, context: ContextTypes.DEFAULT_TYPE, action: str,
                     payload: dict, summary: str, *, needs_approval: bool,
                     reasons: tuple[str, ...] = (), live: LiveMessage | None = None) -> None:
    """Carry `action` out now, or file it for an admin (the service said which). `live`: a
    message the run may reuse for its progress."""
    if needs_approval:
        await submit(update, context, action, payload, summary, reasons)
        return
    asker = Asker(update.effective_user.id, update.effective_chat.id, live)
    await RUNS[action](context, asker, payload)


async def submit(
    update: Update, context: ContextTypes.DEFAULT_TYPE, action: str, payload: dict, summary: str,
    reasons: tuple[str, ...] = (),
) -> Approval:
    """Store the request, post its card to the approval chat, tell the requester it waits."""
    user = update.effective_user
    reasons = tuple(reasons) or ((WHY[action],) if action in WHY else ())
    payload = {**payload, "why": list(reasons)}
    approval = await file_request(context, user.id, user.full_name, action, payload, summary)
    why = f" ({'; '.join(reasons)})" if reasons else ""
    # A message, not reply(): a button press may have been answered already.
    await context.bot.send_message(
        update.effective_chat.id,
        f"⏳ Waiting for an admin's approval{why}: {summary}. "
        f"I will tell you the outcome. Request {approval.id}.")
    return approval


async def file_request(context, requester_id: int, requester_name: str, action: str,
                       payload: dict, summary: str) -> Approval:
    """Store the request and post its card to the approval chat: how every door files one
    (the chat's `submit`, the REST door's desk). The outcome goes to the requester's private
    chat, whichever door asked."""
    svc = services(context)
    payload = {**payload, "requester_name": requester_name}
    approval = svc.approvals.request(action, payload, requester_id, requester_id, summary)
    card = await context.bot.send_message(
        svc.approval_chat_id, render.approval_card(approval),
        reply_markup=render.approval_buttons(approval))
    svc.approvals.add_card(approval.id, card.chat_id, card.message_id)
    return approval


async def _close_cards(context, approval: Approval, outcome: str) -> None:
    for chat_id, message_id in approval.message_refs:
        try:
            await context.bot.edit_message_text(
                f"{render.approval_card(approval)}\n{outcome}", chat_id=chat_id,
                message_id=message_id)
        except TelegramError as exc:  # a deleted card must not stop the decision
            log.warning("could not update approval card %s: %s", approval.id, exc)


async def _tell_requester(context, approval: Approval, text: str) -> None:
    try:
        await context.bot.send_message(approval.requester_chat_id, text)
    except TelegramError as exc:
        log.warning("could not tell requester of %s: %s", approval.id, exc)


# render.approval_buttons; approval ids are token_hex(4).
_DECISION_BUTTON = re.compile(r"ap:([0-9a-f]{8}):(yes|no)")


async def on_decision(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`ap:<id>:yes|no`. The store's compare-and-set makes the first decision the only one."""
    query = update.callback_query
    approval_id, verdict = button_fields(update, _DECISION_BUTTON)
    svc = services(context)
    admin = update.effective_user
    approval = svc.approvals.decide(approval_id, verdict == "yes", admin.id)  # Conflict -> alert
    await query.answer(f"Request {'approved' if verdict == 'yes' else 'rejected'}.")
    await carry_out_decision(context, approval, admin.id, admin.full_name)


async def carry_out_decision(context, approval: Approval, admin_id: int, admin_name: str) -> None:
    """After `ApprovalService.decide`, whichever door decided: the cards say who decided,
    the requester is told, and an approved action runs."""
    approved = approval.status == "approved"
    word = "approved" if approved else "rejected"
    await _close_cards(context, approval, f"{'✅' if approved else '🚫'} {word.capitalize()} "
                                          f"by {admin_name} ({admin_id})")
    await _tell_requester(context, approval,
                          f"Your request {approval.id} ({approval.summary}) was {word}.")
    if approved:
        await run_executor(context, approval)


async def run_executor(context, approval: Approval) -> None:
    """Run an approved action and record its end ("done"/"failed") once its background work,
    if any, is over; until then it stays "approved", which a restart reports as interrupted."""
    approvals = services(context).approvals
    watch = BackgroundWatch(done=lambda ok: approvals.finish(approval.id, ok))
    token = WATCH.set(watch)
    asker = Asker(approval.requester_id, approval.requester_chat_id, approved=True)
    try:
        await RUNS[approval.action](context, asker, approval.payload)
    except BaseException:
        if watch.started == 0:
            approvals.finish(approval.id, False)
        raise
    finally:
        WATCH.reset(token)
    if watch.started == 0:  # the run did all its work itself
        approvals.finish(approval.id, True)


async def pending(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    parse_no_args(command_args(update), "pending")
    items = services(context).approvals.pending(update.effective_user.id)
    if not items:
        await reply(update, "No requests are waiting for approval.")
        return
    for approval in items:
        await update.effective_message.reply_text(
            render.approval_card(approval), reply_markup=render.approval_buttons(approval))


async def expire_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """JobQueue: close requests past their deadline and tell the requesters."""
    for approval in services(context).approvals.expire_due():
        await _close_cards(context, approval, "⌛ Expired without a decision.")
        await _tell_requester(context, approval,
                              f"Your request {approval.id} ({approval.summary}) expired without "
                              f"a decision. Ask again if you still need it.")


async def report_cancelled(context, cancelled: list[Approval]) -> None:
    """Requests cancelled because their requester's access was revoked: their cards say so
    (nobody can approve them any more) and the requester is told."""
    for approval in cancelled:
        await _close_cards(context, approval, "🚫 Cancelled: requester's access revoked")
        await _tell_requester(context, approval,
                              f"Your request {approval.id} ({approval.summary}) was cancelled: "
                              f"your access to this bot was revoked.")


async def report_interrupted(context: ContextTypes.DEFAULT_TYPE) -> None:
    """At start: approved actions a stop cut short are not run again behind anyone's back;
    the requester and the approval chat are told, and whoever still wants it asks again."""
    for approval in services(context).approvals.interrupt_unfinished():
        note = ("⚠️ Approved, but not carried out: the bot restarted before it finished. "
                "Check the current state; the requester may ask again.")
        await _close_cards(context, approval, note)
        await _tell_requester(context, approval,
                              f"⚠️ Your request {approval.id} ({approval.summary}) was approved "
                              f"but not carried out to the end: the bot restarted meanwhile. "
                              f"Check the current state (/list) and ask again if you still "
                              f"need it.")


class ChatDesk:
    """The approval flow as the REST door uses it (bot/api): requests are filed, decided and
    cancelled exactly as in the chat (cards in the approval chat, the requester told in their
    private chat, an approved action run by the same `@deferrable` code)."""

    def __init__(self, application) -> None:
        self._app = application

    def _context(self):
        return self._app.context_types.context(application=self._app)

    async def file(self, requester_id: int, requester_name: str, action: str, payload: dict,
                   summary: str) -> Approval:
        return await file_request(self._context(), requester_id, requester_name, action,
                                  payload, summary)

    async def decide(self, admin_id: int, admin_name: str, approval_id: str,
                     approve: bool) -> Approval:
        svc = services(self._context())
        approval = svc.approvals.decide(approval_id, approve, admin_id)
        token = ACCESS.set(svc.access)  # errors worded for their reader, as under the guard
        try:
            await carry_out_decision(self._context(), approval, admin_id, admin_name)
        except Exception:  # noqa: BLE001 - decided already; the run's failure is its status
            log.exception("approved action %s failed to run", approval.id)
        finally:
            ACCESS.reset(token)
        return svc.approvals.get(approval.id)

    async def cancelled(self, approvals: list[Approval]) -> None:
        await report_cancelled(self._context(), approvals)
