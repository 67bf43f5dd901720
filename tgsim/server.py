"""TelegramStandIn: the Bot API over HTTP on 127.0.0.1, plus the test side (users, observation).

One object holds the whole world: chats and their messages, the update queue the bot long-polls,
uploaded files, every API call. Tests act through SimUser (send, press) and read the world
directly; the bot sees only HTTP, exactly as it would see api.telegram.org.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tgsim.methods import METHODS, unknown_method
from tgsim.model import (
    JSON,
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
    bad_request,
    now,
)
from tgsim.params import Params, Upload

DEFAULT_TOKEN = "123456:TEST-stand-in"
# Telegram's default when allowed_updates is empty: everything but these.
_NOT_BY_DEFAULT = {"chat_member", "message_reaction", "message_reaction_count"}
# Calls that count as the bot answering an update, for reply_latency().
REPLY_METHODS = {"sendMessage", "sendPhoto", "sendDocument", "editMessageText",
                 "editMessageCaption", "editMessageReplyMarkup", "answerCallbackQuery"}
CONFLICT = ("Conflict: terminated by other getUpdates request; make sure that only one bot "
            "instance is running")


@dataclass(frozen=True)
class BotEvent:
    """A change the bot made to a chat: a new message, an edit or a deletion."""

    seq: int
    kind: str  # "new" | "edit" | "delete"
    message: Message  # the live message (its current content)
    at: float
    content: str = ""  # text or caption as it was right after this event
    buttons: tuple[tuple[Button, ...], ...] = ()  # the inline keyboard right after this event


class SimUser:
    """A simulated Telegram user who writes to the bot and presses its buttons."""

    def __init__(self, tg: TelegramStandIn, info: UserInfo):
        self.tg = tg
        self.info = info

    @property
    def id(self) -> int:
        return self.info.id

    @property
    def first_name(self) -> str:
        return self.info.first_name

    @property
    def username(self) -> str | None:
        return self.info.username

    @property
    def chat(self) -> Chat | None:
        """The private chat with the bot, once it exists."""
        return self.tg.chats.get(self.id)

    @property
    def messages(self) -> list[Message]:
        """The bot's messages in this user's private chat."""
        return self.chat.messages if self.chat else []

    def open_chat(self) -> Chat:
        """Create the private chat without a message (as if the user had pressed Start long ago),
        so the bot may write first. Without it the bot gets 403 like from real Telegram."""
        return self.tg._private_chat(self)

    async def send(self, text: str, chat_id: int | None = None, *,
                   reply_to: Message | None = None) -> Message:
        """Write ``text`` in the private chat (or the group ``chat_id``); returns the Message."""
        return self.tg._user_message(self, text, chat_id, reply_to)

    async def press(self, message: Message, button: str) -> str:
        """Press the inline button whose text (or else callback_data) is ``button`` on
        ``message``; returns the callback query id the bot must answer."""
        return self.tg._press(self, message, button)

    async def press_data(self, message: Message, callback_data: str) -> str:
        """A forged press: a callback query carrying ``callback_data`` that no button of
        ``message`` has (modified clients can send any data); returns the query id."""
        return self.tg._callback(self, message, callback_data)

    def __repr__(self) -> str:
        return f"SimUser({self.id}, {self.first_name!r})"


class TelegramStandIn:
    """A local Telegram Bot API: ``async with TelegramStandIn() as tg: ...``."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, host: str = "127.0.0.1", port: int = 0,
                 bot_username: str = "stratus_test_bot", bot_name: str = "Stratus"):
        bot_id = token.split(":", 1)[0]
        if not bot_id.isdigit():
            raise ValueError("token must look like '<digits>:<secret>'")
        self.token = token
        self.host, self.port = host, port
        self.bot = UserInfo(int(bot_id), bot_name, bot_username, is_bot=True)
        self.chats: dict[int, Chat] = {}
        self.users: dict[int, SimUser] = {}
        self.files: dict[str, FileBlob] = {}
        self.calls: list[ApiCall] = []
        self.answered_callbacks: dict[str, CallbackAnswer] = {}
        self.updates: list[UpdateRecord] = []  # every update ever queued, in order
        self.events: list[BotEvent] = []
        self.allowed_updates: list[str] | None = None
        self._pending: deque[UpdateRecord] = deque()  # queued, not yet confirmed by an offset
        self._open_callbacks: dict[str, UpdateRecord] = {}
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._faults: dict[str, deque[ApiError]] = defaultdict(deque)
        self._unreplied: dict[int, deque[UpdateRecord]] = defaultdict(deque)
        self._latencies: list[Latency] = []
        self._ids = itertools.count(1)
        self._next_update_id = 1
        self._action_mark = 0  # len(events) at the last user action, for wait_for
        self._poll_generation = 0
        self._changed = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> TelegramStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.*}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self._closing = True
        self._pulse()  # long polls return at once instead of holding the shutdown
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends the token."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    # --- the test side: people and chats -----------------------------------------------------
    def user(self, user_id: int, first_name: str, username: str | None = None, *,
             language_code: str | None = None) -> SimUser:
        """The simulated user with this id (created on first call, the same object after)."""
        if user_id in self.users:
            return self.users[user_id]
        if user_id <= 0:
            raise ValueError("a user id is a positive integer")
        sim = SimUser(self, UserInfo(user_id, first_name, username, language_code=language_code))
        self.users[user_id] = sim
        return sim

    def group(self, chat_id: int, title: str) -> Chat:
        """Create a group chat (ids below -1000000000000 become supergroups, like Telegram's)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative, e.g. -1001234")
        if chat_id in self.chats:
            return self.chats[chat_id]
        kind = "supergroup" if str(chat_id).startswith("-100") and chat_id < -10**12 else "group"
        chat = Chat(chat_id, kind, title=title)
        self.chats[chat_id] = chat
        return chat

    def chat(self, chat_id: int) -> Chat:
        try:
            return self.chats[chat_id]
        except KeyError:
            raise KeyError(f"no chat {chat_id}; chats: {sorted(self.chats)}") from None

    def bot_commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """What setMyCommands stored for this scope (default scope when None)."""
        key = json.dumps(scope or {"type": "default"}, sort_keys=True)
        return list(self._commands.get((key, language_code), []))

    # --- the test side: observing ------------------------------------------------------------
    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    @property
    def pending_update_count(self) -> int:
        return len(self._pending)

    @property
    def updates_delivered(self) -> int:
        return sum(1 for u in self.updates if u.delivered_at is not None)

    def mark(self) -> int:
        """A position in ``events``: pass it as ``wait_for(since=...)``."""
        return len(self.events)

    async def wait_until(self, condition: Callable[[], Any],
                         timeout: float = 5.0) -> Any:  # noqa: ASYNC109 (the contract's name)
        """Wait until ``condition()`` is truthy (re-checked on every change of the stand-in and
        every 20 ms); returns its value or raises TimeoutError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = condition()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            event = self._changed
            try:
                # Woken by any change here; the short cap re-checks conditions on state that
                # lives elsewhere (the bot's own lists, pvesim).
                await asyncio.wait_for(event.wait(), min(remaining, 0.02))
            except TimeoutError:
                pass

    async def wait_for(self, predicate: Callable[[Message], Any],
                       timeout: float = 5.0, *,  # noqa: ASYNC109 (the contract's name)
                       since: int | None = None, chat_id: int | None = None) -> Message:
        """The first bot message, new or edited after ``since`` (default: the last user send or
        press), for which ``predicate`` is true. Raises TimeoutError showing what did arrive."""
        start = self._action_mark if since is None else since

        def match() -> Message | None:
            for event in self.events[start:]:
                msg = event.message
                if event.kind != "delete" and not msg.deleted and \
                        (chat_id is None or msg.chat_id == chat_id) and predicate(msg):
                    return msg
            return None

        try:
            return await self.wait_until(match, timeout)
        except TimeoutError:
            seen = [f"  #{e.message.message_id} in {e.message.chat_id} ({e.kind}): "
                    f"{e.message.content[:80]!r}" for e in self.events[start:][-8:]]
            raise TimeoutError(f"no matching bot message within {timeout}s; bot events since "
                               f"mark {start}:\n" + ("\n".join(seen) or "  none")) from None

    def reply_latency(self) -> list[Latency]:
        """Each update paired with the bot's first reply to it: the answer to its callback
        query, or else the first message sent/edited in its chat after it was delivered
        (FIFO per chat). Updates without a reply yet are absent."""
        return list(self._latencies)

    def redeliver(self, callback_query_id: str) -> None:
        """Deliver the update of this callback query once more, with its update_id, as Telegram
        does when a bot stopped before confirming it (the answer to it is then too late)."""
        for record in self.updates:
            if record.callback_query_id == callback_query_id:
                self._pending.append(record)
                self._pulse()
                return
        raise KeyError(f"no callback query {callback_query_id}")

    # --- fault injection ---------------------------------------------------------------------
    def fail_next(self, method: str, status: int = 429, retry_after: int = 1, count: int = 1,
                  description: str | None = None) -> None:
        """Make the next ``count`` calls of ``method`` fail with ``status`` and no effect.
        429 carries ``parameters.retry_after``; 5xx get Telegram's texts."""
        if method.lower() not in METHODS:
            raise ValueError(f"unknown Bot API method {method!r}")
        if status == 429:
            error = ApiError(429, description or f"Too Many Requests: retry after {retry_after}",
                             {"retry_after": retry_after})
        else:
            texts = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                     400: "Bad Request: injected failure", 403: "Forbidden: injected failure"}
            error = ApiError(status, description or texts.get(status, f"Error {status}"))
        self._faults[method.lower()].extend([error] * count)

    # --- HTTP --------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        token, name = request.match_info["token"], request.match_info["method"]
        if token != self.token:
            # Telegram: 401 for a well-formed but wrong token, 404 for a malformed one.
            return _reply(ApiError(401, "Unauthorized") if ":" in token
                          else ApiError(404, "Not Found"))
        found = METHODS.get(name.lower())
        if found is None:
            return _reply(unknown_method())
        canonical, handler = found
        at, _ = now()
        try:
            params = await _read_params(request)
        except ApiError as error:
            self._record(ApiCall(canonical, {}, at, error.status, error.description))
            return _reply(error)
        try:
            faults = self._faults.get(name.lower())
            if faults:
                raise faults.popleft()
            result = await handler(self, params)
        except ApiError as error:
            if not _client_gone(request):  # e.g. a long poll PTB cancelled on shutdown
                self._record(ApiCall(canonical, params.loggable(), at, error.status,
                                     error.description))
            return _reply(error)
        self._record(ApiCall(canonical, params.loggable(), at))
        self._note_reply(canonical, params, at)
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _reply(ApiError(401, "Unauthorized"))
        file_id = request.match_info["path"].removeprefix("files/")
        blob = self.files.get(file_id)
        if blob is None or blob.data is None:
            return _reply(ApiError(404, "Not Found"))
        return web.Response(body=blob.data, content_type=blob.mime_type or
                            "application/octet-stream")

    def _record(self, call: ApiCall) -> None:
        self.calls.append(call)
        self._pulse()

    def _pulse(self) -> None:
        """Wake every waiter (long polls, wait_until); they re-check their condition."""
        self._changed.set()
        self._changed = asyncio.Event()

    # --- state changes used by the methods ---------------------------------------------------
    def _chat_for_bot(self, p: Params) -> Chat:
        raw = p.str("chat_id", required=True) or ""
        if raw.startswith("@"):
            chat = next((c for c in self.chats.values() if c.username == raw[1:]), None)
        else:
            try:
                chat_id = int(raw)
            except ValueError:
                raise bad_request("chat not found") from None
            chat = self.chats.get(chat_id)
            if chat is None and chat_id in self.users:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _private_chat(self, user: SimUser) -> Chat:
        chat = self.chats.get(user.id)
        if chat is None:
            chat = Chat(user.id, "private", first_name=user.first_name, username=user.username)
            self.chats[user.id] = chat
        return chat

    def _store_bot_message(self, chat: Chat, **fields: Any) -> Message:
        at, date = now()
        msg = Message(chat, chat.take_message_id(), self.bot, date, at, **fields)
        chat.messages_by_id[msg.message_id] = msg
        self._event("new", msg, at)
        return msg

    def _edit_bot_message(self, msg: Message, **changes: Any) -> None:
        at, date = now()
        msg.edits.append(Edit(at, date, msg.content, msg.reply_markup))
        for key, value in changes.items():
            setattr(msg, key, value)
        self._event("edit", msg, at)

    def _delete_message(self, msg: Message) -> None:
        msg.deleted = True
        self._event("delete", msg, now()[0])

    def _event(self, kind: str, msg: Message, at: float) -> None:
        buttons = tuple(tuple(row) for row in msg.buttons)
        self.events.append(BotEvent(len(self.events), kind, msg, at, msg.content, buttons))
        self._pulse()

    def _store_file(self, data: bytes | None, **fields: Any) -> FileBlob:
        n = next(self._ids)
        blob = FileBlob(f"tgsim-file-{n}", f"u{n}", data, **fields)
        self.files[blob.file_id] = blob
        return blob

    def _answer_callback(self, query_id: str, **answer: Any) -> None:
        if query_id not in self._open_callbacks:
            raise bad_request("query is too old and response timeout expired or query ID is "
                              "invalid")
        del self._open_callbacks[query_id]
        self.answered_callbacks[query_id] = CallbackAnswer(query_id, at=now()[0], **answer)

    def _note_reply(self, method: str, p: Params, at: float) -> None:
        if method not in REPLY_METHODS:
            return
        record: UpdateRecord | None = None
        if method == "answerCallbackQuery":
            query_id = p.str("callback_query_id")
            record = next((u for q in self._unreplied.values() for u in q
                           if u.callback_query_id == query_id), None)
            if record is not None:
                self._unreplied[record.chat_id].remove(record)
        else:
            try:
                queue = self._unreplied.get(int(p.str("chat_id") or "0"))
            except ValueError:
                queue = None
            if queue and queue[0].delivered_at is not None:
                record = queue.popleft()
        if record is not None and record.delivered_at is not None:
            self._latencies.append(Latency(record.update_id, record.chat_id, method,
                                           record.queued_at, record.delivered_at, at))

    # --- updates -----------------------------------------------------------------------------
    def _queue_update(self, kind: str, chat_id: int, payload: JSON,
                      callback_query_id: str | None = None) -> UpdateRecord:
        record = UpdateRecord(self._next_update_id, kind, chat_id, payload, now()[0],
                              callback_query_id=callback_query_id)
        self._next_update_id += 1
        self.updates.append(record)
        self._action_mark = len(self.events)
        if self._allowed(kind):
            self._pending.append(record)
            self._unreplied[chat_id].append(record)
        self._pulse()
        return record

    def _allowed(self, kind: str) -> bool:
        if not self.allowed_updates:
            return kind not in _NOT_BY_DEFAULT
        return kind in self.allowed_updates

    def _drop_pending(self) -> None:
        self._pending.clear()

    async def _long_poll(self, *, offset: int | None, limit: int | None, wait: int | None,
                         allowed: Any) -> list[JSON]:
        if isinstance(allowed, list):
            self.allowed_updates = [str(a) for a in allowed]
        limit = min(max(limit or 100, 1), 100)
        if offset is not None:
            if offset < 0:  # the last -offset updates; older ones are forgotten
                while len(self._pending) > -offset:
                    self._pending.popleft()
            else:
                while self._pending and self._pending[0].update_id < offset:
                    self._pending.popleft()
        self._poll_generation += 1
        generation = self._poll_generation
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(wait or 0, 0)
        while not self._pending and not self._closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            event = self._changed
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT)
        batch = list(itertools.islice(self._pending, limit))
        delivered, _ = now()
        for record in batch:
            if record.delivered_at is None:
                record.delivered_at = delivered
        return [record.to_api() for record in batch]

    # --- user actions ------------------------------------------------------------------------
    def _user_message(self, user: SimUser, text: str, chat_id: int | None,
                      reply_to: Message | None) -> Message:
        if not text or not text.strip():
            raise ValueError("Telegram does not send empty messages")
        if chat_id is None or chat_id == user.id:
            chat = self._private_chat(user)
        else:
            chat = self.chat(chat_id)
            if chat.type == "private":
                raise ValueError(f"{user} cannot write in the private chat of {chat_id}")
        at, date = now()
        entities = _command_entity(text)
        msg = Message(chat, chat.take_message_id(), user.info, date, at, text=text,
                      entities=entities, reply_to=reply_to)
        chat.messages_by_id[msg.message_id] = msg
        self._queue_update("message", chat.id, msg.to_api())
        return msg

    def _press(self, user: SimUser, message: Message, label: str) -> str:
        current = message.chat.messages_by_id.get(message.message_id)
        if current is None or current.deleted:
            raise ValueError(f"message {message.message_id} was deleted; nothing to press")
        button = current.find_button(label)
        if button.callback_data is None:
            raise ValueError(f"button {button.text!r} opens {button.url!r}; it sends no callback")
        return self._callback(user, current, button.callback_data)

    def _callback(self, user: SimUser, message: Message, data: str) -> str:
        current = message.chat.messages_by_id.get(message.message_id)
        if current is None or current.deleted:
            raise ValueError(f"message {message.message_id} was deleted; nothing to press")
        query_id = str(7_000_000_000_000_000 + next(self._ids))
        payload = {"id": query_id, "from": user.info.to_api(),
                   "message": current.to_api(), "chat_instance": str(abs(current.chat_id) * 31),
                   "data": data}
        self._open_callbacks[query_id] = self._queue_update(
            "callback_query", current.chat_id, payload, callback_query_id=query_id)
        return query_id


def _command_entity(text: str) -> list[JSON]:
    """Telegram marks a leading /command (or /command@bot) with a bot_command entity."""
    if not text.startswith("/"):
        return []
    word = text.split(None, 1)[0]
    name = word[1:].split("@", 1)[0]
    if not name or len(name) > 32 or not all(c.isascii() and (c.isalnum() or c == "_")
                                             for c in name):
        return []
    return [{"type": "bot_command", "offset": 0, "length": len(word.encode("utf-16-le")) // 2}]


async def _read_params(request: web.Request) -> Params:
    """Query string plus a JSON, urlencoded or multipart body, as Telegram accepts them."""
    values: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON encoded request") from None
            if not isinstance(body, dict):
                raise bad_request("can't parse JSON encoded request")
            values.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = Upload(value.file.read(), value.filename, value.content_type)
                else:
                    values[key] = value
    return Params(values, uploads)


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _reply(error: ApiError) -> web.Response:
    return web.json_response(error.to_api(), status=error.status)
