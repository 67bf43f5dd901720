"""PVE calendar events (``pve-calendar-event``): parse, next run, and ``schedule-analyze``.

PVE validates and evaluates backup-job schedules with Rust: pve-common's ``PVE::CalendarEvent``
trims the text, refuses an empty one, and hands it to ``Proxmox::RS::CalendarEvent``, i.e. the
``proxmox-time`` crate (``calendar_event.rs``, ``date_time_value.rs``, ``week_days.rs``,
``parse_helpers.rs``). This module follows that code rather than systemd or the pve-docs prose
(``calendar-events.adoc``), because where they differ the code is what a real server does:

* grammar ``[WEEKDAYS] [[YEARS-]MONTHS-DAYS] [[HOURS:]MINUTES[:SECONDS]] [UTC]``; each field is
  ``*``, ``*/STEP`` or a comma list of ``V``, ``A..B``, ``V/STEP``, ``A..B/STEP``; weekdays are
  ``mon``..``sun`` or full names, any case, with wrapping ranges (``fri..mon``);
* a single number is a MINUTE (``30`` = every hour at :30; the docs' "``mon..fri 22``" is minute 22);
* a value too large for a field is a *recoverable* parse error, so ``25:00`` is not refused: the
  hour fails, and ``25`` and ``00`` are read as minute and second (every hour at :25:00), exactly
  as ``proxmox-time`` does; ``12:60`` and ``99:00`` are refused;
* the keywords (``minutely`` .. ``semi-annually``) are exact, lowercase, and take nothing else
  (``daily 03:30`` is refused at ``'daily'`` as a bad weekday);
* errors read ``unable to parse calendar event at '<rest>' - <nom error kind>``, the anyhow text
  of ``parse_complete_line``; PVE's format check prefixes ``invalid calendar event '<text>' - ``.

Times are naive local datetimes; :func:`schedule_analyze` maps epochs through a time zone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

__all__ = [
    "CalendarError",
    "CalendarEvent",
    "check_format",
    "iterate",
    "parse",
    "schedule_analyze",
]

# compute_next_event gives up after this many adjustments (proxmox-time: "cancel after 1000 loops")
_MAX_LOOPS = 1000


class CalendarError(ValueError):
    """A calendar event PVE refuses. ``reason`` is the parser's text, ``str()`` PVE's full text."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"invalid calendar event '{text}' - {reason}")

    @property
    def message(self) -> str:
        return str(self)


# --- field values (date_time_value.rs) ------------------------------------------------------


@dataclass(frozen=True)
class _Single:
    value: int

    def contains(self, v: int) -> bool:
        return v == self.value

    def next_after(self, v: int) -> int | None:
        return self.value if self.value > v else None


@dataclass(frozen=True)
class _Range:
    start: int
    end: int

    def contains(self, v: int) -> bool:
        return self.start <= v <= self.end

    def next_after(self, v: int) -> int | None:
        if v < self.start:
            return self.start
        return v + 1 if self.start <= v + 1 <= self.end else None


@dataclass(frozen=True)
class _Repeated:
    start: int
    step: int
    end: int | None = None

    def contains(self, v: int) -> bool:
        if v < self.start:
            return False
        if self.step == 0:
            return v == self.start
        return (v - self.start) % self.step == 0 and (self.end is None or v <= self.end)

    def next_after(self, v: int) -> int | None:
        if v < self.start:
            return self.start
        if self.step == 0:
            return None
        n = self.start + ((v - self.start + self.step) // self.step) * self.step
        return n if self.end is None or n <= self.end else None


_Value = _Single | _Range | _Repeated
_Field = tuple[_Value, ...]  # empty = every value
_ZERO: _Field = (_Single(0),)


def _contains(field: _Field, v: int) -> bool:
    return any(x.contains(v) for x in field)


def _find_next(field: _Field, v: int) -> int | None:
    found = [n for x in field if (n := x.next_after(v)) is not None]
    return min(found) if found else None


# --- the event ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarEvent:
    """A parsed event. Empty field = any value; ``days`` holds 0=Monday .. 6=Sunday."""

    text: str
    utc: bool = False
    days: frozenset[int] = frozenset()
    second: _Field = ()
    minute: _Field = ()
    hour: _Field = ()
    day: _Field = ()
    month: _Field = ()
    year: _Field = ()

    def next_after(self, t: datetime) -> datetime | None:
        """The first matching time strictly after ``t`` (naive local, whole seconds), or None.

        The same walk as ``CalendarEvent::compute_next_event``: start one second after ``t``,
        and while a field does not match, jump to its next allowed value (resetting the smaller
        fields) or carry into the larger one; None when no year can match or after 1000 steps.
        """
        t = t.replace(tzinfo=None, microsecond=0) + timedelta(seconds=1)
        all_days = len(self.days) in (0, 7)
        try:
            for _ in range(_MAX_LOOPS + 1):
                if self.year and not _contains(self.year, t.year):
                    n = _find_next(self.year, t.year)
                    if n is None:
                        return None
                    t = datetime(n, 1, 1)
                    continue
                if self.month and not _contains(self.month, t.month):
                    n = _find_next(self.month, t.month)
                    t = _add_months(t, n - t.month) if n is not None else datetime(t.year + 1, 1, 1)
                    continue
                if self.day and not _contains(self.day, t.day):
                    n = _find_next(self.day, t.day)
                    t = _midnight(t) + timedelta(days=n - t.day) if n is not None else _add_months(t, 1)
                    continue
                if not all_days and t.weekday() not in self.days:
                    later = [d for d in range(t.weekday() + 1, 7) if d in self.days]
                    step = (later[0] if later else 7) - t.weekday()
                    t = _midnight(t) + timedelta(days=step)
                    continue
                if self.hour and not _contains(self.hour, t.hour):
                    n = _find_next(self.hour, t.hour)
                    t = _midnight(t) + timedelta(hours=n if n is not None else 24)
                    continue
                if self.minute and not _contains(self.minute, t.minute):
                    n = _find_next(self.minute, t.minute)
                    t = t.replace(minute=0, second=0) + timedelta(minutes=n if n is not None else 60)
                    continue
                if self.second and not _contains(self.second, t.second):
                    n = _find_next(self.second, t.second)
                    t = t.replace(second=0) + timedelta(seconds=n if n is not None else 60)
                    continue
                return t
        except (OverflowError, ValueError):  # beyond datetime's year 9999: no such time
            return None
        return None

    def iterate(self, t: datetime, n: int) -> list[datetime]:
        """Up to ``n`` successive runs after ``t`` (fewer when the event ends)."""
        runs: list[datetime] = []
        while len(runs) < n:
            nxt = self.next_after(t)
            if nxt is None:
                break
            runs.append(nxt)
            t = nxt
        return runs


def _midnight(t: datetime) -> datetime:
    return datetime(t.year, t.month, t.day)


def _add_months(t: datetime, months: int) -> datetime:
    """TmEditor::add_months: first of the month ``months`` later, 00:00:00."""
    index = t.year * 12 + (t.month - 1) + months
    return datetime(index // 12, index % 12 + 1, 1)


# --- parser (nom combinators of calendar_event.rs, by hand) -----------------------------------


class _Fail(Exception):
    """A recoverable nom error: where it happened and nom's Debug of its kind."""

    def __init__(self, rest: str, kind: str) -> None:
        super().__init__(rest, kind)
        self.rest = rest
        self.kind = kind


_KEYWORDS: dict[str, dict[str, object]] = {
    "minutely": {"second": _ZERO},
    "hourly": {"minute": _ZERO, "second": _ZERO},
    "daily": {"hour": _ZERO, "minute": _ZERO, "second": _ZERO},
    "weekly": {"hour": _ZERO, "minute": _ZERO, "second": _ZERO, "days": frozenset({0})},
    "monthly": {"hour": _ZERO, "minute": _ZERO, "second": _ZERO, "day": (_Single(1),)},
    "yearly": {
        "hour": _ZERO, "minute": _ZERO, "second": _ZERO,
        "day": (_Single(1),), "month": (_Single(1),),
    },
    "quarterly": {
        "hour": _ZERO, "minute": _ZERO, "second": _ZERO, "day": (_Single(1),),
        "month": tuple(_Single(m) for m in (1, 4, 7, 10)),
    },
    "semiannually": {
        "hour": _ZERO, "minute": _ZERO, "second": _ZERO, "day": (_Single(1),),
        "month": (_Single(1), _Single(7)),
    },
}
_KEYWORDS["annually"] = _KEYWORDS["yearly"]
_KEYWORDS["semi-annually"] = _KEYWORDS["semiannually"]

_WEEKDAYS = {
    "mon": 0, "monday": 0, "tue": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thursday": 3, "fri": 4, "friday": 4, "sat": 5, "saturday": 5,
    "sun": 6, "sunday": 6,
}


def _space0(i: str) -> str:
    return i.lstrip(" \t")


def _alpha1(i: str) -> tuple[str, str]:
    n = 0
    while n < len(i) and i[n].isascii() and i[n].isalpha():
        n += 1
    if n == 0:
        raise _Fail(i, "Nom(Alpha)")
    return i[n:], i[:n]


def _weekday(i: str) -> tuple[str, int]:
    rest, word = _alpha1(i)
    day = _WEEKDAYS.get(word.lower())
    if day is None:
        raise _Fail(word, 'Context("weekday")')
    return rest, day


def _weekday_range(i: str) -> tuple[str, set[int]]:
    i, start = _weekday(i)
    if i.startswith(".."):
        try:
            rest, end = _weekday(i[2:])
        except _Fail:
            return i, {start}
        if start > end:  # wraps over the week's end: fri..mon
            return rest, set(range(start, 7)) | set(range(0, end + 1))
        return rest, set(range(start, end + 1))
    return i, {start}


def _time_comp(i: str, limit: int) -> tuple[str, int]:
    n = 0
    while n < len(i) and i[n] in "0123456789":
        n += 1
    if n == 0:
        raise _Fail(i, "Nom(Digit)")
    value = int(i[:n])
    if value >= 2**32:
        raise _Fail(i, "Nom(MapRes)")
    if value >= limit:
        raise _Fail(i[n:], 'Context("time value too large")')
    return i[n:], value


def _comp(i: str, limit: int) -> tuple[str, _Value]:
    i, value = _time_comp(i, limit)
    if i.startswith(".."):
        try:
            after, end = _time_comp(i[2:], limit)
        except _Fail:
            after = None
        if after is not None:
            if value > end:
                raise _Fail(after, 'Context("range start is bigger than end")')
            if after.startswith("/"):
                rest, step = _time_comp(after[1:], limit)
                return rest, _Repeated(value, step, end)
            return after, _Range(value, end)
    if i.startswith("/"):
        rest, step = _time_comp(i[1:], limit)
        return rest, _Repeated(value, step)
    return i, _Single(value)


def _comp_list(i: str, first: int, limit: int) -> tuple[str, _Field]:
    if i.startswith("*"):
        rest = i[1:]
        if rest.startswith("/"):
            after, step = _time_comp(rest[1:], limit)
            if step > 0:
                return after, (_Repeated(first, step),)
        return rest, ()
    i, value = _comp(i, limit)
    values = [value]
    while i.startswith(","):
        try:
            i2, value = _comp(i[1:], limit)
        except _Fail:
            break  # separated_list1 stops before a separator whose element fails
        i, values = i2, [*values, value]
    return i, tuple(values)


def _tag(i: str, tag: str) -> str:
    if not i.startswith(tag):
        raise _Fail(i, "Nom(Tag)")
    return i[len(tag):]


def _date_spec(i: str) -> tuple[str, _Field, _Field, _Field]:
    try:
        rest, year = _comp_list(i, 0, 2200)
        rest, month = _comp_list(_tag(rest, "-"), 1, 13)
        rest, day = _comp_list(_tag(rest, "-"), 1, 32)
        return rest, year, month, day
    except _Fail:
        pass
    try:
        rest, month = _comp_list(i, 1, 13)
        rest, day = _comp_list(_tag(rest, "-"), 1, 32)
        return rest, (), month, day
    except _Fail:
        raise _Fail(i, 'Context("invalid date spec")') from None


def _time_spec(i: str) -> tuple[str, _Field, _Field, _Field]:
    hour: _Field = ()
    try:
        rest, parsed = _comp_list(i, 0, 24)
        i, hour = _tag(rest, ":"), parsed
    except _Fail:
        pass
    i, minute = _comp_list(i, 0, 60)
    second = _ZERO
    if i.startswith(":"):
        try:
            i, second = _comp_list(i[1:], 0, 60)
        except _Fail:
            pass
    return i, hour, minute, second


def _parse_event(text: str) -> CalendarEvent:
    i = text
    utc = False
    if i.endswith("UTC"):
        utc = True
        i = i[:-3].rstrip(" ")
    fields: dict[str, object] = {}
    has_spec = False
    if i[:1].isascii() and i[:1].isalpha():
        if i in _KEYWORDS:
            return CalendarEvent(text=text, utc=utc, **_KEYWORDS[i])  # type: ignore[arg-type]
        i, days = _weekday_range(i)  # a failing first weekday is the error reported
        while i.startswith(","):
            try:
                i2, more = _weekday_range(i[1:])
            except _Fail:
                break
            i, days = i2, days | more
        fields["days"] = frozenset(days)
        has_spec = True
        i = _space0(i)
    try:
        rest, year, month, day = _date_spec(i)
        fields.update(year=year, month=month, day=day)
        has_spec = True
        i = _space0(rest)
    except _Fail:
        pass
    try:
        rest, hour, minute, second = _time_spec(i)
        fields.update(hour=hour, minute=minute, second=second)
        has_spec = True
        i = rest
    except _Fail:
        fields.update(hour=_ZERO, minute=_ZERO, second=_ZERO)
    if not has_spec:
        raise _Fail(i, 'Context("date or time specification")')
    if i:
        raise _Fail(i, "Nom(Eof)")  # all_consuming
    return CalendarEvent(text=text, utc=utc, **fields)  # type: ignore[arg-type]


def parse(text: str) -> CalendarEvent:
    """Parse a schedule as PVE does, or raise :class:`CalendarError` with PVE's message."""
    event = text.strip()  # PVE::Tools::trim in PVE::CalendarEvent::parse_calendar_event
    if event == "":
        raise CalendarError(text, "unable to parse calendar event - event is empty")
    try:
        return _parse_event(event)
    except _Fail as fail:
        raise CalendarError(
            text, f"unable to parse calendar event at '{fail.rest}' - {fail.kind}"
        ) from None


def check_format(text: str) -> str | None:
    """The ``pve-calendar-event`` format check: None when valid, else PVE's error text."""
    try:
        parse(text)
    except CalendarError as err:
        return str(err)
    return None


def iterate(event: CalendarEvent | str, t: datetime, n: int) -> list[datetime]:
    """Up to ``n`` successive runs of ``event`` strictly after ``t`` (naive local)."""
    if isinstance(event, str):
        event = parse(event)
    return event.iterate(t, n)


def schedule_analyze(
    schedule: str,
    starttime: int | None = None,
    iterations: int = 10,
    tz: tzinfo = UTC,
) -> list[dict[str, object]]:
    """The data of ``GET /cluster/jobs/schedule-analyze`` (pve-manager ``API2/Cluster/Jobs.pm``).

    ``[{"timestamp": epoch, "utc": scalar(gmtime(epoch))}]``, each the next event after the
    previous one, starting after ``starttime`` (default now); stops early when the event has no
    more runs. ``tz`` is the server's local zone; an event ending in ``UTC`` ignores it.
    Raises :class:`CalendarError` for a bad schedule (the API answers that as a 400).
    """
    event = parse(schedule)
    zone = UTC if event.utc else tz
    start = int(time.time()) if starttime is None else int(starttime)
    local = datetime.fromtimestamp(start, zone).replace(tzinfo=None)
    result: list[dict[str, object]] = []
    for run in event.iterate(local, iterations):
        epoch = int(run.replace(tzinfo=zone).timestamp())
        # Perl's scalar(gmtime): "Thu Dec 24 10:00:00 2026", the same layout as C's asctime
        result.append({"timestamp": epoch, "utc": time.asctime(time.gmtime(epoch))})
    return result
