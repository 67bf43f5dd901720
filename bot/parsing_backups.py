"""Parsers of the backup commands: /backup, /backups, /backup_del, /restore, /schedule_backup,
/schedules, /schedule_del. Pure, like bot.parsing, whose primitives they reuse.

The calendar of /schedule_backup is only checked for shape here (PVE's own parser judges it via
schedule-analyze before anything is created); it may be written unquoted: every word after the
target up to the first option belongs to it (``/schedule_backup web1 mon..fri 22:30``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.parsing import (
    USAGE,
    UsageError,
    _no_options,
    _Option,
    _parse_options,
    _positionals,
    _reported,
    _short,
    _tokenize,
    parse_ct_ref,
    parse_hostname,
    parse_int,
    parse_node,
)

MODES = ("snapshot", "suspend", "stop")
COMPRESSIONS = ("zstd", "gzip", "lzo", "0")
NOTE_MAX = 1024  # PVE's notes-template maxLength
KEEP_MAX = 10_000
ALL_MINE = "all-mine"
STORAGE_USAGE = "a storage id: a letter, then letters, digits, '-', '_' or '.', e.g. local"
VOLID_USAGE = "a backup volume id as /backups shows it, e.g. local:backup/vzdump-lxc-101-2026_05_01-02_00_00.tar.zst"
JOB_USAGE = "a schedule id as /schedules shows it, e.g. stratus-1a2b3c4d"

_STORAGE = re.compile(r"[a-z][a-z0-9\-_.]*[a-z0-9]", re.IGNORECASE)
_VOLID = re.compile(
    r"([a-z][a-z0-9\-_.]*[a-z0-9]):backup/vzdump-(lxc|qemu)-(\d+)-[0-9_\-]+\.(tar|vma)(\.[a-z0-9]+)?",
    re.IGNORECASE)
_JOB_ID = re.compile(r"[a-z][a-z0-9_-]+", re.IGNORECASE)
_CALENDAR = re.compile(r"[A-Za-z0-9*.,:/ _-]+")


def parse_storage(text: str) -> str:
    name = text.strip()
    if len(name) <= 64 and name.isascii() and _STORAGE.fullmatch(name):
        return name
    raise UsageError(f"{_short(text)} is not a storage id", STORAGE_USAGE)


def parse_volid(text: str) -> str:
    raw = text.strip()
    if len(raw) <= 255 and raw.isascii() and _VOLID.fullmatch(raw):
        return raw
    raise UsageError(f"{_short(raw)} is not a backup volume id", VOLID_USAGE)


def _choice(values: tuple[str, ...], what: str):
    def convert(text: str) -> str:
        if text.lower() in values:
            return text.lower()
        raise UsageError(f"{_short(text)} is not a {what}: use one of {', '.join(values)}",
                         ", ".join(values))
    return convert


def _note(text: str) -> str:
    if not text.strip():
        raise UsageError("the note is empty", "a short text; quote it if it has spaces")
    if len(text) > NOTE_MAX or any(ord(c) < 32 and c != " " for c in text):
        raise UsageError(f"the note must be one line of at most {NOTE_MAX} characters",
                         "a short text; quote it if it has spaces")
    return text.strip()


# ---- commands --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupArgs:
    ref: int | str
    mode: str = "snapshot"
    storage: str | None = None
    compress: str = "zstd"
    note: str | None = None
    protected: bool = False


def parse_backup(args: str) -> BackupArgs:
    usage = USAGE["backup"]
    positionals, opts = _parse_options(_tokenize(args, usage), [
        _Option("mode", _choice(MODES, "backup mode")),
        _Option("storage", parse_storage),
        _Option("compress", _choice(COMPRESSIONS, "compression")),
        _Option("note", _note),
        _Option("protected", None),
    ], usage)
    (raw,) = _positionals(positionals, ["the container (id or hostname)"], 1, usage)
    return BackupArgs(ref=_reported(usage, parse_ct_ref, raw), mode=opts.get("mode", "snapshot"),
                      storage=opts.get("storage"), compress=opts.get("compress", "zstd"),
                      note=opts.get("note"), protected=opts.get("protected", False))


@dataclass(frozen=True)
class BackupsArgs:
    ref: int | str | None = None


def parse_backups(args: str) -> BackupsArgs:
    usage = USAGE["backups"]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    found = _positionals(tokens, ["the container (id or hostname)"], 0, usage)
    return BackupsArgs(_reported(usage, parse_ct_ref, found[0]) if found else None)


@dataclass(frozen=True)
class VolidArgs:
    volid: str


def parse_backup_del(args: str) -> VolidArgs:
    usage = USAGE["backup_del"]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    (raw,) = _positionals(tokens, ["the backup (volume id)"], 1, usage)
    return VolidArgs(_reported(usage, parse_volid, raw))


@dataclass(frozen=True)
class RestoreArgs:
    volid: str
    new: bool
    into: int | str | None = None
    hostname: str | None = None  # of the new CT, or of the CT restored into (not in place)
    node: str | None = None
    storage: str | None = None


def parse_restore(args: str) -> RestoreArgs:
    usage = USAGE["restore"]
    positionals, opts = _parse_options(_tokenize(args, usage), [
        _Option("new", None),
        _Option("into", parse_ct_ref),
        _Option("hostname", parse_hostname),
        _Option("node", parse_node),
        _Option("storage", parse_storage),
    ], usage)
    (raw,) = _positionals(positionals, ["the backup (volume id)"], 1, usage)
    volid = _reported(usage, parse_volid, raw)
    new, into = opts.get("new", False), opts.get("into")
    if new == (into is not None):
        raise UsageError("say where to restore: --new (a new container) or --into <ct>", usage)
    if into is not None and any(k in opts for k in ("node", "storage")):
        raise UsageError("--node and --storage go with --new; --into keeps the target's own",
                         usage)
    return RestoreArgs(volid=volid, new=new, into=into, hostname=opts.get("hostname"),
                       node=opts.get("node"), storage=opts.get("storage"))


@dataclass(frozen=True)
class ScheduleArgs:
    target: int | str  # a container, or ALL_MINE
    calendar: str
    keep_last: int | None = None
    keep_daily: int | None = None
    keep_weekly: int | None = None
    storage: str | None = None
    mode: str = "snapshot"

    @property
    def prune(self) -> str | None:
        keeps = (("keep-last", self.keep_last), ("keep-daily", self.keep_daily),
                 ("keep-weekly", self.keep_weekly))
        text = ",".join(f"{k}={v}" for k, v in keeps if v is not None)
        return text or None


def _keep(name: str):
    return lambda t: parse_int(t, name, 0, KEEP_MAX)


def parse_schedule_backup(args: str) -> ScheduleArgs:
    usage = USAGE["schedule_backup"]
    positionals, opts = _parse_options(_tokenize(args, usage), [
        _Option("keep-last", _keep("keep-last")),
        _Option("keep-daily", _keep("keep-daily")),
        _Option("keep-weekly", _keep("keep-weekly")),
        _Option("storage", parse_storage),
        _Option("mode", _choice(MODES, "backup mode")),
    ], usage)
    if not positionals:
        raise UsageError("missing the container (or all-mine)", usage)
    if len(positionals) < 2:
        raise UsageError("missing the calendar, e.g. 02:00 or 'mon..fri 22:30'", usage)
    raw = positionals[0]
    target = ALL_MINE if raw.lower() == ALL_MINE else _reported(usage, parse_ct_ref, raw)
    calendar = " ".join(positionals[1:]).strip()
    if len(calendar) > 128 or not _CALENDAR.fullmatch(calendar):
        raise UsageError(f"{_short(calendar)} is not a calendar event (like 02:00, "
                         "'mon..fri 22:30' or 'sat *-1..7 03:00')", usage)
    return ScheduleArgs(target=target, calendar=calendar, keep_last=opts.get("keep-last"),
                        keep_daily=opts.get("keep-daily"), keep_weekly=opts.get("keep-weekly"),
                        storage=opts.get("storage"), mode=opts.get("mode", "snapshot"))


@dataclass(frozen=True)
class JobArgs:
    job_id: str


def parse_schedule_del(args: str) -> JobArgs:
    usage = USAGE["schedule_del"]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    (raw,) = _positionals(tokens, ["the schedule id"], 1, usage)
    if len(raw) > 64 or not raw.isascii() or not _JOB_ID.fullmatch(raw):
        raise UsageError(f"{_short(raw)} is not a schedule id ({JOB_USAGE})", usage)
    return JobArgs(raw)


def parse_no_args(args: str, command: str) -> None:
    usage = USAGE[command]
    tokens = _tokenize(args, usage)
    _no_options(tokens, usage)
    _positionals(tokens, [], 0, usage)
