"""Where an update's time goes: the bot's own work versus waiting for Proxmox or Telegram.

The chat layer times each handled update; the layers that talk to the outside add the time they
spent waiting (for PVE's answers; for Telegram: its flood limits and its HTTP answers) to the
update being handled, through a context variable so that concurrent updates do not mix.
Kept in memory, bounded; read by benches and fit for a future /stats.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

_waits: ContextVar[dict[str, float] | None] = ContextVar("waits", default=None)


@dataclass(frozen=True)
class UpdateTiming:
    name: str  # the handler
    total_s: float  # from the handler's start to its end (its replies acknowledged)
    proxmox_s: float  # of which waiting for Proxmox
    telegram_s: float  # of which waiting for Telegram (flood-limit queue and HTTP)

    @property
    def own_s(self) -> float:
        return max(self.total_s - self.proxmox_s - self.telegram_s, 0.0)


class UpdateTimings:
    def __init__(self, keep: int = 100_000) -> None:
        self.recent: deque[UpdateTiming] = deque(maxlen=keep)

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        """Time one update's handling, and collect the Proxmox waits made inside it."""
        waits = {"proxmox": 0.0, "telegram": 0.0}
        token = _waits.set(waits)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.recent.append(UpdateTiming(name, time.perf_counter() - start,
                                            waits["proxmox"], waits["telegram"]))
            _waits.reset(token)


@contextmanager
def waiting_for(party: str) -> Iterator[None]:
    """Wrap every wait for the outside ("proxmox", "telegram"); counted against the update
    being handled, if any."""
    start = time.perf_counter()
    try:
        yield
    finally:
        waits = _waits.get()
        if waits is not None:
            waits[party] += time.perf_counter() - start


TIMINGS = UpdateTimings()
