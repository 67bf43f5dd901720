"""Values the stand-in keeps: chats, messages, files, calls, answers.

Everything here is plain data that tests read. ``to_api()`` methods build the exact JSON shapes
the Bot API returns (https://core.telegram.org/bots/api#available-types), because PTB parses them
with ``de_json`` and rejects objects that miss required fields.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]


class ApiError(Exception):
    """A Bot API error: answered as ``{"ok": false, "error_code": status, "description": ...}``."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def to_api(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(reason: str) -> ApiError:
    """Telegram prefixes every 400 description with "Bad Request: "."""
    return ApiError(400, f"Bad Request: {reason}")


@dataclass(frozen=True)
class UserInfo:
    """A Telegram account (a person, or the bot itself)."""

    id: int
    first_name: str
    username: str | None = None
    is_bot: bool = False
    language_code: str | None = None

    def to_api(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data


@dataclass(frozen=True)
class Button:
    """One inline keyboard button, as the bot sent it."""

    text: str
    callback_data: str | None = None
    url: str | None = None

    @classmethod
    def from_api(cls, data: JSON) -> Button:
        return cls(text=data.get("text", ""), callback_data=data.get("callback_data"),
                   url=data.get("url"))


@dataclass
class FileBlob:
    """An uploaded file (photo or document) with its bytes, so tests can inspect them."""

    file_id: str
    file_unique_id: str
    data: bytes | None
    filename: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0
    url: str | None = None  # when the bot sent an HTTP URL instead of bytes

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else 0

    @property
    def is_png(self) -> bool:
        return self.data is not None and self.data.startswith(b"\x89PNG\r\n\x1a\n")


@dataclass(frozen=True)
class Edit:
    """The content a message had before an edit, and when the edit happened."""

    at: float  # time.monotonic() of the edit
    date: int  # unix time of the edit (Message.edit_date)
    previous_text: str | None
    previous_reply_markup: JSON | None


@dataclass
class Chat:
    """A chat the bot can talk in: a user's private chat or a group created by the test."""

    id: int
    type: str  # "private" | "group" | "supergroup"
    title: str | None = None
    first_name: str | None = None
    username: str | None = None
    messages_by_id: dict[int, Message] = field(default_factory=dict, repr=False)
    next_message_id: int = 1
    chat_action: str | None = None  # the last sendChatAction

    def to_api(self) -> JSON:
        data: JSON = {"id": self.id, "type": self.type}
        for key in ("title", "first_name", "username"):
            value = getattr(self, key)
            if value:
                data[key] = value
        return data

    @property
    def messages(self) -> list[Message]:
        """The bot's messages in this chat, oldest first, with their current content."""
        return [m for m in self.messages_by_id.values() if m.from_bot and not m.deleted]

    @property
    def history(self) -> list[Message]:
        """Every message (users' and the bot's, deleted ones too), oldest first."""
        return list(self.messages_by_id.values())

    @property
    def last(self) -> Message | None:
        """The bot's newest message still present, or None."""
        msgs = self.messages
        return msgs[-1] if msgs else None

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass
class Message:
    """A message in a chat, sent by a simulated user or by the bot. Its fields change on edits."""

    chat: Chat
    message_id: int
    sender: UserInfo
    date: int
    sent_at: float  # time.monotonic() when the stand-in stored it
    text: str | None = None  # plain text, as Telegram shows it (markup removed)
    entities: list[JSON] = field(default_factory=list)
    source_text: str | None = None  # text exactly as the bot sent it (before parse_mode)
    parse_mode: str | None = None
    caption: str | None = None
    reply_markup: JSON | None = None  # only inline keyboards, like Telegram returns them
    photo: FileBlob | None = None
    document: FileBlob | None = None
    reply_to: Message | None = None
    disable_notification: bool = False
    edits: list[Edit] = field(default_factory=list)
    deleted: bool = False

    @property
    def chat_id(self) -> int:
        return self.chat.id

    @property
    def from_bot(self) -> bool:
        return self.sender.is_bot

    @property
    def edit_count(self) -> int:
        return len(self.edits)

    @property
    def edit_times(self) -> list[float]:
        """time.monotonic() of each edit, oldest first."""
        return [e.at for e in self.edits]

    @property
    def buttons(self) -> list[list[Button]]:
        """The inline keyboard, row by row (empty when there is none)."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard", [])
        return [[Button.from_api(b) for b in row] for row in rows]

    @property
    def flat_buttons(self) -> list[Button]:
        """All buttons in reading order: the numbering the terminal chat shows (1-based)."""
        return [b for row in self.buttons for b in row]

    @property
    def content(self) -> str:
        """Text or caption, whichever the message has ("" for neither)."""
        return self.text if self.text is not None else (self.caption or "")

    def find_button(self, label: str) -> Button:
        """The button whose text, or else callback_data, equals ``label``."""
        buttons = self.flat_buttons
        for button in buttons:
            if button.text == label:
                return button
        for button in buttons:
            if button.callback_data == label:
                return button
        shown = ", ".join(repr(b.text) for b in buttons) or "none"
        raise ValueError(f"message {self.message_id} has no button {label!r} (buttons: {shown})")

    def __repr__(self) -> str:
        who = "bot" if self.from_bot else self.sender.id
        extra = f", buttons={[b.text for b in self.flat_buttons]}" if self.reply_markup else ""
        edits = f", edits={self.edit_count}" if self.edits else ""
        return (f"Message(#{self.message_id} in {self.chat_id} from {who}: {self.content!r}"
                f"{extra}{edits}{', deleted' if self.deleted else ''})")

    def to_api(self, *, with_reply: bool = True) -> JSON:
        data: JSON = {
            "message_id": self.message_id,
            "from": self.sender.to_api(),
            "chat": self.chat.to_api(),
            "date": self.date,
        }
        if self.edits:
            data["edit_date"] = self.edits[-1].date
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = self.entities
        if self.caption is not None:
            data["caption"] = self.caption
            if self.entities:
                data["caption_entities"] = self.entities
        if self.photo is not None:
            data["photo"] = [_photo_size(self.photo)]
        if self.document is not None:
            data["document"] = _document(self.document)
        if self.reply_markup:
            data["reply_markup"] = self.reply_markup
        if self.reply_to is not None and with_reply:
            data["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        return data


def _photo_size(blob: FileBlob) -> JSON:
    return {"file_id": blob.file_id, "file_unique_id": blob.file_unique_id,
            "width": blob.width, "height": blob.height, "file_size": blob.size}


def _document(blob: FileBlob) -> JSON:
    data: JSON = {"file_id": blob.file_id, "file_unique_id": blob.file_unique_id,
                  "file_size": blob.size}
    if blob.filename:
        data["file_name"] = blob.filename
    if blob.mime_type:
        data["mime_type"] = blob.mime_type
    return data


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made, successful or not. ``params`` never holds the token."""

    method: str
    params: JSON
    at: float  # time.monotonic() when the request arrived
    status: int = 200
    description: str | None = None  # the error description when status != 200

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot answered to a button press (answerCallbackQuery)."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    at: float


@dataclass
class UpdateRecord:
    """An update the stand-in queued, with the times a bench needs for latency figures."""

    update_id: int
    kind: str  # "message" | "callback_query"
    chat_id: int
    payload: JSON
    queued_at: float  # time.monotonic() when the user sent it
    delivered_at: float | None = None  # when a getUpdates response carried it to the bot
    callback_query_id: str | None = None

    def to_api(self) -> JSON:
        return {"update_id": self.update_id, self.kind: self.payload}


@dataclass(frozen=True)
class Latency:
    """An update paired with the bot's first reply to it (see TelegramStandIn.reply_latency)."""

    update_id: int
    chat_id: int
    method: str  # the reply call: sendMessage, editMessageText, answerCallbackQuery, ...
    queued_at: float
    delivered_at: float
    replied_at: float

    @property
    def since_delivery(self) -> float:
        """Seconds from the bot receiving the update to its reply: the bot's own latency."""
        return self.replied_at - self.delivered_at

    @property
    def since_queued(self) -> float:
        """Seconds from the user sending to the reply, polling delay included."""
        return self.replied_at - self.queued_at


def now() -> tuple[float, int]:
    """(monotonic seconds, unix time): the first for measuring, the second for Telegram dates."""
    return time.monotonic(), int(time.time())
