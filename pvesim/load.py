"""The service load of scaling groups, shown as the CPU of their replicas.

A *group* is every running CT whose ``tags`` carry the group's name (e.g. ``web``). Its load, in
requests per second, comes from a ``LoadSource`` (a constant, a step, or a CSV trace replayed at
some speed) and is spread evenly over the group's *ready* replicas: running for at least
``warmup_s``. Each replica serves ``capacity_rps`` requests per second at 100% of its cores, so
its ``cpu`` (the fraction of its cores PVE reports in ``status/current``, ``/cluster/resources``
and ``rrddata``) is ``load / ready / capacity_rps``, at most 1.0. A replica still warming up
shows the idle baseline; load that the ready replicas cannot carry is simply lost (they run at
100%), as a saturated service would.

``LoadModel.apply(cluster)`` writes those figures into the guests; the simulator calls it before
answering each request, so every reader sees the load of the moment.

    python -m pvesim --load web=250                    # constant 250 requests/s on group "web"
    python -m pvesim --load web=100,400@120            # 100 requests/s, 400 from t=120 s
    python -m pvesim --load-trace web=trace.csv --speed 60   # a CSV trace, 1 minute per second

CSV traces have a header ``timestamp,load``; timestamps are seconds (any origin) or ISO 8601
date-times, in increasing order. The trace is replayed from its first row, holding each value
until the next timestamp, and starts over at the end.
"""

from __future__ import annotations

import bisect
import csv
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .model import Cluster, Guest

DEFAULT_CAPACITY_RPS = 100.0
DEFAULT_WARMUP_S = 10.0
IDLE_CPU = 0.02


class LoadError(ValueError):
    """A load specification or trace that cannot be used; the message says why."""


class LoadSource(Protocol):
    def rps(self, elapsed: float) -> float:
        """Requests per second ``elapsed`` wall seconds after the source was set."""


@dataclass(frozen=True)
class Constant:
    value: float

    def rps(self, elapsed: float) -> float:
        return self.value


@dataclass(frozen=True)
class Step:
    """``before`` until ``at_s`` seconds have passed, ``after`` from then on."""

    before: float
    after: float
    at_s: float

    def rps(self, elapsed: float) -> float:
        return self.after if elapsed >= self.at_s else self.before


@dataclass(frozen=True)
class Trace:
    """``(offset seconds, load)`` points replayed ``speed`` times faster than recorded, looping."""

    points: tuple[tuple[float, float], ...]
    speed: float = 1.0

    def __post_init__(self) -> None:
        if not self.points:
            raise LoadError("a load trace needs at least one row")
        if not self.speed > 0:
            raise LoadError(f"replay speed must be > 0, not {self.speed}")

    @property
    def duration(self) -> float:
        """Recorded seconds covered, the last row holding for one median step."""
        times = [t for t, _ in self.points]
        if len(times) < 2:
            return 1.0
        steps = sorted(b - a for a, b in zip(times, times[1:], strict=False))
        return times[-1] + steps[len(steps) // 2]

    def rps(self, elapsed: float) -> float:
        offset = (elapsed * self.speed) % self.duration
        i = bisect.bisect_right([t for t, _ in self.points], offset) - 1
        return self.points[max(i, 0)][1]


def read_trace(path: str | Path, speed: float = 1.0) -> Trace:
    """A Trace from a ``timestamp,load`` CSV file (seconds or ISO 8601 timestamps)."""
    path = Path(path)
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise LoadError(f"cannot read load trace {path}: {exc.strerror or exc}") from None
    points: list[tuple[float, float]] = []
    for n, row in enumerate(rows, start=2):
        try:
            stamp, load = row["timestamp"], row["load"]
        except KeyError:
            raise LoadError(f"{path}: the header must be 'timestamp,load'") from None
        try:
            t = _seconds(stamp.strip())
            value = float(load)
        except (ValueError, AttributeError):
            raise LoadError(f"{path}, line {n}: cannot read {stamp!r},{load!r} "
                            "(a timestamp and a number of requests per second)") from None
        if not math.isfinite(value) or value < 0:
            raise LoadError(f"{path}, line {n}: load must be a number >= 0, not {load!r}")
        if points and t <= points[-1][0]:
            raise LoadError(f"{path}, line {n}: timestamps must increase")
        points.append((t, value))
    if not points:
        raise LoadError(f"{path}: no rows after the header")
    first = points[0][0]
    return Trace(tuple((t - first, v) for t, v in points), speed)


def _seconds(stamp: str) -> float:
    try:
        return float(stamp)
    except ValueError:
        return datetime.fromisoformat(stamp).timestamp()


def parse_load_spec(spec: str) -> tuple[str, LoadSource]:
    """``GROUP=RPS`` (constant) or ``GROUP=BEFORE,AFTER@SECONDS`` (a step)."""
    group, sep, value = spec.partition("=")
    group = group.strip()
    if not sep or not group:
        raise LoadError(f"load {spec!r}: write GROUP=RPS or GROUP=BEFORE,AFTER@SECONDS")
    try:
        if "," in value:
            before, rest = value.split(",", 1)
            after, at = rest.split("@", 1)
            source: LoadSource = Step(float(before), float(after), float(at))
            numbers = (source.before, source.after, source.at_s)
        else:
            source = Constant(float(value))
            numbers = (source.value,)
    except ValueError:
        raise LoadError(f"load {spec!r}: write GROUP=RPS or GROUP=BEFORE,AFTER@SECONDS "
                        "with numbers, e.g. web=100,400@60") from None
    if not all(math.isfinite(x) and x >= 0 for x in numbers):
        raise LoadError(f"load {spec!r}: numbers must be >= 0")
    return group, source


def parse_trace_spec(spec: str, speed: float, default_group: str = "web") -> tuple[str, Trace]:
    """``[GROUP=]FILE``: the trace in FILE for GROUP (``web`` when not named)."""
    group, sep, path = spec.partition("=")
    if not sep:
        group, path = default_group, spec
    return group.strip() or default_group, read_trace(path, speed)


@dataclass
class _GroupLoad:
    source: LoadSource
    since: float


@dataclass
class LoadModel:
    """The load of each group and how it turns into replica CPU. ``clock`` is wall time."""

    capacity_rps: float = DEFAULT_CAPACITY_RPS
    warmup_s: float = DEFAULT_WARMUP_S
    clock: Callable[[], float] = time.time
    groups: dict[str, _GroupLoad] = field(default_factory=dict)

    # ---- hooks for tests, scenarios and the CLI ------------------------------------------
    def set_load(self, group: str, rps: float) -> None:
        """From now on ``group`` receives a constant ``rps`` requests per second."""
        self.set_source(group, Constant(float(rps)))

    def set_source(self, group: str, source: LoadSource) -> None:
        """From now on ``group`` receives the load of ``source`` (its time starts now)."""
        self.groups[group] = _GroupLoad(source, self.clock())

    def clear(self, group: str) -> None:
        self.groups.pop(group, None)

    def rps(self, group: str, now: float | None = None) -> float:
        """The group's load at ``now`` (0 for a group without a load)."""
        entry = self.groups.get(group)
        if entry is None:
            return 0.0
        now = self.clock() if now is None else now
        return max(0.0, float(entry.source.rps(max(0.0, now - entry.since))))

    # ---- reading ----------------------------------------------------------------------------
    def is_ready(self, guest: Guest, now: float) -> bool:
        return (guest.status == "running" and guest.started_at is not None
                and now - guest.started_at >= self.warmup_s)

    def members(self, cluster: Cluster, group: str) -> list[Guest]:
        return [g for g in cluster.guests.values() if group in _tags(g)
                and not g.config.get("template")]

    def apply(self, cluster: Cluster, now: float | None = None) -> None:
        """Set ``cpu_usage`` of every member of a loaded group from the load at ``now``."""
        if not self.groups:
            return
        now = self.clock() if now is None else now
        for group in self.groups:
            members = self.members(cluster, group)
            ready = [g for g in members if self.is_ready(g, now)]
            per_replica = self.rps(group, now) / len(ready) if ready else 0.0
            for guest in members:
                busy = per_replica / self.capacity_rps if guest in ready else 0.0
                guest.cpu_usage = min(1.0, IDLE_CPU + busy)


def _tags(guest: Guest) -> set[str]:
    return {t for t in str(guest.config.get("tags", "")).replace(",", ";").replace(" ", ";")
            .split(";") if t}


def configure(model: LoadModel, specs: list[dict]) -> None:
    """Loads as a scenario file declares them (``[[loads]]``)::

        [[loads]]
        group = "web"
        rps = 250                        # a constant; or
        step = [100, 400, 120]           # before, after, at seconds; or
        trace = "bot/demo_data/web_load.csv"
        speed = 60                       # trace replay speed (default 1)
        capacity_rps = 100               # optional: per-replica capacity (model-wide)
        warmup_s = 10                    # optional: model-wide warm-up
    """
    for spec in specs:
        group = str(spec["group"])
        if "capacity_rps" in spec:
            model.capacity_rps = float(spec["capacity_rps"])
        if "warmup_s" in spec:
            model.warmup_s = float(spec["warmup_s"])
        if "trace" in spec:
            model.set_source(group, read_trace(spec["trace"], float(spec.get("speed", 1.0))))
        elif "step" in spec:
            before, after, at = (float(x) for x in spec["step"])
            model.set_source(group, Step(before, after, at))
        else:
            model.set_load(group, float(spec.get("rps", 0.0)))


def add_arguments(parser) -> None:
    """The load options of ``python -m pvesim``."""
    group = parser.add_argument_group("load of scaling groups (CTs tagged with the group)")
    group.add_argument("--load", action="append", default=[], metavar="GROUP=RPS",
                       help="constant GROUP=250, or a step GROUP=100,400@120 (requests/s; "
                            "the step at 120 s); repeatable")
    group.add_argument("--load-trace", action="append", default=[], metavar="[GROUP=]FILE",
                       help="replay a CSV trace 'timestamp,load' (group web by default)")
    group.add_argument("--speed", type=float, default=1.0,
                       help="trace replay speed: 60 plays a minute of the trace per second")
    group.add_argument("--capacity", type=float, default=DEFAULT_CAPACITY_RPS,
                       help="requests/s one replica serves at 100%% CPU (default %(default)s)")
    group.add_argument("--warmup", type=float, default=DEFAULT_WARMUP_S,
                       help="seconds a started replica needs before it serves (default %(default)s)")


def apply_arguments(model: LoadModel, args) -> None:
    """Configure ``model`` from parsed ``add_arguments`` options; LoadError when unusable."""
    if not args.capacity > 0:
        raise LoadError("--capacity must be > 0")
    if args.warmup < 0:
        raise LoadError("--warmup must be >= 0")
    model.capacity_rps, model.warmup_s = args.capacity, args.warmup
    for spec in args.load:
        model.set_source(*parse_load_spec(spec))
    for spec in args.load_trace:
        model.set_source(*parse_trace_spec(spec, args.speed))
