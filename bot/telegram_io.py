"""How the bot talks to Telegram: rate limits with retries, and redaction of secrets in logs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from telegram.error import BadRequest, NetworkError, TimedOut
from telegram.ext import AIORateLimiter

from bot.metrics import waiting_for

log = logging.getLogger(__name__)


class RetryingRateLimiter(AIORateLimiter):
    """PTB's AIORateLimiter (flood limits, retries on 429) that also retries Telegram's 5xx.

    A 5xx means Telegram did not take the request, so sending it again loses nothing and
    duplicates nothing. A timeout is not retried: the request may have gone through; nor is a
    400 (PTB's BadRequest is a NetworkError too): it would fail again.
    """

    def __init__(self, *, max_retries: int = 5, server_error_retries: int = 4,
                 backoff_s: float = 0.5,
                 before_send: Callable[[], Awaitable[None]] | None = None, **kwargs) -> None:
        # Telegram's 30 messages a second, at most 3 in any 1/10 s. PTB's default (a leaky
        # bucket of capacity 30) lets 30 go in the same instant, and the event loop then does
        # all their work, and that of the commands the answers bring back, at once: a stall of
        # tens of ms every second under load (bench/chat_load.py: own p99 ~38 -> ~9.5 ms).
        kwargs.setdefault("overall_max_rate", 3)
        kwargs.setdefault("overall_time_period", 3 / 30)
        super().__init__(max_retries=max_retries, **kwargs)
        self._server_error_retries = server_error_retries
        self._backoff_s = backoff_s
        # What must be done before anything is told (the store's `durable`: no message can
        # acknowledge a change a crash would lose).
        self._before_send = before_send

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        if self._before_send is not None:
            with waiting_for("disk"):
                await self._before_send()
        with waiting_for("telegram"):
            return await self._with_retries(callback, args, kwargs, endpoint, data,
                                            rate_limit_args)

    async def _with_retries(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        for attempt in range(self._server_error_retries + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args)
            except (TimedOut, BadRequest):
                raise  # a timeout may have gone through; a 400 fails the same way every time
            except NetworkError as exc:
                if attempt == self._server_error_retries:
                    raise
                delay = self._backoff_s * 2**attempt
                log.warning("Telegram %s failed (%s); retrying in %.1fs", endpoint, exc, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")


class RedactSecrets(logging.Filter):
    """Replaces every secret with *** in the message and traceback of each log record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 4]

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def configure_logging(secrets: Iterable[str], level: int = logging.INFO,
                      path: str | None = None) -> logging.Handler:
    """Log to stderr (or a file) with secrets redacted; httpx's per-request lines (which carry
    the bot token in the URL) are kept to warnings, and PTB's bot loggers to INFO: at DEBUG they
    log every message sent with its text, a generated root password included."""
    handler = logging.FileHandler(path) if path else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("telegram.Bot", "telegram.ext.ExtBot"):
        logging.getLogger(name).setLevel(max(level, logging.INFO))
    return handler
