"""pvesim.prune: PVE's prune-backups format and prune_mark_backup_group selection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pvesim import calendar
from pvesim.prune import Backup, PruneError, marks, parse_prune, retention_text, select


def epoch(text: str, tz=UTC) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=tz).timestamp())


def backups_at(*times: str, protected: tuple[str, ...] = ()) -> list[tuple[str, int, bool]]:
    """(id, ctime, protected) with the local time text as the id, for readable assertions."""
    return [(t, epoch(t), t in protected) for t in times]


# ---- parse_prune ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("keep-last=3", {"keep-last": 3}),
        ("keep-last=3,keep-daily=7,keep-weekly=4", {"keep-last": 3, "keep-daily": 7,
                                                    "keep-weekly": 4}),
        ("keep-hourly=24,keep-monthly=6,keep-yearly=1", {"keep-hourly": 24, "keep-monthly": 6,
                                                         "keep-yearly": 1}),
        ("keep-all=0,keep-last=2", {"keep-last": 2}),
        ("keep-last=2,keep-daily=0", {"keep-last": 2, "keep-daily": 0}),
        ("keep-all=1", {"keep-all": 1}),
        ("keep-all=yes", {"keep-all": 1}),
        ("keep-all=0", {"keep-all": 1}),  # nothing positive left: keep everything
        ("keep-last=0", {"keep-all": 1}),
        ("keep-all=1,keep-last=0", {"keep-all": 1}),
        ("", {"keep-all": 1}),
        ("keep-last=3,,", {"keep-last": 3}),
        ("keep-last=+3", {"keep-last": 3}),
    ],
)
def test_parse_prune_accepts_and_normalises(text, expected):
    assert parse_prune(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("keep-all=1,keep-last=3", "keep-all cannot be set together with other options."),
        ("keep-last=-1", "keep-last: value must have a minimum value of 0"),
        ("keep-daily=seven", "keep-daily: type check ('integer') failed - got 'seven'"),
        ("keep-last=1.5", "keep-last: type check ('integer') failed - got '1.5'"),
        ("keep-all=maybe", "keep-all: type check ('boolean') failed - got 'maybe'"),
        ("keep-forever=1", "invalid key in comma-separated list property: keep-forever"),
        ("maxfiles=3", "invalid key in comma-separated list property: maxfiles"),
        ("keep-last=1,keep-last=2", "duplicate key in comma-separated list property: keep-last"),
        ("keep-last", "value without key, but schema does not define a default key"),
        ("keep-last=", "missing key in comma-separated list property"),
    ],
)
def test_parse_prune_refuses_with_pve_messages(text, message):
    with pytest.raises(PruneError) as caught:
        parse_prune(text)
    assert str(caught.value) == message


def test_parse_prune_reports_every_bad_key():
    with pytest.raises(PruneError) as caught:
        parse_prune("keep-last=-1,keep-daily=x")
    assert caught.value.errors == {
        "keep-last": "value must have a minimum value of 0",
        "keep-daily": "type check ('integer') failed - got 'x'",
    }


def test_retention_text_is_vzdumps_log_form():
    assert retention_text(parse_prune("keep-last=3,keep-daily=7")) == "keep-daily=7, keep-last=3"


# ---- select --------------------------------------------------------------------------------

WEEK = [f"2026-05-{day:02d} 02:00" for day in range(14, 21)]  # one backup a night, 14th..20th


def test_no_retention_keeps_everything():
    for options in ("", "keep-all=1", {"keep-all": 1}, {}):
        assert select(backups_at(*WEEK), options) == (set(WEEK), set())


def test_keep_last_keeps_the_newest_n():
    keep, remove = select(backups_at(*WEEK), "keep-last=3")
    assert keep == set(WEEK[-3:])
    assert remove == set(WEEK[:-3])


def test_keep_daily_keeps_the_newest_of_each_recent_day():
    times = [f"2026-05-{day:02d} {hour}" for day in range(14, 21) for hour in ("02:00", "14:00")]
    keep, remove = select(backups_at(*times), "keep-daily=3")
    assert keep == {"2026-05-20 14:00", "2026-05-19 14:00", "2026-05-18 14:00"}
    assert remove == set(times) - keep


def test_periods_kept_by_an_earlier_rule_do_not_count_again():
    # keep-last takes today's backup; keep-daily then skips today and takes two more days
    keep, _ = select(backups_at(*WEEK), "keep-last=1,keep-daily=2")
    assert keep == {"2026-05-20 02:00", "2026-05-19 02:00", "2026-05-18 02:00"}
    # an unmarked older backup of a covered day is not kept by the daily rule either
    times = [f"2026-05-{day:02d} {hour}" for day in (18, 19, 20) for hour in ("02:00", "14:00")]
    keep, remove = select(backups_at(*times), "keep-last=1,keep-daily=2")
    assert keep == {"2026-05-20 14:00", "2026-05-19 14:00", "2026-05-18 14:00"}
    assert "2026-05-20 02:00" in remove


def test_protected_backups_are_kept_and_do_not_count():
    keep, remove = select(backups_at(*WEEK, protected=("2026-05-20 02:00",)), "keep-last=2")
    assert keep == {"2026-05-20 02:00", "2026-05-19 02:00", "2026-05-18 02:00"}
    assert remove == set(WEEK[:-3])
    # protected survives keep-all and every rule alike
    old = backups_at(*WEEK, protected=("2026-05-14 02:00",))
    assert "2026-05-14 02:00" in select(old, "keep-last=1")[0]
    assert dict(marks(old, "keep-all=1"))["2026-05-14 02:00"] == "protected"


def test_weekly_uses_iso_weeks_across_the_new_year():
    times = ["2020-12-31 02:00", "2021-01-03 02:00", "2021-01-04 02:00"]
    keep, remove = select(backups_at(*times), "keep-weekly=2")
    # Thu 2020-12-31 and Sun 2021-01-03 are both ISO week 2020-W53
    assert keep == {"2021-01-04 02:00", "2021-01-03 02:00"}
    assert remove == {"2020-12-31 02:00"}
    # by calendar month they differ
    assert select(backups_at(*times), "keep-monthly=2")[0] == {"2021-01-04 02:00",
                                                               "2020-12-31 02:00"}


def test_a_month_of_backups_every_eight_hours():
    times = [f"2026-05-{day:02d} {hour:02d}:00" for day in range(1, 32) for hour in (0, 8, 16)]
    options = "keep-hourly=2,keep-daily=2,keep-weekly=2,keep-monthly=2"
    keep, remove = select(backups_at(*times), options)
    assert keep == {
        "2026-05-31 16:00", "2026-05-31 08:00",  # hourly: the two newest hours
        "2026-05-30 16:00", "2026-05-29 16:00",  # daily: May 31 is covered, so the 30th and 29th
        # weekly: ISO week 22 (May 25..31) is covered and does not count: weeks 21 and 20
        "2026-05-24 16:00", "2026-05-17 16:00",
        # monthly: May is covered and there is no older month
    }
    assert len(remove) == len(times) - 6
    assert [m for _, m in marks(backups_at(*times), options)][:4] == [
        "keep", "keep", "remove", "keep"]


def test_yearly_keeps_the_newest_of_each_year():
    times = ["2024-03-01 00:00", "2024-12-01 00:00", "2025-06-01 00:00", "2026-01-01 00:00"]
    assert select(backups_at(*times), "keep-yearly=2")[0] == {"2026-01-01 00:00",
                                                              "2025-06-01 00:00"}


def test_periods_are_local_time():
    # 23:30 and 00:30 UTC fall on one local day at UTC+2
    times = [("a", epoch("2026-05-19 23:30")), ("b", epoch("2026-05-20 00:30"))]
    assert select(times, "keep-daily=1")[0] == {"b"}
    assert select(times, "keep-daily=2")[0] == {"a", "b"}
    assert select(times, "keep-daily=2", tz=timezone(timedelta(hours=2)))[0] == {"b"}


def test_equal_ctimes_share_a_keep_last_period():
    # Perl keys keep-last by ctime: the second archive of the same second is removed
    keep, remove = select([("x", 100, False), ("y", 100, False), ("z", 50, False)], "keep-last=2")
    assert keep == {"x", "z"} and remove == {"y"}


def test_accepts_backup_values_and_returns_newest_first():
    items = [Backup("old", 1), Backup("new", 3, protected=True), Backup("mid", 2)]
    assert marks(items, {"keep-last": 1}) == [("new", "protected"), ("mid", "keep"),
                                              ("old", "remove")]


# ---- a schedule with retention over a simulated week ----------------------------------------

@pytest.mark.parametrize(
    ("options", "kept_days"),
    [("keep-last=3", [18, 19, 20]), ("keep-daily=5", [16, 17, 18, 19, 20]),
     ("keep-last=1,keep-weekly=2", [17, 20])],
)
def test_a_nightly_job_pruning_after_each_run_keeps_what_prune_backups_says(options, kept_days):
    """vzdump prunes after each backup; after a week the store holds exactly the selection."""
    opts = parse_prune(options)
    store: list[tuple[str, int, bool]] = []
    runs = calendar.iterate("02:00", datetime(2026, 5, 13, 12, 0), 7)  # 14th..20th
    for run in runs:
        ctime = int(run.replace(tzinfo=UTC).timestamp())
        store.append((run.strftime("%Y-%m-%d %H:%M"), ctime, False))
        keep, _ = select(store, opts)
        store = [b for b in store if b[0] in keep]
    assert sorted(b[0] for b in store) == [f"2026-05-{day} 02:00" for day in kept_days]
