"""Backup jobs on their calendar, in the cluster's time (``Simulator.advance`` moves it).

Real PVE's ``pvescheduler`` checks the jobs every minute and runs each due ``/cluster/backup``
job as a vzdump task on every node holding guests the job selects (user ``root@pam``). Here the
same happens when the clock is moved (``await sim.advance(7 * 86400)``: a week of nightly jobs in
milliseconds at time_scale 0, each run a real task in the task list, prune-backups applied) and,
while the simulator runs, once a second for jobs due in real time (the demo).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from .api.backup import JOB_ONLY, job_next_run, start_vzdump, wait_tasks
from .errors import ApiError

if TYPE_CHECKING:
    from .server import Simulator

log = logging.getLogger(__name__)


class BackupScheduler:
    def __init__(self, sim: Simulator):
        self.sim = sim
        self.runs: list[tuple[str, int, list[str]]] = []  # (job id, due time, UPIDs) for tests

    def _due(self, until: float) -> tuple[int, str] | None:
        due = []
        for job_id, job in self.sim.cluster.backup_jobs.items():
            nxt = job_next_run(self.sim.cluster, job)
            if nxt is not None and nxt <= until:
                due.append((nxt, job_id))
        return min(due) if due else None

    async def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward, running every job that falls due on the way, in
        order, each at its own time (its tasks finish before the clock moves on)."""
        cluster = self.sim.cluster
        target = cluster.now() + seconds
        while (item := self._due(target)) is not None:
            when, job_id = item
            if when > cluster.now():
                cluster.clock_offset += when - cluster.now()
            await self.run_job(job_id, when)
        if target > cluster.now():
            cluster.clock_offset += target - cluster.now()

    async def run_due(self) -> None:
        """Run the jobs due by now (called every second while the simulator runs)."""
        while (item := self._due(self.sim.cluster.now())) is not None:
            await self.run_job(item[1], item[0])

    async def run_job(self, job_id: str, when: int) -> list[str]:
        job = self.sim.cluster.backup_jobs[job_id]
        job["last"] = when  # before any await: a concurrent check sees it done
        config: dict[str, Any] = job["config"]
        options = {k: v for k, v in config.items() if k not in JOB_ONLY}
        tasks = []
        for node in self.sim.cluster.nodes.values():
            if not node.online or config.get("node") not in (None, node.name):
                continue
            selection = dict(options)
            wanted = {int(v) for v in str(config.get("vmid", "")).replace(";", ",").split(",")
                      if v.strip()}
            local = [g.vmid for g in self.sim.cluster.guests.values() if g.node == node.name
                     and (config.get("all") or g.vmid in wanted)]
            if config.get("all"):
                selection.update(all=1, **({"exclude": config["exclude"]}
                                           if "exclude" in config else {}))
            elif local:
                selection["vmid"] = ",".join(str(v) for v in sorted(local))
            if not local:
                continue
            try:
                tasks.append(start_vzdump(self.sim, node.name, selection, "root@pam"))
            except ApiError as exc:
                log.warning("backup job %s on %s not started: %s", job_id, node.name, exc)
        await wait_tasks(tasks)
        upids = [t.upid for t in tasks]
        self.runs.append((job_id, when, upids))
        return upids

    async def loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.run_due()
            except Exception:  # the scheduler must keep going, like pvescheduler
                log.exception("backup scheduler failed")
