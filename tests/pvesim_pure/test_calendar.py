"""pvesim.calendar against proxmox-time's own test table and the schedules the bot writes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pvesim import calendar
from pvesim.calendar import CalendarError, parse, schedule_analyze

# The official schema's facts, kept in the repository (see pvesim/params/generate.py).
FACTS = Path(__file__).resolve().parents[1] / "pvesim" / "pve-api-facts.json"

MIN, HOUR, DAY = 60, 3600, 86400
THURSDAY_00_00 = 0  # 1970-01-01 was a Thursday
THURSDAY_15_00 = 15 * HOUR
JUL_31_2020 = 1596153600  # Friday
DEC_31_2020 = 1609372800  # Thursday


def at(epoch: int) -> datetime:
    """Naive datetime of a UTC epoch (the proxmox-time tests compute in UTC)."""
    return datetime(1970, 1, 1) + timedelta(seconds=epoch)


# proxmox-rs proxmox-time/src/test.rs, test_compute_next_event: (event, last, expected next)
RUST_TABLE = [
    ("0", THURSDAY_00_00, THURSDAY_00_00 + HOUR),
    ("*", THURSDAY_00_00, THURSDAY_00_00 + MIN),
    ("*:0", THURSDAY_00_00, THURSDAY_00_00 + HOUR),
    ("*:*", THURSDAY_00_00, THURSDAY_00_00 + MIN),
    ("*:*:*", THURSDAY_00_00, THURSDAY_00_00 + 1),
    ("*:3:5", THURSDAY_00_00, THURSDAY_00_00 + 3 * MIN + 5),
    ("mon *:*", THURSDAY_00_00, THURSDAY_00_00 + 4 * DAY),
    ("mon 2:*", THURSDAY_00_00, THURSDAY_00_00 + 4 * DAY + 2 * HOUR),
    ("mon 2:50", THURSDAY_00_00, THURSDAY_00_00 + 4 * DAY + 2 * HOUR + 50 * MIN),
    ("tue", THURSDAY_00_00, THURSDAY_00_00 + 5 * DAY),
    ("wed", THURSDAY_00_00, THURSDAY_00_00 + 6 * DAY),
    ("thu", THURSDAY_00_00, THURSDAY_00_00 + 7 * DAY),
    ("fri", THURSDAY_00_00, THURSDAY_00_00 + 1 * DAY),
    ("sat", THURSDAY_00_00, THURSDAY_00_00 + 2 * DAY),
    ("sun", THURSDAY_00_00, THURSDAY_00_00 + 3 * DAY),
    ("4..10/2:0", THURSDAY_00_00, THURSDAY_00_00 + 4 * HOUR),
    ("4..10/2:0", THURSDAY_00_00 + 5 * HOUR, THURSDAY_00_00 + 6 * HOUR),
    ("4..10/2:0", THURSDAY_00_00 + 11 * HOUR, THURSDAY_00_00 + 1 * DAY + 4 * HOUR),
    ("5,10:4,8", THURSDAY_00_00, THURSDAY_00_00 + 5 * HOUR + 4 * MIN),
    ("10,5:8,4", THURSDAY_00_00, THURSDAY_00_00 + 5 * HOUR + 4 * MIN),
    ("6,4..10:23,5/5", THURSDAY_00_00, THURSDAY_00_00 + 4 * HOUR + 5 * MIN),
    ("4..10,6:5/5,23", THURSDAY_00_00, THURSDAY_00_00 + 4 * HOUR + 5 * MIN),
    *[(d, JUL_31_2020, JUL_31_2020 + n * DAY)
      for n, d in enumerate(["sat", "sun", "mon", "tue", "wed", "thu", "fri"], start=1)],
    *[(d, DEC_31_2020, DEC_31_2020 + n * DAY)
      for n, d in enumerate(["fri", "sat", "sun", "mon", "tue", "wed", "thu"], start=1)],
    ("daily", THURSDAY_00_00, THURSDAY_00_00 + DAY),
    ("daily", THURSDAY_00_00 + 1, THURSDAY_00_00 + DAY),
    ("1:0", THURSDAY_15_00, THURSDAY_00_00 + DAY + HOUR),
    ("2020-07-31", 0, JUL_31_2020),
    ("02-28", 0, (31 + 27) * DAY),
    ("02-29", 0, 2 * 365 * DAY + (31 + 28) * DAY),  # 1972-02-29
    ("1965/5-01-01", -1, THURSDAY_00_00),
    ("2020-7..9-2/2", JUL_31_2020, JUL_31_2020 + 2 * DAY),
    ("2020,2021-12-31", JUL_31_2020, DEC_31_2020),
    ("minutely", THURSDAY_00_00, THURSDAY_00_00 + MIN),
    ("hourly", THURSDAY_00_00, THURSDAY_00_00 + HOUR),
    ("weekly", THURSDAY_00_00, THURSDAY_00_00 + 4 * DAY),
    ("monthly", 0, 31 * DAY),
    ("quarterly", 0, (31 + 28 + 31) * DAY),
    ("semiannually", 0, (31 + 28 + 31 + 30 + 31 + 30) * DAY),
    ("semi-annually", 0, (31 + 28 + 31 + 30 + 31 + 30) * DAY),
    ("yearly", 0, 365 * DAY),
    ("annually", 0, 365 * DAY),
]


@pytest.mark.parametrize(("text", "last", "expected"), RUST_TABLE)
def test_next_event_matches_proxmox_time_table(text, last, expected):
    assert parse(f"{text} UTC").next_after(at(last)) == at(expected)


@pytest.mark.parametrize(
    ("text", "start", "step", "count"),
    [("5/2:0", 5 * HOUR, 2 * HOUR, 4), ("*:*", MIN, MIN, 99), ("*:0", HOUR, HOUR, 99),
     ("1:0", DAY + HOUR, DAY, 99)],
)
def test_successive_runs_match_proxmox_time(text, start, step, count):
    first = THURSDAY_15_00 if text == "1:0" else THURSDAY_00_00
    runs = calendar.iterate(text, at(first), count)
    assert runs == [at(start + k * step) for k in range(count)]


@pytest.mark.parametrize("text", ["2021-02-29", "02-30"])
def test_impossible_dates_never_run(text):
    assert parse(text).next_after(at(0)) is None
    assert parse(text).iterate(at(0), 3) == []


@pytest.mark.parametrize(
    "text",
    ["mon,wed..fri", "fri..mon", "MON", "monDay", "Tuesday", "wednesday", "thursday", "friday",
     "saturday", "sunday", "mon..fri", "mon,tue,fri", "mon,tue..wednesday,fri..sat"],
)
def test_weekday_spellings_of_proxmox_time(text):
    assert parse(text).days


START = datetime(2026, 5, 20, 12, 0)  # a Wednesday


def d(text: str) -> datetime:
    return datetime.fromisoformat(text)


# The forms the bot and PVE's GUI write, from Wednesday 2026-05-20 12:00 (naive local time).
FORMS = [
    ("02:00", ["2026-05-21 02:00", "2026-05-22 02:00", "2026-05-23 02:00"]),
    ("12:30:15", ["2026-05-20 12:30:15", "2026-05-21 12:30:15", "2026-05-22 12:30:15"]),
    ("*:30", ["2026-05-20 12:30", "2026-05-20 13:30", "2026-05-20 14:30"]),
    ("*/15", ["2026-05-20 12:15", "2026-05-20 12:30", "2026-05-20 12:45"]),
    ("mon..fri 22:30", ["2026-05-20 22:30", "2026-05-21 22:30", "2026-05-22 22:30",
                        "2026-05-25 22:30"]),
    ("sat *-1..7 03:00", ["2026-06-06 03:00", "2026-07-04 03:00", "2026-08-01 03:00"]),
    ("Sat *-1..7 15:00", ["2026-06-06 15:00", "2026-07-04 15:00", "2026-08-01 15:00"]),
    ("mon,wed,fri", ["2026-05-22 00:00", "2026-05-25 00:00", "2026-05-27 00:00"]),
    ("fri..mon 01:00", ["2026-05-22 01:00", "2026-05-23 01:00", "2026-05-24 01:00",
                        "2026-05-25 01:00", "2026-05-29 01:00"]),
    ("8..17/2:00", ["2026-05-20 14:00", "2026-05-20 16:00", "2026-05-21 08:00"]),
    ("8:00/15", ["2026-05-21 08:00", "2026-05-21 08:15", "2026-05-21 08:30",
                 "2026-05-21 08:45", "2026-05-22 08:00"]),
    ("minutely", ["2026-05-20 12:01", "2026-05-20 12:02"]),
    ("hourly", ["2026-05-20 13:00", "2026-05-20 14:00"]),
    ("daily", ["2026-05-21 00:00", "2026-05-22 00:00"]),
    ("weekly", ["2026-05-25 00:00", "2026-06-01 00:00"]),
    ("monthly", ["2026-06-01 00:00", "2026-07-01 00:00"]),
    ("yearly", ["2027-01-01 00:00", "2028-01-01 00:00"]),
    ("annually", ["2027-01-01 00:00", "2028-01-01 00:00"]),
    ("quarterly", ["2026-07-01 00:00", "2026-10-01 00:00", "2027-01-01 00:00"]),
    ("2026-12-24 10:00", ["2026-12-24 10:00"]),  # one-shot: nothing after it
    ("*-*-1 00:00", ["2026-06-01 00:00", "2026-07-01 00:00"]),
    ("*-05", ["2026-06-05 00:00", "2026-07-05 00:00"]),
    ("*-*-31 23:00", ["2026-05-31 23:00", "2026-07-31 23:00", "2026-08-31 23:00"]),
    ("  02:00  ", ["2026-05-21 02:00"]),  # PVE trims
    # a lone number is a MINUTE, as in proxmox-time (pve-docs' "mon..fri 22" example misleads)
    ("mon..fri 22", ["2026-05-20 12:22", "2026-05-20 13:22"]),
    # an hour out of range is not an error: proxmox-time re-reads "25:00" as minute:second
    ("25:00", ["2026-05-20 12:25", "2026-05-20 13:25"]),
]


@pytest.mark.parametrize(("text", "runs"), FORMS)
def test_accepted_forms_and_their_next_runs(text, runs):
    assert calendar.iterate(text, START, len(runs) + 1)[: len(runs)] == [d(r) for r in runs]
    if text == "2026-12-24 10:00":
        assert calendar.iterate(text, START, 5) == [d("2026-12-24 10:00")]


def test_next_run_is_strictly_after():
    event = parse("02:00")
    assert event.next_after(d("2026-05-21 02:00")) == d("2026-05-22 02:00")
    assert event.next_after(d("2026-05-21 01:59:59.900")) == d("2026-05-21 02:00")


REJECTED = [
    ("", "unable to parse calendar event - event is empty"),
    ("   ", "unable to parse calendar event - event is empty"),
    ("daily 03:30", "unable to parse calendar event at 'daily' - Context(\"weekday\")"),
    ("Daily", "unable to parse calendar event at 'Daily' - Context(\"weekday\")"),
    ("nightly", "unable to parse calendar event at 'nightly' - Context(\"weekday\")"),
    ("12:60", "unable to parse calendar event at '12:60' - Context(\"date or time specification\")"),
    ("99:00", "unable to parse calendar event at '99:00' - Context(\"date or time specification\")"),
    ("10..5:00",
     "unable to parse calendar event at '10..5:00' - Context(\"date or time specification\")"),
    ("2026-13-01",
     "unable to parse calendar event at '2026-13-01' - Context(\"date or time specification\")"),
    ("-5", "unable to parse calendar event at '-5' - Context(\"date or time specification\")"),
    ("UTC", "unable to parse calendar event at '' - Context(\"date or time specification\")"),
    ("mon,foo", "unable to parse calendar event at ',foo' - Nom(Eof)"),
    ("mon..xyz", "unable to parse calendar event at '..xyz' - Nom(Eof)"),
    ("*/0", "unable to parse calendar event at '/0' - Nom(Eof)"),
    ("24:60", "unable to parse calendar event at ':60' - Nom(Eof)"),
    ("1,99", "unable to parse calendar event at ',99' - Nom(Eof)"),
    ("02:00 every day", "unable to parse calendar event at ' every day' - Nom(Eof)"),
]


@pytest.mark.parametrize(("text", "reason"), REJECTED)
def test_rejected_forms_with_pve_messages(text, reason):
    with pytest.raises(CalendarError) as caught:
        parse(text)
    assert caught.value.reason == reason
    assert str(caught.value) == f"invalid calendar event '{text}' - {reason}"
    assert calendar.check_format(text) == str(caught.value)


def test_check_format_accepts_valid_events():
    assert calendar.check_format("mon..fri 22:30") is None


def test_schedule_analyze_shape_and_values():
    # 2026-05-20 12:00:00 UTC
    rows = schedule_analyze("mon..fri 22:30", starttime=1779278400, iterations=3)
    assert rows == [
        {"timestamp": 1779316200, "utc": "Wed May 20 22:30:00 2026"},
        {"timestamp": 1779402600, "utc": "Thu May 21 22:30:00 2026"},
        {"timestamp": 1779489000, "utc": "Fri May 22 22:30:00 2026"},
    ]
    # Perl's scalar(gmtime) pads the day of month with a space
    assert schedule_analyze("*-*-1 00:00", 1779278400, 1)[0]["utc"] == "Mon Jun  1 00:00:00 2026"


def test_schedule_analyze_local_zone_and_utc_suffix():
    plus2 = timezone(timedelta(hours=2))
    # 02:00 at UTC+2 is 00:00 UTC; with the UTC suffix the zone is ignored
    assert schedule_analyze("02:00", 1779278400, 1, tz=plus2)[0]["utc"] == (
        "Thu May 21 00:00:00 2026")
    assert schedule_analyze("02:00 UTC", 1779278400, 1, tz=plus2)[0]["utc"] == (
        "Thu May 21 02:00:00 2026")


def test_schedule_analyze_stops_when_the_event_ends():
    assert len(schedule_analyze("2026-12-24 10:00", 1779278400, 10)) == 1
    assert len(schedule_analyze("hourly", 1779278400)) == 10  # the API's default iterations


def test_schedule_analyze_refuses_a_bad_schedule():
    with pytest.raises(CalendarError, match="invalid calendar event 'daily 03:30'"):
        schedule_analyze("daily 03:30", 0, 1)


def test_schedule_analyze_matches_the_api_schema():
    get = json.loads(FACTS.read_text())["methods"]["GET /cluster/jobs/schedule-analyze"]
    assert set(get["properties"]) == {"schedule", "starttime", "iterations"}
    assert get["properties"]["iterations"]["default"] == 10
    assert get["properties"]["schedule"]["format"] == "pve-calendar-event"
    row = schedule_analyze("hourly", 0, 1)[0]
    assert set(row) == set(get["returns"]["items"]["properties"])
    assert isinstance(row["timestamp"], int) and isinstance(row["utc"], str)


def _matches(event, t: datetime) -> bool:
    """Does ``t`` satisfy every field (the definition next_after's jumps must agree with)?"""
    def ok(field, value):
        return not field or any(v.contains(value) for v in field)

    return (ok(event.year, t.year) and ok(event.month, t.month) and ok(event.day, t.day)
            and (len(event.days) in (0, 7) or t.weekday() in event.days)
            and ok(event.hour, t.hour) and ok(event.minute, t.minute)
            and ok(event.second, t.second))


@pytest.mark.parametrize(
    "text",
    ["02:00", "mon..fri 22:30", "sat,sun 8..17/3:5,35", "*/10", "fri..mon 23:59", "*-*-1..3 4:00",
     "tue 12,0:0/20", "weekly", "5/2:0", "1..20/7:0"],
)
@pytest.mark.parametrize("start", ["2026-05-20 12:00", "2026-02-27 23:59:30", "2026-12-31 22:10"])
def test_next_run_is_the_first_matching_minute(text, start):
    """Brute force over the minutes of two weeks agrees with the jumping walk (for steps that
    divide their field; see the next test for the others)."""
    event = parse(text)
    t = d(start)
    expected = None
    probe = t.replace(second=0) + timedelta(minutes=1)
    for _ in range(14 * 24 * 60):
        if _matches(event, probe):
            expected = probe
            break
        probe += timedelta(minutes=1)
    assert expected is not None
    assert event.next_after(t) == expected


def test_open_repetition_overflowing_its_field_skips_the_wrap_like_proxmox_time():
    """DateTimeValue::find_next gives an unbounded ``start + k*step`` (63 for ``*/7`` at :59);
    the walk sets that and libc normalises it into the next hour (:03), so the :00 match is
    skipped. systemd would answer :00; PVE answers :07, and so does the simulator."""
    assert parse("*/7").next_after(d("2026-05-20 12:59:30")) == d("2026-05-20 13:07")
    assert parse("*/5:00").next_after(d("2026-05-20 20:30")) == d("2026-05-21 05:00")
    # a step that divides the field wraps cleanly
    assert parse("*/15").next_after(d("2026-05-20 12:50")) == d("2026-05-20 13:00")
