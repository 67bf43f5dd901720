"""Notification merging under Telegram's per-chat limit: pure table and property tests."""

from hypothesis import given
from hypothesis import strategies as st

from bot.scaler.notify import Outbox, merge, scaled_text


def test_the_message_reads_as_the_issue_shows():
    assert scaled_text("web", 3, 5, 0.87, 0.6, ["web-4 on pve2", "web-5 on pve1"]) == (
        "web: 3 -> 5 replicas (CPU 87% vs target 60%) - added web-4 on pve2, web-5 on pve1")
    assert scaled_text("web", 5, 4, 0.3, 0.6, ["web-5 on pve1"]).endswith("removed web-5 on pve1")


def test_events_of_one_flush_become_one_message():
    box = Outbox()
    for i in range(5):
        box.add(-1, f"event {i}")
    assert box.take(0.0) == [(-1, "event 0\nevent 1\nevent 2\nevent 3\nevent 4")]
    assert box.take(1.0) == []


def test_over_the_limit_events_wait_and_none_is_dropped():
    box = Outbox(limit=2, window_s=60)
    box.add(-1, "a")
    assert box.take(0) == [(-1, "a")]
    box.add(-1, "b")
    assert box.take(1) == [(-1, "b")]
    box.add(-1, "c")
    box.add(-1, "d")
    assert box.take(2) == []  # budget used up: held, not dropped
    assert box.take(59) == []
    assert box.take(60.5) == [(-1, "c\nd")]


def test_chats_have_their_own_budget():
    box = Outbox(limit=1)
    box.add(-1, "a")
    box.add(-2, "b")
    assert sorted(box.take(0)) == [(-2, "b"), (-1, "a")]


def test_put_back_is_sent_first_next_time():
    box = Outbox(limit=5)
    box.add(-1, "a")
    [(chat, text)] = box.take(0)
    box.put_back(chat, text)
    box.add(-1, "b")
    assert box.take(1) == [(-1, "a\nb")]


@given(st.lists(st.tuples(st.integers(-3, -1), st.text(min_size=1, max_size=300)), max_size=200),
       st.integers(1, 20))
def test_never_more_than_limit_per_window_and_nothing_lost(events, limit):
    box = Outbox(limit=limit, window_s=60, max_chars=1000)
    sent: dict[int, list[tuple[float, str]]] = {}
    now = 0.0
    for i, (chat, text) in enumerate(events):
        box.add(chat, text)
        if i % 3 == 0:
            for c, t in box.take(now):
                sent.setdefault(c, []).append((now, t))
            now += 1.0
    while box.pending:
        for c, t in box.take(now):
            sent.setdefault(c, []).append((now, t))
        now += 7.0
    for chat, messages in sent.items():
        times = [t for t, _ in messages]
        for t in times:
            assert sum(t - 60 < u <= t for u in times) <= limit
        assert all(len(m) <= 1000 for _, m in messages)
        joined = "\n".join(m for _, m in messages)
        assert joined == "\n".join(text[:1000] for c, text in events if c == chat)


def test_merge_splits_at_the_message_size():
    assert merge(["a" * 6, "b" * 3, "c" * 3], max_chars=10) == ["a" * 6 + "\n" + "b" * 3, "c" * 3]


async def test_a_failed_notice_is_not_overtaken_by_the_ones_after_it():
    from telegram.error import NetworkError

    from bot.scaler.notify import Notifier, Outbox

    class FlakyBot:
        def __init__(self):
            self.sent, self.fail_next = [], True

        async def send_message(self, chat_id, text):
            if self.fail_next:
                self.fail_next = False
                raise NetworkError("Bad Gateway")
            self.sent.append(text)

    bot = FlakyBot()
    notifier = Notifier(bot, Outbox(max_chars=12), clock=lambda: 0.0)
    for text in ("first-event", "second-event", "third-event"):  # too long to merge: 3 messages
        notifier.notify(-1, text)
    assert await notifier.flush() == 0  # the first failed; the others wait behind it
    assert await notifier.flush() == 3
    assert bot.sent == ["first-event", "second-event", "third-event"]


def test_a_chat_that_never_accepts_keeps_a_bounded_backlog_that_counts_what_gave_way():
    box = Outbox(limit=20, max_backlog_chars=1000)
    for i in range(500):
        box.add(-1, f"event {i:03d} " + "x" * 40)  # 50 characters each
    queued = box.queued[-1]
    assert sum(len(t) + 1 for t in queued) <= 1000
    kept = len(queued)
    [(_, first), *rest] = box.take(0)
    lines = "\n".join([first, *(t for _, t in rest)]).split("\n")
    assert lines[0].startswith(f"({500 - kept} earlier scaling events were not delivered")
    assert lines[1].startswith(f"event {500 - kept:03d}") and lines[-1].startswith("event 499")
    box.add(-1, "later")
    assert box.take(100) == [(-1, "later")]  # told once, not again


async def test_an_unreachable_chat_is_warned_about_once_then_recovery_is_logged(caplog):
    import logging

    from telegram.error import Forbidden

    from bot.scaler.notify import Notifier

    class KickedBot:
        def __init__(self):
            self.kicked, self.sent = True, []

        async def send_message(self, chat_id, text):
            if self.kicked:
                raise Forbidden("Forbidden: bot was kicked from the group chat")
            self.sent.append(text)

    bot = KickedBot()
    notifier = Notifier(bot, Outbox(limit=100), clock=lambda: 0.0)
    with caplog.at_level(logging.DEBUG, logger="bot.scaler.notify"):
        for i in range(5):
            notifier.notify(-7, f"event {i}")
            await notifier.flush()
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "-7" in warnings[0].getMessage()
        bot.kicked = False
        assert await notifier.flush() == 1
    assert bot.sent == ["\n".join(f"event {i}" for i in range(5))]
    assert any("delivered again" in r.getMessage() for r in caplog.records)


async def test_undelivered_notices_survive_a_restart_and_are_sent_once(tmp_path):
    from telegram.error import NetworkError

    from bot.scaler.notify import Notifier
    from bot.store import Store

    class Bot:
        def __init__(self, down):
            self.down, self.sent = down, []

        async def send_message(self, chat_id, text):
            if self.down:
                raise NetworkError("Bad Gateway")
            self.sent.append((chat_id, text))

    path = tmp_path / "stratus.json"
    with Store(path) as store:
        before = Notifier(Bot(down=True), backlog=store.scaling_notices, clock=lambda: 0.0)
        before.notify(-5, "web: 1 -> 2 replicas")
        before.notify(-6, "api: 3 -> 2 replicas")
        assert await before.flush() == 0  # Telegram is down; then the bot restarts
    bot = Bot(down=False)
    with Store(path) as store:
        after = Notifier(bot, backlog=store.scaling_notices, clock=lambda: 0.0)
        assert await after.flush() == 2
        assert sorted(bot.sent) == [(-6, "api: 3 -> 2 replicas"), (-5, "web: 1 -> 2 replicas")]
    with Store(path) as store:  # delivered: nothing left for the next start
        again = Notifier(bot, backlog=store.scaling_notices, clock=lambda: 0.0)
        assert await again.flush() == 0 and len(bot.sent) == 2


async def test_the_count_of_what_gave_way_survives_a_failed_send_and_more_overflow():
    """A chat that refuses every message: the line that counts the events given way goes back
    with the failed message; when that message gives way in turn, its count is not lost."""
    from telegram.error import Forbidden

    from bot.scaler.notify import Notifier

    class KickedBot:
        def __init__(self):
            self.kicked, self.sent = True, []

        async def send_message(self, chat_id, text):
            if self.kicked:
                raise Forbidden("Forbidden: bot was kicked from the group chat")
            self.sent.append(text)

    bot = KickedBot()
    notifier = Notifier(bot, Outbox(limit=20, max_backlog_chars=1000), clock=lambda: 0.0)
    for round_ in range(3):
        for i in range(200):
            notifier.notify(-1, f"event {round_}-{i:03d} " + "x" * 40)
        assert await notifier.flush() == 0
    bot.kicked = False
    assert await notifier.flush() >= 1
    lines = "\n".join(bot.sent).split("\n")
    delivered = [ln for ln in lines if ln.startswith("event ")]
    assert lines[0].startswith(f"({600 - len(delivered)} earlier scaling events were not "
                               "delivered"), lines[0]
    assert delivered[-1].startswith("event 2-199")
