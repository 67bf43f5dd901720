"""The bot process of bench/chat_load.py: `python -m bot`'s Application, plus a timings dump.

Run by the bench with STRATUS_* settings in the environment; on SIGTERM it stops polling and
writes its per-update timings and its peak RSS to the file named by the first argument.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import sys

from bot.app import freeze_startup_objects, serving
from bot.metrics import TIMINGS
from bot.runtime import build_bot
from bot.settings import Settings


async def main(out_path: str) -> None:
    app = build_bot(Settings.load(os.environ))
    freeze_startup_objects()  # as `python -m bot` does
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with serving(app):
        print("ready", flush=True)
        await stop.wait()
    timings = [(t.name, t.total_s, t.proxmox_s, t.telegram_s, t.waiting_s, t.chat_id)
               for t in TIMINGS.recent]
    peak_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with open(out_path, "w") as f:  # noqa: ASYNC230 - the bot has stopped; nothing waits
        json.dump({"timings": timings, "peak_rss_kb": peak_rss_kb}, f)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
