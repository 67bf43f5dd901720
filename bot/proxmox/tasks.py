"""How often to ask PVE whether a task has finished, and how to read a failed task.

Polling is a trade: each status request costs the server (and counts against the budget of
a create: nextid + placement + POST + polls <= 6 when the task takes 2 s), while a late poll
makes the user wait. The default schedule asks once almost at once (many tasks, and all
tasks in tests, end within milliseconds), then at about 1.25 s, 2.55 s, 4.55 s, ... backing
off to every 5 s for long tasks such as clones of big disks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from proxmoxer.tools import Tasks

_DEFAULT_DELAYS = (0.05, 1.2, 1.3, 2.0, 3.0)
_MAX_DELAY = 5.0

# Seconds `wait_task` waits for a task of each kind (PVE's worker type) before it gives up with
# StillRunning; the task itself goes on on the node.
TASK_TIMEOUTS_S = {
    "vzstart": 600.0,
    "vzstop": 600.0,
    "vzshutdown": 900.0,  # PVE's own shutdown timeout (60 s by default) comes first
    "vzreboot": 900.0,
    "vzdestroy": 1800.0,
    "resize": 1800.0,  # growing a volume: quick on thin storage, a copy on some others
    "imgdel": 1800.0,
    "srvreload": 900.0,
    "reloadnetworkall": 900.0,
    "vzcreate": 2 * 3600.0,
    "vzclone": 8 * 3600.0,  # a full clone copies the whole disk
    "vzrestore": 8 * 3600.0,  # so does a restore, from a compressed archive
    "vzsnapshot": 900.0,
    "vzdelsnapshot": 900.0,
    "vzmigrate": 8 * 3600.0,  # copies the local volumes to the other node
}
DEFAULT_TASK_TIMEOUT_S = 2 * 3600.0


def wait_limit(task_type: str, configured: float | None = None) -> float:
    """How long to wait for a task of `task_type`: `configured` (the one setting) if given,
    else the generous limit of its kind."""
    if configured is not None:
        return float(configured)
    return TASK_TIMEOUTS_S.get(task_type, DEFAULT_TASK_TIMEOUT_S)


def duration_text(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 05 min``: a wait as a person reads it."""
    s = int(round(seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def poll_delays(expected_seconds: float | None = None) -> Iterator[float]:
    """Seconds to sleep before each status request.

    With `expected_seconds` (the caller knows roughly how long the task takes) the first
    poll lands just after it, then a quarter of it, growing by half each time.
    """
    if expected_seconds and expected_seconds > 0:
        yield expected_seconds * 1.05 + 0.05
        delay = max(expected_seconds / 4, 0.1)
        while True:
            yield min(delay, _MAX_DELAY)
            delay *= 1.5
    yield from _DEFAULT_DELAYS
    while True:
        yield _MAX_DELAY


def decode_upid(upid: str) -> dict:
    """proxmoxer's UPID parser; raises ValueError (not AssertionError) on a malformed UPID."""
    try:
        return Tasks.decode_upid(upid)
    except AssertionError as exc:
        raise ValueError(f"not a Proxmox task id (UPID): {upid!r}") from exc


def task_vmid(upid: str) -> int | None:
    """The guest a task is about (its UPID's id, ``101`` for ``vzcreate:101``), if any."""
    wid = str(decode_upid(upid).get("id", ""))
    return int(wid) if wid.isdigit() else None


def is_success(exitstatus: str) -> bool:
    """PVE ends a good task with ``OK`` or ``WARNINGS: <n>``; anything else is the error."""
    return exitstatus == "OK" or exitstatus.startswith("WARNINGS")


def error_line(log: list[dict], exitstatus: str) -> str:
    """The line that says why a task failed: PVE's ``TASK ERROR: ...``, else the exit status."""
    try:
        text = Tasks.decode_log(log) if log else ""
    except (IndexError, KeyError, TypeError):  # lines not numbered 1..n
        text = "\n".join(str(entry.get("t", "")) for entry in log)
    for line in reversed(text.splitlines()):
        if line.startswith("TASK ERROR:"):
            return _with_migration_reason(line.removeprefix("TASK ERROR:").strip(), text)
    return exitstatus.strip() or (text.splitlines()[-1] if text else "unknown error")


_ABORTED = re.compile(r"ERROR: migration aborted \(duration [\d:]+\): (.*)$")


def _with_migration_reason(error: str, text: str) -> str:
    """A migration ends with only ``migration aborted``; its reason is on the ERROR line
    before (pve-guest-common PVE::AbstractMigrate::migrate), and "check log" points at the
    volume lines (PVE::LXC::Migrate::phase1 "can't migrate local volume ...: <why>")."""
    if error != "migration aborted":
        return error
    reasons = [m.group(1) for line in text.splitlines() if (m := _ABORTED.search(line))]
    volumes = [line.split("can't migrate local volume ", 1)[1] for line in text.splitlines()
               if "can't migrate local volume " in line]
    reason = "; ".join(volumes) if volumes else (reasons[-1] if reasons else "")
    return f"{error}: {reason}" if reason else error
