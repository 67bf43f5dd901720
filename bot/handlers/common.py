"""What every handler shares: the guard that checks who asks, error replies, live messages.

The guard is the one place that turns a role requirement into a check on the *presser* (for a
button) or the sender (for a command), and the one place that turns our errors into replies.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot.metrics import TIMINGS
from bot.parsing import UsageError
from bot.proxmox.errors import ProxmoxError
from bot.scaler.notify import merge
from bot.services import Role, Services
from bot.services.access import AccessService
from bot.services.errors import NothingToDo, ServiceError
from bot.services.ratelimit import Admission, Verdict

log = logging.getLogger(__name__)

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]

REFUSAL = (
    "Sorry, you are not registered to use this bot. Ask an admin to grant you access; "
    "your Telegram id is {uid}."
)


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.application.bot_data["services"]


def new_ref() -> str:
    return secrets.token_hex(3).upper()


STALE_BUTTON = "This button is not valid any more."
# Telegram's limit on callback_data: longer data comes from no button of ours.
CALLBACK_DATA_MAX_BYTES = 64


class StaleButton(Exception):
    """Callback data that no current button of ours carries: forged, cut short, or from an
    older version of the bot. The presser is told so; nothing is logged (it is not a bug)."""

    def __str__(self) -> str:
        return STALE_BUTTON


def button_fields(update: Update, shape: re.Pattern[str]) -> tuple[str, ...]:
    """The groups of the pressed button's data, which must match `shape` whole (fullmatch:
    a pattern's `$` would also let a trailing newline through), else StaleButton. Empty data
    reaches every button handler (PTB matches no pattern against it), so each parses here."""
    data = update.callback_query.data
    if not isinstance(data, str) or len(data.encode("utf-8", "replace")) > CALLBACK_DATA_MAX_BYTES:
        raise StaleButton
    match = shape.fullmatch(data)
    if match is None:
        raise StaleButton
    return match.groups()


def user_error_text(exc: BaseException) -> str | None:
    """The message a person sees for an error we expect, or None for a bug."""
    if isinstance(exc, UsageError | ServiceError | ProxmoxError | StaleButton):
        return str(exc)
    return None


# Set by `guarded` around each handler, so that background work the handler starts (which
# copies the context) words its errors for whoever reads them: see `error_text_for`.
ACCESS: ContextVar[AccessService | None] = ContextVar("stratus_access", default=None)


def error_text_for(exc: BaseException, reader_id: int | None,
                   access: AccessService | None = None) -> str | None:
    """`user_error_text`, as `reader_id` (a user, or a chat) may read it: only admins see
    where Proxmox is and the bot's token id (AccessService.shown_to)."""
    text = user_error_text(exc)
    access = access or ACCESS.get()
    if text is None or access is None:
        return text
    return access.shown_to(reader_id, text)


async def reply(update: Update, text: str, **kwargs) -> None:
    """Answer a command with a message (several, split between lines, when longer than
    Telegram's 4096 characters; buttons go on the last), or a button press with an alert."""
    if update.callback_query is not None:
        try:
            await update.callback_query.answer(text[:200], show_alert=True)
            return
        except BadRequest:
            # The press was answered already (e.g. "Applying…" before the work failed), or
            # too long ago: Telegram takes one answer only. Say it under the card instead.
            if update.effective_message is None:
                raise
    if update.effective_message is not None:
        *first, last = merge(text.split("\n"))
        for chunk in first:
            await update.effective_message.reply_text(chunk)
        await update.effective_message.reply_text(last, **kwargs)


async def refuse_unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = update.effective_user
    await reply(update, REFUSAL.format(uid=user.id))
    svc = services(context)
    # A press's effective_message is the bot's own message (maybe someone's card): not what
    # they tried. Their text is cut short: the notice is sent once and must fit.
    if update.callback_query is not None or update.effective_message is None:
        tried = "a button"
    else:
        text = update.effective_message.text or ""
        tried = repr(text if len(text) <= 200 else text[:200] + "…")
    if svc.access.first_refusal(user.id, tried):
        who = f"{user.full_name}" + (f" (@{user.username})" if user.username else "")
        await context.bot.send_message(
            svc.approval_chat_id,
            f"Unknown user {who}, id {user.id}, tried {tried}.\n"
            f"To let them in: /grant {user.id}",
        )


async def hold_back(update: Update, role: Role, admission: Admission) -> None:
    """Someone over their limit: no work; told once to slow down, else nothing at all. A
    user's press is still answered, empty, so their button stops spinning: answerCallbackQuery
    names no chat, so it does not wait in the 30 messages/s limit; a stranger gets nothing."""
    if admission.verdict is Verdict.SLOW_DOWN:
        await reply(update, admission.message)
    elif update.callback_query is not None and role is not Role.NONE:
        try:
            await update.callback_query.answer()
        except TelegramError as exc:  # too old already: nothing left to stop
            log.debug("could not answer a held-back press: %s", exc)


def guarded(required: Role) -> Callable[[Handler], Handler]:
    """Run the handler only for users holding `required`, within their flood limits
    (bot/services/ratelimit.py); answer our errors in plain words."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def run(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            user = update.effective_user
            if user is None:
                return  # channel posts and the like: nobody to answer
            svc = services(context)
            role = svc.access.role_of(user.id)
            admission = svc.limiter.admit(user.id, role)
            if admission.verdict is not Verdict.SERVE:
                await hold_back(update, role, admission)
                return
            svc.access.saw(user.id, user.full_name, user.username)
            if role is Role.NONE:
                if not getattr(handler, "welcomes_strangers", False):
                    await refuse_unknown(update, context)
                    return
            elif role < required:
                await reply(update, "This is for admins only. /help lists what you can do.")
                return
            access = services(context).access
            token = ACCESS.set(access)
            chat = update.effective_chat
            try:
                with TIMINGS.measure(handler.__name__, chat.id if chat else None):
                    await handler(update, context)
            except Exception as exc:  # noqa: BLE001 - every error gets an answer
                # The reader is the chat: the answer may land there (an alert falls back to
                # a message), and a group is read by users.
                text = error_text_for(exc, chat.id if chat else None, access)
                if text is None:
                    raise  # the application's error handler logs it under a ref
                await reply(update, text)
            finally:
                ACCESS.reset(token)

        run.required_role = required  # read by /help and by tests
        return run

    return wrap


class LiveMessage:
    """A message that tells how a long operation advances, edited in place.

    Progress steps show under the operation's title. Steps closer together than `min_interval`
    are skipped (a person cannot read faster, and Telegram limits edits); the final text is
    always sent.
    """

    def __init__(self, bot, chat_id: int, message_id: int, title: str = "",
                 min_interval: float = 1.0) -> None:
        self._bot = bot
        self.chat_id = chat_id
        self.message_id = message_id
        self.title = title
        self._min_interval = min_interval
        self._last_edit = 0.0
        self._last_text: str | None = title or None

    @classmethod
    async def post(cls, bot, chat_id: int, title: str, **kwargs) -> LiveMessage:
        message = await bot.send_message(chat_id, title)
        return cls(bot, message.chat_id, message.message_id, title, **kwargs)

    async def __call__(self, step: str) -> None:
        """A progress step: shown unless another was shown less than `min_interval` ago."""
        if time.monotonic() - self._last_edit >= self._min_interval:
            await self.edit(f"{self.title}\n{step}" if self.title else step)

    async def edit(self, text: str, reply_markup=None) -> None:
        if text == self._last_text and reply_markup is None:
            return
        try:
            await self._bot.edit_message_text(
                text, chat_id=self.chat_id, message_id=self.message_id, reply_markup=reply_markup)
        except BadRequest as exc:
            if "not modified" not in str(exc):
                raise
        self._last_text = text
        self._last_edit = time.monotonic()


@dataclass
class BackgroundWatch:
    """Follows the background work started while it is current (see WATCH), and calls
    `done(ok)` once all of it has ended: an approved action is recorded as carried out or
    failed only when its work is over, not when the executor merely started it."""

    done: Callable[[bool], None]
    started: int = 0
    running: int = 0
    ok: bool = True

    def begin(self) -> None:
        self.started += 1
        self.running += 1

    def end(self, ok: bool) -> None:
        self.ok = self.ok and ok
        self.running -= 1
        if self.running == 0:
            self.done(self.ok)


# Set around an approval's executor; tasks it creates copy the context, so run_reporting sees it.
WATCH: ContextVar[BackgroundWatch | None] = ContextVar("stratus_background_watch", default=None)


def run_reporting(live: LiveMessage, work: Awaitable[str]) -> Coroutine[Any, Any, None]:
    """Await background work and put its outcome (or a clear error) into the live message.

    Not itself a coroutine function: the work is counted by the current BackgroundWatch the
    moment it is handed over, before the task that runs it starts."""
    watch = WATCH.get()
    if watch is not None:
        watch.begin()
    return _report(live, work, watch)


async def _report(live: LiveMessage, work: Awaitable[str], watch: BackgroundWatch | None) -> None:
    ok = False
    try:
        try:
            final = await work
        except Exception as exc:  # noqa: BLE001 - background work must always end with a message
            text = error_text_for(exc, live.chat_id)
            if text is None:
                ref = new_ref()
                log.exception("background work failed (ref %s)", ref)
                text = f"Something went wrong (ref {ref}). An admin can find it in the log."
            await live.edit(f"{'ℹ️' if isinstance(exc, NothingToDo) else '❌'} {text}")
            return
        ok = True
        await live.edit(final)
    finally:
        if watch is not None:
            watch.end(ok)


def command_args(update: Update) -> str:
    """The text after the command word, quotes intact (context.args has lost them)."""
    text = update.effective_message.text or ""
    return text.partition(" ")[2].strip() if text.startswith("/") else text.strip()
