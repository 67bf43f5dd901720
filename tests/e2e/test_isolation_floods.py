"""Issue 10, defect 8: floods. One person sending a lot must not hold everyone else's replies
(every answer waits in the bot's one 30 messages/s Telegram limit), and asking for the same
thing many times must not file it many times."""

import asyncio

import pytest
from e2e_harness import APPROVAL_CHAT, BOB_ID, STRANGER_ID, default_policy

from bot.services.ratelimit import ChatLimits

FLOOD = 300


class FakeClock:
    """The limiter's clock, moved by the test: refills without waiting for them."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def bot_messages(tg, chat_id):
    return [m for m in tg.chat(chat_id).messages if m.from_bot]


async def all_taken(h):
    """Every update sent so far has been fetched by the bot, and its handling has had time to
    end (a held-back one ends without a word, so there is nothing else to wait for)."""
    await h.tg.wait_until(lambda: h.tg.updates_delivered == len(h.tg.updates)
                          and not h.tg.pending_update_count, timeout=30)
    await h.settle(0.5)


async def test_a_strangers_flood_is_answered_once_and_bob_is_still_answered(harness):
    """300 messages and presses from an unregistered stranger: one refusal, one notice to the
    admins, no other call to Telegram for him; Bob's command sent behind them is answered."""
    h, tg = harness, harness.tg
    card = await h.ask(h.bob, "/help")  # a message of the bot's for the stranger to press on
    for i in range(FLOOD // 2):
        await h.stranger.send(f"/list {i}")
    queries = [await h.stranger.press_data(card, "ct:100:stop") for _ in range(FLOOD // 2)]

    answer = await h.ask(h.bob, "/list", timeout=10)
    assert "No containers yet" in answer.content
    await all_taken(h)

    told = bot_messages(tg, STRANGER_ID)
    assert len(told) == 1 and "not registered" in told[0].content, [m.content for m in told]
    assert not [q for q in queries if q in tg.answered_callbacks]  # no call for his presses
    notices = [m for m in bot_messages(tg, APPROVAL_CHAT) if str(STRANGER_ID) in m.content]
    assert len(notices) == 1
    assert [m.content for m in bot_messages(tg, BOB_ID)].count(answer.content) == 1


@pytest.mark.parametrize("policy", [default_policy(
    limits=ChatLimits(user_burst=3, user_rate_per_min=1))])  # a token a minute
async def test_a_user_over_the_limit_is_told_to_slow_down_once_per_refill(harness):
    h, tg = harness, harness.tg
    clock = FakeClock()
    h.services.limiter.clock = clock
    made = await h.ask(h.bob, "/create limited", lambda m: m.content.startswith(("✅", "❌")))
    vmid = int(made.content.split()[2])
    card = await h.ask(h.bob, f"/info {vmid}", lambda m: m.content.startswith("CT "))
    clock.now += 180  # full again: 3 tokens

    mark = tg.mark()
    for _ in range(8):
        await h.bob.send("/list")
    await tg.wait_until(lambda: len(replies_since(tg, mark)) >= 4)
    await all_taken(h)
    replies = replies_since(tg, mark)
    assert sum("limited" in r for r in replies) == 3, replies
    slow = [r for r in replies if "Slow down" in r]
    assert slow == [slow[0]] and "Try again in 60 s" in slow[0], replies
    assert len(replies) == 4, replies  # the other four: nothing

    # A press counts too: answered (the button stops spinning), but nothing is done.
    query = await h.bob.press(card, "Stop")
    await tg.wait_until(lambda: query in tg.answered_callbacks)
    assert not tg.answered_callbacks[query].text
    await all_taken(h)
    assert h.sim.cluster.guests[vmid].status == "running"

    clock.now += 60  # one token
    mark = tg.mark()
    for _ in range(3):
        await h.bob.send("/list")
    await tg.wait_until(lambda: len(replies_since(tg, mark)) >= 2)
    await all_taken(h)
    replies = replies_since(tg, mark)
    assert sum("limited" in r for r in replies) == 1 and len(replies) == 2, replies
    assert "Slow down" in replies[1] or "Slow down" in replies[0], replies


def replies_since(tg, mark):
    return [e.content for e in tg.events[mark:]
            if e.kind == "new" and e.message.chat_id == BOB_ID]


async def test_identical_delete_requests_file_one_card_and_another_ct_its_own(harness):
    h, tg = harness, harness.tg
    vmids = []
    for name in ("alpha", "beta"):
        made = await h.ask(h.bob, f"/create {name}", lambda m: m.content.startswith(("✅", "❌")))
        vmids.append(int(made.content.split()[2]))
    alpha, beta = vmids

    mark = tg.mark()
    await asyncio.gather(*(h.bob.send(f"/ct_delete {alpha}") for _ in range(10)))
    await tg.wait_until(lambda: len(replies_since(tg, mark)) >= 10)
    await all_taken(h)
    replies = replies_since(tg, mark)
    waiting = [r for r in replies if "Waiting for an admin's approval" in r]
    assert len(waiting) == 1, replies
    request_id = waiting[0].rsplit("Request ", 1)[1].rstrip(".")
    already = [r for r in replies if "asked for this already" in r]
    assert len(already) == 9 and all(f"request {request_id}" in r for r in already), replies
    cards = [m for m in bot_messages(tg, APPROVAL_CHAT) if f"delete CT {alpha}" in m.content]
    assert len(cards) == 1 and cards[0].flat_buttons
    assert [a.id for a in h.services.approvals.pending()] == [request_id]

    other = await h.ask(h.bob, f"/ct_delete {beta}")
    assert "Waiting for an admin's approval" in other.content
    assert request_id not in other.content
    await tg.wait_for(lambda m: f"delete CT {beta}" in m.content, chat_id=APPROVAL_CHAT)
    assert len(h.services.approvals.pending()) == 2

    # Decided, it no longer waits: asking again files a new request.
    await h.admin.press(cards[0], "Reject")
    await tg.wait_for(lambda m: "was rejected" in m.content, chat_id=BOB_ID)
    again = await h.ask(h.bob, f"/ct_delete {alpha}")
    assert "Waiting for an admin's approval" in again.content and request_id not in again.content
