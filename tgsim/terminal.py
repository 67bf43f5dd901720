"""A terminal chat with any bot that runs against a TelegramStandIn (the demo's front-end).

A plain line is a message from the current user; lines starting with ":" are commands (":help").
Bot messages and edits are printed as they arrive, inline buttons numbered so ":N" presses one.
Photos and files the bot sends are saved (``media_dir``) and their path printed, so a chart can
be opened as a phone would show it.
With piped input (tests, scripted demos) each line waits for the bot's answer and then for a
short quiet time, so a transcript comes out in the order a person would have seen it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from tgsim.model import Chat, Message
from tgsim.server import BotEvent, SimUser, TelegramStandIn

HELP = """\
commands:
  <text>          send <text> as the current user in the current chat
  :N  :N@MSGID    press button N of the last message with buttons (or of message MSGID)
  :user NAME|ID   switch user (opens that user's private chat)
  :user ID NAME   add a user with that Telegram id and name, and switch to them
  :group [ID]     go to the group chat (approval cards and scaling notices land there)
  :chats          list chats        :chat ID   view chat ID (e.g. the approval group)
  :show           reprint the bot's messages in the current chat
  :wait TEXT      wait until a bot message here shows TEXT (for scripts)
  :help           this text         :quit      leave (end of input too)"""


class TerminalChat:
    """Chat with the bot in a terminal as one of ``users``; ``await run()`` until :quit/EOF."""

    def __init__(self, tg: TelegramStandIn, users: Sequence[SimUser], stdin: Any = None,
                 stdout: TextIO | None = None, *, interactive: bool | None = None,
                 settle: float = 0.3, reply_timeout: float = 10.0,
                 media_dir: str | Path | None = None):
        if not users:
            raise ValueError("TerminalChat needs at least one SimUser")
        self.tg = tg
        self.users = list(users)
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stdout = stdout if stdout is not None else sys.stdout
        if interactive is None:
            isatty = getattr(self.stdin, "isatty", None)
            interactive = bool(isatty and isatty())
        self.interactive = interactive
        self.settle = settle
        self.reply_timeout = reply_timeout
        self.user = self.users[0]
        self.chat_id = self.user.id
        self._printed = len(tg.events)  # events before the chat started are not replayed
        self._pressed: dict[str, str] = {}  # callback query id -> button text, until answered
        self.media_dir = Path(media_dir) if media_dir is not None else None

    # --- the loop ----------------------------------------------------------------------------
    async def run(self) -> None:
        self._say(f"chatting as {self._name(self.user)}; :help for commands")
        watcher = asyncio.create_task(self._watch())
        try:
            while True:
                if self.interactive:
                    self._write(f"{self._name(self.user)}> ")
                line = await self._readline()
                if line is None:
                    break
                if line.strip() in (":quit", ":q", ":exit"):
                    if not self.interactive:
                        self._say(f"{self._name(self.user)}> {line.strip()}")
                    break
                await self.play(line)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            self._print_new()
            self._say("bye")

    async def play(self, line: str) -> None:
        """One input line as `run` takes it: echoed (unless typed), carried out, and, when it
        sent something, the bot's answer printed once it has settled. For drivers that decide
        their next line from the bot's answers (bot.lab)."""
        line = line.strip()
        if not line:
            return
        if not self.interactive:
            self._say(f"{self._name(self.user)}> {line}")
        mark = len(self.tg.events)
        try:
            acted = await self._dispatch(line)
        except ValueError as error:  # bad input gets a message, never a traceback
            self._say(f"! {error}")
            acted = False
        if acted and not self.interactive:
            await self._settle(mark)

    def flush(self) -> None:
        """Print what the bot sent since the last output (e.g. notices between lines)."""
        self._print_new()

    async def _readline(self) -> str | None:
        reader = self.stdin
        if isinstance(reader, asyncio.StreamReader):
            data = await reader.readline()
            return data.decode() if data else None
        if isinstance(reader, io.StringIO):  # in memory (tests): reading cannot block
            line = reader.readline()
        else:  # a terminal or a pipe: a blocking read must not stall the bot on this loop
            line = await asyncio.get_running_loop().run_in_executor(None, reader.readline)
        return line or None

    async def _dispatch(self, line: str) -> bool:
        """Run one input line; True when it sent something the bot may answer."""
        if not line.startswith(":"):
            await self.user.send(line, chat_id=None if self.chat_id == self.user.id
                                 else self.chat_id)
            return True
        command, _, arg = line[1:].partition(" ")
        arg = arg.strip()
        if command[:1].isdigit():
            await self._press(command)
            return True
        if command == "user":
            self._switch_user(arg)
        elif command == "group":
            self._switch_group(arg)
        elif command == "chats":
            self._list_chats()
        elif command == "chat":
            self._switch_chat(arg)
        elif command == "show":
            self._show()
        elif command == "help":
            self._say(HELP)
        elif command == "wait":
            await self._wait_text(arg)
        else:
            raise ValueError(f"unknown command :{command} (:help lists them)")
        return False

    async def _wait_text(self, text: str) -> None:
        """For scripts: wait until a bot message in the current chat shows ``text`` (long
        operations edit their message several times before the final words)."""
        if not text:
            raise ValueError(":wait needs the text to wait for, e.g. :wait is running")

        def shown() -> bool:
            return any(text in m.content for m in self.tg.chat(self.chat_id).messages)

        try:
            await self.tg.wait_until(shown, self.reply_timeout)
        except TimeoutError:
            self._say(f"(no {text!r} from the bot within {self.reply_timeout:g}s)")
        self._print_new()

    async def _settle(self, mark: int) -> None:
        """Wait for the first bot event after ``mark`` (or a callback answer), then until the
        bot has been quiet for ``settle`` seconds; prints everything seen."""
        def answered() -> bool:
            return len(self.tg.events) > mark or any(
                q in self.tg.answered_callbacks for q in self._pressed)
        try:
            await self.tg.wait_until(answered, self.reply_timeout)
        except TimeoutError:
            self._print_new()
            self._say(f"(no answer from the bot within {self.reply_timeout:g}s)")
            return
        while True:
            seen = (len(self.tg.events), len(self.tg.calls))
            await asyncio.sleep(self.settle)
            self._print_new()
            if (len(self.tg.events), len(self.tg.calls)) == seen:
                return

    async def _watch(self) -> None:
        """Print bot events as they come (what a person sees while typing or waiting)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await self.tg.wait_until(self._has_news, timeout=1.0)
            self._print_new()

    def _has_news(self) -> bool:
        return len(self.tg.events) > self._printed or any(
            q in self.tg.answered_callbacks for q in self._pressed)

    # --- commands ----------------------------------------------------------------------------
    async def _press(self, spec: str) -> None:
        number, _, msg_id = spec.partition("@")
        if not number.isdigit():
            raise ValueError(f"':{spec}' is not a button number (e.g. :1 or :1@12)")
        chat = self._current_chat()
        if chat is None:
            raise ValueError("no messages in this chat yet")
        if msg_id:
            if not msg_id.isdigit() or int(msg_id) not in chat.messages_by_id:
                raise ValueError(f"no message {msg_id} in this chat")
            message = chat.messages_by_id[int(msg_id)]
        else:
            message = next((m for m in reversed(chat.messages) if m.buttons), None)
            if message is None:
                raise ValueError("no message with buttons in this chat")
        buttons = message.flat_buttons
        index = int(number)
        if not 1 <= index <= len(buttons):
            raise ValueError(f"message {message.message_id} has buttons 1..{len(buttons)}")
        button = buttons[index - 1]
        if button.callback_data is None:
            raise ValueError(f"[{index}] {button.text} opens {button.url}")
        query_id = await self.user.press(message, button.callback_data)
        self._pressed[query_id] = button.text
        self._say(f"(pressed [{index}] {button.text} on #{message.message_id})")

    def _switch_user(self, arg: str) -> None:
        number, _, name = arg.partition(" ")
        if number.isdigit() and (name.strip() or all(str(u.id) != number for u in self.users)):
            self._add_user(int(number), name.strip())
            return
        wanted = arg.lower().lstrip("@")
        for user in self.users:
            if wanted in (str(user.id), user.first_name.lower(), (user.username or "").lower()):
                self.user, self.chat_id = user, user.id
                self._say(f"now {self._name(user)} ({user.id}), in the private chat")
                return
        names = ", ".join(f"{self._name(u)} ({u.id})" for u in self.users)
        raise ValueError(f"no user {arg!r}; users: {names}")

    def _add_user(self, user_id: int, name: str) -> None:
        """`:user ID NAME`: anyone, e.g. a new student the admin has not granted yet."""
        if user_id <= 0 or user_id > 2**53:
            raise ValueError(f"{user_id} is not a Telegram user id")
        name = name or f"user{user_id}"
        user = self.tg.user(user_id, name,
                            re.sub(r"[^a-z0-9_]", "", name.split()[0].lower()) or None)
        if user not in self.users:
            self.users.append(user)
        self.user, self.chat_id = user, user.id
        self._say(f"now {self._name(user)} ({user.id}), in the private chat")

    def _switch_group(self, arg: str) -> None:
        """`:group` alone: the first group chat (the demo has one); `:group ID`: that one."""
        groups = [c for c in self.tg.chats.values() if c.type != "private"]
        if arg:
            groups = [c for c in groups if str(c.id) == arg]
            if not groups:
                raise ValueError(f"no group chat {arg} (:chats lists the chats)")
        if not groups:
            raise ValueError("there is no group chat here")
        self.chat_id = groups[0].id
        self._say(f"now in the group {self._chat_name(groups[0])} ({groups[0].id}) as "
                  f"{self._name(self.user)}; :user NAME goes back to a private chat")

    def _list_chats(self) -> None:
        if not self.tg.chats:
            self._say("no chats yet")
        for chat in self.tg.chats.values():
            here = "  <- current" if chat.id == self.chat_id else ""
            self._say(f"{chat.id:>15}  {chat.type:<10} {self._chat_name(chat)}  "
                      f"({len(chat.messages)} bot messages){here}")

    def _switch_chat(self, arg: str) -> None:
        try:
            chat_id = int(arg)
        except ValueError:
            raise ValueError(f":chat needs a chat id, e.g. :chat {next(iter(self.tg.chats), 0)}"
                             ) from None
        chat = self.tg.chats.get(chat_id)
        if chat is None and chat_id != self.user.id:
            raise ValueError(f"no chat {chat_id} (:chats lists them)")
        if chat is not None and chat.type == "private" and chat_id != self.user.id:
            raise ValueError(f"{chat_id} is someone else's private chat; switch with :user")
        self.chat_id = chat_id
        self._say(f"now in {self._chat_name(chat) if chat else 'the private chat'}")

    def _show(self) -> None:
        chat = self._current_chat()
        messages = chat.messages if chat else []
        if not messages:
            self._say("(no bot messages here)")
        for msg in messages:
            rows = tuple(tuple(row) for row in msg.buttons)
            self._render(msg, "", msg.content, rows, with_chat=False)

    # --- output ------------------------------------------------------------------------------
    def _print_new(self) -> None:
        events = self.tg.events
        while self._printed < len(events):
            self._print_event(events[self._printed])
            self._printed += 1
        for query_id, label in list(self._pressed.items()):
            answer = self.tg.answered_callbacks.get(query_id)
            if answer is None:
                continue
            del self._pressed[query_id]
            if answer.text:
                self._say(f"({'alert' if answer.show_alert else 'notice'} for {label}) "
                          f"{answer.text}")

    def _print_event(self, event: BotEvent) -> None:
        msg = event.message
        if event.kind == "delete":
            self._say(f"{self._where(msg)}bot #{msg.message_id} (deleted)")
            return
        tag = " (edited)" if event.kind == "edit" else ""
        self._render(msg, tag, event.content, event.buttons, with_chat=True)

    def _render(self, msg: Message, tag: str, content: str,
                rows: tuple[tuple[Any, ...], ...], *, with_chat: bool) -> None:
        where = self._where(msg) if with_chat else ""
        media = ""
        if msg.photo is not None:
            media = f"[photo {msg.photo.width}x{msg.photo.height}, {msg.photo.size} bytes" \
                    f"{self._saved(msg, msg.photo)}] "
        elif msg.document is not None:
            media = f"[file {msg.document.filename or msg.document.file_id}, " \
                    f"{msg.document.size} bytes{self._saved(msg, msg.document)}] "
        lines = (content or "").splitlines() or [""]
        self._say(f"{where}bot #{msg.message_id}{tag}: {media}{lines[0]}")
        for line in lines[1:]:
            self._say(f"    {line}")
        number = 0
        for row in rows:
            cells = []
            for button in row:
                number += 1
                cells.append(f"[{number}] {button.text}")
            self._say("    " + "  ".join(cells))

    def _saved(self, msg: Message, blob: Any) -> str:
        """Write the photo or file to ``media_dir`` (once per message); ", saved to PATH"."""
        if self.media_dir is None or blob.data is None:
            return ""
        if blob is msg.photo:  # Telegram keeps no name for a photo, only the picture
            name = "photo." + ("png" if blob.is_png else "jpg")
        else:
            name = re.sub(r"[^A-Za-z0-9._-]", "_", blob.filename or blob.file_id)
        path = self.media_dir / f"chat{msg.chat_id}-msg{msg.message_id}-{name}"
        if not path.exists():
            self.media_dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(blob.data)
        return f", saved to {path}"

    def _where(self, msg: Message) -> str:
        """A prefix naming the chat when it is not the one being viewed."""
        if msg.chat_id == self.chat_id:
            return ""
        return f"[{self._chat_name(msg.chat)}] "

    def _current_chat(self) -> Chat | None:
        return self.tg.chats.get(self.chat_id)

    @staticmethod
    def _name(user: SimUser) -> str:
        return user.username or user.first_name

    def _chat_name(self, chat: Chat) -> str:
        if chat.type == "private":
            return f"to {chat.first_name or chat.id}"
        return chat.title or str(chat.id)

    def _say(self, text: str) -> None:
        self._write(text + "\n")

    def _write(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()
