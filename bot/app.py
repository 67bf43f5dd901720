"""Builds the PTB Application from the command tables and the services."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.api.server import ApiServer
from bot.commands import BUTTONS, COMMANDS
from bot.handlers.approvals import ChatDesk, expire_job, report_interrupted
from bot.handlers.backups import backup_watch_job
from bot.handlers.common import STALE_BUTTON, guarded, new_ref, reply
from bot.proxmox.errors import ProxmoxError
from bot.scaler.controller import install as install_scaler
from bot.services import Role, Services
from bot.telegram_io import RetryingRateLimiter

log = logging.getLogger(__name__)


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    word = (update.effective_message.text or "").split()[0][:40]
    await reply(update, f"I don't know {word}. /help lists what you can do.")


async def plain_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await reply(update, "I answer commands. /help lists what you can do.")


async def stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.callback_query.answer(STALE_BUTTON, show_alert=True)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A bug: log the traceback under a short ref, and tell the person only the ref."""
    ref = new_ref()
    log.error("unhandled error (ref %s)", ref, exc_info=context.error)
    if isinstance(update, Update):
        try:
            await reply(update, f"Something went wrong (ref {ref}). An admin can find it in the log.")
        except TelegramError:
            log.warning("could not tell the user about ref %s", ref)


def command_menu(role: Role) -> list[BotCommand]:
    return [BotCommand(c.name, c.summary[:256]) for c in COMMANDS if c.role <= role]


async def publish_commands(app: Application) -> None:
    """setMyCommands: users see theirs everywhere; each admin sees all in their private chat."""
    await app.bot.set_my_commands(command_menu(Role.USER), scope=BotCommandScopeDefault())
    services: Services = app.bot_data["services"]
    for uid in services.access.admins():
        try:
            await app.bot.set_my_commands(command_menu(Role.ADMIN),
                                          scope=BotCommandScopeChat(uid))
        except TelegramError as exc:  # an admin who never wrote to the bot
            log.info("admin %s has no chat with the bot yet (%s)", uid, exc)


async def on_start(app: Application) -> None:
    """post_init, before any update is taken: the command menu, then approved actions that a
    stop cut short (reported, not re-run)."""
    await publish_commands(app)
    await report_interrupted(app.context_types.context(application=app))
    await reconcile_ownership(app.bot_data["services"])
    api = app.bot_data.get("api")
    if api is not None:  # the REST door, in this loop (bot/api)
        await api.start()


async def stop_api(app: Application) -> None:
    """post_stop (and `serving`'s exit): the REST door closes with the bot."""
    api = app.bot_data.get("api")
    if api is not None:
        await api.stop()


async def on_shutdown(app: Application) -> None:
    """post_shutdown (`python -m bot`): the last changes written, the data folder let go."""
    app.bot_data["services"].store.close()


async def reconcile_ownership(services: Services) -> None:
    """Ownership is of a CT's identity: records of CTs gone or replaced while the bot was
    down are forgotten, and records older than identity markers get one."""
    try:
        adopted = await services.containers.adopt_legacy()
        services.containers.reconcile(await services.containers.all_containers(),
                                      complete=True)
    except ProxmoxError as exc:  # Proxmox unreachable now: records are checked when seen
        log.warning("could not reconcile ownership at start: %s", exc)
        return
    if adopted:
        log.info("gave identity markers to %d container(s) owned before markers", adopted)


def build_application(
    token: str, services: Services, *, base_url: str | None = None,
    base_file_url: str | None = None, approval_check_s: float = 30.0,
    api_listen: tuple[str, int] | None = None,
) -> Application:
    builder = (
        ApplicationBuilder()
        .token(token)
        # Every call to Telegram waits until the changes made before it are on the disk.
        .rate_limiter(RetryingRateLimiter(before_send=services.store.durable))
        .concurrent_updates(True)
        .post_init(on_start)
        .post_stop(stop_api)
        .post_shutdown(on_shutdown)
    )
    if base_url:
        builder = builder.base_url(base_url).base_file_url(
            base_file_url or base_url.replace("/bot", "/file/bot"))
    app = builder.build()
    app.bot_data["services"] = services
    for command in COMMANDS:
        app.add_handler(CommandHandler(command.name, guarded(command.role)(command.handler)))
    for button in BUTTONS:
        app.add_handler(CallbackQueryHandler(guarded(button.role)(button.handler),
                                             pattern=button.pattern))
    # Last: whatever no handler above took still gets an answer.
    app.add_handler(MessageHandler(filters.COMMAND, guarded(Role.USER)(unknown_command)))
    app.add_handler(MessageHandler(filters.TEXT & filters.ChatType.PRIVATE,
                                   guarded(Role.USER)(plain_text)))
    app.add_handler(CallbackQueryHandler(guarded(Role.USER)(stale_button)))
    app.add_error_handler(on_error)
    app.job_queue.run_repeating(expire_job, interval=approval_check_s, first=1.0)
    app.job_queue.run_repeating(backup_watch_job, interval=services.backups.watch_interval_s,
                                first=min(services.backups.watch_interval_s, 5.0))
    controller = install_scaler(app, services)
    if api_listen is not None:
        app.bot_data["api"] = ApiServer(services, ChatDesk(app), api_listen,
                                        between_ticks=controller.between_ticks)
    return app


def freeze_startup_objects() -> None:
    """Once the application is built: what exists then (modules, the application and its
    services) lives as long as the process, so the cyclic garbage collector need not walk it
    again on every full pass. In bench/chat_load.py the first full pass over it held the event
    loop ~35 ms (every update in flight waited) and the passes cost ~0.1 ms per update."""
    gc.collect()  # what is garbage already is not kept forever
    gc.freeze()


@asynccontextmanager
async def serving(app: Application, poll_timeout: int = 10) -> AsyncIterator[Application]:
    """Run the bot inside another program's event loop (the demo, tests, benches), doing what
    `run_polling` does for `python -m bot`: initialize, post_init, poll; stop on exit."""
    async with app:
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        await app.updater.start_polling(poll_interval=0.0, timeout=poll_timeout,
                                        allowed_updates=Update.ALL_TYPES)
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
            await stop_api(app)
