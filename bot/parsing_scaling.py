"""Parsers of the scaling-group commands. Pure; every failure is a UsageError with "Usage:"."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from bot.parsing import (
    USAGE,
    UsageError,
    _Option,
    _parse_options,
    _positionals,
    _short,
    _tokenize,
    parse_bridge,
    parse_ct_ref,
    parse_int,
)

GROUP_USAGE = "a group name: 1-20 lower-case letters, digits and inner hyphens, e.g. web"
MAX_REPLICAS = 100
_GROUP = re.compile(r"[a-z](?:[a-z0-9-]{0,18}[a-z0-9])?")
CHART_WINDOWS = {"1h": 3600, "6h": 6 * 3600, "24h": 24 * 3600}
NONE_WORDS = ("none", "off", "never")


def parse_group(text: str, usage: str = GROUP_USAGE) -> str:
    """A group name: usable as a hostname prefix (``web-3``) and as a Proxmox tag."""
    name = text.strip()
    if _GROUP.fullmatch(name):
        return name
    raise UsageError(f"{_short(text)} is not a group name ({GROUP_USAGE})", usage)


@dataclass(frozen=True)
class GroupOptions:
    """Options of /scale_create and /scale_set; None = not given."""

    template: int | str | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    target_cpu: int | None = None  # percent
    bridge: str | None = None
    node_spread: bool | None = None
    approve_above: int | None = None  # -1: no approval needed (none/off)
    warm_spares: int | None = None
    policy: str | None = None  # "predictive" or "hpa"
    slo_cpu: int | None = None  # percent
    violation_cost: float | None = None
    season_s: float | None = None  # 0: none

    def given(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class ScaleCreateArgs:
    name: str
    options: GroupOptions


@dataclass(frozen=True)
class ScaleSetArgs:
    name: str
    options: GroupOptions


@dataclass(frozen=True)
class ChartArgs:
    name: str
    window_s: int


def _count(name: str, lo: int = 0) -> _Option:
    return _Option(name, lambda t: parse_int(t, name, lo, MAX_REPLICAS))


def _approve_above(text: str) -> int:
    if text.strip().lower() in NONE_WORDS:
        return -1
    return parse_int(text, "approve-above", 0, MAX_REPLICAS)


POLICY_USAGE = "predictive (the default) or hpa (Kubernetes' HPA, the reference)"
SEASON_USAGE = "a duration such as 24h, 7d, 90m or 50700s, or none"
_DURATION = re.compile(r"([0-9]{1,9}(?:\.[0-9]{1,6})?)\s*([smhd]?)", re.IGNORECASE)
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
SEASON_RANGE_S = (600, 35 * 86400)
VIOLATION_COST_RANGE = (1.0, 1000.0)


def parse_policy(text: str) -> str:
    word = text.strip().lower()
    if word in ("predictive", "hpa"):
        return word
    raise UsageError(f"{_short(text)} is not a policy: use {POLICY_USAGE}", POLICY_USAGE)


def parse_season(text: str) -> float:
    """The load's season in seconds (0: none)."""
    raw = text.strip()
    if raw.lower() in NONE_WORDS + ("0",):
        return 0.0
    match = _DURATION.fullmatch(raw) if raw.isascii() else None
    if match is None:
        raise UsageError(f"{_short(text)} is not a season: use {SEASON_USAGE}", SEASON_USAGE)
    seconds = float(match.group(1)) * _UNIT_S[match.group(2).lower()]
    lo, hi = SEASON_RANGE_S
    if not lo <= seconds <= hi:
        raise UsageError(f"a season must be from 10 minutes to 35 days, not {_short(text)}",
                         SEASON_USAGE)
    return seconds


def parse_violation_cost(text: str) -> float:
    """What a second of SLO violation is worth in replica-seconds: a number from 1 to 1000."""
    lo, hi = VIOLATION_COST_RANGE
    usage = f"violation-cost: a number from {lo:g} to {hi:g}, e.g. 10"
    raw = text.strip()
    match = _DURATION.fullmatch(raw) if raw.isascii() else None
    if match is None or match.group(2):
        raise UsageError(f"violation-cost must be a number, not {_short(text)}", usage)
    value = float(match.group(1))
    if not lo <= value <= hi:
        raise UsageError(f"violation-cost must be from {lo:g} to {hi:g}, not {value:g}", usage)
    return value


def _options(spread_flags: bool) -> list[_Option]:
    opts = [
        _Option("template", parse_ct_ref),
        _count("min"),
        _count("max", 1),
        _Option("target-cpu", lambda t: parse_int(t.rstrip("%"), "target-cpu", 5, 100)),
        _Option("bridge", parse_bridge),
        _Option("node-spread", None),
        _Option("approve-above", _approve_above),
        _count("warm-spares"),
        _Option("policy", parse_policy),
        _Option("slo", lambda t: parse_int(t.rstrip("%"), "slo", 10, 100)),
        _Option("violation-cost", parse_violation_cost),
        _Option("season", parse_season),
    ]
    if spread_flags:
        opts.append(_Option("no-node-spread", None))
    return opts


def _group_options(values: dict, usage: str) -> GroupOptions:
    spread = True if values.get("node-spread") else (False if values.get("no-node-spread")
                                                      else None)
    if values.get("node-spread") and values.get("no-node-spread"):
        raise UsageError("--node-spread and --no-node-spread contradict each other", usage)
    opts = GroupOptions(
        template=values.get("template"), min_replicas=values.get("min"),
        max_replicas=values.get("max"), target_cpu=values.get("target-cpu"),
        bridge=values.get("bridge"), node_spread=spread,
        approve_above=values.get("approve-above"), warm_spares=values.get("warm-spares"),
        policy=values.get("policy"), slo_cpu=values.get("slo"),
        violation_cost=values.get("violation-cost"), season_s=values.get("season"),
    )
    if (opts.min_replicas is not None and opts.max_replicas is not None
            and opts.min_replicas > opts.max_replicas):
        raise UsageError(f"--min {opts.min_replicas} is above --max {opts.max_replicas}", usage)
    return opts


def parse_scale_create(args: str) -> ScaleCreateArgs:
    usage = USAGE["scale_create"]
    positionals, values = _parse_options(_tokenize(args, usage), _options(False), usage)
    (name,) = _positionals(positionals, ["the group name"], 1, usage)
    for required in ("template", "min", "max"):
        if required not in values:
            raise UsageError(f"--{required} is required", usage)
    return ScaleCreateArgs(parse_group(name, usage), _group_options(values, usage))


def parse_scale_set(args: str) -> ScaleSetArgs:
    usage = USAGE["scale_set"]
    positionals, values = _parse_options(_tokenize(args, usage), _options(True), usage)
    (name,) = _positionals(positionals, ["the group name"], 1, usage)
    if "template" in values:
        raise UsageError("the template of a group cannot change; delete and create it", usage)
    opts = _group_options(values, usage)
    if not opts.given():
        raise UsageError("nothing to change: give at least one option", usage)
    return ScaleSetArgs(parse_group(name, usage), opts)


def parse_group_command(args: str, command: str, required: bool = True) -> str | None:
    """The single group argument of /scale_status, /scale_pause, /scale_resume, /scale_delete."""
    usage = USAGE[command]
    positionals, _ = _parse_options(_tokenize(args, usage), [], usage)
    names = _positionals(positionals, ["the group name"], 1 if required else 0, usage)
    return parse_group(names[0], usage) if names else None


def parse_scale_chart(args: str) -> ChartArgs:
    usage = USAGE["scale_chart"]
    positionals, _ = _parse_options(_tokenize(args, usage), [], usage)
    names = _positionals(positionals, ["the group name", "the time window"], 1, usage)
    window = CHART_WINDOWS["1h"]
    if len(names) == 2:
        key = names[1].strip().lower()
        if key not in CHART_WINDOWS:
            raise UsageError(f"{_short(names[1])} is not a window: use 1h, 6h or 24h", usage)
        window = CHART_WINDOWS[key]
    return ChartArgs(parse_group(names[0], usage), window)
