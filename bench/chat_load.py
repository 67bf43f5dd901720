"""Chat load: 100 chats sending /list and /info at once through the Telegram stand-in.

    .venv/bin/python bench/chat_load.py [--chats 100] [--rounds 5] [--ramp SECONDS]
    .venv/bin/python bench/chat_load.py --flood 450 [--flood-rate 30] [--chats 20] [--phase 15]

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

`--flood N` measures instead what one unregistered stranger's flood does to everyone else
(issue 10): users (default 20) send /list and /info all along, pausing `--think` s (x0.5..1.5,
seeded) between a reply and their next command, as people do (not all restarting at the same
instant: that alone queues replies in the 30 messages/s limit). After a warm-up come, twice
(`--windows`), a quiet window of `--phase` s, then a window of the same length from the first
of N messages that a stranger sends `--flood-rate` a second (default 30: before the limits his
refusals alone took the bot's whole Telegram budget; 450 of them fill a 15 s window) or all at
once (0: a burst). Alternating the windows spreads the machine's own ups and downs (other
processes, the bot's periodic jobs) over both kinds.
Figure: the users' p99 reply time (sent -> first reply, as they see it) over the quiet windows
and over the flood windows, and their ratio (goal <= 1.5); plus how many answers the stranger
got and how many "slow down" answers the users got (0, else the users' own limit, not the
flood, shaped the figure). The bot runs with the product's default limits (bot/settings.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
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
STRANGER = 6666  # not registered
WARM_UP_S = 3.0  # --flood: the users' first commands, not counted


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


async def flood(tg, count: int, rate: float) -> None:
    """The stranger sends `count` messages, `rate` a second (on a fixed schedule, so sleeps
    that overrun do not slow it) or all at once (rate 0)."""
    stranger = tg.user(STRANGER, "stranger")
    start = time.perf_counter()
    for i in range(count):
        if rate > 0:
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        await stranger.send(f"/list {i}")


async def drive_flood(tg, args) -> list[tuple[float, float, bool]]:
    """The users send all along, as people do: a command, its reply, a pause of --think s
    (x0.5..1.5, seeded), the next. After a warm-up, --windows times: a quiet window of --phase
    s, then a window that starts with the stranger's first message and lasts --phase s, or as
    long as he sends. Returns the windows: (start, end, flooded), in time.monotonic() as the
    stand-in stamps updates."""
    stop = asyncio.Event()
    rng = random.Random(args.seed)

    async def one_chat(i: int) -> None:
        user = tg.user(FIRST_USER + i, f"user{i}")
        texts = itertools.cycle(("/list", f"/info {200 + i}"))
        await asyncio.sleep(rng.uniform(0.0, args.think))
        while not stop.is_set():
            mark = tg.mark()
            await user.send(next(texts))
            await tg.wait_for(lambda m, uid=user.id: m.chat_id == uid, since=mark, timeout=60)
            await asyncio.sleep(rng.uniform(0.5, 1.5) * args.think)

    chats = [asyncio.create_task(one_chat(i)) for i in range(args.chats)]
    await asyncio.sleep(WARM_UP_S)
    windows = []
    for _ in range(args.windows):
        quiet_from = time.monotonic()
        await asyncio.sleep(args.phase)
        flood_from = time.monotonic()
        await asyncio.gather(flood(tg, args.flood, args.flood_rate), asyncio.sleep(args.phase))
        windows += [(quiet_from, flood_from, False), (flood_from, time.monotonic(), True)]
    stop.set()
    await asyncio.gather(*chats)
    # What the stranger sent is taken and handled before counting his answers.
    await tg.wait_until(lambda: not tg.pending_update_count, timeout=120)
    await asyncio.sleep(1.0)
    return windows


def report_flood(tg, args, windows: list[tuple[float, float, bool]]) -> None:
    users = {FIRST_USER + i for i in range(args.chats)}
    samples: dict[bool, list[float]] = {False: [], True: []}
    for lat in tg.reply_latency():
        window = next((w for w in windows if w[0] <= lat.queued_at < w[1]), None)
        if lat.chat_id in users and window is not None:
            samples[window[2]].append(lat.since_queued * 1000)
    quiet, flooded = samples[False], samples[True]
    how = (f"at {args.flood_rate:g} a second" if args.flood_rate > 0 else "at once")
    lengths = ", ".join(f"{end - start:.0f} s {'flood' if flooding else 'quiet'}"
                        for start, end, flooding in windows)
    print(f"{args.chats} users sending /list and /info, pausing {0.5 * args.think:g}-"
          f"{1.5 * args.think:g} s after each reply (seed {args.seed}); windows: {lengths}; "
          f"in each flood window a stranger sends {args.flood} messages {how}")
    print(f"{'users reply time (sent -> reply)':38} {'n':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for label, values in (("quiet", quiet), ("while the stranger floods", flooded)):
        print(f"{label:38} {len(values):6d} {percentile(values, 50):8.2f} "
              f"{percentile(values, 99):8.2f}")
    ratio = percentile(flooded, 99) / percentile(quiet, 99)
    print(f"p99 flood / quiet: {ratio:.2f} (goal <= 1.5)")
    to_stranger = [m for m in tg.chat(STRANGER).messages if m.from_bot]
    slow = sum("Slow down" in m.content for uid in users for m in tg.chat(uid).messages
               if m.from_bot)
    print(f"answers to the stranger: {len(to_stranger)} for his {args.flood * args.windows} "
          f"messages; 'slow down' answers to the users: {slow}")


@contextlib.contextmanager
def bot_running(chats: int, out: Path, work: Path):
    """pvesim and the stand-in on their threads, `chats` registered users owning a CT each,
    and the bot as its own process (python -m bot's Application and settings); yields the
    stand-in's thread. On exit the bot writes its timings to `out`."""
    store = Store(work / "stratus.json")
    for i in range(chats):
        store.users.put(User(id=FIRST_USER + i, role="user", name=f"user{i}"))
        store.ownership.set(200 + i, FIRST_USER + i, f"ct{i}")
    store.close()

    with SimulatorThread(scenario=scenario(chats), time_scale=0.0) as sim, \
            TelegramStandInThread() as standin:
        tg = standin.tg
        for i in range(chats):
            standin.run(lambda t, i=i: _open(t, FIRST_USER + i))
        standin.run(lambda t: _open(t, ADMIN, "admin"))  # the approval chat: strangers' notices
        env = dict(os.environ,
                   STRATUS_TELEGRAM_TOKEN=tg.token, STRATUS_TELEGRAM_BASE_URL=tg.base_url,
                   STRATUS_PROXMOX_HOST="127.0.0.1", STRATUS_PROXMOX_PORT=str(sim.port),
                   STRATUS_PROXMOX_TOKEN_ID=sim.token_id,
                   STRATUS_PROXMOX_TOKEN_SECRET=sim.token_secret,
                   STRATUS_PROXMOX_TLS="fingerprint", STRATUS_PROXMOX_FINGERPRINT=sim.fingerprint,
                   STRATUS_ADMIN_IDS=str(ADMIN), STRATUS_APPROVAL_CHAT_ID=str(ADMIN),
                   STRATUS_DATA_DIR=str(work),
                   # This checkout's bot, not whichever one the venv was installed from.
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                            os.environ.get("PYTHONPATH")])))
        bot = subprocess.Popen([sys.executable, str(ROOT / "bench" / "chat_load_bot.py"),
                                str(out)], env=env, stdout=subprocess.PIPE, cwd=ROOT)
        try:
            assert bot.stdout is not None and bot.stdout.readline().strip() == b"ready"
            yield standin
        finally:
            bot.terminate()
            bot.wait(60)


def main_flood(args) -> int:
    work = Path(tempfile.mkdtemp(prefix="stratus-chat-flood-"))
    with bot_running(args.chats, work / "timings.json", work) as standin:
        windows = standin.run(lambda t: drive_flood(t, args), timeout=1200)
        report_flood(standin.tg, args, windows)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=None, help="default 100 (--flood: 20)")
    parser.add_argument("--rounds", type=int, default=None, help="default 5 (not --flood)")
    parser.add_argument("--ramp", type=float, default=0.0, metavar="SECONDS",
                        help="start each chat after a random delay in [0, SECONDS) "
                             "(default 0: all at the same instant)")
    parser.add_argument("--seed", type=int, default=1, help="of the --ramp delays and pauses")
    parser.add_argument("--flood", type=int, default=0, metavar="N",
                        help="the flood figure: quiet windows, and windows in which a stranger "
                             "sends N messages")
    parser.add_argument("--flood-rate", type=float, default=30.0, metavar="PER_S",
                        help="--flood: the stranger's messages a second (0: all at once)")
    parser.add_argument("--think", type=float, default=1.0, metavar="SECONDS",
                        help="--flood: a user's mean pause between a reply and the next command")
    parser.add_argument("--phase", type=float, default=15.0, metavar="SECONDS",
                        help="--flood: how long each window (quiet, flood) lasts at least")
    parser.add_argument("--windows", type=int, default=2,
                        help="--flood: how many times a quiet window, then a flood window")
    args = parser.parse_args()
    if args.flood > 0:
        args.chats = args.chats or 20
        return main_flood(args)
    args.chats, args.rounds = args.chats or 100, args.rounds or 5
    delays = start_delays(args.chats, args.ramp, args.seed)

    work = Path(tempfile.mkdtemp(prefix="stratus-chat-load-"))
    out = work / "timings.json"
    with bot_running(args.chats, out, work) as standin:
        tg = standin.tg
        commands, wall = standin.run(lambda t: drive(t, args.chats, args.rounds, delays),
                                     timeout=600)
        latencies = [lat.since_delivery for lat in tg.reply_latency()]
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


async def _open(tg, uid: int, name: str | None = None) -> None:
    tg.user(uid, name or f"user{uid - FIRST_USER}").open_chat()


if __name__ == "__main__":
    sys.exit(main())
