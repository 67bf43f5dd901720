"""The scaling policy: how many replicas a group should have, as a pure function.

``decide(obs, state, cfg) -> Decision`` reads nothing but its arguments: no clock (the time is
``obs.now``), no I/O, no randomness. The controller calls it once per sync period and stores
``Decision.state`` (``state.to_dict()`` is plain JSON) for the next call; the benchmark
(``bench/elasticity.py``) drives the very same function through a simulated replica group.

Three modes share the bookkeeping (stabilization window, rate limits, min/max):

``"hpa"``
    The Kubernetes Horizontal Pod Autoscaler, arithmetic for arithmetic
    (``pkg/controller/podautoscaler/replica_calculator.go`` and ``horizontal.go`` with the
    ``autoscaling/v2`` default behaviour): desired = ceil(ready x utilization / target), no change
    inside the tolerance band, booting replicas left out of the average (and counted at 0% when
    that average asks to scale up), the highest recommendation of the scale-down window wins,
    scale-up limited per period to max(+pods, +percent), scale-down to -percent, then min/max.

``"predictive"`` (the default)
    HPA's recommendation is a reaction to the load *now*; a clone needs ``ready_delay_s`` before it
    serves, so on a rising load HPA is always one boot late. This mode estimates the group's load
    in replica units (sum of the ready replicas' CPU fractions: 2 replicas at 90% carry 1.8
    replicas of work), follows its trend (a least-squares line with exponentially fading weights,
    a few numbers of state) and takes the load over the coming ``ready_delay_s`` + one period as
    normal around a forecast, with the spread of the readings around the trend. The count it
    asks for prices replicas against violations: it minimizes n + ``violation_cost`` x P(load >
    target x n), ``target_utilization`` being the SLO's ceiling. That single knob moves it along
    its frontier as HPA's target moves HPA. Scaling in is priced higher (``scale_in_factor``),
    since a replica removed and soon wanted back costs a boot and two actions; the stabilization
    window and rate limits then apply as for HPA. Replicas pinned at 100% CPU hide how much load
    there is: the count is then at least ``surge`` x the ready ones.

    When the load repeats every ``season_s`` (a day by default), a profile of the average load per
    ``season_bin_s`` of the season (an exponential average over seasons, at most MAX_SEASON_BINS
    values) says how the load grows over the horizon. It is used only while it has beaten the
    naive forecast "the next bin is like the last one" on at least SEASON_MIN_COMPARED recent
    bins; with no history, no season or a load that does not repeat, the trend alone decides.

``"trend"``
    A simple trend follower, the bench's baseline: the load the trend line expects at the
    horizon, at ``target_utilization``.

The numbers fed in are fractions (0.6 = 60% CPU), never percentages.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field

MODES = ("hpa", "predictive", "trend")


@dataclass(frozen=True)
class PolicyConfig:
    """How a group scales. Defaults are Kubernetes' HPA defaults where HPA has a knob.

    Raises ``ValueError`` with a readable message when a value makes no sense.
    """

    min_replicas: int = 1
    max_replicas: int = 10
    #: CPU fraction each ready replica should run at (HPA: target averageUtilization / 100).
    target_utilization: float = 0.6
    #: HPA: no change while |utilization / target - 1| <= tolerance.
    tolerance: float = 0.1
    #: How often the controller calls ``decide`` (the rate-limit period below uses it too).
    sync_period_s: float = 15.0
    #: A scale-down takes the highest recommendation seen over this window.
    scale_down_window_s: float = 300.0
    #: HPA's scale-up stabilization (0 by default: scale up at once, taking the lowest in window).
    scale_up_window_s: float = 0.0
    #: Scale-up limit per ``sync_period_s``: max(+pods, +percent) over the period's start count.
    scale_up_max_pods: int = 4
    scale_up_max_percent: int = 100
    #: Scale-down limit per ``sync_period_s``: -percent of the period's start count (100: no limit).
    scale_down_max_percent: int = 100
    #: Expected time from "clone" to "ready" (the predictive mode looks this far ahead).
    ready_delay_s: float = 120.0
    mode: str = "predictive"
    # -- predictive and trend modes --------------------------------------------------------------
    #: The trend is a least-squares line through the load samples, each weighing
    #: exp(-age / trend_window_s).
    trend_window_s: float = 900.0
    # -- predictive mode only --------------------------------------------------------------------
    #: THE cost knob: what one second of SLO violation is worth, in replica-seconds. The count
    #: minimizes replicas + violation_cost x P(the load exceeds them); higher buys fewer
    #: violations with more replicas (see bench/elasticity.py for the frontier it spans).
    violation_cost: float = 10.0
    #: A scale-in is priced at violation_cost x this: a replica removed and soon wanted back
    #: costs a boot, two actions and a risk, so removing one asks for more certainty.
    scale_in_factor: float = 5.0
    #: The load the forecast starts from: the smooth level of the trend plus this fraction of
    #: the way to the latest reading (0: smooth, steady counts; 1: the latest reading).
    present_weight: float = 0.3
    #: Never fewer than the latest reading (grown over the horizon) needs, plus this many
    #: standard deviations of the load around its trend: a real surge is met at once.
    present_margin: float = 0.0
    #: Ready replicas at 100% CPU hide the load beyond it: grow to at least this x them.
    surge: float = 2.0
    #: Length of the load's season (a day of wall-clock time by default; 0: no seasonal forecast).
    season_s: float = 86400.0
    #: Resolution of the seasonal profile (enlarged so a season holds at most MAX_SEASON_BINS).
    season_bin_s: float = 300.0
    #: Weight of the latest season in the profile (an exponential average over seasons).
    season_weight: float = 0.3
    #: Trust the seasonal forecast only while its error is below the naive forecast's x this.
    season_skill: float = 1.0

    def __post_init__(self) -> None:
        problems = []
        if self.mode not in MODES:
            problems.append(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.min_replicas < 0:
            problems.append("min_replicas must be >= 0")
        if self.max_replicas < max(1, self.min_replicas):
            problems.append("max_replicas must be >= min_replicas and >= 1")
        if not 0 < self.target_utilization <= 1:
            problems.append("target_utilization must be a fraction in (0, 1], e.g. 0.6")
        if not 0 <= self.tolerance < 1:
            problems.append("tolerance must be in [0, 1)")
        if self.sync_period_s <= 0:
            problems.append("sync_period_s must be > 0")
        for name in ("scale_down_window_s", "scale_up_window_s", "ready_delay_s", "trend_window_s",
                     "violation_cost", "scale_in_factor", "present_weight", "season_s"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0")
        if self.scale_up_max_pods < 0 or self.scale_up_max_percent < 0:
            problems.append("scale-up limits must be >= 0")
        if not 0 <= self.scale_down_max_percent <= 100:
            problems.append("scale_down_max_percent must be in [0, 100]")
        if not self.surge >= 1:
            problems.append("surge must be >= 1")
        if self.season_bin_s <= 0:
            problems.append("season_bin_s must be > 0")
        if not 0 < self.season_weight <= 1:
            problems.append("season_weight must be in (0, 1]")
        if self.season_skill < 0:
            problems.append("season_skill must be >= 0")
        if problems:
            raise ValueError("invalid scaling policy: " + "; ".join(problems))

    @property
    def target_percent(self) -> int:
        """The target as HPA holds it: an integer percentage."""
        return round(self.target_utilization * 100)


@dataclass(frozen=True)
class Observation:
    """What the controller saw this period.

    ``replicas`` counts every member, booting ones included; ``ready`` those that serve;
    ``utilizations`` the CPU fraction (cpu / cpus, 0..1) of each ready replica that reported one
    (fewer entries than ``ready`` means some ready replicas gave no sample).
    """

    now: float
    replicas: int
    ready: int
    utilizations: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.replicas < 0 or self.ready < 0 or self.ready > self.replicas:
            raise ValueError(
                f"observation needs 0 <= ready <= replicas, got ready={self.ready}, "
                f"replicas={self.replicas}")
        if len(self.utilizations) > self.ready:
            raise ValueError(
                f"{len(self.utilizations)} CPU samples for {self.ready} ready replicas")
        for u in self.utilizations:
            if not (u >= 0 and math.isfinite(u)):
                raise ValueError(f"CPU utilization must be a finite fraction >= 0, got {u!r}")
        if not math.isfinite(self.now):
            raise ValueError("observation time must be finite")


@dataclass(frozen=True)
class PolicyState:
    """The history ``decide`` needs; the caller stores it and hands it back next period.

    All tuples of ``(time, value)`` pairs, oldest first, trimmed to what the windows need.
    """

    #: Raw (pre-stabilization) recommendations, for the stabilization windows.
    recommendations: tuple[tuple[float, int], ...] = ()
    #: Replicas added (positive) or removed (negative) by past decisions, for the rate limits.
    scale_events: tuple[tuple[float, int], ...] = ()
    #: The trend's weighted sums: at most one (time, weight, sum t, sum x, sum t^2, sum t x,
    #: sum x^2), times relative to that time; loads in replica units (sum of ready CPU).
    trend: tuple[float, ...] = ()
    #: The seasonal profile: (bin index within the season, average load in that bin), at most
    #: MAX_SEASON_BINS pairs.
    season_profile: tuple[tuple[int, float], ...] = ()
    #: The bin being filled: at most one (bin start time, sum of loads, number of samples).
    season_bin: tuple[tuple[float, float, int], ...] = ()
    #: The last completed bins within ``trend_window_s``: (bin start time, average load, the
    #: profile's value for that bin before it was updated), for today's level against the profile.
    season_recent: tuple[tuple[float, float, float], ...] = ()
    #: At most one (seasonal forecast's mean squared relative error, naive forecast's, bins compared).
    season_skill: tuple[tuple[float, float, int], ...] = ()

    def to_dict(self) -> dict:
        return {k: [list(p) if isinstance(p, tuple | list) else p for p in v]
                for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict | None) -> PolicyState:
        """Rebuild from ``to_dict()``; an empty or missing dict gives a fresh state."""
        data = data or {}
        try:
            return cls(
                recommendations=tuple((float(t), int(r)) for t, r in data.get("recommendations", ())),
                scale_events=tuple((float(t), int(n)) for t, n in data.get("scale_events", ())),
                trend=_trend_from(data.get("trend", ())),
                season_profile=tuple((int(b), float(x))
                                     for b, x in data.get("season_profile", ())),
                season_bin=tuple((float(t), float(x), int(n))
                                 for t, x, n in data.get("season_bin", ())),
                season_recent=tuple((float(t), float(x), float(p))
                                    for t, x, p in data.get("season_recent", ())),
                season_skill=tuple((float(a), float(b), int(n))
                                   for a, b, n in data.get("season_skill", ())),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"stored scaling-policy state is malformed: {exc}") from None


def _trend_from(values) -> tuple[float, ...]:
    trend = tuple(float(v) for v in values)
    if trend and len(trend) != 7:
        raise ValueError(f"trend needs 7 numbers, got {len(trend)}")
    return trend


@dataclass(frozen=True)
class Decision:
    """The answer: scale to ``desired``, because ``reason``; store ``state`` for the next call.

    ``metric`` is the mean CPU fraction of the ready replicas the decision was based on
    (None when there was no sample).
    """

    desired: int
    reason: str
    state: PolicyState
    metric: float | None = None
    #: The recommendation before stabilization and rate limits (for charts and logs).
    recommended: int | None = field(default=None, compare=False)


def decide(obs: Observation, state: PolicyState, cfg: PolicyConfig) -> Decision:
    """The desired replica count for this period, the reason in words, and the updated state."""
    current = obs.replicas
    metric = _mean(obs.utilizations)
    state = _trim(state, obs.now, cfg)
    if not state.recommendations:
        # HPA's recordInitialRecommendation: the first sight of a group counts as a recommendation
        # to stay put, so a fresh (or restarted) controller never scales in before a full window.
        state = _record(state, obs.now, current)
    if cfg.mode != "hpa" and obs.utilizations:
        load = _load_units(obs)
        state = _with(state, trend=_trend_observe(state.trend, obs.now, load,
                                                    cfg.trend_window_s))
        if cfg.mode == "predictive":
            state = _season_observe(state, obs.now, load, cfg)

    # Outside the bounds: go straight to the bound, as HPA does (no metric needed).
    if current > cfg.max_replicas or current < cfg.min_replicas:
        bound = cfg.max_replicas if current > cfg.max_replicas else cfg.min_replicas
        what = "above the maximum" if current > cfg.max_replicas else "below the minimum"
        return _commit(obs, state, bound, f"{current} replicas is {what} {bound}", metric, bound)
    if not obs.utilizations:
        # HPA cannot compute a ratio without samples and leaves the scale alone.
        return Decision(current, "no CPU sample from a ready replica yet", state, None, current)

    if cfg.mode == "hpa":
        raw, why = _hpa_recommendation(obs, cfg)
    elif cfg.mode == "trend":
        raw, why = _trend_recommendation(obs, state, cfg)
    else:
        raw, why = _predictive_recommendation(obs, state, cfg)

    stabilized = _stabilize(state, obs.now, current, raw, cfg)
    state = _record(state, obs.now, raw)
    desired, limit = _rate_limit(state, obs.now, current, stabilized, cfg)
    if desired == current:
        if raw != current and stabilized == current:
            why += f"; holding {current} (highest recommendation in the last " \
                   f"{cfg.scale_down_window_s:g} s)"
        return Decision(current, why, state, metric, raw)
    if limit:
        why += f"; {limit}"
    return _commit(obs, state, desired, why, metric, raw)


# -- HPA ------------------------------------------------------------------------------------------

def _hpa_recommendation(obs: Observation, cfg: PolicyConfig) -> tuple[int, str]:
    """``ReplicaCalculator.GetResourceReplicas`` with CPU requests of 1000m per replica.

    Utilization is HPA's integer percentage (``sum(usage) * 100 / sum(requests)``, truncated),
    usage in millicores, so the same inputs give the same answer as Kubernetes.
    """
    current = obs.replicas
    target = cfg.target_percent
    milli = [round(u * 1000) for u in obs.utilizations]
    ready_count = len(milli)
    unready = obs.replicas - obs.ready
    missing = obs.ready - len(milli)

    util = (sum(milli) * 100) // (1000 * ready_count)
    ratio = util / target
    said = f"CPU {util}% vs target {target}%"

    scale_up_with_unready = unready > 0 and ratio > 1.0
    if not scale_up_with_unready and missing == 0:
        if abs(1.0 - ratio) <= cfg.tolerance:
            return current, said + " (within tolerance)"
        return math.ceil(ratio * ready_count), said

    # Conservative re-average: missing ready replicas count at 100% when scaling down and 0%
    # when scaling up; booting ones at 0% when scaling up (ignored when scaling down).
    if missing > 0:
        milli += [1000 if ratio < 1.0 else 0] * missing
    if scale_up_with_unready:
        milli += [0] * unready
    new_util = (sum(milli) * 100) // (1000 * len(milli))
    new_ratio = new_util / target
    if (abs(1.0 - new_ratio) <= cfg.tolerance or (ratio < 1.0 < new_ratio)
            or (ratio > 1.0 > new_ratio)):
        return current, said + f" ({new_util}% counting booting replicas as idle: no change)"
    new = math.ceil(new_ratio * len(milli))
    if (new_ratio < 1.0 and new > current) or (new_ratio > 1.0 and new < current):
        return current, said
    return new, said + f" ({new_util}% counting booting replicas as idle)"


# -- predictive -----------------------------------------------------------------------------------

def _predictive_recommendation(obs: Observation, state: PolicyState,
                               cfg: PolicyConfig) -> tuple[int, str]:
    """The count that prices replicas against the risk of an SLO violation until a replica
    ordered now could serve.

    A replica ordered now serves from now + ready_delay_s, and the next decision's from one
    period later: so the count must carry the load up to now + ready_delay_s + sync_period_s.
    That load is taken as normal around the forecast (a level between the trend's smooth one
    and the latest reading, grown over the horizon as the season says, else as the trend
    does), with the spread of the recent readings around the trend. The count n minimizes
    n + violation_cost x P(load > target x n): each replica is bought while it takes away more
    than 1 / violation_cost of violation probability, so where a replica is a big step (few
    replicas) it covers most of the spread and where it is a small one, less. Scaling in is
    priced at violation_cost x scale_in_factor (a replica removed and wanted back soon costs a
    boot and two actions). The latest reading, grown, is a floor, and ready replicas pinned at
    100% CPU (they cannot show how far beyond their capacity the load is) make it at least
    ``surge`` x them.
    """
    current = obs.replicas
    now_load = _load_units(obs)
    smooth, slope, resid = _trend(state, obs.now)
    horizon = cfg.ready_delay_s + cfg.sync_period_s
    start = smooth + cfg.present_weight * (now_load - smooth)
    growth, how = _growth(state, obs.now, horizon, slope, start, cfg)
    center = start * growth
    spread = resid / max(smooth, 1e-9) * center
    floor = now_load * growth + cfg.present_margin * resid
    ceiling = cfg.target_utilization
    wanted = max(_priced_count(center, spread, ceiling, cfg.violation_cost),
                 _ceil(floor / ceiling))
    said = (f"CPU {round(100 * now_load / max(obs.ready, 1))}% vs ceiling "
            f"{cfg.target_percent}%, load {now_load:.2f} replicas")
    if center > now_load:
        said += f", {center:.2f} expected within {horizon:g} s ({how})"
    if obs.ready and _mean(obs.utilizations) >= SATURATED:
        surge = _ceil(obs.ready * cfg.surge)
        if surge > wanted:
            wanted = surge
            said += f"; replicas saturated: at least {cfg.surge:g} x the {obs.ready} ready"
    if wanted >= current:
        return wanted, said
    keep = max(_priced_count(center, spread, ceiling, cfg.violation_cost * cfg.scale_in_factor),
               _ceil(floor / ceiling))
    return max(min(keep, current), wanted), said


#: Mean CPU of the ready replicas at or above which they are taken as saturated.
SATURATED = 0.97


def _priced_count(mean: float, sd: float, ceiling: float, price: float) -> int:
    """The count n >= 0 that minimizes n + price x P(load > ceiling x n), load ~ N(mean, sd)."""
    n = max(0, _ceil(mean / ceiling))
    if sd <= 0:
        return n
    scale = sd * math.sqrt(2)

    def over(k: int) -> float:
        return 0.5 * math.erfc((ceiling * k - mean) / scale)

    while price * (over(n) - over(n + 1)) > 1.0:
        n += 1
    while n > 0 and price * (over(n - 1) - over(n)) <= 1.0:
        n -= 1
    return n


def _growth(state: PolicyState, now: float, horizon: float, slope: float, level: float,
            cfg: PolicyConfig) -> tuple[float, str]:
    """How much the load grows over the horizon at most (>= 1), and by what forecast."""
    seasonal = _seasonal_growth(state, now, horizon, cfg)
    if seasonal is not None:
        return seasonal, "seasonal"
    if level <= 0:
        return 1.0, "trend"
    return 1.0 + max(0.0, slope) * horizon / level, "trend"


# -- trend (a baseline for the bench) ---------------------------------------------------------------

def _trend_recommendation(obs: Observation, state: PolicyState,
                          cfg: PolicyConfig) -> tuple[int, str]:
    """A simple trend follower: the load the trend line expects when a replica ordered now
    could serve, at the target utilization (no season, no margin)."""
    level, slope, _ = _trend(state, obs.now)
    horizon = cfg.ready_delay_s + cfg.sync_period_s
    expected = max(level, level + slope * horizon, 0.0)
    return _ceil(expected / cfg.target_utilization), (
        f"load {level:.2f} replicas, {expected:.2f} expected within {horizon:g} s (trend) vs "
        f"target {cfg.target_percent}%")


# The trend: a least-squares line through the load samples, each weighted exp(-age / window),
# so that only a few sums are kept (O(1) per period, seven numbers in the stored state).

def _trend_observe(trend: tuple, now: float, x: float, window: float) -> tuple:
    """Fold the sample (now, x) into the weighted sums (origin of time moved to ``now``)."""
    if not trend:
        return (now, 1.0, 0.0, x, 0.0, 0.0, x * x)
    t0, w, st, sx, stt, stx, sxx = trend
    dt = max(0.0, now - t0)
    decay = math.exp(-dt / window) if window > 0 else 0.0
    w, st, sx, stt, stx, sxx = (v * decay for v in (w, st, sx, stt, stx, sxx))
    # Shift the origin from t0 to now: each sample's time t becomes t - dt.
    stt = stt - 2 * dt * st + dt * dt * w
    stx = stx - dt * sx
    st = st - dt * w
    return (now, w + 1.0, st, sx + x, stt, stx, sxx + x * x)


def _trend(state: PolicyState, now: float) -> tuple[float, float, float]:
    """(level at now, slope per second, sd of the readings around the line)."""
    if not state.trend:
        return 0.0, 0.0, 0.0
    t0, w, st, sx, stt, stx, sxx = state.trend
    mt, mx = st / w, sx / w
    var_t = stt / w - mt * mt
    var_x = max(0.0, sxx / w - mx * mx)
    if var_t <= 1e-9 or w < 3:
        return mx, 0.0, math.sqrt(var_x)
    cov = stx / w - mt * mx
    slope = cov / var_t
    resid = max(0.0, var_x - cov * slope)
    return mx + slope * ((now - t0) - mt), slope, math.sqrt(resid)


#: The seasonal profile never holds more bins than this (a day at 5-minute resolution is 288).
MAX_SEASON_BINS = 576
#: Compared bins before the seasonal forecast may be trusted, and the weight of each new one.
SEASON_MIN_COMPARED = 12
SEASON_SKILL_WEIGHT = 0.05


def _bin_s(cfg: PolicyConfig) -> float:
    if cfg.season_s <= 0:
        return cfg.season_bin_s
    return max(cfg.season_bin_s, cfg.season_s / MAX_SEASON_BINS)


def _bin_index(t: float, cfg: PolicyConfig) -> int:
    return int((t % cfg.season_s) // _bin_s(cfg))


def _bin_start(t: float, cfg: PolicyConfig) -> float:
    return t - (t % cfg.season_s) % _bin_s(cfg)


def _rel_err2(actual: float, predicted: float) -> float:
    scale = max(abs(actual), abs(predicted), 1e-9)
    return ((actual - predicted) / scale) ** 2


def _level_ratio(recent: tuple[tuple[float, float, float], ...]) -> float | None:
    """Today's load over the profile's, across the recent completed bins."""
    seen = sum(x for _, x, p in recent if p > 0)
    usual = sum(p for _, _, p in recent if p > 0)
    return seen / usual if usual > 0 else None


def _season_observe(state: PolicyState, now: float, load: float,
                    cfg: PolicyConfig) -> PolicyState:
    """Add a load sample to the current bin; when a new bin starts, fold the finished one into
    the profile (and score how well the seasonal and the naive forecast would have done)."""
    if cfg.season_s <= 0:
        return state
    start = _bin_start(now, cfg)
    if state.season_bin and state.season_bin[0][0] == start:
        _, total, n = state.season_bin[0]
        return _with(state, season_bin=((start, total + load, n + 1),))
    if not state.season_bin:
        return _with(state, season_bin=((start, load, 1),))
    done_start, total, n = state.season_bin[0]
    done = total / n
    b = _bin_index(done_start, cfg)
    profile = dict(state.season_profile)
    usual = profile.get(b, 0.0)
    skill = state.season_skill
    ratio = _level_ratio(state.season_recent)
    previous = state.season_recent[-1] if state.season_recent else None
    if ratio is not None and usual > 0 and previous is not None \
            and done_start - previous[0] <= _bin_s(cfg) + 1e-6:
        es, en, m = skill[0] if skill else (0.0, 0.0, 0)
        w = SEASON_SKILL_WEIGHT
        skill = ((es + w * (_rel_err2(done, ratio * usual) - es),
                  en + w * (_rel_err2(done, previous[1]) - en), min(m + 1, 10**6)),)
    profile[b] = done if b not in profile else usual + cfg.season_weight * (done - usual)
    recent = tuple(p for p in state.season_recent
                   if p[0] > done_start - cfg.trend_window_s) + ((done_start, done, usual),)
    return _with(state, season_profile=tuple(sorted(profile.items())),
                   season_bin=((start, load, 1),), season_recent=recent, season_skill=skill)


def _seasonal_growth(state: PolicyState, now: float, horizon: float,
                     cfg: PolicyConfig) -> float | None:
    """How much higher than now the profile's peak over [now, now + horizon] is (>= 1), the
    profile read linearly between the middles of its bins; None when there is no season,
    too little history, or the profile has not beaten a naive forecast (the load was the
    same as in the previous bin) on the recent bins."""
    if cfg.season_s <= 0 or not state.season_skill:
        return None
    es, en, m = state.season_skill[0]
    if m < SEASON_MIN_COMPARED or es > cfg.season_skill * en:
        return None
    profile = dict(state.season_profile)
    step = _bin_s(cfg)
    bins = math.ceil(cfg.season_s / step - 1e-9)

    def value(t: float) -> float | None:
        pos = (t % cfg.season_s) / step - 0.5
        i = math.floor(pos)
        lo, hi = profile.get(i % bins), profile.get((i + 1) % bins)
        if lo is None or hi is None:
            return None
        return lo + (hi - lo) * (pos - i)

    base = value(now)
    if base is None or base <= 0:
        return None
    # The peak of a line through the bins' middles is at an end or at a middle in between.
    first_mid = (math.floor((now % cfg.season_s) / step - 0.5) + 1.5) * step \
        + (now - now % cfg.season_s)
    points = [now + horizon] + [t for t in _frange(first_mid, now + horizon, step)]
    peak = base
    for t in points:
        v = value(t)
        if v is None:
            return None
        peak = max(peak, v)
    return peak / base


def _frange(start: float, stop: float, step: float):
    t = start
    while t < stop:
        yield t
        t += step


def _ceil(x: float) -> int:
    """ceil() that does not round 2.0000000001 (float noise) up to 3."""
    return math.ceil(x - 1e-9)


def _load_units(obs: Observation) -> float:
    """Work done by the ready replicas, in replicas at 100% (missing samples count as average)."""
    if not obs.utilizations:
        return 0.0
    return _mean(obs.utilizations) * obs.ready


# -- shared bookkeeping ---------------------------------------------------------------------------

def _stabilize(state: PolicyState, now: float, current: int, raw: int, cfg: PolicyConfig) -> int:
    """HPA's ``stabilizeRecommendationWithBehaviors``: the lowest recent recommendation when
    going up, the highest when going down, each over its own window (``raw`` included)."""
    if raw >= current:
        window, pick = cfg.scale_up_window_s, min
    else:
        window, pick = cfg.scale_down_window_s, max
    best = raw
    for t, rec in state.recommendations:
        if t > now - window:
            best = pick(best, rec)
    return best


def _rate_limit(state: PolicyState, now: float, current: int, desired: int,
                cfg: PolicyConfig) -> tuple[int, str]:
    """HPA's ``convertDesiredReplicasWithBehaviorRate``, then the min/max bounds."""
    period = cfg.sync_period_s
    if desired > current:
        added = sum(n for t, n in state.scale_events if n > 0 and t > now - period)
        start = current - added
        limit = max(start + cfg.scale_up_max_pods,
                    math.ceil(start * (1 + cfg.scale_up_max_percent / 100)))
        limit = max(limit, current)
        if cfg.max_replicas <= limit:
            if desired > cfg.max_replicas:
                return cfg.max_replicas, f"capped at the maximum {cfg.max_replicas}"
        elif desired > limit:
            return limit, f"limited to {limit} this period (scale-up rate)"
    elif desired < current:
        removed = -sum(n for t, n in state.scale_events if n < 0 and t > now - period)
        start = current + removed
        limit = min(int(start * (1 - cfg.scale_down_max_percent / 100)), current)
        if cfg.min_replicas >= limit:
            if desired < cfg.min_replicas:
                return cfg.min_replicas, f"kept at the minimum {cfg.min_replicas}"
        elif desired < limit:
            return limit, f"limited to {limit} this period (scale-down rate)"
    return desired, ""


def _record(state: PolicyState, now: float, raw: int) -> PolicyState:
    return _with(state, recommendations=state.recommendations + ((now, raw),))


def _commit(obs: Observation, state: PolicyState, desired: int, reason: str,
            metric: float | None, raw: int) -> Decision:
    change = desired - obs.replicas
    if change:
        state = _with(state, scale_events=state.scale_events + ((obs.now, change),))
        reason = f"{obs.replicas} -> {desired} replicas ({reason})"
    return Decision(desired, reason, state, metric, raw)


def _trim(state: PolicyState, now: float, cfg: PolicyConfig) -> PolicyState:
    """Forget what no window can see any more (keeps the stored state small)."""
    keep_rec = now - max(cfg.scale_down_window_s, cfg.scale_up_window_s)
    keep_events = now - cfg.sync_period_s
    keep_recent = now - cfg.trend_window_s - _bin_s(cfg)
    changes = {}
    if state.recommendations and state.recommendations[0][0] <= keep_rec:
        changes["recommendations"] = tuple(p for p in state.recommendations if p[0] > keep_rec)
    if state.scale_events and state.scale_events[0][0] <= keep_events:
        changes["scale_events"] = tuple(p for p in state.scale_events if p[0] > keep_events)
    if state.season_recent and state.season_recent[0][0] <= keep_recent:
        changes["season_recent"] = tuple(p for p in state.season_recent if p[0] > keep_recent)
    return _with(state, **changes) if changes else state


def _with(state: PolicyState, **changes) -> PolicyState:
    """``dataclasses.replace`` without its cost (decide runs ~10^6 times in the bench)."""
    new = copy.copy(state)
    for name, value in changes.items():
        object.__setattr__(new, name, value)
    return new


def _mean(values: tuple[float, ...]) -> float | None:
    return sum(values) / len(values) if values else None
