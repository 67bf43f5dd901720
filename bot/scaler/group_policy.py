"""The policy a scaling group runs: one builder from the group's options to a PolicyConfig.

The controller calls `policy_config` every period; the bench (bench/elasticity.py) builds its
rows with the very same function from /scale_create command lines, so what is measured is what
runs (tests/scaler/test_group_policy.py checks it through the chat). A group's option that was
not given is None in the store and means the default here: one place for each default.

The predictive policy's own parameters (`TUNED`) were derived by bench/tune_elasticity.py from
the tuning days of fpp2 `calls` only; the bench reports them on the other days and on a second
trace.
"""

from __future__ import annotations

from bot.scaler.policy import PolicyConfig

POLICIES = ("predictive", "hpa")
DEFAULT_POLICY = "predictive"
#: The CPU above which the service's latency suffers (the SLO the predictive policy keeps).
DEFAULT_SLO_CPU = 0.85
#: The cost knob's default: a second of SLO violation is worth this many replica-seconds.
DEFAULT_VIOLATION_COST = 10.0
#: The HPA policy's default target, Kubernetes' usual 80%.
DEFAULT_HPA_TARGET = 0.8
#: The load's season: a day of wall-clock time (0: none).
DEFAULT_SEASON_S = 86400.0
#: A group scales out in one step to what the policy asks (the approval cap and --max bound it).
SCALE_UP_MAX_PODS = 100

#: Derived by bench/tune_elasticity.py from days 0-39 of fpp2 calls (see its output).
TUNED = dict(trend_window_s=900.0, scale_in_factor=5.0, present_weight=0.3, present_margin=0.0,
             surge=2.0)

#: Kubernetes' HPA defaults (autoscaling/v2 behaviour), as the reference policy runs them.
HPA = dict(tolerance=0.1, scale_down_window_s=300.0, scale_up_max_pods=4,
           scale_up_max_percent=100, scale_down_max_percent=100)


def effective(group) -> dict[str, object]:
    """The group's options with the defaults filled in: policy, slo_cpu, violation_cost,
    season_s, target_cpu (HPA's)."""
    return {
        "policy": group.policy or DEFAULT_POLICY,
        "slo_cpu": DEFAULT_SLO_CPU if group.slo_cpu is None else group.slo_cpu,
        "violation_cost": (DEFAULT_VIOLATION_COST if group.violation_cost is None
                           else group.violation_cost),
        "season_s": DEFAULT_SEASON_S if group.season_s is None else group.season_s,
        "target_cpu": group.target_cpu,
    }


def policy_config(group, *, sync_s: float, ready_delay_s: float) -> PolicyConfig:
    """What the controller gives `decide` for `group` (a ScalingGroup): ``ready_delay_s`` is the
    replica delay the controller measured (or its first guess)."""
    opts = effective(group)
    bounds = dict(min_replicas=group.min_replicas, max_replicas=group.max_replicas,
                  sync_period_s=sync_s, ready_delay_s=ready_delay_s)
    if opts["policy"] == "hpa":
        return PolicyConfig(mode="hpa", target_utilization=opts["target_cpu"], **HPA, **bounds)
    return PolicyConfig(mode="predictive", target_utilization=opts["slo_cpu"],
                        violation_cost=opts["violation_cost"], season_s=opts["season_s"],
                        scale_down_window_s=300.0, scale_up_max_pods=SCALE_UP_MAX_PODS,
                        **TUNED, **bounds)
