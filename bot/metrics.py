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
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

PARTIES = ("proxmox", "telegram")
_ANY = "any"


class _Waits:
    """The waits of one update. For each party and for any party: how many waits are in
    progress, since when the count is above zero, and the time it has been above zero."""

    __slots__ = ("_open", "_since", "_done")

    def __init__(self) -> None:
        self._open = dict.fromkeys((*PARTIES, _ANY), 0)
        self._since = dict.fromkeys((*PARTIES, _ANY), 0.0)
        self._done = dict.fromkeys((*PARTIES, _ANY), 0.0)

    def begin(self, party: str, now: float) -> None:
        for key in (party, _ANY):
            if self._open[key] == 0:
                self._since[key] = now
            self._open[key] += 1

    def end(self, party: str, now: float) -> None:
        for key in (party, _ANY):
            self._open[key] -= 1
            if self._open[key] == 0:
                self._done[key] += now - self._since[key]

    def total(self, key: str, now: float) -> float:
        """Time spent waiting up to `now` (a wait still in progress counts up to `now`)."""
        running = now - self._since[key] if self._open[key] else 0.0
        return self._done[key] + running


_waits: ContextVar[_Waits | None] = ContextVar("waits", default=None)


@dataclass(frozen=True)
class UpdateTiming:
    name: str  # the handler
    total_s: float  # from the handler's start to its end (its replies acknowledged)
    proxmox_s: float  # of which waiting for Proxmox (concurrent requests counted once)
    telegram_s: float  # of which waiting for Telegram (flood-limit queue and HTTP)
    waiting_s: float  # of which waiting for either (<= proxmox_s + telegram_s: overlaps once)
    chat_id: int | None = None  # where the update came from

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
            self.recent.append(UpdateTiming(
                name, end - start, waits.total("proxmox", end), waits.total("telegram", end),
                waits.total(_ANY, end), chat_id))
            _waits.reset(token)


@contextmanager
def waiting_for(party: str) -> Iterator[None]:
    """Wrap every wait for the outside ("proxmox", "telegram"); counted against the update
    being handled, if any."""
    waits = _waits.get()
    if waits is None:
        yield
        return
    waits.begin(party, time.perf_counter())
    try:
        yield
    finally:
        waits.end(party, time.perf_counter())


TIMINGS = UpdateTimings()
