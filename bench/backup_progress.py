"""While following a 10-minute backup: how often the progress message is edited, and how many
task-log requests the bot makes per edit. Prints counts; not a test.

    .venv/bin/python bench/backup_progress.py [--time-scale 0.05]

pvesim runs a vzdump of an 80 GiB CT (7.5 s/GiB: 600 simulated seconds); with time_scale 0.05
that takes 30 s of wall time. The bot follows it exactly as /backup does (BackupService.follow,
3 s interval, one edit per progress report, plus the final edit), on the real wall clock, so the
intervals measured are real seconds. Task-log requests are counted by pvesim itself.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bot.handlers.backups import PROGRESS_INTERVAL_S
from bot.proxmox import Proxmox, ProxmoxSettings
from pvesim import Simulator


async def main(time_scale: float) -> None:
    async with Simulator(time_scale=time_scale) as sim:
        sim.cluster.add_guest(150, "pve1", status="running", hostname="big",
                              rootfs="local-lvm:vm-150-disk-0,size=80G")
        simulated = sim.cluster.durations["vzdump"] * 80
        px = Proxmox(ProxmoxSettings(host="127.0.0.1", port=sim.port, token_id=sim.token_id,
                                     token_secret=sim.token_secret, verify_tls=True,
                                     fingerprint=sim.fingerprint))
        edits: list[float] = []

        async def edit(_progress) -> None:  # what LiveMessage.edit is called with, per report
            edits.append(time.monotonic())

        async with px:
            node, upid = await px.start_backup(150, storage="local")
            sim.reset_requests()
            t0 = time.monotonic()
            result = await px.follow_backup(150, node, upid, edit, interval=PROGRESS_INTERVAL_S)
            edits.append(time.monotonic())  # the final edit with the result
            wall = time.monotonic() - t0
        log_requests = sim.request_counts()["GET /nodes/{node}/tasks/{upid}/log"]
        other = sum(sim.request_counts().values()) - log_requests
        gaps = [b - a for a, b in zip(edits, edits[1:], strict=False)]
        print(f"backup: {simulated:.0f} s simulated ({result.duration}), {wall:.1f} s wall "
              f"(time_scale {time_scale}), {result.volid}")
        print(f"edits: {len(edits)} (progress {len(edits) - 1} + final 1)")
        print(f"min interval between edits: {min(gaps):.2f} s (limit {PROGRESS_INTERVAL_S} s)")
        print(f"task-log requests: {log_requests}; other requests while following: {other}")
        print(f"task-log requests per edit: {log_requests / len(edits):.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--time-scale", type=float, default=0.05)
    asyncio.run(main(parser.parse_args().time_scale))
