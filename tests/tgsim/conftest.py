"""Fixtures: a TelegramStandIn, and the echo bot long-polling it with the real PTB Application."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tgsim_echo_bot import EchoBot, build_echo_app

from tgsim import TelegramStandIn


@pytest.fixture
async def tg() -> AsyncIterator[TelegramStandIn]:
    async with TelegramStandIn() as stand_in:
        yield stand_in


@pytest.fixture
async def echo_bot(tg: TelegramStandIn) -> AsyncIterator[EchoBot]:
    bot = build_echo_app(tg)
    async with bot.app:
        await bot.app.start()
        await bot.app.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            yield bot
        finally:
            await bot.app.updater.stop()
            await bot.app.stop()
