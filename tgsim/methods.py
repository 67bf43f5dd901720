"""The Bot API methods the stand-in answers, one function each, registered in ``METHODS``.

Each takes the stand-in and the request's Params and returns the ``result`` value, or raises
ApiError with Telegram's own status and description. Validation follows what Telegram checks
and what bots commonly get wrong; unknown extra parameters are ignored, as Telegram does.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tgsim import formatting
from tgsim.model import JSON, ApiError, Chat, FileBlob, Message, bad_request
from tgsim.params import Params

if TYPE_CHECKING:
    from tgsim.server import TelegramStandIn

Handler = Callable[["TelegramStandIn", Params], Awaitable[Any]]
METHODS: dict[str, tuple[str, Handler]] = {}  # lower-case name -> (canonical name, handler)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes
NOT_MODIFIED = ("message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message")
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
CHAT_ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice",
                "upload_voice", "upload_document", "choose_sticker", "find_location",
                "record_video_note", "upload_video_note"}
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")


def method(name: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        METHODS[name.lower()] = (name, func)
        return func
    return register


# --- shared checks ---------------------------------------------------------------------------

def _message(tg: TelegramStandIn, p: Params, missing: str) -> tuple[Chat, Message]:
    if p.has("inline_message_id") and not p.has("chat_id"):
        raise bad_request("MESSAGE_ID_INVALID")  # inline messages are not simulated
    chat = tg._chat_for_bot(p)
    message_id = p.int("message_id", required=True)
    msg = chat.messages_by_id.get(message_id)
    if msg is None or msg.deleted:
        raise bad_request(missing)
    return chat, msg


def _inline_markup(p: Params) -> JSON | None:
    """The inline keyboard the bot sent, validated; None for none (or a reply keyboard, which
    Telegram does not echo back in the Message)."""
    markup = p.json("reply_markup", "reply keyboard markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad_request("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array"
                          " of Arrays")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request("can't find field \"text\"")
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                    raise bad_request("BUTTON_DATA_INVALID")
            elif "url" in button:
                if not re.match(r"(https?|tg)://\S+$", str(button["url"])):
                    raise bad_request("BUTTON_URL_INVALID")
            elif not set(button) - {"text"}:
                raise bad_request("text buttons are unallowed in the inline keyboard")
    if not any(rows):
        return None
    return {"inline_keyboard": rows}


def _formatted(p: Params, name: str, limit: int, too_long: str) -> tuple[str, list[JSON], str]:
    """(plain text, entities, source) of the text or caption parameter ``name``."""
    source = p.str(name) or ""
    plain, entities = formatting.parse(source, p.str("parse_mode"))
    if p.has(f"{'entities' if name == 'text' else 'caption_entities'}") and not entities:
        given = p.json("entities" if name == "text" else "caption_entities")
        entities = given if isinstance(given, list) else []
    if len(plain) > limit:
        raise bad_request(too_long)
    return plain, entities, source


def _text(p: Params) -> tuple[str, list[JSON], str]:
    source = p.str("text")
    if source is None or not source.strip():
        raise bad_request("message text is empty")
    plain, entities, source = _formatted(p, "text", MAX_TEXT, "message is too long")
    if not plain.strip():
        raise bad_request("message text is empty")
    return plain, entities, source


def _reply_to(chat: Chat, p: Params) -> Message | None:
    params = p.json("reply_parameters", "reply parameters")
    if isinstance(params, dict):
        target, allow = params.get("message_id"), bool(params.get("allow_sending_without_reply"))
    else:
        target, allow = p.int("reply_to_message_id"), p.bool("allow_sending_without_reply")
    if target is None:
        return None
    msg = chat.messages_by_id.get(int(target))
    if msg is None or msg.deleted:
        if allow:
            return None
        raise bad_request("message to be replied not found")
    return msg


def _file(tg: TelegramStandIn, p: Params, name: str, *, image: bool) -> FileBlob:
    if name in p.uploads:
        up = p.uploads[name]
        if not up.data:
            raise bad_request("file must be non-empty")
        width = height = 0
        if image:
            width, height = _image_size(up.data)
        return tg._store_file(up.data, filename=up.filename, mime_type=up.content_type,
                              width=width, height=height)
    ref = p.str(name)
    if not ref:
        raise bad_request(f"there is no {name} in the request")
    if ref.startswith("attach://"):
        raise bad_request("wrong file identifier/HTTP URL specified")
    if ref in tg.files:
        return tg.files[ref]
    if re.match(r"https?://\S+$", ref):
        return tg._store_file(None, url=ref, width=1, height=1)
    raise bad_request("wrong file identifier/HTTP URL specified")


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG (read from IHDR); Telegram refuses what is not an image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:3] == b"\xff\xd8\xff" or data[:6] in (b"GIF87a", b"GIF89a") or data[8:12] == b"WEBP":
        return 1, 1  # accepted; dimensions are not decoded for these formats
    raise bad_request("IMAGE_PROCESS_FAILED")


def _scope_key(p: Params) -> str:
    scope = p.json("scope", "scope") or {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("can't parse BotCommandScope JSON object")
    return json.dumps(scope, sort_keys=True)


# --- the methods -----------------------------------------------------------------------------

@method("getMe")
async def get_me(tg: TelegramStandIn, p: Params) -> JSON:
    return {**tg.bot.to_api(), "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False, "can_connect_to_business": False,
            "has_main_web_app": False}


@method("getUpdates")
async def get_updates(tg: TelegramStandIn, p: Params) -> list[JSON]:
    allowed = p.json("allowed_updates", "allowed_updates")
    return await tg._long_poll(offset=p.int("offset"), limit=p.int("limit", 100),
                               wait=p.int("timeout", 0), allowed=allowed)


@method("deleteWebhook")
async def delete_webhook(tg: TelegramStandIn, p: Params) -> bool:
    if p.bool("drop_pending_updates"):
        tg._drop_pending()
    return True


@method("getWebhookInfo")
async def get_webhook_info(tg: TelegramStandIn, p: Params) -> JSON:
    return {"url": "", "has_custom_certificate": False,
            "pending_update_count": tg.pending_update_count}


@method("setMyCommands")
async def set_my_commands(tg: TelegramStandIn, p: Params) -> bool:
    commands = p.json("commands", "commands")
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > 100:
        raise bad_request("too many commands")
    for cmd in commands:
        if not isinstance(cmd, dict) or not COMMAND_NAME.fullmatch(str(cmd.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(cmd.get("description", ""))) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    key = (_scope_key(p), p.str("language_code") or "")
    tg._commands[key] = [{"command": c["command"], "description": c["description"]}
                         for c in commands]
    return True


@method("getMyCommands")
async def get_my_commands(tg: TelegramStandIn, p: Params) -> list[JSON]:
    return list(tg._commands.get((_scope_key(p), p.str("language_code") or ""), []))


@method("deleteMyCommands")
async def delete_my_commands(tg: TelegramStandIn, p: Params) -> bool:
    tg._commands.pop((_scope_key(p), p.str("language_code") or ""), None)
    return True


@method("sendMessage")
async def send_message(tg: TelegramStandIn, p: Params) -> JSON:
    chat = tg._chat_for_bot(p)
    plain, entities, source = _text(p)
    msg = tg._store_bot_message(chat, text=plain, entities=entities, source_text=source,
                                parse_mode=p.str("parse_mode"), reply_markup=_inline_markup(p),
                                reply_to=_reply_to(chat, p),
                                disable_notification=p.bool("disable_notification"))
    return msg.to_api()


@method("sendPhoto")
async def send_photo(tg: TelegramStandIn, p: Params) -> JSON:
    return _send_file(tg, p, "photo")


@method("sendDocument")
async def send_document(tg: TelegramStandIn, p: Params) -> JSON:
    return _send_file(tg, p, "document")


def _send_file(tg: TelegramStandIn, p: Params, kind: str) -> JSON:
    chat = tg._chat_for_bot(p)
    caption, entities, source = _formatted(p, "caption", MAX_CAPTION,
                                           "message caption is too long")
    markup, reply_to = _inline_markup(p), _reply_to(chat, p)
    blob = _file(tg, p, kind, image=kind == "photo")
    msg = tg._store_bot_message(chat, caption=caption if p.has("caption") else None,
                                entities=entities, source_text=source,
                                parse_mode=p.str("parse_mode"), reply_markup=markup,
                                reply_to=reply_to,
                                disable_notification=p.bool("disable_notification"),
                                **{kind: blob})
    return msg.to_api()


@method("getFile")
async def get_file(tg: TelegramStandIn, p: Params) -> JSON:
    blob = tg.files.get(p.str("file_id", required=True) or "")
    if blob is None:
        raise bad_request("invalid file_id")
    return {"file_id": blob.file_id, "file_unique_id": blob.file_unique_id,
            "file_size": blob.size, "file_path": f"files/{blob.file_id}"}


def _check_editable(msg: Message) -> None:
    if not msg.from_bot:
        raise bad_request("message can't be edited")


@method("editMessageText")
async def edit_message_text(tg: TelegramStandIn, p: Params) -> JSON:
    _, msg = _message(tg, p, "message to edit not found")
    _check_editable(msg)
    if msg.text is None:
        raise bad_request("there is no text in the message to edit")
    plain, entities, source = _text(p)
    # Like Telegram: an edit without reply_markup removes the inline keyboard.
    markup = _inline_markup(p)
    if (plain, entities, markup) == (msg.text, msg.entities, msg.reply_markup):
        raise bad_request(NOT_MODIFIED)
    tg._edit_bot_message(msg, text=plain, entities=entities, source_text=source,
                         parse_mode=p.str("parse_mode"), reply_markup=markup)
    return msg.to_api()


@method("editMessageCaption")
async def edit_message_caption(tg: TelegramStandIn, p: Params) -> JSON:
    _, msg = _message(tg, p, "message to edit not found")
    _check_editable(msg)
    if msg.text is not None:
        raise bad_request("there is no caption in the message to edit")
    caption, entities, source = _formatted(p, "caption", MAX_CAPTION,
                                           "message caption is too long")
    markup = _inline_markup(p)
    if (caption, entities, markup) == (msg.caption or "", msg.entities, msg.reply_markup):
        raise bad_request(NOT_MODIFIED)
    tg._edit_bot_message(msg, caption=caption, entities=entities, source_text=source,
                         parse_mode=p.str("parse_mode"), reply_markup=markup)
    return msg.to_api()


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(tg: TelegramStandIn, p: Params) -> JSON:
    _, msg = _message(tg, p, "message to edit not found")
    _check_editable(msg)
    markup = _inline_markup(p)
    if markup == msg.reply_markup:
        raise bad_request(NOT_MODIFIED)
    tg._edit_bot_message(msg, reply_markup=markup)
    return msg.to_api()


@method("deleteMessage")
async def delete_message(tg: TelegramStandIn, p: Params) -> bool:
    _, msg = _message(tg, p, "message to delete not found")
    tg._delete_message(msg)
    return True


@method("answerCallbackQuery")
async def answer_callback_query(tg: TelegramStandIn, p: Params) -> bool:
    query_id = p.str("callback_query_id", required=True) or ""
    text = p.str("text")
    if text is not None and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    tg._answer_callback(query_id, text=text, show_alert=p.bool("show_alert"), url=p.str("url"))
    return True


@method("sendChatAction")
async def send_chat_action(tg: TelegramStandIn, p: Params) -> bool:
    chat = tg._chat_for_bot(p)
    action = p.str("action", required=True)
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    chat.chat_action = action
    return True


@method("getChat")
async def get_chat(tg: TelegramStandIn, p: Params) -> JSON:
    chat = tg._chat_for_bot(p)
    gifts = {"unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
             "premium_subscription": False, "gifts_from_channels": False}
    return {**chat.to_api(), "accent_color_id": 0, "max_reaction_count": 11,
            "accepted_gift_types": gifts}


@method("close")
async def close(tg: TelegramStandIn, p: Params) -> bool:
    return True


@method("logOut")
async def log_out(tg: TelegramStandIn, p: Params) -> bool:
    return True


def unknown_method() -> ApiError:
    return ApiError(404, "Not Found")
