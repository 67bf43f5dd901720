"""bot.metrics: an update's waits are the time during which at least one wait was in progress.

The fakes sleep; assertions are structural (waits within the update's time, the own part not
less than what the handler spent outside every wait) or allow a wide margin on the sleeps.
"""

from __future__ import annotations

import asyncio

from bot.metrics import UpdateTimings, waiting_for
from bot.proxmox import Proxmox, ProxmoxSettings

WAIT = 0.2  # s; margins below are half of it


async def fake_call(party: str, seconds: float = WAIT) -> None:
    with waiting_for(party):
        await asyncio.sleep(seconds)


async def test_concurrent_waits_of_one_party_count_once():
    timings = UpdateTimings()
    with timings.measure("info"):
        await asyncio.gather(fake_call("proxmox"), fake_call("proxmox"))  # as /info does
    (t,) = timings.recent
    assert WAIT * 0.95 <= t.proxmox_s <= t.total_s  # not 2 * WAIT: that is more than it took
    assert t.proxmox_s < 1.5 * WAIT
    assert t.telegram_s == 0.0
    assert t.waiting_s == t.proxmox_s
    assert 0.0 <= t.own_s == t.total_s - t.waiting_s


async def test_a_proxmox_wait_overlapping_a_telegram_wait_is_subtracted_once():
    timings = UpdateTimings()
    with timings.measure("info"):
        await asyncio.gather(fake_call("proxmox"), fake_call("telegram"))
        await asyncio.sleep(WAIT)  # the bot's own time, as far as the metrics can tell
    (t,) = timings.recent
    assert WAIT * 0.95 <= t.proxmox_s <= t.waiting_s
    assert WAIT * 0.95 <= t.telegram_s <= t.waiting_s
    assert t.waiting_s < 1.5 * WAIT  # the union, not proxmox_s + telegram_s
    assert t.waiting_s <= t.total_s
    assert t.own_s >= WAIT * 0.95  # summed waits would have left ~0 here


async def test_nested_and_staggered_waits_are_a_union():
    timings = UpdateTimings()

    async def staggered() -> None:
        await asyncio.sleep(WAIT / 2)
        await fake_call("proxmox")  # starts while the first is half done

    with timings.measure("x"):
        with waiting_for("telegram"):
            with waiting_for("telegram"):  # a retry inside the rate limiter's wait, say
                await asyncio.gather(fake_call("proxmox"), staggered())
    (t,) = timings.recent
    # proxmox: [0, WAIT] and [WAIT/2, 1.5 WAIT] -> 1.5 WAIT, not 2 WAIT; telegram spans all.
    assert 1.4 * WAIT <= t.proxmox_s <= t.telegram_s == t.waiting_s <= t.total_s
    assert t.proxmox_s < 1.9 * WAIT
    assert t.telegram_s < 2.5 * WAIT  # not counted twice for the nested wait


async def test_a_wait_still_running_at_the_end_counts_up_to_the_end_only():
    timings = UpdateTimings()
    with timings.measure("x"):
        background = asyncio.create_task(fake_call("proxmox", 2 * WAIT))  # outlives the update
        await asyncio.sleep(WAIT)
    await background
    (t,) = timings.recent
    assert WAIT * 0.5 <= t.proxmox_s == t.waiting_s <= t.total_s


async def test_waits_outside_an_update_and_of_other_updates_are_not_counted():
    timings = UpdateTimings()
    await fake_call("proxmox")  # no update being handled: nothing to count it against

    async def update(name: str, party: str | None) -> None:
        with timings.measure(name):
            if party is None:
                await asyncio.sleep(WAIT)
            else:
                await fake_call(party)

    await asyncio.gather(update("waits", "proxmox"), update("works", None))
    by_name = {t.name: t for t in timings.recent}
    assert by_name["waits"].proxmox_s >= WAIT * 0.95
    assert by_name["works"].waiting_s == 0.0
    assert by_name["works"].own_s == by_name["works"].total_s


async def test_a_caller_sharing_an_in_flight_proxmox_read_is_waiting_for_proxmox():
    timings = UpdateTimings()
    px = Proxmox(ProxmoxSettings(host="h", token_id="root@pam!t", token_secret="s3cr3t"))
    try:
        async def update(name: str) -> None:
            with timings.measure(name):
                await px._single_flight(("resources", None), lambda: fake_call("proxmox"))

        first = asyncio.create_task(update("first"))
        await asyncio.sleep(WAIT / 4)  # the first one's request is in flight
        await update("joined")
        await first
    finally:
        await px.aclose()
    by_name = {t.name: t for t in timings.recent}
    assert by_name["first"].proxmox_s >= WAIT * 0.95
    assert WAIT * 0.5 <= by_name["joined"].proxmox_s <= by_name["joined"].total_s
    assert by_name["joined"].own_s < WAIT * 0.5


async def test_an_update_is_recorded_with_its_chat():
    timings = UpdateTimings()
    with timings.measure("list_containers", chat_id=42):
        pass
    with timings.measure("tick"):
        pass
    assert [(t.name, t.chat_id) for t in timings.recent] == [("list_containers", 42),
                                                             ("tick", None)]


async def test_the_loop_busy_after_proxmox_answered_is_the_bots_own_time():
    """A Proxmox call whose answer is in while the event loop works for other updates: that
    delay is the bot's, not Proxmox's."""
    import time

    timings = UpdateTimings()
    px = Proxmox(ProxmoxSettings(host="h", token_id="root@pam!t", token_secret="s3cr3t"))
    try:
        async def update() -> None:
            with timings.measure("info"), waiting_for("proxmox"):
                await px._in_thread(time.sleep, WAIT / 4)  # Proxmox answers after WAIT / 4

        task = asyncio.create_task(update())
        await asyncio.sleep(0)  # the update is now waiting for its thread
        time.sleep(WAIT)  # noqa: ASYNC251 - the loop is busy (another update's work, say)
        await task
    finally:
        await px.aclose()
    (t,) = timings.recent
    assert t.proxmox_s <= WAIT / 2  # Proxmox took WAIT / 4, not the WAIT the loop was busy
    assert t.own_s >= WAIT / 2


async def test_joiners_of_a_shared_read_wait_until_it_was_answered_not_until_they_resume():
    import time

    timings = UpdateTimings()
    px = Proxmox(ProxmoxSettings(host="h", token_id="root@pam!t", token_secret="s3cr3t"))
    try:
        async def read() -> None:
            with waiting_for("proxmox"):
                await px._in_thread(time.sleep, WAIT / 4)

        async def update(name: str) -> None:
            with timings.measure(name):
                await px._single_flight(("resources", None), read)

        tasks = [asyncio.create_task(update(n)) for n in ("first", "joined")]
        await asyncio.sleep(0.01)
        time.sleep(WAIT)  # noqa: ASYNC251 - the loop is busy while the answer comes in
        await asyncio.gather(*tasks)
    finally:
        await px.aclose()
    for t in timings.recent:
        assert t.proxmox_s <= WAIT / 2, t
        assert t.own_s >= WAIT / 2, t


async def test_a_task_outliving_its_update_does_not_keep_adding_waits_to_it():
    from bot import metrics

    timings = UpdateTimings()
    done = asyncio.Event()

    async def follow():  # e.g. a backup followed long after the command was answered
        await done.wait()
        for _ in range(100):
            await fake_call("proxmox", 0)
        return metrics._waits.get()  # the update's record, which this task shares

    with timings.measure("backup"):
        task = asyncio.create_task(follow())
    done.set()
    waits = await task
    assert waits.closed and waits.spans == []
