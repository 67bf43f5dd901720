"""Issue 13 end to end: the product runs the bench's policy, measures its replica delay, takes
the policy's options from the chat, and meets a surge with clones in parallel.

The controller's periods are driven by ``tick(now)`` with a simulated clock (as in
test_scaling.py); pvesim runs tasks at once unless a test says otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from e2e_harness import ADMIN_ID, default_policy

from bot.scaler import controller as controller_module
from bot.scaler import group_policy
from bot.services import scaling as scaling_service
from bot.services.scaling import ScalingSettings

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import elasticity as bench  # noqa: E402

TEMPLATE = 900
GROUP_CHAT = -100778


@pytest.fixture
def policy():
    return default_policy(scaling=ScalingSettings(warmup_s=0, run_job=False))


@pytest.fixture(autouse=True)
def template(sim):
    sim.cluster.add_guest(TEMPLATE, "pve1", hostname="web-template", template=1)
    sim.cluster.load.warmup_s = 0
    sim.cluster.load.capacity_rps = 100


class Clock:
    def __init__(self):
        self.now = 2_000_000.0

    async def ticks(self, h, n, step=15.0):
        for _ in range(n):
            self.now += step
            await h.app.bot_data["scaler"].tick(self.now)


@pytest.fixture
def configs(monkeypatch):
    """Every PolicyConfig the controller hands to the policy, in order."""
    seen = []
    real = controller_module.decide

    def spy(obs, state, cfg):
        seen.append(cfg)
        return real(obs, state, cfg)

    monkeypatch.setattr(controller_module, "decide", spy)
    return seen


async def create(h, options: str, chat=GROUP_CHAT):
    h.tg.group(chat, "web team")
    await h.admin.send(f"/scale_create web --template {TEMPLATE} {options}", chat_id=chat)
    return await h.tg.wait_for(lambda m: True, chat_id=chat)


def ready_replicas(h):
    group = h.services.store.scaling.get("web")
    return len(group.members) if group else 0


# -- the product's configuration is the bench's ---------------------------------------------------

def test_the_bench_builds_its_rows_with_the_products_own_functions():
    # Not a copy: the very objects the service and the controller use.
    assert bench.group_policy is group_policy
    assert bench.new_group is scaling_service.new_group
    assert bench.parse_scale_create.__module__ == "bot.parsing_scaling"


@pytest.mark.parametrize("options", [
    "",  # /scale_create's defaults: what the bench marks as ours' default row
    "--violation-cost 50 --season 50700s",  # a bench row of fpp2 calls
    "--policy hpa --target-cpu 80",  # the bench's reference
])
async def test_the_controller_runs_what_the_bench_runs_for_the_same_command(
        harness, configs, options):
    h, clock = harness, Clock()
    answer = await create(h, f"--min 1 --max 32 {options}")
    assert "Scaling group web created" in answer.content
    await clock.ticks(h, 1)
    settings = h.services.scaling.settings
    bench_cfg = bench.product_config(bench.group_command(1, 32, options), settings.ready_delay_s)
    assert configs[-1] == bench_cfg
    if not options:  # the defaults are the bench's starred row
        row = next(r for r in bench.rows_for(
            bench.Setup("t", None, 0, None, 16, 300), settings.ready_delay_s, 1, 32)
            if r.family == "ours" and r.is_default)
        assert configs[-1] == row.config


# -- the replica delay is measured --------------------------------------------------------------

async def test_the_controller_times_each_clone_to_ready_and_feeds_the_policy(harness, configs):
    h, sim, clock = harness, harness.sim, Clock()
    await create(h, "--min 1 --max 6")
    await clock.ticks(h, 1)  # the minimum's replica is cloned now
    ordered_at = clock.now
    assert configs[-1].ready_delay_s == h.services.scaling.settings.ready_delay_s  # a guess
    group = h.services.store.scaling.get("web")
    assert [t for _, t in group.booting] == [ordered_at]
    # The replica's own start time is read from Proxmox (now - uptime): it started 10 s
    # before the wall clock says, so (warm-up 0 here) it was ready 15 - 10 = 5 s after it was
    # ordered, not the 15 s between the two periods.
    for g in sim.cluster.guests.values():
        if g.status == "running" and g.started_at:
            g.started_at -= 10
    await clock.ticks(h, 1)
    group = h.services.store.scaling.get("web")
    assert group.booting == ()
    assert group.ready_delay_s == pytest.approx(5, abs=1.5)
    assert configs[-1].ready_delay_s == group.ready_delay_s  # the policy is told it
    # The next clones move the average by 0.3 of their difference (a smoothed figure).
    sim.cluster.set_load("web", 300)
    await clock.ticks(h, 2)
    moved = h.services.store.scaling.get("web").ready_delay_s
    assert group.ready_delay_s < moved < 15
    status = await h.ask(h.admin, "/scale_status web", lambda m: "web" in m.content)
    assert "Replica delay (clone + start + warm-up, measured)" in status.content


async def test_a_slow_clone_raises_the_delay_the_policy_plans_with(harness, configs):
    h, sim, clock = harness, harness.sim, Clock()
    await create(h, "--min 1 --max 8")
    await clock.ticks(h, 2)  # the minimum's replica: ready one period after its order
    assert h.services.store.scaling.get("web").ready_delay_s == 15
    sim.cluster.set_load("web", 300)
    await clock.ticks(h, 1)
    assert h.services.store.scaling.get("web").booting
    # The new replicas warm up slowly: nothing is ready for 9 periods.
    h.services.scaling.settings = ScalingSettings(warmup_s=10_000, run_job=False)
    await clock.ticks(h, 8)
    h.services.scaling.settings = ScalingSettings(warmup_s=0, run_job=False)
    await clock.ticks(h, 1)
    measured = h.services.store.scaling.get("web").ready_delay_s
    assert measured == pytest.approx(15 + 0.3 * (9 * 15 - 15), abs=2)
    await clock.ticks(h, 1)
    assert configs[-1].ready_delay_s == h.services.store.scaling.get("web").ready_delay_s


# -- the policy's options from the chat -----------------------------------------------------------

async def test_scale_create_takes_the_slo_the_cost_knob_the_season_and_hpa(harness):
    h = harness
    answer = await create(h, "--min 1 --max 4 --slo 80 --violation-cost 20 --season 7d")
    assert "predictive policy, SLO CPU 80%, violation cost 20, season 168 h 00 min" \
        in answer.content
    group = h.services.store.scaling.get("web")
    assert (group.policy, group.slo_cpu, group.violation_cost, group.season_s) == \
        (None, 0.8, 20.0, 7 * 86400.0)
    changed = await h.ask(h.admin, "/scale_set web --policy hpa --target-cpu 70",
                          lambda m: "Changed" in m.content or "web" in m.content)
    assert "HPA policy, target CPU 70%" in changed.content


async def test_target_cpu_alone_selects_hpa_and_says_so(harness):
    answer = await create(harness, "--min 1 --max 4 --target-cpu 60")
    assert "HPA policy, target CPU 60%" in answer.content
    assert "--target-cpu is the HPA policy's target" in answer.content
    assert harness.services.store.scaling.get("web").policy == "hpa"


@pytest.mark.parametrize("options, problem", [
    ("--policy predictive --target-cpu 60", "--target-cpu is the HPA policy's target"),
    ("--policy hpa --slo 80", "--slo belong(s) to the predictive policy"),
    ("--violation-cost 0.5", "violation-cost must be from 1 to 1000"),
    ("--season 5m", "a season must be from 10 minutes to 35 days"),
    ("--policy magic", "is not a policy"),
])
async def test_options_that_do_not_fit_the_policy_are_refused_with_the_way_out(
        harness, options, problem):
    answer = await create(harness, f"--min 1 --max 4 {options}")
    assert problem in answer.content, answer.content
    assert harness.services.store.scaling.get("web") is None


async def test_scale_set_target_cpu_on_a_predictive_group_says_what_to_use(harness):
    h = harness
    await create(h, "--min 1 --max 4")
    answer = await h.ask(h.admin, "/scale_set web --target-cpu 60",
                         lambda m: "target" in m.content)
    assert "--target-cpu is the HPA policy's target" in answer.content
    assert "--slo" in answer.content and "--policy hpa" in answer.content
    assert h.services.store.scaling.get("web").target_cpu == group_policy.DEFAULT_HPA_TARGET


# -- a surge: from 2 to 16 ready replicas, clones in parallel -------------------------------------

async def test_a_surge_from_2_to_16_replicas_within_four_periods(harness, monkeypatch):
    h, sim, clock = harness, harness.sim, Clock()
    sim.runner.time_scale = 1.0
    sim.cluster.durations = {k: 0.0 for k in sim.cluster.durations}
    sim.cluster.durations["vzclone"] = 1.0  # long enough for clones to overlap
    running, most = 0, 0
    real_wait = sim.runner.wait

    async def counting_wait(task, factor=1.0):
        nonlocal running, most
        if task.type != "vzclone":
            return await real_wait(task, factor)
        running += 1
        most = max(most, running)
        try:
            return await real_wait(task, factor)
        finally:
            running -= 1

    monkeypatch.setattr(sim.runner, "wait", counting_wait)
    await create(h, "--min 2 --max 16")
    await clock.ticks(h, 1)
    assert ready_replicas(h) == 2
    sim.cluster.set_load("web", 140)
    await clock.ticks(h, 25)  # learn the load at 2 replicas
    assert ready_replicas(h) == 2
    sim.cluster.set_load("web", 16 * 85)  # needs all 16 at the SLO
    periods = 0
    while ready_replicas(h) < 16 and periods < 20:
        await clock.ticks(h, 1)
        periods += 1
    assert ready_replicas(h) == 16
    # The 2 saturated replicas cannot show how far beyond them the load is: the policy grows
    # 2x the ready ones per round (2 -> 4 -> 8 -> 16). Proxmox clones one source at a time (its
    # config holds the 'disk' lock while a clone runs, a template's too: pve-container
    # API2/LXC.pm clone_vm), so a round's clones follow one another.
    assert periods <= 4, periods
    assert most == 1, most
    assert len(h.services.store.ownership.by_owner(ADMIN_ID)) == 16
