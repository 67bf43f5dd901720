"""A discrete-time model of one scaling group, driven by ``bot.scaler.policy.decide``.

The model, second by second:
- the load (requests/s) is spread evenly over the *ready* replicas; each serves ``capacity`` at
  100% CPU, so each ready replica's utilization is load / (ready x capacity);
- every ``sync_period_s`` the policy sees (now, members, ready, utilizations) and answers a count;
  what it sees of each ready replica is its CPU over the last ``window_s`` seconds (a metrics
  window), observed as a real one would be (``Plant``): the requests it received in the window
  (Poisson arrivals, the load balancer spreading them at random), times a measurement noise,
  capped at 100% (a busy replica cannot report more);
- a replica ordered at t is a member (it costs) from t and ready (it serves) from t + delay;
- a scale-in removes replicas at once, newest first (so booting ones before ready ones);
- a second violates the SLO when ready < ceil(load / (capacity x slo_utilization)).

Per-second counts are built from +1/-1 change points and a cumulative sum, so a trace of months
runs in seconds; only the policy calls are a Python loop.
"""

from __future__ import annotations

import csv
import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from bot.scaler.policy import Observation, PolicyConfig, PolicyState, decide

SLO_UTILIZATION = 0.85


class TraceError(ValueError):
    """A trace file that cannot be read; the message says what and where."""


@dataclass(frozen=True)
class RunResult:
    """What a run cost and how well it served, over the measured span."""

    seconds: int
    violation_s: int
    replica_s: int
    actions: int
    reversals: int
    scale_ups: int
    scale_downs: int


# -- traces ---------------------------------------------------------------------------------------

def _parse_time(text: str) -> float:
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ValueError(f"timestamp {text!r} is neither seconds nor ISO 8601") from None


def read_trace_csv(path: str) -> tuple[list[float], list[float]]:
    """Read ``timestamp,load`` rows (seconds or ISO 8601; requests/s), header optional.

    With a header, the columns named timestamp/time/ts/date and load/value/rps/requests are used
    (else the first two). Returns times relative to the first, sorted, and the loads.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    except OSError as exc:
        raise TraceError(f"cannot read trace {path}: {exc.strerror}") from None
    if not rows:
        raise TraceError(f"trace {path} is empty")
    t_col, l_col, first = 0, 1, 0
    head = [c.strip().lower() for c in rows[0]]
    try:
        _parse_time(head[0])
        float(head[1]) if len(head) > 1 else None
    except ValueError:
        first = 1
        t_col = next((i for i, c in enumerate(head) if c in ("timestamp", "time", "ts", "date",
                                                            "datetime")), 0)
        l_col = next((i for i, c in enumerate(head) if c in ("load", "value", "rps", "requests",
                                                            "x")), 1 if t_col != 1 else 0)
    points: list[tuple[float, float]] = []
    for n, row in enumerate(rows[first:], start=first + 1):
        if len(row) <= max(t_col, l_col):
            raise TraceError(f"{path} line {n}: expected timestamp,load, got {','.join(row)!r}")
        try:
            t = _parse_time(row[t_col])
        except ValueError as exc:
            raise TraceError(f"{path} line {n}: {exc}") from None
        try:
            load = float(row[l_col])
        except ValueError:
            raise TraceError(f"{path} line {n}: load {row[l_col]!r} is not a number") from None
        if not (math.isfinite(load) and load >= 0):
            raise TraceError(f"{path} line {n}: load must be a number >= 0, got {row[l_col]!r}")
        points.append((t, load))
    points.sort()
    if len(points) < 2 or points[-1][0] <= points[0][0]:
        raise TraceError(f"trace {path} needs at least two rows with different timestamps")
    t0 = points[0][0]
    return [t - t0 for t, _ in points], [x for _, x in points]


def per_second(times: list[float], loads: list[float], interp: str = "linear") -> np.ndarray:
    """The load at each whole second from the first to the last sample."""
    t = np.asarray(times, dtype=float)
    x = np.asarray(loads, dtype=float)
    grid = np.arange(0, int(t[-1]) + 1, dtype=float)
    if interp == "linear":
        return np.interp(grid, t, x)
    if interp == "hold":
        idx = np.searchsorted(t, grid, side="right") - 1
        return x[np.clip(idx, 0, len(x) - 1)]
    raise ValueError(f"interpolation must be linear or hold, not {interp!r}")


def required_replicas(load: np.ndarray, capacity: float) -> np.ndarray:
    """Ready replicas the SLO needs at each second: ceil(load / (capacity x 0.85))."""
    # The tiny epsilon keeps an exact multiple (e.g. 170/(100*0.85) = 2) from rounding up to 3.
    return np.ceil(load / (capacity * SLO_UTILIZATION) - 1e-9).astype(np.int64)


# -- what the policy sees -------------------------------------------------------------------------

@dataclass(frozen=True)
class Plant:
    """How a replica's CPU is observed. The default is a perfect reading of the load at the
    instant of the period (no noise, no cap); the bench's default is ``Plant.realistic()``.

    - ``window_s``: the CPU is the average over the last ``window_s`` seconds (0: the instant);
    - ``poisson``: the requests a replica received in the window are Poisson distributed
      around its share of the load (arrivals at random, spread at random by the balancer);
    - ``noise``: each reading is multiplied by 1 + N(0, noise) (request mix, background work);
    - ``cpu_cap``: no replica reports more than 100%, however overloaded.
    """

    window_s: int = 0
    poisson: bool = False
    noise: float = 0.0
    cpu_cap: bool = False
    seed: int = 1

    @classmethod
    def realistic(cls, noise: float = 0.05, window_s: int = 15, seed: int = 1) -> Plant:
        return cls(window_s=window_s, poisson=True, noise=noise, cpu_cap=True, seed=seed)

    def describe(self) -> str:
        if not (self.window_s or self.poisson or self.noise or self.cpu_cap):
            return "exact (the load at the instant, no noise, no cap)"
        parts = [f"CPU averaged over the last {self.window_s} s" if self.window_s
                 else "CPU at the instant"]
        if self.poisson:
            parts.append("Poisson arrivals per replica")
        if self.noise:
            parts.append(f"x (1 + N(0, {self.noise:g})) per replica reading")
        parts.append("capped at 100%" if self.cpu_cap else "not capped")
        return ", ".join(parts) + (f"; seed {self.seed}" if self.poisson or self.noise else "")


class _Sensor:
    """The CPU readings of ``ready`` replicas at second ``now`` under a ``Plant``.

    Poisson counts of a mean above 50 are drawn as mean + sqrt(mean) x N(0, 1) (the normal
    approximation, off by well under 1% of a count there), from standard normals drawn in
    blocks: the readings are plain Python floats, and a run of months stays fast."""

    BLOCK = 1 << 16

    def __init__(self, load: np.ndarray, capacity: float, plant: Plant) -> None:
        self.load, self.capacity, self.plant = load, capacity, plant
        self.sums = np.concatenate([[0.0], np.cumsum(load, dtype=float)])
        self.rng = np.random.default_rng(plant.seed)
        self._normals: list[float] = []

    def _gauss(self, n: int) -> list[float]:
        if len(self._normals) < n:
            self._normals.extend(self.rng.standard_normal(max(n, self.BLOCK)).tolist())
        out = self._normals[-n:]
        del self._normals[-n:]
        return out

    def read(self, now: int, ready: int) -> tuple[float, ...]:
        if not ready:
            return ()
        plant = self.plant
        window = min(plant.window_s, now) if plant.window_s else 0
        if window:
            requests = float(self.sums[now] - self.sums[now - window]) / ready  # per replica
            scale = 1.0 / (window * self.capacity)
        else:
            requests, scale = float(self.load[now]) / ready, 1.0 / self.capacity
        if not plant.poisson:
            shares = [requests * scale] * ready
        elif requests > 50:
            root = math.sqrt(requests)
            shares = [max(0.0, requests + root * z) * scale for z in self._gauss(ready)]
        else:
            shares = [float(c) * scale for c in self.rng.poisson(requests, ready)]
        if plant.noise:
            shares = [max(0.0, x * (1.0 + plant.noise * z))
                      for x, z in zip(shares, self._gauss(ready), strict=True)]
        if plant.cpu_cap:
            shares = [min(x, 1.0) for x in shares]
        return tuple(shares)


# -- the run --------------------------------------------------------------------------------------

def simulate(load: np.ndarray, cfg: PolicyConfig, *, capacity: float, delay: int,
             measure_from: int = 0, measure_to: int | None = None,
             initial: int | None = None, cpu_cap: bool = False,
             plant: Plant | None = None) -> RunResult:
    """Replay ``load`` (one value per second) against the policy; measure [from, to).

    ``initial`` ready replicas at t=0 (default: what the SLO needs then, within the bounds).
    ``plant`` says how CPU is observed (default: exactly); ``cpu_cap`` alone makes a replica
    report at most 100% CPU, as a real one does when overloaded.
    """
    run = simulate_series(load, cfg, capacity=capacity, delay=delay, initial=initial,
                          cpu_cap=cpu_cap, plant=plant)
    total = len(load)
    measure_to = total if measure_to is None else min(measure_to, total)
    span = slice(measure_from, measure_to)
    measured = [d for t, d in run.actions if measure_from <= t < measure_to]
    reversals = sum(1 for a, b in zip(measured, measured[1:], strict=False) if a != b)
    return RunResult(
        seconds=measure_to - measure_from,
        violation_s=int(np.count_nonzero(run.ready[span] < run.need[span])),
        replica_s=int(run.members[span].sum()),
        actions=len(measured),
        reversals=reversals,
        scale_ups=sum(1 for d in measured if d > 0),
        scale_downs=sum(1 for d in measured if d < 0),
    )


@dataclass(frozen=True)
class Series:
    """A run second by second: replicas paid for, replicas serving, replicas the SLO needs,
    and the actions as (time, +1 up / -1 down)."""

    members: np.ndarray
    ready: np.ndarray
    need: np.ndarray
    actions: list[tuple[int, int]]


def simulate_series(load: np.ndarray, cfg: PolicyConfig, *, capacity: float, delay: int,
                    initial: int | None = None, cpu_cap: bool = False,
                    plant: Plant | None = None) -> Series:
    """``simulate``'s run, kept second by second."""
    total = len(load)
    period = int(cfg.sync_period_s)
    if period != cfg.sync_period_s or period < 1:
        raise ValueError("the model needs a whole number of seconds as sync period")
    delay = int(delay)
    plant = plant or Plant(cpu_cap=cpu_cap)
    sensor = _Sensor(load, capacity, plant)
    need = required_replicas(load, capacity)
    if initial is None:
        initial = int(need[0])
    initial = min(max(initial, cfg.min_replicas), cfg.max_replicas)

    members_diff = np.zeros(total + 1, dtype=np.int64)
    ready_diff = np.zeros(total + 1, dtype=np.int64)
    members_diff[0] += initial
    ready_diff[0] += initial
    ready = initial
    booting: deque[int] = deque()  # ready times, oldest first (constant delay keeps it sorted)
    state = PolicyState()
    actions: list[tuple[int, int]] = []  # (time, +1 up / -1 down)

    for now in range(0, total, period):
        while booting and booting[0] <= now:
            booting.popleft()
            ready += 1
        members = ready + len(booting)
        utils = sensor.read(now, ready)
        decision = decide(Observation(float(now), members, ready, utils), state, cfg)
        state = decision.state
        change = decision.desired - members
        if change > 0:
            members_diff[now] += change
            ready_at = now + delay
            if ready_at < total:
                ready_diff[ready_at] += change
            booting.extend([ready_at] * change)
        elif change < 0:
            members_diff[now] += change
            for _ in range(-change):
                if booting:
                    ready_at = booting.pop()
                    if ready_at < total:
                        ready_diff[ready_at] -= 1
                else:
                    ready -= 1
                    ready_diff[now] -= 1
        if change:
            actions.append((now, 1 if change > 0 else -1))

    return Series(np.cumsum(members_diff)[:total], np.cumsum(ready_diff)[:total], need, actions)


# -- what knowing the future would cost ----------------------------------------------------------

@dataclass(frozen=True)
class Bound:
    """The cheapest schedule that knows the whole trace in advance (see ``foresight_bound``)."""

    replica_s: int
    actions: int
    step_s: int


def foresight_bound(load: np.ndarray, *, capacity: float, delay: int, step_s: int,
                    max_actions: int, max_replicas: int, min_replicas: int = 1) -> Bound:
    """The fewest replica-seconds of a schedule that knows the future and never violates the SLO,
    with at most ``max_actions`` changes of the count: not a policy, a yardstick for one.

    The count may change only every ``step_s`` seconds (the trace's sample spacing is the
    natural choice) and holds what the SLO needs at every second of its step; a replica added
    costs ``delay`` seconds more (it is ordered that early), one removed stops costing at once,
    as in ``simulate``. Exact for that schedule family by dynamic programming over (step, count),
    with a price per action found by bisection so the schedule uses at most ``max_actions``.
    Restricting changes to step boundaries, and the price found to 1%, make the figure a
    little higher than the true optimum, never lower. The need is taken as at most
    ``max_replicas`` (a trace needing more cannot be served by any schedule of this group).
    """
    need = np.minimum(required_replicas(load, capacity), max_replicas)
    steps = -(-len(need) // step_s)
    padded = np.concatenate([need, np.full(steps * step_s - len(need), need[-1])])
    floor = np.maximum(padded.reshape(steps, step_s).max(axis=1), min_replicas)
    last = len(need) - (steps - 1) * step_s  # seconds in the last, maybe shorter, step
    counts = np.arange(max_replicas + 1)
    width = np.full(steps, step_s)
    width[-1] = last
    changed = counts[None, :] != counts[:, None]  # [previous, next]
    boot = delay * np.maximum(counts[None, :] - counts[:, None], 0)

    def solve(price: float) -> tuple[float, int]:
        cost = np.where(counts >= floor[0], counts * width[0], np.inf)
        actions = np.zeros(len(counts), dtype=np.int64)
        for k in range(1, steps):
            moves = cost[:, None] + price * changed + boot
            best = moves.argmin(axis=0)
            cost = np.where(counts >= floor[k], moves[best, counts] + counts * width[k], np.inf)
            actions = actions[best] + (best != counts)
        end = int(cost.argmin())
        return float(cost[end]) - price * int(actions[end]), int(actions[end])

    replica_s, actions = solve(0.0)
    if actions > max_actions:
        # The price of an action, in replica-seconds: raise it until the schedule is within
        # the budget, then bisect to the cheapest price that still is (to 1%).
        low, high = 0.0, float(step_s)
        while solve(high)[1] > max_actions:
            low, high = high, high * 2
        while high - low > 0.01 * high:
            mid = (low + high) / 2
            if solve(mid)[1] > max_actions:
                low = mid
            else:
                high = mid
        replica_s, actions = solve(high)
    return Bound(round(replica_s), actions, step_s)
