"""Table tests of bot/scaler/policy.py: HPA parity on concrete numbers, the bookkeeping shared by
both modes, the predictive mode's head start on a ramp, and properties over random inputs."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.scaler import policy
from bot.scaler.policy import Decision, Observation, PolicyConfig, PolicyState, decide

HPA = PolicyConfig(mode="hpa", min_replicas=1, max_replicas=50, target_utilization=0.5)


def obs(now, replicas, utils, ready=None):
    utils = tuple(utils)
    return Observation(now=now, replicas=replicas,
                       ready=len(utils) if ready is None else ready, utilizations=utils)


# -- HPA parity: the arithmetic of replica_calculator.go -----------------------------------------

@pytest.mark.parametrize("replicas, utils, ready, expected, why", [
    (3, [0.3, 0.5, 0.7], None, 3, "mean 50%: exactly on target"),
    (3, [0.9, 0.9, 0.9], None, 6, "90% vs 50%: ceil(3 x 1.8) = 6"),
    (4, [0.2, 0.2, 0.2, 0.2], None, 2, "20% vs 50%: ceil(4 x 0.4) = 2 (once the window allows)"),
    (5, [0.54] * 5, None, 5, "54%: ratio 1.08 is inside tolerance 0.1"),
    (5, [0.56] * 5, None, 6, "56%: ratio 1.12 is outside tolerance: ceil(5.6) = 6"),
    (5, [0.45] * 5, None, 5, "45%: ratio 0.9 sits on the tolerance edge, no change"),
    (5, [0.44] * 5, None, 5, "44%: ratio 0.88 -> ceil(4.4) = 5 = current"),
    # integer-percent truncation as Kubernetes does: 60.09% -> 60% -> ceil(10 x 1.2) = 12, not 13
    (10, [0.6009] * 10, None, 12, "60.09% truncates to 60%"),
    # float64 as in Go: 55 / 50 = 1.1000000000000001, just outside the tolerance -> ceil(3.3) = 4
    (3, [0.555, 0.555, 0.555], None, 4, "55% vs 50% is (in float64) just past the tolerance"),
])
def test_hpa_replica_arithmetic(replicas, utils, ready, expected, why):
    # Down-scales are checked with the window empty (window 0) to see the raw arithmetic.
    cfg = PolicyConfig(mode="hpa", min_replicas=1, max_replicas=50, target_utilization=0.5,
                       scale_down_window_s=0)
    d = decide(obs(100.0, replicas, utils, ready), PolicyState(), cfg)
    assert d.desired == expected, why


def test_hpa_unready_replicas_count_as_idle_when_scaling_up():
    # 2 ready at 100% + 2 booting, target 50%: ready-only ratio 2.0 would ask ceil(2 x 2) = 4,
    # but counting the booting ones at 0% gives 50% -> ratio 1.0 -> no change (HPA's rule).
    d = decide(obs(0.0, 4, [1.0, 1.0]), PolicyState(), HPA)
    assert d.desired == 4
    # 2 ready at 100% + 1 booting: 200/3 = 66% -> ratio 1.32 -> ceil(1.32 x 3) = 4.
    d = decide(obs(0.0, 3, [1.0, 1.0]), PolicyState(), HPA)
    assert d.desired == 4


def test_hpa_unready_replicas_ignored_when_scaling_down():
    # 2 ready at 10% + 3 booting, target 50%: ceil(2 x 0.2) = 1 from the ready ones only.
    cfg = PolicyConfig(mode="hpa", target_utilization=0.5, scale_down_window_s=0)
    d = decide(obs(0.0, 5, [0.1, 0.1]), PolicyState(), cfg)
    assert d.desired == 1


def test_hpa_missing_sample_counts_as_full_when_scaling_down():
    # 3 ready, 2 samples at 10%, one missing: scaling down, the missing one counts at 100%:
    # (100 + 100 + 1000) * 100 / 3000 = 40% -> ratio 0.8 -> ceil(0.8 x 3) = 3: no change.
    cfg = PolicyConfig(mode="hpa", target_utilization=0.5, scale_down_window_s=0)
    d = decide(obs(0.0, 3, [0.1, 0.1], ready=3), PolicyState(), cfg)
    assert d.desired == 3


def test_no_samples_means_no_change():
    d = decide(obs(0.0, 3, [], ready=0), PolicyState(), HPA)
    assert (d.desired, d.metric) == (3, None)
    assert "no CPU sample" in d.reason


# -- stabilization, rate limits, bounds ----------------------------------------------------------

def run(cfg, steps, state=None):
    """Feed (now, replicas, utils) observations; return the decisions."""
    state = state or PolicyState()
    out = []
    for now, replicas, utils in steps:
        d = decide(obs(now, replicas, utils), state, cfg)
        state = d.state
        out.append(d)
    return out


def test_stabilization_window_holds_a_scale_down_for_300_s():
    cfg = PolicyConfig(mode="hpa", target_utilization=0.5, max_replicas=20)
    # Busy at t=0 (recommends 8), then idle: the 8 stays the max of the window until it ages out.
    steps = [(0.0, 4, [1.0] * 4)]
    decisions = run(cfg, steps)
    assert decisions[0].desired == 8
    state = decisions[0].state
    held = []
    for now in range(15, 331, 15):
        d = decide(obs(float(now), 8, [0.1] * 8), state, cfg)
        state = d.state
        held.append((now, d.desired))
    # Until t=300 the t=0 recommendation (8) is inside (now - 300, now]; at 300 it is not.
    assert all(desired == 8 for now, desired in held if now < 300), held
    assert dict(held)[300] == 2  # ceil(8 x 10/50) = 2
    assert "holding 8" in decide(obs(285.0, 8, [0.1] * 8), decisions[0].state, cfg).reason


def test_first_sight_blocks_scale_down_for_a_window():
    # HPA records the current count as a recommendation when it first sees a group.
    cfg = PolicyConfig(mode="hpa", target_utilization=0.5)
    d = decide(obs(0.0, 6, [0.1] * 6), PolicyState(), cfg)
    assert d.desired == 6
    assert "holding 6" in d.reason


def test_scale_up_rate_limit_is_max_of_4_pods_and_100_percent_per_period():
    cfg = PolicyConfig(mode="hpa", target_utilization=0.1, max_replicas=100)
    # 1 replica at 100% vs 10%: wants 10; limit max(1+4, 2x1) = 5.
    assert decide(obs(0.0, 1, [1.0]), PolicyState(), cfg).desired == 5
    # 10 at 100%: wants 100; limit max(10+4, 20) = 20.
    assert decide(obs(0.0, 10, [1.0] * 10), PolicyState(), cfg).desired == 20


def test_scale_up_limit_counts_what_was_added_within_the_period():
    cfg = PolicyConfig(mode="hpa", target_utilization=0.1, max_replicas=100, sync_period_s=15)
    d1 = decide(obs(0.0, 2, [1.0, 1.0]), PolicyState(), cfg)
    assert d1.desired == 6  # max(2+4, 4)
    # 10 s later (same period) 6 exist, 2 were there at the period's start: still limited to 6.
    d2 = decide(obs(10.0, 6, [1.0, 1.0], ready=2), d1.state, cfg)
    assert d2.desired == 6
    # A full period after the first event the limit starts from 6: max(10, 12) = 12.
    d3 = decide(obs(15.0, 6, [1.0] * 6), d2.state, cfg)
    assert d3.desired == 12


def test_scale_down_percent_limit():
    cfg = PolicyConfig(mode="hpa", target_utilization=0.5, scale_down_window_s=0,
                       scale_down_max_percent=50)
    # 10 at 5%: wants 1; at most -50% per period -> int(10 x 0.5) = 5.
    assert decide(obs(0.0, 10, [0.05] * 10), PolicyState(), cfg).desired == 5


@pytest.mark.parametrize("mode", ["hpa", "predictive"])
def test_min_and_max_bounds(mode):
    cfg = PolicyConfig(mode=mode, min_replicas=2, max_replicas=5, target_utilization=0.5,
                       scale_down_window_s=0)
    assert decide(obs(0.0, 4, [1.0] * 4), PolicyState(), cfg).desired == 5
    assert decide(obs(0.0, 3, [0.01] * 3), PolicyState(), cfg).desired == 2
    # Outside the bounds already: straight back inside, with no metric needed.
    assert decide(obs(0.0, 9, [], ready=0), PolicyState(), cfg).desired == 5
    assert decide(obs(0.0, 1, [0.99]), PolicyState(), cfg).desired == 2
    assert decide(obs(0.0, 0, [], ready=0), PolicyState(), cfg).desired == 2


def test_decision_reason_reads_as_words():
    d = decide(obs(0.0, 3, [0.87] * 3), PolicyState(), PolicyConfig(mode="hpa"))
    assert d.desired == 5 and d.reason == "3 -> 5 replicas (CPU 87% vs target 60%)"
    assert d.metric == pytest.approx(0.87)


# -- state persistence ---------------------------------------------------------------------------

def test_state_round_trips_through_json():
    cfg = PolicyConfig(mode="predictive", target_utilization=0.6)
    decisions = run(cfg, [(0.0, 2, [0.5, 0.5]), (15.0, 2, [0.7, 0.7]), (30.0, 2, [0.9, 0.9])])
    state = decisions[-1].state
    assert state.trend and state.recommendations and state.scale_events
    again = PolicyState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state
    nxt = obs(45.0, decisions[-1].desired, [0.8] * 2, ready=2)
    assert decide(nxt, again, cfg) == decide(nxt, state, cfg)
    assert PolicyState.from_dict({}) == PolicyState()


def test_malformed_state_and_config_give_clear_errors():
    with pytest.raises(ValueError, match="malformed"):
        PolicyState.from_dict({"recommendations": [["x"]]})
    with pytest.raises(ValueError, match="target_utilization must be a fraction"):
        PolicyConfig(target_utilization=60)
    with pytest.raises(ValueError, match="mode must be one of"):
        PolicyConfig(mode="magic")
    with pytest.raises(ValueError, match="ready <= replicas"):
        Observation(now=0, replicas=1, ready=2, utilizations=(0.1, 0.1))


# -- predictive mode -----------------------------------------------------------------------------

def ramp(cfg, minutes=30, capacity=100.0, start=100.0, rise_per_s=0.5):
    """Replay a steadily rising load with instant replicas; the first time each mode scales up."""
    replicas, state = 2, PolicyState()
    for now in range(0, minutes * 60, 15):
        load = start + rise_per_s * now
        util = load / (replicas * capacity)
        d = decide(obs(float(now), replicas, [util] * replicas), state, cfg)
        state = d.state
        if d.desired > replicas:
            return now
        replicas = d.desired
    return None


def test_predictive_scales_out_earlier_than_hpa_on_a_rising_ramp():
    base = dict(min_replicas=1, max_replicas=20, target_utilization=0.8, ready_delay_s=120)
    hpa_first = ramp(PolicyConfig(mode="hpa", **base))
    ours_first = ramp(PolicyConfig(mode="predictive", **base))
    assert hpa_first is not None and ours_first is not None
    # HPA waits for 88% (80% + tolerance): 2 x 100 x 0.88 = 176 req/s, i.e. t ~ 152 s.
    assert hpa_first >= 150
    assert ours_first < hpa_first


def test_predictive_holds_steady_on_a_flat_load():
    cfg = PolicyConfig(mode="predictive", target_utilization=0.8, scale_down_window_s=300)
    decisions = run(cfg, [(float(t), 5, [0.7] * 5) for t in range(0, 1800, 15)])
    assert {d.desired for d in decisions} == {5}


# -- properties ----------------------------------------------------------------------------------

configs = st.builds(
    lambda mode, lo, span, target, window, delay: PolicyConfig(
        mode=mode, min_replicas=lo, max_replicas=max(1, lo + span), target_utilization=target,
        scale_down_window_s=window, ready_delay_s=delay),
    st.sampled_from(["hpa", "predictive"]), st.integers(0, 5), st.integers(0, 20),
    st.floats(0.05, 1.0), st.sampled_from([0.0, 60.0, 300.0]), st.sampled_from([0.0, 45.0, 300.0]),
)


@st.composite
def observation_runs(draw):
    steps = []
    now = draw(st.floats(0, 1e6))
    for _ in range(draw(st.integers(1, 12))):
        now += draw(st.sampled_from([0.0, 1.0, 15.0, 60.0, 400.0]))
        replicas = draw(st.integers(0, 40))
        ready = draw(st.integers(0, replicas))
        utils = draw(st.lists(st.floats(0, 5, allow_nan=False), max_size=ready))
        steps.append((now, replicas, ready, tuple(utils)))
    return steps


@settings(max_examples=150, deadline=None)
@given(cfg=configs, steps=observation_runs())
def test_desired_always_within_bounds_and_never_raises(cfg, steps):
    state = PolicyState()
    for now, replicas, ready, utils in steps:
        d = decide(Observation(now, replicas, ready, utils), state, cfg)
        assert isinstance(d, Decision)
        assert cfg.min_replicas <= d.desired <= cfg.max_replicas
        assert isinstance(d.reason, str) and d.reason
        state = PolicyState.from_dict(json.loads(json.dumps(d.state.to_dict())))
        assert state == d.state
    assert not math.isnan(d.metric or 0.0)


# -- predictive mode: the seasonal forecast ------------------------------------------------------

DAY = 3000.0  # a short "season" keeps these runs small: 200 samples of 15 s per season


def daily_load(t):
    """A load in replica units that rises from 1 to 7 and back every DAY seconds."""
    phase = (t % DAY) / DAY
    return 1.0 + 6.0 * math.sin(math.pi * phase) ** 2


def replay(cfg, seconds, load=daily_load, replicas=8, state=None):
    """Feed the load to the policy with a fixed group (so only the forecast varies)."""
    state = state or PolicyState()
    decisions = []
    for now in range(0, int(seconds), 15):
        util = load(now) / replicas
        d = decide(obs(float(now), replicas, [util] * replicas), state, cfg)
        state = d.state
        decisions.append(d)
    return decisions


SEASONAL = PolicyConfig(mode="predictive", min_replicas=1, max_replicas=40, target_utilization=0.8,
                        season_s=DAY, season_bin_s=60, ready_delay_s=300)


def test_seasonal_forecast_is_used_once_the_load_has_repeated():
    decisions = replay(SEASONAL, 4 * DAY)
    # First season: no profile yet, the trend forecast speaks.
    assert all("seasonal" not in d.reason for d in decisions[:200])
    # After a few seasons the profile has beaten the naive forecast and is used.
    late = decisions[-200:]
    assert any("(seasonal)" in d.reason for d in late)
    es, en, compared = late[-1].state.season_skill[0]
    assert compared >= 12 and es < en


def test_seasonal_forecast_sees_the_rise_before_the_trend_does():
    # At the trough (phase 0, load 1 and flat), the next 315 s rise to ~1.7: only the season
    # knows. Compare the count wanted there with and without the seasonal forecast.
    cfg = SEASONAL
    state = replay(cfg, 4 * DAY - 15)[-1].state
    now = 4 * DAY
    probe = obs(now, 8, [daily_load(now) / 8] * 8)
    with_season = decide(probe, state, cfg)
    without = decide(probe, state, PolicyConfig(**{**cfg.__dict__, "season_s": 0.0}))
    assert "(seasonal)" in with_season.reason
    assert with_season.recommended > without.recommended


def test_no_history_or_no_season_falls_back_to_the_trend():
    d = replay(SEASONAL, 600)[-1]
    assert "seasonal" not in d.reason and d.state.season_skill == ()
    flat = PolicyConfig(**{**SEASONAL.__dict__, "season_s": 0.0})
    d = replay(flat, 2 * DAY)[-1]
    assert d.state.season_profile == () and d.state.season_bin == ()


def test_a_load_that_does_not_repeat_is_not_forecast_seasonally():
    # A random walk: each season differs, so the profile never beats "same as the last bin".
    import random
    rng = random.Random(7)
    walk = {}
    level = 4.0
    for t in range(0, int(5 * DAY), 15):
        level = min(max(level + rng.gauss(0, 0.08), 0.5), 7.5)
        walk[t] = level
    decisions = replay(SEASONAL, 5 * DAY, load=lambda t: walk[t])
    assert not any("(seasonal)" in d.reason for d in decisions[-400:])


def test_seasonal_state_stays_bounded_and_round_trips_through_json():
    cfg = PolicyConfig(**{**SEASONAL.__dict__, "season_s": 86400.0, "season_bin_s": 1.0})
    # A season of 86,400 one-second bins would be huge: the profile is capped.
    state = replay(cfg, 8 * 3600, load=lambda t: 2 + (t // 7) % 3)[-1].state
    assert len(state.season_profile) <= policy.MAX_SEASON_BINS
    assert len(state.season_bin) == 1 and len(state.season_skill) <= 1
    state = replay(SEASONAL, 3 * DAY)[-1].state
    assert 0 < len(state.season_profile) <= DAY / 60 + 1
    assert len(json.dumps(state.to_dict())) < 20000
    again = PolicyState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state
    probe = obs(3 * DAY, 8, [0.5] * 8)
    assert decide(probe, again, SEASONAL) == decide(probe, state, SEASONAL)
