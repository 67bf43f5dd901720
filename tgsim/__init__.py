"""tgsim: a local stand-in of the Telegram Bot API for tests, benches and the terminal demo.

    async with TelegramStandIn() as tg:
        app = ApplicationBuilder().token(tg.token).base_url(tg.base_url) \
            .base_file_url(tg.base_file_url).build()
        alice = tg.user(1001, "Alice")
        await alice.send("/start")
        reply = await tg.wait_for(lambda m: m.chat_id == alice.id)

It is independent of bot/: only tests, benches and the demo launcher import it.
"""

from tgsim.model import (
    ApiCall,
    ApiError,
    Button,
    CallbackAnswer,
    Chat,
    Edit,
    FileBlob,
    Latency,
    Message,
    UpdateRecord,
    UserInfo,
)
from tgsim.server import DEFAULT_TOKEN, BotEvent, SimUser, TelegramStandIn
from tgsim.thread import TelegramStandInThread

__all__ = [
    "DEFAULT_TOKEN", "ApiCall", "ApiError", "BotEvent", "Button", "CallbackAnswer", "Chat",
    "Edit", "FileBlob", "Latency", "Message", "SimUser", "TelegramStandIn", "TelegramStandInThread", "UpdateRecord",
    "UserInfo",
]
