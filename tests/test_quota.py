"""Quota arithmetic and approval thresholds: pure, table-tested."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.services.quota import (
    ApprovalThresholds,
    Size,
    Usage,
    approval_reasons,
    growth,
    quota_problems,
)
from bot.store import Quota

QUOTA = Quota(containers=3, cores=4, memory_mb=4096, disk_gb=32)


@pytest.mark.parametrize(
    ("used", "asked", "expected"),
    [
        (Usage(), Size(1, 512, 8), []),
        (Usage(2, 3, 3584, 24), Size(1, 512, 8), []),  # exactly at every limit is fine
        (Usage(3, 3, 1024, 8), Size(1, 512, 8),
         ["containers: 3 in use + 1 asked = 4 > quota 3"]),
        (Usage(1, 3, 1024, 8), Size(2, 512, 8), ["cores: 3 in use + 2 asked = 5 > quota 4"]),
        (Usage(1, 1, 4000, 8), Size(1, 512, 8),
         ["memory: 4000 MiB in use + 512 MiB asked = 4512 MiB > quota 4096 MiB"]),
        (Usage(1, 1, 512, 30), Size(1, 512, 8),
         ["disk: 30 GiB in use + 8 GiB asked = 38 GiB > quota 32 GiB"]),
        (Usage(3, 4, 4096, 32), Size(1, 1, 1), [
            "containers: 3 in use + 1 asked = 4 > quota 3",
            "cores: 4 in use + 1 asked = 5 > quota 4",
            "memory: 4096 MiB in use + 1 MiB asked = 4097 MiB > quota 4096 MiB",
            "disk: 32 GiB in use + 1 GiB asked = 33 GiB > quota 32 GiB"]),
    ],
)
def test_quota_problems(used, asked, expected):
    assert quota_problems(QUOTA, used, asked) == expected


def test_usage_sums_containers():
    assert Usage.of([(1, 512, 8.0), (2, 1024, 7.6)]) == Usage(2, 3, 1536, 16)


@pytest.mark.parametrize(
    ("asked", "n_reasons"),
    [(Size(2, 2048, 16), 0), (Size(3, 512, 8), 1), (Size(1, 4096, 8), 1), (Size(4, 4096, 64), 3)],
)
def test_approval_reasons(asked, n_reasons):
    assert len(approval_reasons(asked, ApprovalThresholds())) == n_reasons


@given(st.integers(0, 100), st.integers(0, 64), st.integers(0, 10**6), st.integers(0, 10**4),
       st.integers(1, 64), st.integers(16, 10**5), st.integers(1, 4096))
def test_quota_refuses_exactly_when_a_limit_is_passed(n, c, m, d, ac, am, ad):
    problems = quota_problems(QUOTA, Usage(n, c, m, d), Size(ac, am, ad))
    over = (n + 1 > 3) + (c + ac > 4) + (m + am > 4096) + (d + ad > 32)
    assert len(problems) == over


def test_growth_counts_only_what_grows_and_no_new_container():
    """Restoring a bigger backup into an existing CT: what it adds to the owner's usage is, per
    resource, the backup's size minus the CT's, none where it shrinks, and no container."""
    assert growth(Size(1, 2048, 8), Size(2, 1024, 16)) == Size(1, 0, 8, containers=0)
    assert growth(Size(4, 4096, 32), Size(1, 512, 8)) == Size(0, 0, 0, containers=0)
    # a full container count, and memory already over: neither is asked for, so neither refuses
    used = Usage(3, 3, 5000, 24)
    assert quota_problems(QUOTA, used, Size(2, 0, 8, containers=0)) == [
        "cores: 3 in use + 2 asked = 5 > quota 4"]
    assert quota_problems(QUOTA, used, Size(0, 0, 0, containers=0)) == []
    # what is held for a growth under way counts its resources, not as a container
    assert Usage.of([(1, 512, 8.0), Size(1, 0, 8, containers=0)]) == Usage(1, 2, 512, 16)
    assert Usage.of([Size(1, 512, 8)]) == Usage(1, 1, 512, 8)


@pytest.mark.parametrize(
    ("prune", "kept"),
    [
        (None, None),  # no retention: the storage's, keep-all unless set
        ("keep-all=1", None),
        ("keep-last=0", None),  # PVE: no positive keep-* means keep-all
        ("keep-last=3", 3),
        ("keep-daily=3,keep-last=2", 5),  # each rule keeps what the earlier ones did not
        ("keep-all=0,keep-weekly=4", 4),
    ],
)
def test_retention_of(prune, kept):
    from bot.services.quota import retention_of

    assert retention_of(prune) == kept


def test_backup_commitment_counts_what_schedules_will_still_keep():
    from bot.services.quota import BackupItem, backup_commitment

    items = [BackupItem(101, "local", 10), BackupItem(101, "local", 10, protected=True),
             BackupItem(102, "local", 5)]
    # nothing scheduled: what is there
    assert backup_commitment(items, {}, {}) == (3, 25)
    # CT 101 kept to 3 on local: one unprotected there, two more to come at its estimate
    assert backup_commitment(items, {(101, "local"): 3}, {101: 7}) == (5, 39)
    # a schedule to another storage prunes nothing there: three to come
    assert backup_commitment(items, {(101, "nfs"): 3}, {101: 7}) == (6, 46)
    # more there than it keeps (until its next run prunes them): nothing more
    assert backup_commitment(items, {(102, "local"): 1}, {102: 5}) == (3, 25)
