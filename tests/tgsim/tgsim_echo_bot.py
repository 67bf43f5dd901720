"""A tiny real PTB bot for the tgsim tests: commands, a button, a photo, an error handler."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from tgsim import TelegramStandIn


def tiny_png(width: int = 3, height: int = 2) -> bytes:
    """A valid PNG, built by hand so the test needs no imaging library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0,
                                                              0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@dataclass
class EchoBot:
    app: Application
    errors: list[BaseException] = field(default_factory=list)


def build_echo_app(tg: TelegramStandIn) -> EchoBot:
    app = (ApplicationBuilder().token(tg.token).base_url(tg.base_url)
           .base_file_url(tg.base_file_url).rate_limiter(AIORateLimiter(max_retries=3))
           .build())
    bot = EchoBot(app)

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Approve", callback_data="ok"),
                                          InlineKeyboardButton("Reject", callback_data="no")]])
        await update.effective_message.reply_text(
            f"Hello {update.effective_user.first_name}, decide:", reply_markup=keyboard)

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text("echo: " + " ".join(context.args))

    async def photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_photo(tiny_png(), caption="a chart")

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer(f"you chose {query.data}")
        await query.edit_message_text(f"Chosen: {query.data} by {query.from_user.first_name}")

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        bot.errors.append(context.error)

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("echo", echo))
    app.add_handler(CommandHandler("photo", photo))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_error_handler(on_error)
    return bot
