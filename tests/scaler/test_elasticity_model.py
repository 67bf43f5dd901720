"""The benchmark's replica-group model keeps its books right (on tiny synthetic traces), and the
bench script reads any CSV and turns bad input into a message."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bot.scaler.policy import PolicyConfig

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import elasticity_model as model  # noqa: E402


def fixed(n, **kw):
    """A policy that always wants n replicas (min = max = n)."""
    return PolicyConfig(mode="hpa", min_replicas=n, max_replicas=n, **kw)


def test_violation_seconds_count_the_seconds_above_the_slo():
    # 100 req/s for 300 s (needs ceil(100/85) = 2), then 300 req/s for 200 s (needs 4).
    load = np.array([100.0] * 300 + [300.0] * 200)
    r = model.simulate(load, fixed(2), capacity=100, delay=120, initial=2)
    assert (r.violation_s, r.replica_s, r.actions) == (200, 2 * 500, 0)


def test_new_replicas_serve_only_after_the_delay_but_cost_from_the_order():
    load = np.full(600, 300.0)  # needs 4 throughout
    up_to_4 = PolicyConfig(mode="hpa", min_replicas=1, max_replicas=4, target_utilization=0.5)
    r = model.simulate(load, up_to_4, capacity=100, delay=120, initial=2)
    # Ordered at t=0, ready at t=120: 120 violating seconds; 4 members paid for all 600 s.
    assert (r.violation_s, r.replica_s, r.actions, r.scale_ups) == (120, 2400, 1, 1)


def test_measured_span_and_exact_multiples():
    # 170 req/s is exactly 2 x 85: needs 2, not 3.
    assert list(model.required_replicas(np.array([170.0, 170.1, 0.0]), 100)) == [2, 3, 0]
    load = np.full(600, 300.0)
    up_to_4 = PolicyConfig(mode="hpa", min_replicas=1, max_replicas=4, target_utilization=0.5)
    r = model.simulate(load, up_to_4, capacity=100, delay=120, initial=2,
                       measure_from=100, measure_to=200)
    assert (r.seconds, r.violation_s, r.replica_s) == (100, 20, 400)


def test_scale_in_removes_booting_replicas_first():
    # Load falls to nothing right after a scale-out: HPA (window 0) scales in while the new
    # replicas are still booting; they must go first, so ready ones keep serving.
    load = np.array([400.0] * 15 + [10.0] * 585)
    cfg = PolicyConfig(mode="hpa", min_replicas=1, max_replicas=10, target_utilization=0.5,
                       scale_down_window_s=0)
    r = model.simulate(load, cfg, capacity=100, delay=120, initial=4)
    assert r.scale_ups == 1 and r.scale_downs >= 1 and r.reversals >= 1
    # 4 ready served 400 req/s (needs 5) for 15 s, then no second was short again.
    assert r.violation_s == 15


def test_csv_reader_accepts_iso_and_seconds(tmp_path):
    iso = tmp_path / "iso.csv"
    iso.write_text("timestamp,load\n2024-01-01T00:00:10Z,20\n2024-01-01T00:00:00Z,10\n")
    t, x = model.read_trace_csv(str(iso))
    assert (t, x) == ([0.0, 10.0], [10.0, 20.0])
    assert list(model.per_second(t, x)[[0, 5, 10]]) == [10.0, 15.0, 20.0]
    assert list(model.per_second(t, x, "hold")[[0, 9, 10]]) == [10.0, 10.0, 20.0]
    plain = tmp_path / "plain.csv"
    plain.write_text("0,5\n60,7.5\n")
    assert model.read_trace_csv(str(plain)) == ([0.0, 60.0], [5.0, 7.5])


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("timestamp,load\n0,1\nsoon,2\n", "line 3"),
    ("0,1\n5,-3\n", "load must be a number >= 0"),
    ("0,1\n", "at least two rows"),
])
def test_csv_reader_rejects_bad_files_with_a_message(tmp_path, text, message):
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    with pytest.raises(model.TraceError, match=message):
        model.read_trace_csv(str(bad))


def run_bench(*args):
    return subprocess.run([sys.executable, str(ROOT / "bench" / "elasticity.py"), *args],
                          capture_output=True, text=True, timeout=120)


def test_bench_runs_on_a_small_csv(tmp_path):
    trace = tmp_path / "step.csv"
    trace.write_text("timestamp,load\n0,100\n1800,100\n1801,900\n3600,900\n3601,100\n5400,100\n")
    png = tmp_path / "frontier.png"
    out = run_bench("--trace", str(trace), "--delay", "45", "--png", str(png), "--jobs", "1")
    assert out.returncode == 0, out.stderr
    assert "replica delay D = 45 s" in out.stdout and "Poisson arrivals" in out.stdout
    for row in ("*ours, cost 10", "HPA 55%", "*HPA 80%", "HPA 85%", "trend 65%",
                "knowing future"):
        assert row in out.stdout, row
    # Each of ours' rows is the /scale_create line the product would run.
    assert "web --template 100 --min 1 --max 22 --violation-cost 30" in out.stdout
    assert "--policy hpa --target-cpu 75" in out.stdout
    assert "goal 1" in out.stdout and "goal 2" in out.stdout and "goal 3" in out.stdout
    assert png.read_bytes().startswith(b"\x89PNG")


def test_the_exact_plant_reads_the_load_and_the_realistic_one_is_noisy_and_capped():
    load = np.full(600, 300.0)
    exact = model._Sensor(load, 100.0, model.Plant())
    assert exact.read(30, 4) == (0.75,) * 4
    real = model._Sensor(load, 100.0, model.Plant.realistic(noise=0.05))
    readings = [x for t in range(15, 600, 15) for x in real.read(t, 4)]
    assert 0.73 < sum(readings) / len(readings) < 0.77  # unbiased
    assert 0.02 < float(np.std(readings)) < 0.08  # 5% noise plus Poisson
    overloaded = model._Sensor(np.full(60, 900.0), 100.0, model.Plant.realistic())
    assert max(overloaded.read(30, 2)) == 1.0  # a busy replica cannot report more


def test_a_family_is_read_at_a_budget_on_its_frontier():
    import elasticity as bench

    points = [(1.0, 100.0), (1.1, 20.0), (1.05, 200.0), (1.2, 5.0)]  # (1.05, 200) is dominated
    assert bench.frontier(points) == [(1.0, 100.0), (1.1, 20.0), (1.2, 5.0)]
    assert bench.at_budget(points, 1.05) == pytest.approx(60.0)
    assert bench.at_budget(points, 1.5) == 5.0  # more budget: its best
    assert bench.at_budget(points, 0.9) is None  # no point that cheap
    actions = [(1.0, 1.2), (1.1, 0.8)]
    assert bench.at_budget_actions(actions, 1.05) == pytest.approx(1.0)
    assert bench.at_budget_actions(actions, 1.2) is None


def test_bench_reports_a_bad_trace_without_a_traceback(tmp_path):
    out = run_bench("--trace", str(tmp_path / "missing.csv"))
    assert out.returncode == 2
    assert "cannot read trace" in out.stderr and "Traceback" not in out.stderr


def test_bench_states_the_season_it_gives_the_policy(tmp_path):
    trace = tmp_path / "days.csv"
    # Two "days" of 600 s: low, high, low.
    rows = [f"{t},{100 if (t % 600) < 200 or (t % 600) >= 400 else 500}" for t in range(0, 1200, 50)]
    trace.write_text("timestamp,load\n" + "\n".join(rows) + "\n")
    common = ("--trace", str(trace), "--delay", "45", "--png", "", "--jobs", "1", "--costs",
              "10", "--no-bound")
    out = run_bench(*common, "--season", "600")
    assert out.returncode == 0, out.stderr
    assert "season stated to ours: 600 s of trace time" in out.stdout
    assert "season_s=600" in out.stdout and "--season 600s" in out.stdout
    out = run_bench(*common, "--season", "0")
    assert "none (no seasonal forecast)" in out.stdout
    out = run_bench(*common)
    assert "the product's default, a day (86400 s)" in out.stdout
    bad = run_bench("--trace", str(trace), "--season", "-5")
    assert bad.returncode == 2 and "--season must be" in bad.stderr


def test_foresight_bound_on_a_constant_load_is_the_need_itself():
    load = np.full(900, 300.0)  # needs 4
    b = model.foresight_bound(load, capacity=100, delay=120, step_s=300, max_actions=10,
                              max_replicas=8)
    assert (b.replica_s, b.actions) == (4 * 900, 0)


def test_foresight_bound_pays_the_boot_and_respects_the_action_budget():
    load = np.array([150.0] * 300 + [300.0] * 300)  # needs 2, then 4
    free = model.foresight_bound(load, capacity=100, delay=120, step_s=300, max_actions=5,
                                 max_replicas=8)
    # 2 replicas for 300 s, 4 for 300 s, and the 2 added ones ordered 120 s early.
    assert (free.replica_s, free.actions) == (2 * 300 + 4 * 300 + 2 * 120, 1)
    none = model.foresight_bound(load, capacity=100, delay=120, step_s=300, max_actions=0,
                                 max_replicas=8)
    assert (none.replica_s, none.actions) == (4 * 600, 0)


def test_foresight_bound_holds_the_need_of_every_second_and_the_minimum():
    # The need peaks for one second inside a step: the whole step must carry it.
    load = np.array([0.0] * 299 + [500.0] + [0.0] * 300)  # needs 0 ... 6 ... 0
    b = model.foresight_bound(load, capacity=100, delay=0, step_s=300, max_actions=5,
                              max_replicas=8, min_replicas=1)
    assert (b.replica_s, b.actions) == (6 * 300 + 1 * 300, 1)


def test_foresight_bound_is_never_above_a_policy_that_serves_every_second():
    rng = np.random.default_rng(7)
    load = np.repeat(rng.uniform(50, 900, 40), 300)
    serve_all = model.simulate(load, fixed(11), capacity=100, delay=120, initial=11)
    assert serve_all.violation_s == 0
    b = model.foresight_bound(load, capacity=100, delay=120, step_s=300, max_actions=0,
                              max_replicas=16)
    assert b.actions == 0 and b.replica_s <= serve_all.replica_s
    cheaper = model.foresight_bound(load, capacity=100, delay=120, step_s=300, max_actions=10,
                                    max_replicas=16)
    assert cheaper.actions <= 10 and cheaper.replica_s < b.replica_s


def test_bench_prints_the_foresight_bound(tmp_path):
    trace = tmp_path / "step.csv"
    trace.write_text("timestamp,load\n0,100\n1800,100\n1801,900\n3600,900\n3601,100\n5400,100\n")
    out = run_bench("--trace", str(trace), "--delay", "45", "--png", "", "--jobs", "1",
                    "--costs", "10")
    assert out.returncode == 0, out.stderr
    assert "knowing future" in out.stdout and "a yardstick, not a policy" in out.stdout
