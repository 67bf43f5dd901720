"""Flood limits (bot/services/ratelimit.py): the token bucket and who is answered, on a fake
clock."""

import pytest

from bot.services.access import Role
from bot.services.ratelimit import (
    TRACKED_BEFORE_SWEEP,
    ChatLimiter,
    ChatLimits,
    TokenBucket,
    Verdict,
)

S, W, D = Verdict.SERVE, Verdict.SLOW_DOWN, Verdict.DROP


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("capacity, per_s, takes, expected", [
    # (seconds since start of each take) -> 0.0 (a token) or seconds until the next one
    (3, 1.0, [0, 0, 0, 0], [0.0, 0.0, 0.0, 1.0]),
    (3, 1.0, [0, 0, 0, 0.5], [0.0, 0.0, 0.0, 0.5]),
    (3, 1.0, [0, 0, 0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 1.0]),
    (1, 0.5, [0, 1, 2], [0.0, 1.0, 0.0]),  # one token every 2 s
    (2, 1.0, [0, 0, 100, 100, 100], [0.0, 0.0, 0.0, 0.0, 1.0]),  # refills to capacity only
    (1, 1.0, [10, 5], [0.0, 1.0]),  # a clock that goes back adds nothing
])
def test_token_bucket(capacity, per_s, takes, expected):
    bucket = TokenBucket(capacity, per_s, now=0.0)
    assert [bucket.take(t) for t in takes] == pytest.approx(expected)


LIMITS = ChatLimits(stranger_answer_every_s=300, user_rate_per_min=6, user_burst=3,
                    admin_rate_per_min=60, admin_burst=5)


@pytest.mark.parametrize("role, steps", [
    # (seconds to advance before the message, verdict, retry_after_s for a slow-down)
    (Role.NONE, [(0, S, 0), (0, D, 0), (1, D, 0), (298, D, 0), (1, S, 0), (0, D, 0)]),
    # a user: 3 at once, then told once per refill (a token every 10 s), not once a message
    (Role.USER, [(0, S, 0), (0, S, 0), (0, S, 0), (0, W, 10), (0, D, 0), (4, D, 0),
                 (6, S, 0), (0, W, 10), (9.5, D, 0), (0.5, S, 0), (0, W, 10)]),
    (Role.USER, [(0, S, 0), (0, S, 0), (0, S, 0), (3, W, 7), (7, S, 0)]),  # waits rounded up
    # an admin: a larger bucket, still a bucket
    (Role.ADMIN, [(0, S, 0)] * 5 + [(0, W, 1), (0, D, 0), (1, S, 0)]),
])
def test_who_is_answered(role, steps):
    clock = FakeClock()
    limiter = ChatLimiter(LIMITS, clock)
    seen = []
    for advance, _verdict, _retry in steps:
        clock.now += advance
        admission = limiter.admit(42, role)
        seen.append((advance, admission.verdict, admission.retry_after_s))
    assert seen == steps


def test_slow_down_says_when_to_try_again():
    limiter = ChatLimiter(ChatLimits(user_burst=1, user_rate_per_min=1), FakeClock())
    limiter.admit(7, Role.USER)
    told = limiter.admit(7, Role.USER)
    assert told.verdict is W and "Slow down" in told.message and "60 s" in told.message


def test_people_have_their_own_buckets():
    clock = FakeClock()
    limiter = ChatLimiter(LIMITS, clock)
    assert limiter.admit(1, Role.NONE).verdict is S
    assert limiter.admit(1, Role.NONE).verdict is D
    assert limiter.admit(2, Role.NONE).verdict is S  # another stranger
    for _ in range(3):
        assert limiter.admit(3, Role.USER).verdict is S
    assert limiter.admit(3, Role.USER).verdict is W
    assert limiter.admit(4, Role.USER).verdict is S  # Bob's flood is not Carol's


def test_a_stranger_granted_then_revoked_is_answered_again():
    """Told "not registered", granted, revoked: his next message is answered (he was told
    something else since), not dropped as the rest of a stranger's flood."""
    limiter = ChatLimiter(LIMITS, FakeClock())
    assert limiter.admit(9, Role.NONE).verdict is S
    assert limiter.admit(9, Role.NONE).verdict is D
    assert limiter.admit(9, Role.USER).verdict is S
    assert limiter.admit(9, Role.NONE).verdict is S
    assert limiter.admit(9, Role.NONE).verdict is D


def test_no_stranger_limit_answers_every_message():
    limiter = ChatLimiter(ChatLimits(stranger_answer_every_s=0), FakeClock())
    assert {limiter.admit(9, Role.NONE).verdict for _ in range(50)} == {S}


def test_senders_whose_buckets_refilled_are_forgotten():
    clock = FakeClock()
    limiter = ChatLimiter(ChatLimits(stranger_answer_every_s=10), clock)
    for uid in range(TRACKED_BEFORE_SWEEP):
        limiter.admit(uid, Role.NONE)
    assert limiter.tracked() == TRACKED_BEFORE_SWEEP
    clock.now += 10  # every stranger may be answered again: the same as never seen
    limiter.admit(-1, Role.NONE)
    assert limiter.tracked() == 1
    assert limiter.admit(-1, Role.NONE).verdict is D  # the one just seen is still held
