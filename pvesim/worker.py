"""Worker tasks: each asynchronous API method runs as an asyncio task with a UPID and a log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .model import Cluster, Task

log = logging.getLogger(__name__)

Work = Callable[[Task], Awaitable[None]]


class TaskError(Exception):
    """A task failure: the message becomes ``TASK ERROR: <msg>`` and the exit status."""


class TaskRunner:
    """Starts worker tasks on the running loop; durations are simulated seconds x time_scale."""

    def __init__(self, cluster: Cluster, time_scale: float):
        self.cluster = cluster
        self.time_scale = time_scale
        self._running: set[asyncio.Task] = set()
        self._injected: dict[str, str] = {}  # upid -> failure taken from cluster.failures
        self._cuts: dict[str, int] = {}  # upid -> lines its log loses at the end (log_cuts)

    def start(self, node: str, wtype: str, wid: str, user: str, work: Work,
              on_error: Callable[[], None] | None = None) -> Task:
        task = self.cluster.new_task(node, wtype, wid, user)
        if (msg := self.cluster.failures.pop(wtype, None)) is not None:
            self._injected[task.upid] = msg
        if (cut := self.cluster.log_cuts.pop(wtype, None)) is not None:
            self._cuts[task.upid] = cut
        if wtype in self.cluster.holds:
            self.cluster.holds.discard(wtype)
            self.cluster.held.add(task.upid)
        handle = asyncio.get_running_loop().create_task(self._run(task, work, on_error))
        self._running.add(handle)
        handle.add_done_callback(self._running.discard)
        return task

    async def wait(self, task: Task, factor: float = 1.0) -> None:
        """Let the task's simulated duration pass; an injected failure strikes here, and a
        held task stays here until it is released."""
        seconds = self.cluster.durations.get(task.type, 1.0) * factor * self.time_scale
        await asyncio.sleep(seconds)
        await self._until_released(task)
        if (msg := self._injected.pop(task.upid, None)) is not None:
            raise TaskError(msg)

    async def _run(self, task: Task, work: Work, on_error: Callable[[], None] | None) -> None:
        try:
            await work(task)
            await self._until_released(task)  # a task whose work never waited
            if (msg := self._injected.pop(task.upid, None)) is not None:
                raise TaskError(msg)
        except asyncio.CancelledError:
            self._finish(task, "interrupted by signal")
            raise
        except Exception as exc:  # any failure ends the task like PVE's worker: with its message
            if not isinstance(exc, TaskError):
                log.exception("task %s crashed", task.upid)
            self._finish(task, str(exc).strip().split("\n")[0] or type(exc).__name__)
            if on_error is not None:
                on_error()
        else:
            task.log("TASK OK")
            task.exitstatus = "OK"
            task.status = "stopped"
            task.endtime = int(self.cluster.now())
        finally:
            self.cluster.held.discard(task.upid)
            if (cut := self._cuts.pop(task.upid, 0)) > 0 and task.status == "stopped":
                del task.lines[-cut:]

    async def _until_released(self, task: Task) -> None:
        while task.upid in self.cluster.held:  # noqa: ASYNC110 - released by a test's call
            await asyncio.sleep(0.01)

    def _finish(self, task: Task, message: str) -> None:
        task.log(f"TASK ERROR: {message}")
        task.exitstatus = message
        task.status = "stopped"
        task.endtime = int(self.cluster.now())

    @property
    def active(self) -> int:
        return len(self._running)

    async def idle(self) -> None:
        """Wait until every started task has finished (tests, benches)."""
        while self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def close(self) -> None:
        for handle in list(self._running):
            handle.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
