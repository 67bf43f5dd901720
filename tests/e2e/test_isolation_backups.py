"""Issue 10, defect 7: storage exhaustion through backups, end to end (real PTB app, tgsim,
pvesim over HTTPS). A user's backups count against a backup quota (how many, how many GiB,
what their schedules will keep included); a protected backup and a schedule keeping many
backups wait for an admin; a schedule without retention, or running more often than the
minimum interval, is refused. Admins have none of these limits."""

from __future__ import annotations

import time

import pytest
from e2e_harness import APPROVAL_CHAT, BOB_ID, default_policy

from pvesim.model import GIB, Volume


@pytest.fixture
def policy(request):
    """Default policy, or backup limits given by ``parametrize("policy", [{...}],
    indirect=True)`` (imported here: the module still loads on a bot without them)."""
    limits = getattr(request, "param", None)
    if limits is None:
        return default_policy()
    from bot.services.quota import BackupLimits

    return default_policy(backup_limits=BackupLimits(**limits))


def final(m):
    return m.content.startswith(("✅", "❌", "🗑"))


def anything(_m):
    return True


async def make_ct(h, user, name):
    msg = await h.ask(user, f"/create {name} --cores 1 --memory 512M --disk 1G", final)
    assert msg.content.startswith("✅ CT "), msg.content
    return int(msg.content.split()[2])


def vzdump_tasks(h) -> list[str]:
    return [upid for upid, t in h.sim.cluster.tasks.items() if t.type == "vzdump"]


def backups_of(h, vmid) -> list[Volume]:
    node = h.sim.cluster.nodes[h.sim.cluster.guests[vmid].node]
    return [v for v in node.storages["local"].volumes.values()
            if v.content == "backup" and v.vmid == vmid]


@pytest.mark.parametrize("policy", [{"backups": 2}], indirect=True)
async def test_a_backup_beyond_the_count_quota_is_refused_before_vzdump_starts(harness):
    """Quota: 2 backups. One done, one running (it counts from its start: two requests cannot
    both take the last place), so a third is refused with the numbers and what to do, and no
    vzdump starts; still refused once the running one is done."""
    h = harness
    vmid = await make_ct(h, h.bob, "counted")
    first = await h.ask(h.bob, f"/backup {vmid}", final)
    assert first.content.startswith(f"✅ Backup of CT {vmid} done"), first.content

    h.sim.cluster.hold_next_task("vzdump")
    await h.ask(h.bob, f"/backup {vmid}", lambda m: m.content.startswith("⏳ Backing up"))
    (running,) = [u for u in vzdump_tasks(h) if h.sim.cluster.tasks[u].status == "running"]
    started = vzdump_tasks(h)
    try:
        refused = await h.ask(h.bob, f"/backup {vmid}", lambda m: "quota" in m.content)
        assert "3 backups > quota 2" in refused.content, refused.content
        assert "/backup_del" in refused.content and "admin" in refused.content, refused.content
        assert vzdump_tasks(h) == started
    finally:  # a failure here must not leave the bot following a task that never ends
        h.sim.cluster.release_task(running)
    await h.tg.wait_for(lambda m: m.content.startswith(f"✅ Backup of CT {vmid} done"),
                        chat_id=BOB_ID, timeout=15)
    again = await h.ask(h.bob, f"/backup {vmid}", lambda m: "quota" in m.content)
    assert "3 backups > quota 2" in again.content and "2 backups" in again.content, again.content
    assert vzdump_tasks(h) == started and len(backups_of(h, vmid)) == 2


@pytest.mark.parametrize("policy", [{"gb": 8}], indirect=True)
async def test_a_backup_beyond_the_size_quota_is_refused_with_the_numbers(harness):
    """Quota: 8 GiB. The CT has a 5 GiB backup; its next one is counted at its last backup's
    size (5 GiB): 10 GiB > 8 GiB, refused before vzdump starts; an admin's /quota shows it."""
    h = harness
    vmid = await make_ct(h, h.bob, "sized")
    guest = h.sim.cluster.guests[vmid]
    stamp = int(h.sim.cluster.now())
    name = time.strftime("%Y_%m_%d-%H_%M_%S", time.gmtime(stamp))
    volid = f"local:backup/vzdump-lxc-{vmid}-{name}.tar.zst"
    h.sim.cluster.nodes[guest.node].storages["local"].volumes[volid] = Volume(
        volid, "backup", 5 * GIB, "tar.zst", ctime=stamp, vmid=vmid, config=dict(guest.config))

    refused = await h.ask(h.bob, f"/backup {vmid}", lambda m: "quota" in m.content)
    assert "10.0 GiB > quota 8 GiB" in refused.content, refused.content
    assert "5.0 GiB" in refused.content and "last backup" in refused.content, refused.content
    assert "/backup_del" in refused.content, refused.content
    assert vzdump_tasks(h) == []

    shown = await h.ask(h.admin, f"/quota {BOB_ID}", lambda m: "Quota of" in m.content)
    assert "Backups: 1 of 20, 5.0 GiB of 8 GiB" in shown.content, shown.content


async def test_a_users_protected_backup_waits_for_an_admin(harness):
    h = harness
    vmid = await make_ct(h, h.bob, "keepme")
    waiting = await h.ask(h.bob, f"/backup {vmid} --protected", anything)
    assert "Waiting for an admin's approval" in waiting.content, waiting.content
    card = await h.tg.wait_for(lambda m: "protected backup" in m.content and m.flat_buttons,
                               chat_id=APPROVAL_CHAT)
    assert vzdump_tasks(h) == []  # nothing before the decision

    await h.admin.press(card, "Approve")
    done = await h.tg.wait_for(lambda m: m.content.startswith(f"✅ Backup of CT {vmid} done"),
                               chat_id=BOB_ID, timeout=15)
    (backup,) = backups_of(h, vmid)
    assert backup.protected and backup.volid in done.content


async def test_a_users_schedule_without_retention_is_refused_and_a_long_one_waits(harness):
    """No --keep-* (or only zeros, which PVE reads as keep-all) keeps every backup forever:
    refused, saying how to fix it. More than the limit (7) of each CT: an admin decides."""
    h = harness
    vmid = await make_ct(h, h.bob, "sched")
    for keep in ("", "--keep-last 0"):
        refused = await h.ask(h.bob, f"/schedule_backup {vmid} 02:00 {keep}", anything)
        assert "keeps every backup" in refused.content, refused.content
        assert "--keep-last" in refused.content, refused.content
    assert h.sim.cluster.backup_jobs == {}

    waiting = await h.ask(h.bob, f"/schedule_backup {vmid} 02:00 --keep-daily 10", anything)
    assert "Waiting for an admin's approval" in waiting.content, waiting.content
    assert "10 backups of each CT" in waiting.content, waiting.content
    card = await h.tg.wait_for(lambda m: "backup schedule" in m.content and m.flat_buttons,
                               chat_id=APPROVAL_CHAT)
    assert h.sim.cluster.backup_jobs == {}

    await h.admin.press(card, "Approve")
    made = await h.tg.wait_for(lambda m: m.content.startswith("🗓"), chat_id=BOB_ID)
    ((job_id, job),) = h.sim.cluster.backup_jobs.items()
    job = job["config"]
    assert job_id in made.content and str(vmid) in str(job["vmid"])
    assert "keep-daily=10" in str(job["prune-backups"]) and str(BOB_ID) in job["comment"]


async def test_a_users_schedule_running_more_often_than_hourly_is_refused(harness):
    h = harness
    vmid = await make_ct(h, h.bob, "often")
    refused = await h.ask(h.bob, f"/schedule_backup {vmid} *:0/5 --keep-last 3", anything)
    assert "5 min apart" in refused.content, refused.content
    assert "at most once every 1 h" in refused.content, refused.content
    assert h.sim.cluster.backup_jobs == {}

    made = await h.ask(h.bob, f"/schedule_backup {vmid} hourly --keep-last 3", anything)
    assert made.content.startswith("🗓 Schedule"), made.content


@pytest.mark.parametrize("policy", [{"backups": 1, "gb": 1}], indirect=True)
async def test_admins_have_no_backup_limits(harness):
    """Quota 1 backup, 1 GiB: an admin backs up as often as they like, protected at once, and
    schedules every five minutes keeping everything; a user's usage is theirs alone."""
    h = harness
    vmid = await make_ct(h, h.admin, "admins")
    for extra in ("", "--protected", ""):
        done = await h.ask(h.admin, f"/backup {vmid} {extra}", final)
        assert done.content.startswith(f"✅ Backup of CT {vmid} done"), done.content
    assert len(backups_of(h, vmid)) == 3 and any(b.protected for b in backups_of(h, vmid))
    made = await h.ask(h.admin, f"/schedule_backup {vmid} *:0/5", anything)
    assert made.content.startswith("🗓 Schedule") and "keeping all" in made.content, made.content

    bobs = await make_ct(h, h.bob, "bobs")  # Bob's room is his own: the admin's take none
    done = await h.ask(h.bob, f"/backup {bobs}", final)
    assert done.content.startswith(f"✅ Backup of CT {bobs} done"), done.content
    shown = await h.ask(h.admin, f"/quota {BOB_ID}", lambda m: "Quota of" in m.content)
    assert "Backups: 1 of 1," in shown.content, shown.content
