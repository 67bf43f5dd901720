"""The bot's rate limiter: Telegram's 30 messages a second, spread out rather than all at once."""

import asyncio

from bot.telegram_io import RetryingRateLimiter


async def test_no_more_than_three_messages_go_in_the_same_instant():
    limiter = RetryingRateLimiter()
    await limiter.initialize()
    sent: list[int] = []

    async def send(*_args, **_kwargs):
        sent.append(1)
        return True

    tasks = [asyncio.create_task(limiter.process_request(
        send, (), {}, "sendMessage", {"chat_id": 1000 + i}, None)) for i in range(30)]
    for _ in range(10):
        await asyncio.sleep(0)  # every request that may go at once has gone
    assert 1 <= len(sent) <= 3  # PTB's default bucket lets all 30 go here
    await asyncio.gather(*tasks)
    assert len(sent) == 30  # none lost, only spread out
    await limiter.shutdown()
