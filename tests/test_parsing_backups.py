"""Backup command parsers: table tests, and property tests (only UsageError escapes, always
with a usage line)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.parsing import UsageError
from bot.parsing_backups import (
    ALL_MINE,
    parse_backup,
    parse_backup_del,
    parse_backups,
    parse_restore,
    parse_schedule_backup,
    parse_schedule_del,
)
from bot.proxmox.backups import (
    failure_reason,
    job_error,
    job_vmids,
    parse_config_text,
    parse_vzdump_log,
    stage_of,
)

VOL = "local:backup/vzdump-lxc-101-2026_05_01-02_00_00.tar.zst"
PARSERS = [parse_backup, parse_backups, parse_backup_del, parse_restore, parse_schedule_backup,
           parse_schedule_del]


def test_good_inputs():
    a = parse_backup("web1 --mode stop --compress gzip --note 'before upgrade' --protected")
    assert (a.ref, a.mode, a.compress, a.note, a.protected) == (
        "web1", "stop", "gzip", "before upgrade", True)
    assert parse_backups("").ref is None and parse_backups("101").ref == 101
    assert parse_backup_del(VOL).volid == VOL
    r = parse_restore(f"{VOL} --new --hostname twin --storage local-lvm")
    assert (r.new, r.hostname, r.storage, r.into) == (True, "twin", "local-lvm", None)
    assert parse_restore(f"{VOL} --into 102").into == 102
    r = parse_restore(f"{VOL} --into 102 --hostname Web2")  # a copy into another CT: its name
    assert (r.into, r.hostname, r.new) == (102, "web2", False)
    s = parse_schedule_backup("all-mine sat *-1..7 03:00 --keep-last 3 --keep-daily 7")
    assert (s.target, s.calendar, s.prune) == (ALL_MINE, "sat *-1..7 03:00",
                                               "keep-last=3,keep-daily=7")
    assert parse_schedule_del("stratus-1a2b3c4d").job_id == "stratus-1a2b3c4d"


@pytest.mark.parametrize("parser, text, words", [
    (parse_backup, "", "missing"),
    (parse_backup, "web1 --mode fast", "backup mode"),
    (parse_backup_del, "local:vztmpl/x.tar.zst", "not a backup volume id"),
    (parse_restore, VOL, "--new"),
    (parse_restore, f"{VOL} --new --into 101", "--new"),
    (parse_restore, f"{VOL} --into 101 --node pve2", "go with --new"),
    (parse_restore, f"{VOL} --into 101 --storage local-lvm", "go with --new"),
    (parse_restore, f"{VOL} --into 101 --hostname bad_name", "not a valid hostname"),
    (parse_schedule_backup, "web1", "calendar"),
    (parse_schedule_backup, "web1 02:00 --keep-last -1", "keep-last"),
    (parse_schedule_backup, "web1 02:00;rm", "not a calendar event"),
    (parse_schedule_del, "1abc", "not a schedule id"),
])
def test_bad_inputs_say_why_and_how(parser, text, words):
    with pytest.raises(UsageError) as err:
        parser(text)
    assert words in str(err.value) and "Usage:" in str(err.value)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(PARSERS), st.text(max_size=80))
def test_any_text_parses_or_gets_a_usage_message(parser, text):
    try:
        parser(text)
    except UsageError as err:
        assert "Usage:" in str(err)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(PARSERS), st.lists(st.sampled_from(
    ["--new", "--into", "101", VOL, "--mode", "stop", "--keep-last", "3", "all-mine", "02:00",
     "--storage", "local", "--note", "x", "--protected", "web1", "--hostname", "--"]), max_size=8))
def test_token_soup_parses_or_gets_a_usage_message(parser, tokens):
    try:
        parser(" ".join(tokens))
    except UsageError as err:
        assert "Usage:" in str(err)


def test_vzdump_log_reading():
    lines = ["INFO: starting new backup job: vzdump 101 102 --storage local",
             "INFO: Starting Backup of VM 101 (lxc)", "INFO: CT Name: web1",
             "INFO: creating vzdump archive '/var/lib/vz/dump/vzdump-lxc-101-x.tar.zst'",
             "INFO: Finished Backup of VM 101 (00:01:00)",
             "INFO: Starting Backup of VM 102 (lxc)", "INFO: backup mode: snapshot",
             "ERROR: Backup of VM 102 failed - CT is locked (create)",
             "INFO: Backup job finished with errors", "TASK ERROR: job errors"]
    a, b = parse_vzdump_log(lines)
    assert (a.vmid, a.ok, a.archive, a.duration) == (101, True, "vzdump-lxc-101-x.tar.zst",
                                                     "00:01:00")
    assert (b.vmid, b.ok, b.error) == (102, False, "CT is locked (create)")
    assert (a.name, b.name) == ("web1", None)  # the name the CT had when it was backed up
    assert stage_of(lines[:4]) == "writing the archive"
    assert parse_config_text("#my ct\narch: amd64\ncores: 2\n[snap]\ncores: 1\n") == {
        "arch": "amd64", "cores": "2", "description": "my ct"}


def test_a_vzdump_log_that_failed_before_any_guest():
    """No per-guest lines: the guests come from the job line, if it was written, and the reason
    is the last ERROR: line, else the exit status."""
    lock = ["INFO: trying to get global lock - waiting...",
            "ERROR: can't acquire lock '/var/run/vzdump.lock' - got timeout",
            "TASK ERROR: got timeout"]
    assert parse_vzdump_log(lock) == [] and job_vmids(lock) == []
    assert failure_reason(lock, "got timeout") == ("can't acquire lock '/var/run/vzdump.lock' - "
                                                   "got timeout")
    assert failure_reason(["TASK ERROR: storage 'nas' is not online"],
                          "storage 'nas' is not online") == "storage 'nas' is not online"
    job = ["INFO: starting new backup job: vzdump 101 102 --mode snapshot --notes-template "
           "'vzdump 7' --storage local", "TASK ERROR: no space left on device"]
    assert job_vmids(job) == [101, 102]
    assert job_vmids(["INFO: starting new backup job: vzdump --all 1 --storage local"]) == []


def test_the_error_of_a_vzdump_job_as_a_whole():
    """A task that failed beyond its guests' own errors: every guest OK but the job-end hook
    failed, or a guest failed and then the hook too. Guest failures alone (``job errors``), a
    guest cut short by the task's end, and a good task have none."""
    hook = "command 'hook job-end' failed: exit code 1"
    ok_guest = ["INFO: starting new backup job: vzdump 101 --storage local",
                "INFO: Starting Backup of VM 101 (lxc)",
                "INFO: Finished Backup of VM 101 (00:01:00)"]
    bad_guest = ["INFO: Starting Backup of VM 102 (lxc)",
                 "ERROR: Backup of VM 102 failed - CT is locked (create)"]
    after = ok_guest + [f"ERROR: Backup job failed - {hook}", f"TASK ERROR: {hook}"]
    assert job_error(after, hook, parse_vzdump_log(after)) == hook
    both = ok_guest + bad_guest + [f"ERROR: Backup job failed - {hook}", f"TASK ERROR: {hook}"]
    assert job_error(both, hook, parse_vzdump_log(both)) == hook
    terse = ok_guest + ["TASK ERROR: prune failed"]  # no ERROR: line: the exit status says it
    assert job_error(terse, "prune failed", parse_vzdump_log(terse)) == "prune failed"
    guests = ok_guest + bad_guest + ["INFO: Backup job finished with errors",
                                     "TASK ERROR: job errors"]
    assert job_error(guests, "job errors", parse_vzdump_log(guests)) is None
    cut = ok_guest + ["INFO: Starting Backup of VM 102 (lxc)", "TASK ERROR: interrupted by signal"]
    assert job_error(cut, "interrupted by signal", parse_vzdump_log(cut)) is None
    good = ok_guest + ["INFO: Backup job finished successfully", "TASK OK"]
    assert job_error(good, "OK", parse_vzdump_log(good)) is None
    assert job_error(good, "WARNINGS: 1", parse_vzdump_log(good)) is None
