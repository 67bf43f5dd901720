"""Long work started through the API: each is an operation a client follows by polling
``/api/v1/operations/{id}`` (state, progress, result, error), as Proxmox's tasks are followed.

The same background work the chat follows in a live message (a create, a backup, a restore,
a power action, a delete) runs here as an asyncio task in the bot's loop; its progress steps
are the ones the chat shows. Kept in memory, like the chat's live messages: after a restart
the work that was running is not followed any more (a finished backup is still reported in
the chat by the watcher), and its operation is gone.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

KEEP = 10_000  # finished operations kept for their clients to read, the oldest forgotten first
STEPS_KEPT = 50


@dataclass
class Operation:
    id: str
    owner_id: int
    kind: str  # "create", "backup", ...
    target: str  # what it acts on, e.g. "ct:101"
    created_at: float
    state: str = "running"  # running | succeeded | failed
    progress: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None  # a problem document
    finished_at: float | None = None

    async def step(self, text: str) -> None:
        """A progress step (the callable the services take as `progress`)."""
        self.progress.append(text)
        del self.progress[:-STEPS_KEPT]


Work = Callable[[Operation], Awaitable[dict[str, Any] | None]]
Failure = Callable[[BaseException, Operation], dict[str, Any] | None]


class Operations:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._ops: OrderedDict[str, Operation] = OrderedDict()
        self._tasks: set[asyncio.Task] = set()  # strong references until they end
        self._clock = clock

    def start(self, owner_id: int, kind: str, target: str, work: Work,
              failure: Failure) -> Operation:
        """Run `work(op)` in the background; its return value is the result. `failure` turns
        an error into the operation's problem document (None: a bug, logged)."""
        op = Operation(secrets.token_hex(6), owner_id, kind, target, self._clock())
        self._ops[op.id] = op
        while len(self._ops) > KEEP:
            oldest = next(iter(self._ops.values()))
            if oldest.state == "running":
                break
            self._ops.popitem(last=False)
        task = asyncio.get_running_loop().create_task(self._run(op, work, failure))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return op

    async def _run(self, op: Operation, work: Work, failure: Failure) -> None:
        try:
            op.result = await work(op)
            op.state = "succeeded"
        except Exception as exc:  # noqa: BLE001 - every operation ends with its reason
            op.error = failure(exc, op)
            op.state = "failed"
        finally:
            op.finished_at = self._clock()

    def get(self, op_id: str) -> Operation | None:
        return self._ops.get(op_id)

    def of_owner(self, owner_id: int | None) -> list[Operation]:
        """Newest first; None: everyone's."""
        ops = [op for op in self._ops.values() if owner_id is None or op.owner_id == owner_id]
        return ops[::-1]

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait a little for the work under way (at stop), then leave it."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
