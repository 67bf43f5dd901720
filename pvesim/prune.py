"""Backup retention (``prune-backups``): parse the property string and mark what to keep.

Follows PVE, which prunes vzdump archives in Perl (pve-storage):

* the format is ``PVE::Storage::Plugin::$prune_backups_format`` (``keep-all`` boolean, the six
  ``keep-*`` integers with minimum 0), read by ``PVE::JSONSchema::parse_property_string`` and
  normalised by ``validate_prune_backups``: no positive ``keep-*`` means ``{"keep-all": 1}``, and
  ``keep-all=1`` next to a positive option is refused;
* the selection is ``PVE::Storage::prune_mark_backup_group`` with its ``$prune_mark`` helper (the
  same algorithm as proxmox-backup ``pbs-datastore/src/prune.rs``): newest first, rules in the
  order last, hourly, daily, weekly (ISO week and ISO year), monthly, yearly. A rule first
  collects the periods of the backups already marked *keep* by earlier rules; those periods are
  skipped and do not count towards its N ("the next option does not take care of already
  covered backups and only considers older backups", pve-storage ``prune-backups`` option).
  Then each still unmarked backup in a new period is kept while fewer than N periods are taken;
  a second backup of a taken period is marked *remove*; at the (N+1)-th new period the rule
  stops, leaving the older backups for the next rule. Whatever no rule kept is removed.
* ``PVE::Storage::Plugin::prune_backups`` marks protected backups ``protected`` before that:
  they are never removed and, not being *keep*, their periods count for nothing.

Periods are taken in the server's local time (Perl ``localtime``); pass its zone as ``tz``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

__all__ = [
    "KEEP_OPTIONS",
    "Backup",
    "PruneError",
    "marks",
    "parse_prune",
    "retention_text",
    "select",
]

# In the order prune_mark_backup_group applies them.
KEEP_OPTIONS = (
    "keep-last",
    "keep-hourly",
    "keep-daily",
    "keep-weekly",
    "keep-monthly",
    "keep-yearly",
)
_KEYS = ("keep-all", *KEEP_OPTIONS)
_TRUE = re.compile(r"^(?:1|on|yes|true)$", re.I)
_FALSE = re.compile(r"^(?:0|off|no|false)$", re.I)
_INTEGER = re.compile(r"^[+-]?\d+$")


class PruneError(ValueError):
    """A ``prune-backups`` value PVE refuses; ``errors`` maps a key to its message when the
    failure is per key (PVE's ``format error`` with an errors hash)."""

    def __init__(self, message: str, errors: Mapping[str, str] | None = None) -> None:
        self.errors = dict(errors or {})
        if self.errors:
            message = "; ".join(f"{k}: {v}" for k, v in sorted(self.errors.items()))
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self)


@dataclass(frozen=True)
class Backup:
    """One backup of a group (one guest): any hashable id, ``ctime`` epoch, protected flag."""

    id: object
    ctime: int
    protected: bool = False


def parse_prune(text: str) -> dict[str, int]:
    """Parse and normalise a ``prune-backups`` string, e.g. ``"keep-last=3,keep-daily=7"``.

    Returns ``{"keep-all": 1}`` when nothing positive is asked (including ``""``), else the
    given ``keep-*`` options as ints (zeros included, ``keep-all=0`` dropped).
    Raises :class:`PruneError` with PVE's message.
    """
    raw: dict[str, str] = {}
    for part in text.split(","):
        if part.strip() == "":
            continue
        match = re.fullmatch(r"([^=]+)=(.+)", part)
        if match:
            key, value = match.groups()
            if key in raw:
                raise PruneError(f"duplicate key in comma-separated list property: {key}")
            if key not in _KEYS:
                raise PruneError(f"invalid key in comma-separated list property: {key}")
            raw[key] = value
        elif "=" not in part:
            raise PruneError("value without key, but schema does not define a default key")
        else:
            raise PruneError("missing key in comma-separated list property")

    errors: dict[str, str] = {}
    opts: dict[str, int] = {}
    for key, value in raw.items():
        if key == "keep-all":
            if _TRUE.match(value):
                opts[key] = 1
            elif _FALSE.match(value):
                opts[key] = 0
            else:
                errors[key] = f"type check ('boolean') failed - got '{value}'"
        elif not _INTEGER.match(value):
            errors[key] = f"type check ('integer') failed - got '{value}'"
        elif int(value) < 0:
            errors[key] = "value must have a minimum value of 0"
        else:
            opts[key] = int(value)
    if errors:
        raise PruneError("format error", errors)

    keep_all = opts.pop("keep-all", 0)
    if not any(v > 0 for v in opts.values()):
        return {"keep-all": 1}
    if keep_all:
        raise PruneError("keep-all cannot be set together with other options.")
    return opts


def retention_text(options: Mapping[str, int]) -> str:
    """vzdump's log form: ``keep-daily=7, keep-last=3`` (sorted keys, comma and space)."""
    return ", ".join(f"{k}={options[k]}" for k in sorted(options))


def _period_functions(tz: tzinfo) -> dict[str, Callable[[int], object]]:
    def local(ctime: int) -> datetime:
        return datetime.fromtimestamp(ctime, tz)

    def iso_week(ctime: int) -> object:
        year, week, _ = local(ctime).isocalendar()
        return (year, week)

    return {
        "keep-last": lambda c: c,
        "keep-hourly": lambda c: local(c).strftime("%Y/%m/%d/%H"),
        "keep-daily": lambda c: local(c).strftime("%Y/%m/%d"),
        "keep-weekly": iso_week,
        "keep-monthly": lambda c: local(c).strftime("%Y/%m"),
        "keep-yearly": lambda c: local(c).year,
    }


def _as_backup(item: Backup | tuple) -> Backup:
    if isinstance(item, Backup):
        return item
    ident, ctime, *rest = item
    return Backup(ident, int(ctime), bool(rest[0]) if rest else False)


def marks(
    backups: Iterable[Backup | tuple],
    options: Mapping[str, int] | str,
    tz: tzinfo = UTC,
) -> list[tuple[object, str]]:
    """``(id, mark)`` newest first, mark one of ``keep``, ``remove``, ``protected``.

    ``backups`` are one group (the backups of one guest), as :class:`Backup` or
    ``(id, ctime, protected)`` tuples; ``options`` a dict from :func:`parse_prune` or a string.
    Equal ctimes keep their given order (Perl's sort is stable).
    """
    opts = parse_prune(options) if isinstance(options, str) else dict(options)
    # newest first; sorted() is stable like Perl's sort
    entries = sorted((_as_backup(b) for b in backups), key=lambda b: -b.ctime)
    mark: dict[int, str] = {i: "protected" for i, b in enumerate(entries) if b.protected}

    positive = [k for k in KEEP_OPTIONS if opts.get(k, 0) > 0]
    if opts.get("keep-all") or not positive:
        return [(b.id, mark.get(i, "keep")) for i, b in enumerate(entries)]

    periods = _period_functions(tz)
    for option in KEEP_OPTIONS:
        count = opts.get(option, 0)
        if not count:
            continue
        period = periods[option]
        already = {period(b.ctime) for i, b in enumerate(entries) if mark.get(i) == "keep"}
        taken: set[object] = set()
        for i, b in enumerate(entries):
            if i in mark:
                continue
            pid = period(b.ctime)
            if pid in already:
                continue
            if pid not in taken:
                if len(taken) >= count:
                    break
                taken.add(pid)
                mark[i] = "keep"
            else:
                mark[i] = "remove"
    return [(b.id, mark.get(i, "remove")) for i, b in enumerate(entries)]


def select(
    backups: Iterable[Backup | tuple],
    options: Mapping[str, int] | str,
    tz: tzinfo = UTC,
) -> tuple[set, set]:
    """``(keep, remove)`` id sets for one guest's backups; protected ones are in ``keep``."""
    keep: set = set()
    remove: set = set()
    for ident, mark in marks(backups, options, tz):
        (remove if mark == "remove" else keep).add(ident)
    return keep, remove
