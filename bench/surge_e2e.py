"""A surge end to end, on the wall clock: from 2 to 16 ready replicas through the chat and pvesim.

    python bench/surge_e2e.py                   # sync 3 s, clone 6 s, start 1 s, warm-up 2 s
    python bench/surge_e2e.py --policy hpa      # the same with the HPA policy (target 80%)

The real bot (PTB Application with its JobQueue running the controller every --sync seconds)
talks to tgsim and, over HTTPS, to pvesim, whose clone and start tasks take the given seconds
(clones run in parallel, as Proxmox runs them). A group is made from the chat with
/scale_create (min 2, max 16), serves a load two replicas carry, then the load jumps to what
16 replicas carry at the SLO (85%). Prints the seconds from the jump to 16 ready replicas,
against the goal of one sync period plus one replica delay (clone + start + warm-up), and
what limits it. The clock is scaled down (seconds instead of minutes) so a run takes a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from e2e_harness import ADMIN_ID, APPROVAL_CHAT, default_policy, running_bot  # noqa: E402

from bot.services.scaling import ScalingSettings  # noqa: E402
from pvesim import Simulator  # noqa: E402
from tgsim import TelegramStandIn  # noqa: E402

TEMPLATE = 900
CHAT = -100900
CAPACITY = 100.0


def ready_count(sim, group: str = "web") -> int:
    now = time.time()
    model = sim.cluster.load
    return sum(1 for g in model.members(sim.cluster, group) if model.is_ready(g, now))


async def wait_until(check, timeout: float, step: float = 0.1) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise TimeoutError("the group did not get there in time")
        await asyncio.sleep(step)
    return time.monotonic() - started


async def run(args) -> None:
    settings = ScalingSettings(sync_s=args.sync, warmup_s=args.warmup, run_job=True,
                               ready_delay_s=args.clone + args.start + args.warmup)
    async with Simulator(time_scale=1.0) as sim, TelegramStandIn() as tg:
        sim.cluster.durations = {k: 0.0 for k in sim.cluster.durations}
        sim.cluster.durations.update(vzclone=args.clone, vzstart=args.start)
        sim.cluster.add_guest(TEMPLATE, "pve1", hostname="web-template", template=1)
        sim.cluster.load.warmup_s = args.warmup
        sim.cluster.load.capacity_rps = CAPACITY
        tg.group(APPROVAL_CHAT, "approvals")
        tg.group(CHAT, "web team")
        admin = tg.user(ADMIN_ID, "Ada", "ada")
        store = Path(tempfile.mkdtemp()) / "stratus.json"
        async with running_bot(sim, tg, store, default_policy(scaling=settings)):
            extra = "--policy hpa" if args.policy == "hpa" else ""
            await admin.send(f"/scale_create web --template {TEMPLATE} --min 2 --max 16 {extra}",
                             chat_id=CHAT)
            await tg.wait_for(lambda m: "created" in m.content, chat_id=CHAT, timeout=20)
            sim.cluster.set_load("web", 1.4 * CAPACITY)  # 2 replicas at 70%
            await wait_until(lambda: ready_count(sim) >= 2, timeout=120)
            await asyncio.sleep(args.learn)
            start, jumped_at = time.monotonic(), int(time.time())
            sim.cluster.set_load("web", 16 * CAPACITY * 0.85)
            took = await wait_until(lambda: ready_count(sim) >= 16, timeout=600)
            clones = [t for t in sim.cluster.tasks.values()
                      if t.type == "vzclone" and t.starttime >= jumped_at]
            rounds = sorted({t.starttime for t in clones})
            delay = args.clone + args.start + args.warmup
            print(f"policy {args.policy}; sync {args.sync:g} s; replica delay D = clone "
                  f"{args.clone:g} + start {args.start:g} + warm-up {args.warmup:g} = "
                  f"{delay:g} s")
            print(f"2 -> 16 ready replicas: {took:.1f} s after the jump (goal: sync + D = "
                  f"{args.sync + delay:g} s; {took / (args.sync + delay):.2f} x the goal); "
                  f"{len(clones)} clones in {len(rounds)} rounds (clones started in the same second)")
            print(f"wall time of the run from the jump: {time.monotonic() - start:.1f} s")


def main(argv: list[str] | None = None) -> int:
    # The JobQueue says each time a period is skipped because a scale-out still runs.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--policy", choices=("predictive", "hpa"), default="predictive")
    ap.add_argument("--sync", type=float, default=3.0)
    ap.add_argument("--clone", type=float, default=6.0)
    ap.add_argument("--start", type=float, default=1.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--learn", type=float, default=20.0,
                    help="seconds at the low load before the jump")
    args = ap.parse_args(argv)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
