"""Scaling events to the groups' chats, within Telegram's limit of 20 messages a minute per chat.

`Outbox` is pure (no clock, no I/O): events queue per chat; `take(now)` hands out what may be
sent now, *merging* every event queued for a chat into one message (split only at Telegram's
4096-character limit), never more messages per chat than the budget left in the last minute.
Nothing is dropped: what cannot go now waits for the next `take`. `Notifier` sends what the
outbox hands out and puts back what Telegram refused. The one bound: a chat that refuses every
message (the bot was removed from it) cannot grow its queue without limit; past
``max_backlog_chars`` its oldest events give way to a line that counts them. What is still
undelivered after a flush is stored (``Backlog``), so a restart does not lose it.
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from telegram.error import TelegramError

log = logging.getLogger(__name__)

MESSAGES_PER_WINDOW = 20
WINDOW_S = 60.0
MAX_MESSAGE = 4096
#: Far more than the limit lets pile up in normal work (20 messages a minute of short events).
MAX_BACKLOG_CHARS = 16 * MAX_MESSAGE
_LOST = re.compile(r"\((\d+) earlier scaling events were not delivered: [^\n]*\)")


def _lost_text(n: int) -> str:
    return (f"({n} earlier scaling events were not delivered: this chat did not accept "
            "messages; /scale_status shows the current state)")


@dataclass
class Outbox:
    limit: int = MESSAGES_PER_WINDOW
    window_s: float = WINDOW_S
    max_chars: int = MAX_MESSAGE
    max_backlog_chars: int = MAX_BACKLOG_CHARS
    queued: dict[int, list[str]] = field(default_factory=dict)
    sent: dict[int, deque[float]] = field(default_factory=dict)
    #: Events that gave way to newer ones in a chat's full backlog, not yet told to the chat.
    overflowed: dict[int, int] = field(default_factory=dict)

    def add(self, chat_id: int, text: str) -> None:
        queue = self.queued.setdefault(chat_id, [])
        queue.append(text)
        backlog = sum(len(t) + 1 for t in queue)
        while backlog > self.max_backlog_chars and len(queue) > 1:
            oldest = queue.pop(0)
            backlog -= len(oldest) + 1
            self.overflowed[chat_id] = self.overflowed.get(chat_id, 0) + oldest.count("\n") + 1

    def put_back(self, chat_id: int, text: str) -> None:
        """A message that could not be sent: first in line next time (its send is not counted).
        The count of what gave way, if it opens the message, goes back to `overflowed`: were
        the message to give way in turn, its count would otherwise be lost."""
        first, _, rest = text.partition("\n")
        if m := _LOST.fullmatch(first):
            self.overflowed[chat_id] = self.overflowed.get(chat_id, 0) + int(m.group(1))
            text = rest
        if text:
            self.queued.setdefault(chat_id, []).insert(0, text)
        stamps = self.sent.get(chat_id)
        if stamps:
            stamps.pop()

    def budget(self, chat_id: int, now: float) -> int:
        stamps = self.sent.setdefault(chat_id, deque())
        while stamps and stamps[0] <= now - self.window_s:
            stamps.popleft()
        return self.limit - len(stamps)

    def take(self, now: float) -> list[tuple[int, str]]:
        """Messages to send now, each counted against its chat's budget."""
        out: list[tuple[int, str]] = []
        for chat_id in list(self.queued):
            budget = self.budget(chat_id, now)
            if budget <= 0:
                continue
            texts = self.queued[chat_id]
            lost = self.overflowed.pop(chat_id, 0)
            if lost:
                texts = [_lost_text(lost), *texts]
            chunks = merge(texts, self.max_chars)
            go, rest = chunks[:budget], chunks[budget:]
            for text in go:
                out.append((chat_id, text))
                self.sent[chat_id].append(now)
            if rest:
                self.queued[chat_id] = rest
            else:
                del self.queued[chat_id]
        return out

    @property
    def pending(self) -> int:
        return sum(len(v) for v in self.queued.values())


def merge(texts: list[str], max_chars: int = MAX_MESSAGE) -> list[str]:
    """Join events line by line into as few messages as fit ``max_chars`` each."""
    chunks: list[str] = []
    for text in texts:
        text = text[:max_chars]
        if chunks and len(chunks[-1]) + 1 + len(text) <= max_chars:
            chunks[-1] += "\n" + text
        else:
            chunks.append(text)
    return chunks


class Backlog(Protocol):
    """Where undelivered notices survive a restart (bot.store's ``scaling_notices``)."""

    def load(self) -> tuple[dict[int, list[str]], dict[int, int]]: ...

    def save(self, queued: dict[int, list[str]], overflowed: dict[int, int]) -> None: ...


class Notifier:
    """Queues events and sends them through the bot, merged and within the per-chat limit.
    With a ``backlog``, what a flush leaves undelivered is stored, and taken up again by the
    next Notifier (after a restart)."""

    def __init__(self, bot, outbox: Outbox | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 backlog: Backlog | None = None) -> None:
        self._bot = bot
        self.outbox = outbox or Outbox()
        self._clock = clock
        self._failing: set[int] = set()  # chats whose last send failed: warned about once
        self._backlog = backlog
        self._saved: tuple[dict, dict] = ({}, {})
        if backlog is not None:
            queued, overflowed = backlog.load()
            for chat_id, texts in queued.items():
                for text in texts:
                    self.outbox.add(chat_id, text)
            for chat_id, n in overflowed.items():
                self.outbox.overflowed[chat_id] = self.outbox.overflowed.get(chat_id, 0) + n
            self._saved = (queued, overflowed)

    def notify(self, chat_id: int, text: str) -> None:
        self.outbox.add(chat_id, text)

    async def flush(self) -> int:
        """Send what the limit allows now; returns how many messages went out."""
        count = 0
        failed: dict[int, list[str]] = {}
        for chat_id, text in self.outbox.take(self._clock()):
            if chat_id in failed:  # nothing may overtake a notice that failed: keep the order
                failed[chat_id].append(text)
                continue
            try:
                await self._bot.send_message(chat_id, text)
                count += 1
            except TelegramError as exc:
                # Once per outage, not once per sync period while a chat stays unreachable.
                level = logging.DEBUG if chat_id in self._failing else logging.WARNING
                log.log(level, "scaling notices to chat %s not sent yet (%s); held back",
                        chat_id, exc)
                self._failing.add(chat_id)
                failed[chat_id] = [text]
                continue
            if chat_id in self._failing:
                self._failing.discard(chat_id)
                log.info("scaling notices to chat %s are delivered again", chat_id)
        for chat_id, texts in failed.items():
            for text in reversed(texts):  # each goes back to the front, so the last first
                self.outbox.put_back(chat_id, text)
        self._keep_backlog()
        return count

    def _keep_backlog(self) -> None:
        """Store what is still undelivered, when it changed (one small write)."""
        if self._backlog is None:
            return
        now = ({c: list(t) for c, t in self.outbox.queued.items()}, dict(self.outbox.overflowed))
        if now != self._saved:
            self._backlog.save(*now)
            self._saved = now


# ---- the texts ------------------------------------------------------------------------------

def percent(fraction: float | None) -> str:
    return "n/a" if fraction is None else f"{round(fraction * 100)}%"


def scaled_text(group: str, before: int, after: int, metric: float | None, target: float,
                changes: list[str]) -> str:
    """``web: 3 -> 5 replicas (CPU 87% vs target 60%) - added web-4 on pve2, web-5 on pve1``."""
    verb = "added" if after > before else "removed"
    text = f"{group}: {before} -> {after} replicas (CPU {percent(metric)} vs target " \
           f"{percent(target)})"
    return text + (f" - {verb} {', '.join(changes)}" if changes else "")


def failure_text(group: str, what: str) -> str:
    return f"⚠️ {group}: {what}; retrying next period"
