"""Chat load: 100 chats sending /list and /info at once through the Telegram stand-in.

    .venv/bin/python bench/chat_load.py [--chats 100] [--rounds 5] [--ramp SECONDS]

pvesim (tasks instant) and the Telegram stand-in run in this process, each on its own thread;
the bot runs as a separate process (the real Application, as `python -m bot` builds it), so its
peak RSS is its own. Each chat sends a command, waits for the answer, sends the next; the chats
run concurrently. By default they all send their first command at the same instant (a burst
the bot chews through one update after another); `--ramp 3` starts each chat after a random
delay, uniform in [0, 3) s and the same from run to run (`--seed`): users active together but
not synchronized to the millisecond. Prints figures; asserts nothing.

Figures:
- bot's own latency: from the handler's start to its end (replies acknowledged by Telegram),
  minus the time during which it was waiting for Proxmox or Telegram (measured inside the
  bot, per update; concurrent waits counted once); Telegram's wait includes PTB's
  AIORateLimiter queue, which holds the bot to Telegram's 30 messages/s, so with 100 busy
  chats it dominates the end-to-end figure;
- the same including the Proxmox waits; the Telegram waits alone;
- end to end as the stand-in sees it: update delivered to the bot -> its reply arrived;
- commands per second over the whole run, and the bot process's peak RSS;
- where the tail of the bot's own latency comes from: how many updates took more than 25 ms,
  and its p99 without each chat's first command (the opening burst, or the ramp's arrivals).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.store import Store, User
from pvesim import SimulatorThread
from tgsim.thread import TelegramStandInThread

ROOT = Path(__file__).resolve().parents[1]
FIRST_USER = 5000
ADMIN = 4999


def scenario(chats: int) -> dict:
    guests = [{"vmid": 200 + i, "node": "pve1" if i % 2 else "pve2", "status": "running",
               "hostname": f"ct{i}", "cores": 1, "memory": 512,
               "rootfs": f"local-lvm:vm-{200 + i}-disk-0,size=8G",
               "net0": "name=eth0,bridge=vmbr0,ip=dhcp"} for i in range(chats)]
    return {"guests": guests}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def start_delays(chats: int, ramp: float, seed: int) -> list[float]:
    """When each chat sends its first command: all at once, or spread over [0, ramp) s."""
    rng = random.Random(seed)
    return [rng.uniform(0.0, ramp) if ramp > 0 else 0.0 for _ in range(chats)]


async def drive(tg, chats: int, rounds: int, delays: list[float]) -> tuple[int, float]:
    users = [tg.user(FIRST_USER + i, f"user{i}") for i in range(chats)]

    async def one_chat(i: int, user) -> int:
        if delays[i] > 0:
            await asyncio.sleep(delays[i])
        done = 0
        for _round in range(rounds):
            for text in ("/list", f"/info {200 + i}"):
                mark = tg.mark()
                await user.send(text)
                await tg.wait_for(lambda m, uid=user.id: m.chat_id == uid, since=mark,
                                  timeout=60)
                done += 1
        return done

    start = time.perf_counter()
    counts = await asyncio.gather(*(one_chat(i, u) for i, u in enumerate(users)))
    return sum(counts), time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ramp", type=float, default=0.0, metavar="SECONDS",
                        help="start each chat after a random delay in [0, SECONDS) "
                             "(default 0: all at the same instant)")
    parser.add_argument("--seed", type=int, default=1, help="of the --ramp delays")
    args = parser.parse_args()
    delays = start_delays(args.chats, args.ramp, args.seed)

    work = Path(tempfile.mkdtemp(prefix="stratus-chat-load-"))
    store = Store(work / "stratus.json")
    for i in range(args.chats):
        store.users.put(User(id=FIRST_USER + i, role="user", name=f"user{i}"))
        store.ownership.set(200 + i, FIRST_USER + i, f"ct{i}")
    store.close()

    with SimulatorThread(scenario=scenario(args.chats), time_scale=0.0) as sim, \
            TelegramStandInThread() as standin:
        tg = standin.tg
        for i in range(args.chats):
            standin.run(lambda t, i=i: _open(t, FIRST_USER + i))
        env = dict(os.environ,
                   STRATUS_TELEGRAM_TOKEN=tg.token, STRATUS_TELEGRAM_BASE_URL=tg.base_url,
                   STRATUS_PROXMOX_HOST="127.0.0.1", STRATUS_PROXMOX_PORT=str(sim.port),
                   STRATUS_PROXMOX_TOKEN_ID=sim.token_id,
                   STRATUS_PROXMOX_TOKEN_SECRET=sim.token_secret,
                   STRATUS_PROXMOX_TLS="fingerprint", STRATUS_PROXMOX_FINGERPRINT=sim.fingerprint,
                   STRATUS_ADMIN_IDS=str(ADMIN), STRATUS_APPROVAL_CHAT_ID=str(ADMIN),
                   STRATUS_DATA_DIR=str(work))
        out = work / "timings.json"
        bot = subprocess.Popen([sys.executable, str(ROOT / "bench" / "chat_load_bot.py"),
                                str(out)], env=env, stdout=subprocess.PIPE, cwd=ROOT)
        try:
            assert bot.stdout is not None and bot.stdout.readline().strip() == b"ready"
            commands, wall = standin.run(lambda t: drive(t, args.chats, args.rounds, delays),
                                         timeout=600)
            latencies = [lat.since_delivery for lat in tg.reply_latency()]
        finally:
            bot.terminate()
            bot.wait(60)
    data = json.loads(out.read_text())
    # waiting: the time at least one wait (Proxmox or Telegram) was in progress, overlaps
    # counted once, so own = total - waiting >= 0.
    # In the order the updates ended: a chat's commands follow one another.
    timings = [(total, tg_wait, waiting, chat)
               for name, total, _pve, tg_wait, waiting, chat in data["timings"]
               if name in ("list_containers", "info")]
    own = [(total - waiting) * 1000 for total, _tg, waiting, _c in timings]
    with_pve = [(total - tg_wait) * 1000 for total, tg_wait, _w, _c in timings]
    waits_tg = [tg_wait * 1000 for _t, tg_wait, _w, _c in timings]
    seen: set[int] = set()
    own_later = []  # without each chat's first command
    for (_t, _tg, _w, chat), ms in zip(timings, own, strict=True):
        if chat in seen:
            own_later.append(ms)
        seen.add(chat)
    e2e = [x * 1000 for x in latencies]
    rows = [("bot's own (excl. Proxmox, Telegram)", own, "p50 <= 5 ms, p99 <= 25 ms"),
            ("bot incl. Proxmox (excl. Telegram)", with_pve, ""),
            ("waiting for Telegram (flood limit+HTTP)", waits_tg, ""),
            ("end to end (delivered -> reply)", e2e, "")]
    if args.ramp > 0:
        print(f"arrival: each chat starts after a random delay uniform in [0, {args.ramp:g}) s "
              f"(seed {args.seed}), then sends its next command when answered")
    else:
        print("arrival: all chats send their first command at the same instant (a burst), "
              "then each sends its next when answered")
    print(f"{args.chats} chats x {args.rounds} rounds x (/list, /info): {commands} commands "
          f"in {wall:.1f} s = {commands / wall:.0f} commands/s")
    print(f"{'figure':38} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}  target")
    for label, values, target in rows:
        print(f"{label:38} {len(values):6d} {percentile(values, 50):8.2f} "
              f"{percentile(values, 99):8.2f} {statistics.fmean(values):8.2f}  {target}")
    print(f"bot process peak RSS: {data['peak_rss_kb'] / 1024:.1f} MiB (target <= 120 MB)")
    slow = sum(ms > 25 for ms in own)
    print(f"bot's own > 25 ms: {slow} of {len(own)} updates ({100 * slow / len(own):.1f}%)")
    if own_later:
        print(f"bot's own p99 without each chat's first command: "
              f"{percentile(own_later, 99):.2f} ms (n={len(own_later)})")
    return 0


async def _open(tg, uid: int) -> None:
    tg.user(uid, f"user{uid - FIRST_USER}").open_chat()


if __name__ == "__main__":
    sys.exit(main())
