"""How often each person may make the bot work: a token bucket per user, the same for every door.

Every message the bot sends waits in one Telegram rate limit (30 a second for the whole bot,
bot/telegram_io.py), so one person who sends a lot makes everyone else wait behind the answers
to him: 300 messages from a stranger, each refused in words, held every other user's replies
for 10 s. So the limits are on the asker, before any work and before any answer:

- A stranger (no role) is answered at most once per ``stranger_answer_every_s``; the rest is
  dropped without a word: he has been told already, and each answer would cost a message.
- A user has a bucket of ``user_burst`` tokens, refilled at ``user_rate_per_min``; each
  message or button press takes one. When it is empty they are told once to slow down, and
  when to try again; what they send until the next token comes is dropped silently (one
  answer per refill, not one per message, else the answers would be the flood).
- Admins have a larger bucket (``admin_*``), not none: they are trusted and do work in bursts
  (a row of approval cards, /users then a few grants), but a stolen account or a client stuck
  in a loop must not hold the bot's one Telegram rate limit either.

Pure apart from the clock, which is injected (tests pass a fake one).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from bot.services.access import Role

# Buckets are kept per person seen; past this many, the ones that have refilled (the same as
# never seen) are forgotten, so many senders cannot grow the table without bound.
TRACKED_BEFORE_SWEEP = 10_000


@dataclass(frozen=True)
class ChatLimits:
    """The knobs (bot/settings.py reads them as ``limits.*``)."""

    stranger_answer_every_s: float = 300.0  # 0: every message answered (tests of refusals)
    user_rate_per_min: float = 60.0
    user_burst: int = 30
    admin_rate_per_min: float = 300.0
    admin_burst: int = 100


class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``per_s`` a second; starts full.
    Time is passed in, so it is a pure value."""

    def __init__(self, capacity: int, per_s: float, now: float) -> None:
        self.capacity = capacity
        self.per_s = per_s
        self.tokens = float(capacity)
        self.at = now

    def _refill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.per_s)
            self.at = now

    def take(self, now: float) -> float:
        """Take one token: 0.0 when there was one, else the seconds until the next one."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.per_s

    def is_full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity


class Verdict(Enum):
    SERVE = "serve"  # do the work (a stranger: tell him he is not registered)
    SLOW_DOWN = "slow down"  # do not do it; say so once (Admission.message)
    DROP = "drop"  # do not do it and say nothing


@dataclass(frozen=True)
class Admission:
    verdict: Verdict
    retry_after_s: int = 0  # SLOW_DOWN: when the next token comes, rounded up

    @property
    def message(self) -> str:
        return (f"🐢 Slow down: you sent many requests in a short time, so I did not do this "
                f"one. Try again in {self.retry_after_s} s.")


SERVE = Admission(Verdict.SERVE)
DROP = Admission(Verdict.DROP)


@dataclass
class _Sender:
    bucket: TokenBucket
    quiet_until: float = 0.0  # told to slow down: silent until the next token comes


class ChatLimiter:
    """Decides, per message or press, whether the bot works for its sender (see the module)."""

    def __init__(self, limits: ChatLimits = ChatLimits(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        # Keyed by role too: a stranger granted access starts with a user's full bucket.
        self._senders: dict[tuple[int, Role], _Sender] = {}
        self._sweep_above = TRACKED_BEFORE_SWEEP

    def admit(self, user_id: int, role: Role) -> Admission:
        now = self.clock()
        if role is not Role.NONE:
            # Seen registered: if revoked later, his first message is answered again (the
            # silence is for strangers who were told, and he was told something else since).
            self._senders.pop((user_id, Role.NONE), None)
        if role is Role.NONE and self.limits.stranger_answer_every_s <= 0:
            return SERVE
        sender = self._senders.get((user_id, role))
        if sender is None:
            self._sweep(now)  # before adding: a new bucket is full, and would go too
            sender = self._senders[(user_id, role)] = _Sender(self._bucket(role, now))
        wait = sender.bucket.take(now)
        if wait == 0.0:
            return SERVE
        if role is Role.NONE or now < sender.quiet_until:
            return DROP
        sender.quiet_until = now + wait
        return Admission(Verdict.SLOW_DOWN, max(1, math.ceil(wait)))

    def _bucket(self, role: Role, now: float) -> TokenBucket:
        limits = self.limits
        if role is Role.NONE:
            return TokenBucket(1, 1.0 / limits.stranger_answer_every_s, now)
        if role is Role.ADMIN:
            return TokenBucket(limits.admin_burst, limits.admin_rate_per_min / 60.0, now)
        return TokenBucket(limits.user_burst, limits.user_rate_per_min / 60.0, now)

    def _sweep(self, now: float) -> None:
        if len(self._senders) < self._sweep_above:
            return
        for key, sender in list(self._senders.items()):
            if sender.bucket.is_full(now) and sender.quiet_until <= now:
                del self._senders[key]
        self._sweep_above = max(TRACKED_BEFORE_SWEEP, 2 * len(self._senders))

    def tracked(self) -> int:
        """How many senders have a bucket (for tests of the sweep)."""
        return len(self._senders)


@dataclass(frozen=True)
class ApiLimits:
    """Each API token's bucket (bot/settings.py reads them as ``limits.api_*``). Programs ask
    faster than people type, and their requests cost no Telegram message, so the bucket is
    larger than a chat user's; it still keeps one runaway script from holding the bot."""

    rate_per_min: float = 600.0
    burst: int = 100


class ApiLimiter:
    """A token bucket per API token: `admit` says how long to wait (0: serve now)."""

    def __init__(self, limits: ApiLimits = ApiLimits(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._sweep_above = TRACKED_BEFORE_SWEEP

    def admit(self, token_id: str) -> float:
        """0.0 when the request may be served, else the seconds until the next token."""
        now = self.clock()
        bucket = self._buckets.get(token_id)
        if bucket is None:
            self._sweep(now)
            bucket = self._buckets[token_id] = TokenBucket(
                self.limits.burst, self.limits.rate_per_min / 60.0, now)
        return bucket.take(now)

    def _sweep(self, now: float) -> None:
        if len(self._buckets) < self._sweep_above:
            return
        for key, bucket in list(self._buckets.items()):
            if bucket.is_full(now):
                del self._buckets[key]
        self._sweep_above = max(TRACKED_BEFORE_SWEEP, 2 * len(self._buckets))
