"""Where an update's time goes: the bot's own work versus waiting for Proxmox or Telegram.

The chat layer times each handled update; the layers that talk to the outside mark the time
they spend waiting (for PVE's answers; for Telegram: its flood limits and its HTTP answers)
against the update being handled, through a context variable so that concurrent updates do
not mix. One update may wait for several things at once (/info asks PVE for a container's
config and status together; a Telegram reply may be in flight meanwhile): what counts is the
time during which at least one wait was in progress (the union of the waits, per party and
over all parties), never their sum, so the bot's own time (the rest) cannot go negative.
Kept in memory, bounded; read by benches and fit for a future /stats.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

PARTIES = ("proxmox", "telegram", "disk")


class Wait:
    """One wait for the outside. It ends when the outside answered, if the layer that waits
    can tell (``answered``, callable from any thread), else when the waiting code resumes: the
    time the event loop then takes to get back to it, busy with other updates, is the bot's
    own and must not hide in the wait."""

    __slots__ = ("party", "start", "end", "answered_at")

    def __init__(self, party: str, start: float) -> None:
        self.party = party
        self.start = start
        self.end: float | None = None
        self.answered_at: float | None = None

    def answered(self, at: float | None = None) -> None:
        self.answered_at = time.perf_counter() if at is None else at

    def finish(self, now: float) -> None:
        answered = self.answered_at
        self.end = answered if answered is not None and self.start <= answered <= now else now


class _Waits:
    """The waits of one update (those of the tasks it starts included, up to its end)."""

    __slots__ = ("spans", "closed")

    def __init__(self) -> None:
        self.spans: list[Wait] = []
        # Set when the update is done: a task it started (a backup followed for hours) goes on
        # waiting, and must not grow a list nobody reads any more.
        self.closed = False

    def total(self, party: str | None, now: float) -> float:
        """The time during which at least one wait (of ``party``; None: of any) was in
        progress, up to ``now`` (a wait still in progress counts up to ``now``)."""
        spans = sorted((w.start, min(now, w.end if w.end is not None else now))
                       for w in self.spans if party is None or w.party == party)
        covered, reach = 0.0, float("-inf")
        for start, end in spans:
            if end > reach:
                covered += end - max(start, reach)
                reach = end
        return covered


_waits: ContextVar[_Waits | None] = ContextVar("waits", default=None)


@dataclass(frozen=True)
class UpdateTiming:
    name: str  # the handler
    total_s: float  # from the handler's start to its end (its replies acknowledged)
    proxmox_s: float  # of which waiting for Proxmox (concurrent requests counted once)
    telegram_s: float  # of which waiting for Telegram (flood-limit queue and HTTP)
    waiting_s: float  # of which waiting for either (<= proxmox_s + telegram_s: overlaps once)
    chat_id: int | None = None  # where the update came from
    disk_s: float = 0.0  # of which waiting for the store's writes before telling anyone

    @property
    def own_s(self) -> float:
        """The bot's own time: when it was not waiting for anyone."""
        return max(self.total_s - self.waiting_s, 0.0)


class UpdateTimings:
    def __init__(self, keep: int = 100_000) -> None:
        self.recent: deque[UpdateTiming] = deque(maxlen=keep)

    @contextmanager
    def measure(self, name: str, chat_id: int | None = None) -> Iterator[None]:
        """Time one update's handling, and collect the waits made inside it (also by the tasks
        it starts, up to its end)."""
        waits = _Waits()
        token = _waits.set(waits)
        start = time.perf_counter()
        try:
            yield
        finally:
            end = time.perf_counter()
            waits.closed = True
            self.recent.append(UpdateTiming(
                name, end - start, waits.total("proxmox", end), waits.total("telegram", end),
                waits.total(None, end), chat_id, waits.total("disk", end)))
            _waits.reset(token)


_open: ContextVar[tuple[Wait, ...]] = ContextVar("open_waits", default=())


@contextmanager
def waiting_for(party: str) -> Iterator[Wait]:
    """Wrap every wait for the outside ("proxmox", "telegram"); counted against the update
    being handled, if any. The layer that knows when the answer came in says so with
    ``answer_marker`` (or ``Wait.answered``)."""
    wait = Wait(party, time.perf_counter())
    waits = _waits.get()
    if waits is not None and not waits.closed:
        waits.spans.append(wait)
    token = _open.set((*_open.get(), wait))
    try:
        yield wait
    finally:
        _open.reset(token)
        wait.finish(time.perf_counter())


def answer_marker() -> Callable[[], None]:
    """A function to call, from any thread, the moment the outside has answered: it ends every
    wait open here (the nested ones and those around them) at that moment."""
    waits = _open.get()

    def answered() -> None:
        now = time.perf_counter()
        for wait in waits:
            wait.answered(now)

    return answered


TIMINGS = UpdateTimings()
