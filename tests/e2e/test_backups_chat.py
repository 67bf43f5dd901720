"""Backups through chat, end to end (real PTB app, tgsim, pvesim over HTTPS): the lab's scenario
(create, back up, restore as a twin, restore into), failures and refusals, schedules with
retention over a simulated week, and the watcher's reports across a restart."""

from __future__ import annotations

from e2e_harness import APPROVAL_CHAT, BOB_ID, CAROL_ID, Harness, default_policy, running_bot

from bot.store import Quota, Store, User
from pvesim.prune import select


def final(m):
    return m.content.startswith(("✅", "❌", "🗑"))


async def make_ct(h, user, name, extra=""):
    msg = await h.ask(user, f"/create {name} --cores 2 --memory 1G --disk 8G {extra}", final)
    assert msg.content.startswith("✅ CT "), msg.content
    return int(msg.content.split()[2])


async def backup_of(h, user, ref, extra=""):
    msg = await h.ask(user, f"/backup {ref} {extra}", final)
    return msg


async def test_lab_scenario_backup_twin_and_restore_into(harness):
    h, tg = harness, harness.tg
    bob, admin = h.bob, h.admin
    vmid = await make_ct(h, bob, "c1")
    # vmbr0 has no address pool: only an admin may give Bob's CT a fixed address there
    fixed = await h.ask(admin, f"/net_set {vmid} net0 --ip 10.0.0.5/24 --gw 10.0.0.1", final)
    assert fixed.content.startswith(f"✅ CT {vmid} net0:"), fixed.content
    done = await backup_of(h, bob, "c1", "--note 'before upgrade'")
    assert done.content.startswith(f"✅ Backup of CT {vmid} done: local:backup/vzdump-lxc-{vmid}-")
    volid = done.content.split("done: ")[1].split()[0]
    assert "Size " in done.content and "took 00:01:00" in done.content

    listing = await h.ask(bob, "/backups", lambda m: "backup(s)" in m.content or "No b" in m.content)
    assert volid in listing.content and "before upgrade" in listing.content

    twin_msg = await h.ask(bob, f"/restore {volid} --new --hostname c1-twin", final)
    assert twin_msg.content.startswith("✅ CT "), twin_msg.content
    twin = int(twin_msg.content.split()[2])
    assert "10.0.0.5/24" in twin_msg.content  # the reply says what happened to the address
    orig_cfg = h.sim.cluster.guests[vmid].config
    twin_cfg = h.sim.cluster.guests[twin].config
    for key in ("ostype", "cores", "memory", "swap", "arch", "unprivileged"):
        assert twin_cfg[key] == orig_cfg[key], key
    assert twin_cfg["rootfs"].endswith("size=8G")
    assert "bridge=vmbr0" in twin_cfg["net0"] and "10.0.0.5" not in twin_cfg["net0"]
    hw = [p for p in twin_cfg["net0"].split(",") if p.startswith("hwaddr=")]
    assert hw and hw[0] not in orig_cfg["net0"]
    assert h.services.store.ownership.owner(twin) == BOB_ID

    # restore into the (running) twin: approval, then a confirmation to stop it first
    started = await h.ask(bob, f"/ct_start {twin}", final)
    assert "running" in started.content, started.content
    await bob.send(f"/restore {volid} --into {twin} --hostname c1-copy")
    card = await tg.wait_for(lambda m: "restore" in m.content and m.flat_buttons,
                             chat_id=APPROVAL_CHAT)
    assert h.sim.cluster.guests[twin].status == "running"
    await admin.press(card, "Approve")
    ask = await tg.wait_for(lambda m: "Stop and restore" in [b.text for b in m.flat_buttons],
                            chat_id=BOB_ID)
    assert h.sim.cluster.guests[twin].status == "running"  # nothing before the confirmation
    await bob.press(ask, "Stop and restore")
    done = await tg.wait_for(lambda m: m.content.startswith(f"✅ CT {twin}"), chat_id=BOB_ID)
    restored = h.sim.cluster.guests[twin]
    # c1 still runs: the copy must not claim its name or its address (no pool on vmbr0: DHCP)
    assert restored.status == "stopped" and restored.config["hostname"] == "c1-copy"
    assert "ip=dhcp" in restored.config["net0"] and "10.0.0.5" not in restored.config["net0"]
    assert "10.0.0.5/24" in done.content and "DHCP" in done.content, done.content


async def test_restore_into_another_ct_gets_its_own_name_and_address(sim, tg, tmp_path):
    """A backup of c1 restored into another CT while c1 runs: PVE would copy c1's hostname and
    static address into it (two CTs claiming one IP on one bridge). The copy is named
    <hostname>-restore (or --hostname) and gets a free address of the bridge's pool, else DHCP,
    and the reply says which; restoring c1 in place keeps everything as it was."""
    store_path = tmp_path / "s.json"
    with Store(store_path) as store:
        store.users.put(User(BOB_ID, "user", "Bob"))
    policy = default_policy(network_pools=(("vmbr0", "10.0.2.100", "10.0.2.101"),))
    async with running_bot(sim, tg, store_path, policy) as (services, app):
        h = Harness(sim, tg, services, app, str(store_path))
        admin = h.admin
        c1 = await make_ct(h, admin, "c1", "--node pve1 --ip 10.0.2.50/24 --gw 10.0.2.15")
        c2 = await make_ct(h, admin, "c2", "--node pve1")  # takes 10.0.2.100 of the pool
        c3 = await make_ct(h, admin, "c3", "--node pve1 --dhcp")
        for ct in (c2, c3):
            await h.ask(admin, f"/ct_stop {ct}", final)
        done = await backup_of(h, admin, "c1")
        volid = done.content.split("done: ")[1].split()[0]
        c1_net = sim.cluster.guests[c1].config["net0"]
        c1_mac = next(p for p in c1_net.split(",") if p.startswith("hwaddr="))

        msg = await h.ask(admin, f"/restore {volid} --into c2", final)
        assert msg.content.startswith(f"✅ CT {c2} c1-restore"), msg.content
        cfg = sim.cluster.guests[c2].config
        assert cfg["hostname"] == "c1-restore"
        assert "ip=10.0.2.101/24" in cfg["net0"] and "gw=10.0.2.2," in cfg["net0"]  # the pool's
        assert c1_mac not in cfg["net0"]
        assert "10.0.2.50/24" in msg.content and "10.0.2.101/24" in msg.content

        # the pool is used up now: DHCP, and a name the user gives
        msg = await h.ask(admin, f"/restore {volid} --into c3 --hostname web3", final)
        assert msg.content.startswith(f"✅ CT {c3} web3"), msg.content
        cfg = sim.cluster.guests[c3].config
        assert cfg["hostname"] == "web3"
        assert "ip=dhcp" in cfg["net0"] and "gw=" not in cfg["net0"]
        assert c1_mac not in cfg["net0"]
        assert "10.0.2.50/24" in msg.content and "DHCP" in msg.content

        # in place: c1's own name, address and MAC; a new name makes no sense there
        refused = await h.ask(admin, f"/restore {volid} --into c1 --hostname other")
        assert "in place" in refused.content and "--hostname" in refused.content
        assert sim.cluster.guests[c1].status == "running"
        await admin.send(f"/restore {volid} --into c1")
        ask = await tg.wait_for(lambda m: "Stop and restore" in [b.text for b in m.flat_buttons],
                                chat_id=admin.id)
        await admin.press(ask, "Stop and restore")
        await tg.wait_for(lambda m: m.content.startswith(f"✅ CT {c1}"), chat_id=admin.id)
        cfg = sim.cluster.guests[c1].config
        assert cfg["hostname"] == "c1" and cfg["net0"] == c1_net


async def test_a_restore_into_that_outlasts_the_wait_keeps_the_copys_pool_address(
        sim, tg, tmp_path, monkeypatch):
    """restore --into another CT that gave up waiting (StillRunning) released the pool address
    leased for the copy, though the restore goes on and gives the copy that address when it
    ends (and until then the CT's config does not show it): the next create got the same one.
    The lease is kept and the reply says so; a restore that fails gives its address back."""
    from bot.proxmox import tasks

    store_path = tmp_path / "s.json"
    with Store(store_path) as store:
        store.users.put(User(BOB_ID, "user", "Bob"))
    policy = default_policy(network_pools=(("vmbr0", "10.0.2.100", "10.0.2.103"),))
    async with running_bot(sim, tg, store_path, policy) as (services, app):
        h = Harness(sim, tg, services, app, str(store_path))
        admin = h.admin
        c1 = await make_ct(h, admin, "c1", "--node pve1 --ip 10.0.2.50/24 --gw 10.0.2.15")
        c2 = await make_ct(h, admin, "c2", "--node pve1")  # takes 10.0.2.100 of the pool
        c3 = await make_ct(h, admin, "c3", "--node pve1 --dhcp")
        for ct in (c2, c3):
            await h.ask(admin, f"/ct_stop {ct}", final)
        volid = (await backup_of(h, admin, f"{c1}")).content.split("done: ")[1].split()[0]

        monkeypatch.setitem(tasks.TASK_TIMEOUTS_S, "vzrestore", 0.5)
        sim.cluster.hold_next_task("vzrestore")
        msg = await h.ask(admin, f"/restore {volid} --into c2", final, timeout=15)
        upid = next(u for u, t in sim.cluster.tasks.items() if t.type == "vzrestore")
        text = msg.content
        assert text.startswith("❌ Proxmox task vzrestore") and "still running" in text, text
        assert "10.0.2.101/24" in text and "kept" in text, text
        assert "net0" not in sim.cluster.guests[c2].config  # PVE merges it at the end
        assert "10.0.2.101" in services.store.pools.leases("vmbr0")
        # a create meanwhile, even hours later (a restore may run that long), does not get the
        # copy's address
        import types

        import bot.store.pools as pools_module
        later = pools_module.time.time() + 3 * 3600
        monkeypatch.setattr(pools_module, "time", types.SimpleNamespace(time=lambda: later))
        c4 = await make_ct(h, admin, "c4", "--node pve1")
        assert "ip=10.0.2.102/24" in sim.cluster.guests[c4].config["net0"]
        sim.cluster.release_task(upid)
        await tg.wait_until(lambda: sim.cluster.tasks[upid].status == "stopped")
        cfg = sim.cluster.guests[c2].config
        assert cfg["hostname"] == "c1-restore" and "ip=10.0.2.101/24" in cfg["net0"]

        # a restore that fails releases the address it leased
        sim.cluster.fail_next_task("vzrestore", "unable to restore CT - disk full")
        msg = await h.ask(admin, f"/restore {volid} --into c3", final, timeout=15)
        assert msg.content.startswith("❌") and "disk full" in msg.content, msg.content
        assert "10.0.2.103" not in services.store.pools.leases("vmbr0")


async def test_failing_backup_shows_its_error_line(harness):
    h = harness
    vmid = await make_ct(h, h.bob, "fails")
    h.sim.cluster.fail_next_backup(vmid, "command 'tar' failed: exit code 2")
    msg = await backup_of(h, h.bob, vmid)
    assert msg.content.startswith("❌"), msg.content
    assert "command 'tar' failed: exit code 2" in msg.content


async def test_a_backup_whose_log_lost_its_end_is_settled_by_the_task_status(harness,
                                                                             monkeypatch):
    """The follow used to wait for the log's TASK OK / TASK ERROR line forever. A log cut short
    on the node (the status still says stopped, with the exit status) must end it too."""
    import bot.handlers.backups as handlers

    monkeypatch.setattr(handlers, "PROGRESS_INTERVAL_S", 0.05)
    h = harness
    vmid = await make_ct(h, h.bob, "cut")
    h.sim.cluster.cut_next_log("vzdump", 3)  # TASK OK and the two job lines before it
    msg = await backup_of(h, h.bob, vmid)
    assert msg.content.startswith(f"✅ Backup of CT {vmid} done: local:backup/vzdump-lxc-"), \
        msg.content
    h.sim.cluster.cut_next_log("vzdump", 100)  # nothing left: the archive is looked up
    msg = await backup_of(h, h.bob, vmid)
    assert msg.content.startswith(f"✅ Backup of CT {vmid} done: local:backup/vzdump-lxc-"), \
        msg.content
    volid = msg.content.split("done: ")[1].split()[0]
    newest = max((v for v in h.sim.cluster.nodes["pve1"].storages["local"].volumes.values()
                  if v.content == "backup"), key=lambda v: v.ctime)
    assert volid == newest.volid
    h.sim.cluster.fail_next_backup(vmid, "command 'tar' failed: exit code 2")
    h.sim.cluster.cut_next_log("vzdump", 1)
    msg = await backup_of(h, h.bob, vmid)
    assert msg.content.startswith("❌") and "command 'tar' failed: exit code 2" in msg.content
    h.sim.cluster.fail_next_backup(vmid, "command 'tar' failed: exit code 2")
    h.sim.cluster.cut_next_log("vzdump", 100)
    msg = await backup_of(h, h.bob, vmid)
    assert msg.content.startswith(f"❌ Backup of CT {vmid} failed: job errors"), msg.content


async def test_a_backup_that_never_ends_is_followed_for_a_bounded_time(sim, tg, tmp_path,
                                                                      monkeypatch):
    """The follow gives up after backup_follow_timeout_s with a plain message; the watcher
    reports the result once the task ends."""
    import bot.handlers.backups as handlers

    monkeypatch.setattr(handlers, "PROGRESS_INTERVAL_S", 0.05)
    store_path = tmp_path / "s.json"
    with Store(store_path) as store:
        store.users.put(User(BOB_ID, "user", "Bob"))
    policy = default_policy(backup_watch_s=0.2, backup_follow_timeout_s=0.5)
    bob = tg.user(BOB_ID, "Bob")
    async with running_bot(sim, tg, store_path, policy) as (services, _app):
        await bob.send("/create slow --disk 1G")
        vmid = int((await tg.wait_for(final, chat_id=BOB_ID)).content.split()[2])
        await tg.wait_until(lambda: services.store.backup_reports.initialized())
        sim.runner.time_scale = 3.0 / sim.cluster.durations["vzdump"]  # 1 GiB: 3 s
        await bob.send(f"/backup {vmid}")
        gave_up = await tg.wait_for(lambda m: m.content.startswith(("❌", "✅")), chat_id=BOB_ID)
        assert gave_up.content.startswith(f"❌ Backup of CT {vmid} is still running"), \
            gave_up.content
        assert "stopped following" in gave_up.content and "Traceback" not in gave_up.content
        upid = next(u for u, t in sim.cluster.tasks.items() if t.type == "vzdump")
        assert sim.cluster.tasks[upid].status == "running"
        report = await tg.wait_for(lambda m: m.content.startswith(f"✅ Backup of CT {vmid}"),
                                   chat_id=BOB_ID, timeout=10)
        assert f"vzdump-lxc-{vmid}-" in report.content and "done" in report.content


async def test_refusals(harness):
    h = harness
    bob, carol = h.bob, h.carol
    vmid = await make_ct(h, bob, "mine")
    await bob.send(f"/backup {vmid} --protected")  # a user's protected backup: with approval
    card = await h.tg.wait_for(lambda m: "protected backup" in m.content and m.flat_buttons,
                               chat_id=APPROVAL_CHAT)
    await h.admin.press(card, "Approve")
    done = await h.tg.wait_for(final, chat_id=BOB_ID)
    volid = done.content.split("done: ")[1].split()[0]
    bad = await h.ask(bob, f"/schedule_backup {vmid} 25:61 --keep-last 3", lambda m: True)
    assert "not a calendar event Proxmox accepts" in bad.content and "25:61" in bad.content
    assert h.sim.cluster.backup_jobs == {}
    unknown = await h.ask(bob, "/restore local:backup/vzdump-lxc-999-2020_01_01-00_00_00.tar.zst"
                               " --new", lambda m: True)
    assert "There is no backup" in unknown.content
    theirs = await h.ask(carol, f"/backup_del {volid}", lambda m: True)
    assert "not yours" in theirs.content
    theirs = await h.ask(carol, f"/restore {volid} --new", lambda m: True)
    assert "not yours" in theirs.content
    protected = await h.ask(bob, f"/backup_del {volid}", lambda m: True)
    assert "is protected" in protected.content
    usage = await h.ask(bob, "/restore nonsense", lambda m: True)
    assert "Usage:" in usage.content
    seen = await h.ask(carol, "/backups", lambda m: True)
    assert volid not in seen.content


async def test_schedule_with_retention_keeps_what_prune_says_and_is_reported_once(
        sim, tg, tmp_path):
    store_path = tmp_path / "s.json"
    with Store(store_path) as store:
        store.users.put(User(BOB_ID, "user", "Bob"))
    policy = default_policy(backup_watch_s=0.2, notify_chat_id=APPROVAL_CHAT)
    bob = tg.user(BOB_ID, "Bob")
    async with running_bot(sim, tg, store_path, policy) as (services, _app):
        await bob.send("/create nightly --disk 8G")
        msg = await tg.wait_for(final, chat_id=BOB_ID)
        vmid = int(msg.content.split()[2])
        await bob.send(f"/schedule_backup {vmid} 02:00 --keep-last 2 --keep-daily 3")
        made = await tg.wait_for(lambda m: m.content.startswith("🗓"), chat_id=BOB_ID)
        job_id = made.content.split()[2].rstrip(":")
        assert "Next runs" in made.content
        listing = await bob.send("/schedules")
        listing = await tg.wait_for(lambda m: "schedule(s)" in m.content, chat_id=BOB_ID)
        assert job_id in listing.content and "next 20" in listing.content
        await tg.wait_until(lambda: services.store.backup_reports.initialized())
        sim.cluster.fail_next_backup(vmid, "no space left on device")
        await sim.advance(7 * 86400)
    runs = [r for r in sim.scheduler.runs if r[0] == job_id]
    assert len(runs) == 7
    backups = [v for v in sim.cluster.nodes[sim.cluster.guests[vmid].node]
               .storages["local"].volumes.values() if v.content == "backup"]
    succeeded = [(when, when) for _j, when, upids in runs
                 if sim.cluster.tasks[upids[0]].exitstatus == "OK"]
    keep, _ = select(succeeded, "keep-last=2,keep-daily=3")
    assert sorted(v.ctime for v in backups) == sorted(keep)
    # the bot was down while the week ran: after a restart each run is reported once
    async with running_bot(sim, tg, store_path, policy):
        await tg.wait_until(lambda: len([m for m in tg.chat(BOB_ID).messages
                                         if "Scheduled backup" in m.content]) >= 7, timeout=15)
        failures = [m for m in tg.chat(APPROVAL_CHAT).messages if "failed" in m.content]
        assert len(failures) == 1 and "no space left on device" in failures[0].content
    async with running_bot(sim, tg, store_path, policy):
        import asyncio
        await asyncio.sleep(1.0)
    reports = [m for m in tg.chat(BOB_ID).messages if "Scheduled backup" in m.content]
    assert len(reports) == 7, [m.content for m in reports]


async def test_a_scheduled_backup_that_fails_before_any_guest_is_reported(sim, tg, tmp_path):
    """vzdump can fail before it starts any guest (its global lock held, storage missing): the
    log has no per-guest line. The owner and the notification chat still hear it, with the
    reason; a job of several CTs whose log names none goes to the notification chat."""
    import asyncio

    store_path = tmp_path / "s.json"
    with Store(store_path) as store:
        store.users.put(User(BOB_ID, "user", "Bob"))
    policy = default_policy(backup_watch_s=0.2, notify_chat_id=APPROVAL_CHAT)
    bob = tg.user(BOB_ID, "Bob")
    lock = "can't acquire lock '/var/run/vzdump.lock' - got timeout"
    async with running_bot(sim, tg, store_path, policy) as (services, _app):
        vmids = []
        for name in ("early1", "early2"):
            await bob.send(f"/create {name} --disk 1G --node pve1")
            vmids.append(int((await tg.wait_for(
                lambda m, n=name: final(m) and n in m.content, chat_id=BOB_ID)).content.split()[2]))
        await tg.wait_until(lambda: services.store.backup_reports.initialized())
        # /backup: the follow says why
        sim.cluster.fail_next_backup_job("got timeout", lock)
        await bob.send(f"/backup {vmids[0]}")
        msg = await tg.wait_for(lambda m: m.content.startswith("❌"), chat_id=BOB_ID)
        assert msg.content == f"❌ Backup of CT {vmids[0]} failed: {lock}"
        # a scheduled one: the watcher reports it to the owner and the notification chat
        await bob.send(f"/schedule_backup {vmids[0]} 02:00 --keep-last 3")
        await tg.wait_for(lambda m: m.content.startswith("🗓"), chat_id=BOB_ID)
        sim.cluster.fail_next_backup_job("got timeout", lock)
        await sim.advance(86400)
        told = await tg.wait_for(lambda m: "Scheduled backup" in m.content, chat_id=BOB_ID)
        assert told.content.startswith(f"❌ Scheduled backup of CT {vmids[0]} early1 (")
        assert lock in told.content, told.content
        await tg.wait_for(lambda m: lock in m.content and f"CT {vmids[0]}" in m.content,
                          chat_id=APPROVAL_CHAT)
        # a job of both CTs (one task, no guest id in it) that names none of them
        sim.cluster.backup_jobs.clear()
        await bob.send("/schedule_backup all-mine 04:00 --keep-last 3")
        await tg.wait_for(lambda m: m.content.startswith("🗓") and "," in m.content,
                          chat_id=BOB_ID)
        sim.cluster.fail_next_backup_job("got timeout", lock)
        await sim.advance(86400)
        admins = await tg.wait_for(lambda m: lock in m.content and "job" in m.content,
                                   chat_id=APPROVAL_CHAT)
        assert admins.content.startswith("❌ A scheduled backup job on pve1 ("), admins.content
        await asyncio.sleep(0.6)  # a few more watcher rounds
    # each failure told once: the follow's and the first run's to Bob, each run's to admins
    assert len([m for m in tg.chat(BOB_ID).messages if m.content.startswith("❌")]) == 2
    assert len([m for m in tg.chat(APPROVAL_CHAT).messages if m.content.startswith("❌")]) == 2


async def test_schedule_del_needs_approval_for_users(harness):
    h = harness
    vmid = await make_ct(h, h.bob, "sched")
    made = await h.ask(h.bob, f"/schedule_backup {vmid} mon..fri 22:30 --keep-last 3",
                       lambda m: m.content.startswith("🗓"))
    job_id = made.content.split()[2].rstrip(":")
    theirs = await h.ask(h.carol, f"/schedule_del {job_id}", lambda m: True)
    assert "not yours" in theirs.content
    await h.bob.send(f"/schedule_del {job_id}")
    card = await h.tg.wait_for(lambda m: job_id in m.content and m.flat_buttons,
                               chat_id=APPROVAL_CHAT)
    await h.admin.press(card, "Approve")
    await h.tg.wait_for(lambda m: m.content.startswith("🗑 Schedule"), chat_id=BOB_ID)
    assert job_id not in h.sim.cluster.backup_jobs
    assert CAROL_ID  # (Carol saw nothing of Bob's schedule)


async def test_a_backup_whose_follow_was_lost_in_a_crash_is_reported_after_the_restart(
        sim, tg, tmp_path):
    """/backup starts vzdump, then the bot dies before its follow reports the result: the watcher
    of the restarted bot must report that backup (once), not count it as already told."""
    from bot.parsing_backups import parse_backup

    store_path = tmp_path / "s.json"
    with Store(store_path) as store:
        store.users.put(User(BOB_ID, "user", "Bob"))
    policy = default_policy(backup_watch_s=0.2)
    bob = tg.user(BOB_ID, "Bob")
    async with running_bot(sim, tg, store_path, policy) as (services, _app):
        await bob.send("/create lost --disk 1G")
        vmid = int((await tg.wait_for(final, chat_id=BOB_ID)).content.split()[2])
        await tg.wait_until(lambda: services.store.backup_reports.initialized())
        # what /backup does before its follow; the process "crashes" before following it
        _vmid, node, upid = await services.backups.start(BOB_ID, parse_backup(str(vmid)))
        await tg.wait_until(lambda: sim.cluster.tasks[upid].status == "stopped")
    async with running_bot(sim, tg, store_path, policy):
        report = await tg.wait_for(lambda m: f"CT {vmid}" in m.content and "done" in m.content,
                                   chat_id=BOB_ID, timeout=10)
        assert f"vzdump-lxc-{vmid}-" in report.content
        import asyncio
        await asyncio.sleep(0.6)  # a few more watcher rounds: no repeat
    told = [m for m in tg.chat(BOB_ID).messages if f"Backup of CT {vmid}" in m.content
            or f"backup of CT {vmid}" in m.content]
    assert len(told) == 1, [m.content for m in told]


async def test_a_report_is_not_repeated_while_proxmox_still_lists_its_task(sim, tmp_path,
                                                                          monkeypatch):
    """Records of reported tasks are pruned after a while; a task Proxmox still lists (its
    task list keeps the newest 200, months of nightly runs) must not be reported again."""
    import bot.services.backups as backups_module
    from bot.parsing_backups import parse_schedule_backup
    from bot.proxmox import Proxmox, ProxmoxSettings
    from bot.runtime import build_services

    store = Store(tmp_path / "s.json")
    store.users.put(User(BOB_ID, "user", "Bob"))
    sim.cluster.add_guest(120, "pve1", status="running", hostname="old")
    store.ownership.set(120, BOB_ID, "old")
    px = Proxmox(ProxmoxSettings(host="127.0.0.1", port=sim.port, token_id=sim.token_id,
                                 token_secret=sim.token_secret, verify_tls=True,
                                 fingerprint=sim.fingerprint))
    async with px:
        backups = build_services(px, store, default_policy()).backups
        assert await backups.new_reports() == []  # the first look is the baseline
        await backups.create_schedule(BOB_ID, parse_schedule_backup("120 02:00 --keep-last 3"))
        await sim.advance(86400)
        # as if the keep window had passed since the report (the task is still listed)
        monkeypatch.setattr(backups_module, "REPORT_KEEP_S", -1)
        first = await backups.new_reports()
        assert [r.vmid for r in first] == [120]
        assert await backups.new_reports() == []


async def test_a_long_backup_list_arrives_in_several_messages(harness):
    """Notes may be 1024 characters: a few backups exceed Telegram's 4096 per message."""
    h = harness
    vmid = await make_ct(h, h.bob, "notes")
    volids = []
    for i in range(5):
        done = await backup_of(h, h.bob, vmid, f"--note {str(i) * 1000}")
        assert done.content.startswith("✅"), done.content
        volids.append(done.content.split("done: ")[1].split()[0])
    mark = len(h.tg.chat(h.bob.id).messages)
    await h.bob.send("/backups")
    await h.tg.wait_until(lambda: all(any(v in m.content for m in h.tg.chat(h.bob.id).messages[mark:])
                                      for v in volids))
    listing = h.tg.chat(h.bob.id).messages[mark:]
    assert len(listing) >= 2 and not any("went wrong" in m.content for m in listing)


async def test_a_note_that_reads_like_an_option_does_not_confuse_the_follow(harness):
    """The job line of the log echoes the note; the backup's storage is the one asked for."""
    h = harness
    vmid = await make_ct(h, h.bob, "tricky")
    done = await backup_of(h, h.bob, vmid, "--note 'moved --storage elsewhere'")
    assert done.content.startswith(f"✅ Backup of CT {vmid} done: local:backup/"), done.content


async def test_a_reused_vmid_does_not_hand_over_the_old_owners_backups(harness):
    h = harness
    vmid = await make_ct(h, h.bob, "bobs")
    done = await backup_of(h, h.bob, "bobs")
    volid = done.content.split("done: ")[1].split()[0]
    # an admin deleting a user's running CT confirms first (issue 12)
    confirm = await h.ask(h.admin, f"/ct_delete {vmid}", lambda m: "Delete CT" in m.content)
    await h.admin.press(confirm, "Yes, delete")
    await h.tg.wait_until(lambda: vmid not in h.sim.cluster.guests)
    again = await make_ct(h, h.carol, "carols")
    assert again == vmid  # Proxmox hands the lowest free id out again

    listing = await h.ask(h.carol, "/backups", lambda m: "backup" in m.content.lower())
    assert volid not in listing.content
    refused = await h.ask(h.carol, f"/restore {volid} --new --hostname stolen")
    assert "not yours" in refused.content
    assert "stolen" not in [g.config.get("hostname") for g in h.sim.cluster.guests.values()]
    mine = await h.ask(h.bob, "/backups", lambda m: "backup" in m.content.lower())
    assert volid in mine.content  # still Bob's, though his container is gone


async def test_two_restores_as_new_at_once_cannot_together_exceed_the_quota(harness):
    import asyncio

    h = harness
    vmid = await make_ct(h, h.bob, "c1")
    volid = (await backup_of(h, h.bob, "c1")).content.split("done: ")[1].split()[0]
    # Room for one more container only: 3 allowed, 2 owned; cores, memory and disk plenty.
    h.services.store.quotas.put(BOB_ID, Quota(containers=3, cores=16, memory_mb=16384,
                                              disk_gb=256))
    h.services.store.ownership.set(vmid + 50, BOB_ID, "elsewhere")
    h.sim.cluster.add_guest(vmid + 50, "pve1", hostname="elsewhere")
    await asyncio.gather(h.bob.send(f"/restore {volid} --new --hostname t1"),
                         h.bob.send(f"/restore {volid} --new --hostname t2"))
    await h.tg.wait_until(lambda: sum(final(m) or "quota" in m.content
                                      for m in h.tg.chat(BOB_ID).messages[-6:]) >= 2, timeout=20)
    await h.settle(1.0)
    names = {g.config.get("hostname") for g in h.sim.cluster.guests.values()}
    assert len(names & {"t1", "t2"}) == 1, [m.content for m in h.tg.chat(BOB_ID).messages]


async def test_a_restore_whose_task_never_ends_says_so_and_the_copy_is_the_askers(harness,
                                                                                  monkeypatch):
    from bot.proxmox import tasks

    h = harness
    await make_ct(h, h.bob, "orig")
    volid = (await backup_of(h, h.bob, "orig")).content.split("done: ")[1].split()[0]
    monkeypatch.setitem(tasks.TASK_TIMEOUTS_S, "vzrestore", 0.5)
    h.sim.cluster.hold_next_task("vzrestore")
    msg = await h.ask(h.bob, f"/restore {volid} --new --hostname slowcopy", final, timeout=15)
    upid, task = next((u, t) for u, t in h.sim.cluster.tasks.items() if t.type == "vzrestore")
    assert msg.content.startswith("❌ Proxmox task vzrestore"), msg.content
    # Bob is a user: the UPID's user field (the bot's token id) is hidden from him (issue 10).
    assert upid.replace(h.sim.token_id, "(hidden)") in msg.content
    assert "still running" in msg.content
    assert task.status == "running"
    assert h.services.store.ownership.owner(int(task.id)) == BOB_ID


async def test_a_backup_is_reported_to_whoever_owned_the_ct_when_it_ran(sim, tg, tmp_path):
    """The watcher told the vmid's owner *now*: a vmid deleted and handed to someone else in
    the meantime sent the old owner's backup report (with the new CT's name) to the new owner.
    It goes to the owner at the task's start, named as the log names the CT."""
    from bot.parsing_backups import parse_backup

    store_path = tmp_path / "s.json"
    with Store(store_path) as store:  # one store per data folder: the bot's comes next
        store.users.put(User(BOB_ID, "user", "Bob"))
        store.users.put(User(CAROL_ID, "user", "Carol"))
    policy = default_policy(backup_watch_s=0.2)
    bob, carol, admin = tg.user(BOB_ID, "Bob"), tg.user(CAROL_ID, "Carol"), tg.user(1001, "Ada")
    async with running_bot(sim, tg, store_path, policy) as (services, _app):
        await bob.send("/create bobs --disk 1G")
        vmid = int((await tg.wait_for(final, chat_id=BOB_ID)).content.split()[2])
        await tg.wait_until(lambda: services.store.backup_reports.initialized())
        # /backup's start; its follow is lost (the bot dies before it reports)
        _vmid, _node, upid = await services.backups.start(BOB_ID, parse_backup(str(vmid)))
        await tg.wait_until(lambda: sim.cluster.tasks[upid].status == "stopped")
        await admin.send(f"/ct_delete {vmid}")
        confirm = await tg.wait_for(lambda m: "Delete CT" in m.content, chat_id=1001)
        await admin.press(confirm, "Yes, delete")  # a user's running CT: confirmed first
        await tg.wait_for(lambda m: m.content.startswith("🗑"), chat_id=1001)
        await carol.send("/create carols --disk 1G")
        again = int((await tg.wait_for(final, chat_id=CAROL_ID)).content.split()[2])
        assert again == vmid  # Proxmox hands the lowest free id out again
    async with running_bot(sim, tg, store_path, policy):
        report = await tg.wait_for(lambda m: f"CT {vmid}" in m.content and "done" in m.content,
                                   chat_id=BOB_ID, timeout=10)
        assert report.content.startswith(f"✅ Backup of CT {vmid} bobs ("), report.content
        import asyncio
        await asyncio.sleep(0.6)  # a few more watcher rounds
    assert not [m.content for m in tg.chat(CAROL_ID).messages if "Backup of CT" in m.content]


async def test_a_scheduled_job_that_fails_after_its_guests_is_reported_once(sim, tg, tmp_path):
    """Every guest line of a vzdump says OK but the task fails as a whole (its job-end hook, a
    final step): that error used to reach nobody. Each owner involved hears it once, about
    their own CTs only, and the notification chat once, about all."""
    import asyncio

    store_path = tmp_path / "s.json"
    with Store(store_path) as store:  # one store per data folder: the bot's comes next
        store.users.put(User(BOB_ID, "user", "Bob"))
        store.users.put(User(CAROL_ID, "user", "Carol"))
    policy = default_policy(backup_watch_s=0.2, notify_chat_id=APPROVAL_CHAT)
    bob, carol = tg.user(BOB_ID, "Bob"), tg.user(CAROL_ID, "Carol")
    hook = "command '/usr/local/bin/vzdump-hook job-end' failed: exit code 1"
    async with running_bot(sim, tg, store_path, policy) as (services, _app):
        cts = {}
        for user, name in ((bob, "bobct"), (carol, "carolct")):
            await user.send(f"/create {name} --disk 1G --node pve1")
            cts[user.id] = int((await tg.wait_for(final, chat_id=user.id)).content.split()[2])
        await tg.wait_until(lambda: services.store.backup_reports.initialized())
        await services.px.create_backup_job("both", schedule="02:00", storage="local",
                                            vmids=(cts[BOB_ID], cts[CAROL_ID]))
        sim.cluster.fail_next_backup_job_end(hook)
        await sim.advance(86400)
        for uid in (BOB_ID, CAROL_ID):
            await tg.wait_for(lambda m: m.content.startswith("❌"), chat_id=uid)
        await tg.wait_for(lambda m: hook in m.content, chat_id=APPROVAL_CHAT)
        await asyncio.sleep(0.8)  # a few more watcher rounds: no repeat
    (upid,) = sim.scheduler.runs[-1][2]
    assert sim.cluster.tasks[upid].exitstatus == hook
    for uid, other in ((BOB_ID, CAROL_ID), (CAROL_ID, BOB_ID)):
        told = [m.content for m in tg.chat(uid).messages if "ackup" in m.content]
        failed = [t for t in told if t.startswith("❌")]
        assert len(failed) == 1, told
        assert hook in failed[0] and f"CT {cts[uid]}" in failed[0], failed[0]
        assert f"CT {cts[other]}" not in failed[0]
        assert any(t.startswith(f"✅ Scheduled backup of CT {cts[uid]}") for t in told), told
    notified = [m.content for m in tg.chat(APPROVAL_CHAT).messages if hook in m.content]
    assert len(notified) == 1, notified
    assert f"CT {cts[BOB_ID]}" in notified[0] and f"CT {cts[CAROL_ID]}" in notified[0]


async def test_restore_into_a_smaller_ct_is_held_to_the_quota_for_what_it_grows(harness):
    """Restoring a big backup into a small CT of one's own made it big with no quota check.
    The growth (backup minus target, per resource that grows; no new container) is checked
    before the approval is asked and again when it runs, and the refusal says the numbers."""
    h, tg = harness, harness.tg
    bob, admin = h.bob, h.admin
    big = await make_ct(h, bob, "big", "--node pve1")  # 2 cores, 1 GiB, 8 GiB
    volid = (await backup_of(h, bob, "big")).content.split("done: ")[1].split()[0]
    small = (await h.ask(bob, "/create small --cores 1 --memory 512M --disk 4G --node pve1",
                         final)).content.split()[2]
    await h.ask(bob, f"/ct_stop {small}", final)
    # in use: 3 cores, 1536 MiB, 12 GiB, 2 containers (the count is full: no new one is asked)
    h.services.store.quotas.put(BOB_ID, Quota(containers=2, cores=3, memory_mb=2048,
                                              disk_gb=64))
    refused = await h.ask(bob, f"/restore {volid} --into {small}")
    text = refused.content
    assert "Over your quota" in text, text
    assert "cores: 3 in use + 1 asked = 4 > quota 3" in text
    assert "memory: 1536 MiB in use + 512 MiB asked = 2048 MiB" not in text  # fits exactly
    assert "containers" not in text and "disk" not in text.split("Over your quota")[1]
    assert not [m for m in tg.chat(APPROVAL_CHAT).messages if volid in m.content]
    assert h.sim.cluster.guests[int(small)].config["cores"] == 1

    # room now, so an admin is asked; then the room is taken before the approval: refused then
    h.services.store.quotas.put(BOB_ID, Quota(containers=3, cores=4, memory_mb=4096,
                                              disk_gb=64))
    await bob.send(f"/restore {volid} --into {small}")
    card = await tg.wait_for(lambda m: volid in m.content and m.flat_buttons,
                             chat_id=APPROVAL_CHAT)
    await h.ask(bob, "/create third --cores 1 --memory 512M --disk 4G", final)
    await admin.press(card, "Approve")
    late = await tg.wait_for(lambda m: m.content.startswith("❌") and "quota" in m.content,
                             chat_id=BOB_ID)
    assert "cores: 4 in use + 1 asked = 5 > quota 4" in late.content, late.content
    await h.settle(0.5)
    assert h.sim.cluster.guests[int(small)].config["cores"] == 1
    assert "restore" not in h.sim.cluster.guests[int(small)].config.get("lock", "")

    # a restore that shrinks the target asks nothing of the quota
    small_backup = (await backup_of(h, bob, small)).content.split("done: ")[1].split()[0]
    await h.ask(bob, f"/ct_stop {big}", final)
    await bob.send(f"/restore {small_backup} --into {big}")
    await tg.wait_for(lambda m: small_backup in m.content and m.flat_buttons,
                      chat_id=APPROVAL_CHAT)


async def test_a_backup_whose_progress_message_fails_is_still_reported(harness):
    """/backup started the vzdump, then could not post its progress message: nobody follows it,
    so the watcher must report it (it used to leave it to a follow that never came)."""
    h = harness
    vmid = await make_ct(h, h.bob, "c1")
    assert await h.services.backups.new_reports() == []  # the watcher's baseline
    h.tg.fail_next("sendMessage", 403)  # the progress message is refused
    await h.bob.send(f"/backup {vmid}")
    await h.tg.wait_until(lambda: any(t.type == "vzdump" for t in h.sim.cluster.tasks.values()))
    task = next(t for t in h.sim.cluster.tasks.values() if t.type == "vzdump")
    await h.tg.wait_until(lambda: task.status == "stopped", timeout=30)
    reports = await h.services.backups.new_reports()
    told = [m for m in h.tg.chat(BOB_ID).messages if f"CT {vmid}" in m.content
            and "Backup" in m.content]
    assert [r.vmid for r in reports] == [vmid] or told, reports
