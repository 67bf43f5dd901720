"""Scaling-group command parsers: tables, and no input escapes without a Usage: message."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.parsing import UsageError
from bot.parsing_scaling import (
    GroupOptions,
    parse_group_command,
    parse_scale_chart,
    parse_scale_create,
    parse_scale_set,
)


def test_create_full():
    args = parse_scale_create("web --template 900 --min 1 --max 6 --target-cpu 60% "
                              "--bridge vmbr1 --node-spread --approve-above 4 --warm-spares 1")
    assert args.name == "web"
    assert args.options == GroupOptions(template=900, min_replicas=1, max_replicas=6,
                                        target_cpu=60, bridge="vmbr1", node_spread=True,
                                        approve_above=4, warm_spares=1)


def test_create_policy_options():
    args = parse_scale_create("web --template 900 --min 1 --max 6 --slo 80% "
                              "--violation-cost 20 --season 7d --policy predictive")
    assert args.options == GroupOptions(template=900, min_replicas=1, max_replicas=6,
                                        slo_cpu=80, violation_cost=20.0, season_s=604800.0,
                                        policy="predictive")
    # Only the template and the bounds are required: the policy has defaults.
    assert parse_scale_create("web --template 900 --min 1 --max 6").options.policy is None
    assert parse_scale_create("web --template 900 --min 1 --max 2 --season none").options \
        .season_s == 0
    assert parse_scale_create("web --template 900 --min 1 --max 2 --season 50700s").options \
        .season_s == 50700
    assert parse_scale_create("web --template 900 --min 1 --max 2 --season 90m").options \
        .season_s == 5400
    assert parse_scale_create("web --template 900 --min 1 --max 2 --policy HPA").options \
        .policy == "hpa"


@pytest.mark.parametrize("text, problem", [
    ("", "missing the group name"),
    ("web --template 900 --min 1 --max 2 --slo 5", "--slo"),
    ("web --template 900 --min 1 --max 2 --violation-cost 0.5", "from 1 to 1000"),
    ("web --template 900 --min 1 --max 2 --violation-cost cheap", "must be a number"),
    ("web --template 900 --min 1 --max 2 --violation-cost 5s", "must be a number"),
    ("web --template 900 --min 1 --max 2 --season 5m", "from 10 minutes to 35 days"),
    ("web --template 900 --min 1 --max 2 --season daily", "not a season"),
    ("web --template 900 --min 1 --max 2 --policy magic", "not a policy"),
    ("web --min 1 --max 2 --target-cpu 60", "--template is required"),
    ("Web --template 900 --min 1 --max 2 --target-cpu 60", "not a group name"),
    ("web --template 900 --min 3 --max 2 --target-cpu 60", "above --max"),
    ("web --template 900 --min 1 --max 0 --target-cpu 60", "--max"),
    ("web --template 900 --min 1 --max 2 --target-cpu 150", "--target-cpu"),
    ("web --template 900 --min 1 --max 2 --target-cpu 60 --bridge br_0", "--bridge"),
])
def test_create_problems(text, problem):
    with pytest.raises(UsageError) as err:
        parse_scale_create(text)
    assert problem in str(err.value) and "Usage: /scale_create" in str(err.value)


def test_set_needs_a_change_and_keeps_the_template():
    assert parse_scale_set("web --max 8 --approve-above none").options == GroupOptions(
        max_replicas=8, approve_above=-1)
    assert parse_scale_set("web --no-node-spread").options.node_spread is False
    for text in ("web", "web --template 901"):
        with pytest.raises(UsageError):
            parse_scale_set(text)


def test_chart_windows():
    assert parse_scale_chart("web").window_s == 3600
    assert parse_scale_chart("web 24h").window_s == 86400
    with pytest.raises(UsageError):
        parse_scale_chart("web 2d")
    assert parse_group_command("", "scale_status", required=False) is None
    assert parse_group_command("db-1", "scale_pause") == "db-1"


@given(st.text(max_size=80))
def test_no_input_escapes_without_usage(text):
    for parse in (parse_scale_create, parse_scale_set, parse_scale_chart,
                  lambda t: parse_group_command(t, "scale_delete")):
        try:
            parse(text)
        except UsageError as err:
            assert "Usage:" in str(err)
