"""TelegramStandInThread: the stand-in on its own thread and event loop.

Benches measure the bot's event loop; serving Telegram from that same loop would add the
stand-in's work to the bot's figures. Here the stand-in lives on a separate loop; everything
that touches it (users sending, waiting) runs there through ``run()``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tgsim.server import TelegramStandIn

T = TypeVar("T")


class TelegramStandInThread:
    """``with TelegramStandInThread() as st: st.tg.base_url; st.run(lambda tg: ...)``."""

    def __init__(self, **kwargs: Any):
        self._kwargs = kwargs
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tgsim",
                                        daemon=True)
        self.tg: TelegramStandIn | None = None

    def start(self) -> TelegramStandIn:
        self._thread.start()
        self.tg = self._submit(self._start()).result(10)
        return self.tg

    async def _start(self) -> TelegramStandIn:
        tg = TelegramStandIn(**self._kwargs)
        await tg.start()
        return tg

    def stop(self) -> None:
        if self.tg is not None:
            self._submit(self.tg.stop()).result(10)
            self.tg = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def run(self, action: Callable[[TelegramStandIn], Awaitable[T]],
            timeout: float = 30.0) -> T:
        """Run ``action(tg)`` on the stand-in's loop and return its result (blocking)."""
        assert self.tg is not None, "start() first"
        return self._submit(action(self.tg)).result(timeout)

    async def arun(self, action: Callable[[TelegramStandIn], Awaitable[T]]) -> T:
        """The same from another event loop, without blocking it."""
        assert self.tg is not None, "start() first"
        return await asyncio.wrap_future(self._submit(action(self.tg)))

    def _submit(self, coro: Awaitable[T]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)  # type: ignore[arg-type]

    def __enter__(self) -> TelegramStandInThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
