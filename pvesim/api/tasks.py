"""Tasks of a node: list, status and log."""

from __future__ import annotations

import re

from ..errors import param_error
from ..model import Task
from ..params.tasks import PARAMS
from .registry import Reply, route

_UPID = re.compile(r"^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):"
                   r"([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$")


def find_task(ctx, upid: str) -> Task:
    if not _UPID.match(upid):
        raise param_error({"upid": "unable to parse worker upid"})
    task = ctx.cluster.tasks.get(upid)
    if task is None:
        raise param_error({"upid": "no such task"})
    return task


@route("GET", "/nodes/{node}/tasks", PARAMS)
async def list_tasks(ctx, p):
    source = p.get("source", "archive")
    out = []
    for task in reversed(list(ctx.cluster.tasks.values())):  # newest first, like PVE
        if task.node != p["node"]:
            continue
        running = task.status == "running"
        if (source == "archive" and running) or (source == "active" and not running):
            continue
        if "vmid" in p and task.id != str(p["vmid"]):
            continue
        if "typefilter" in p and task.type != p["typefilter"]:
            continue
        if "userfilter" in p and p["userfilter"] not in task.user:
            continue
        if p.get("errors") and task.exitstatus == "OK":
            continue
        if "since" in p and task.starttime < p["since"]:
            continue
        if "until" in p and task.starttime > p["until"]:
            continue
        entry = task.as_api()
        entry.pop("exitstatus", None)
        entry["status"] = "running" if running else task.exitstatus
        if task.endtime is not None:
            entry["endtime"] = task.endtime
        out.append(entry)
    start, limit = p.get("start", 0), p.get("limit", 50)
    return Reply(out[start:start + limit] if limit else out[start:], {"total": len(out)})


@route("GET", "/nodes/{node}/tasks/{upid}/status", PARAMS)
async def task_status(ctx, p):
    return find_task(ctx, p["upid"]).as_api()


@route("GET", "/nodes/{node}/tasks/{upid}/log", PARAMS)
async def task_log(ctx, p):
    task = find_task(ctx, p["upid"])
    start, limit = p.get("start", 0), p.get("limit", 50)
    lines = task.lines[start:start + limit] if limit else task.lines[start:]
    data = [{"n": start + i + 1, "t": text} for i, text in enumerate(lines)]
    return Reply(data, {"total": len(task.lines)})
