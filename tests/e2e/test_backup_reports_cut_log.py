"""The watcher's reports of backups whose task log was cut short on the node (the task's own
status still says how it ended)."""

from __future__ import annotations

from e2e_harness import BOB_ID, default_policy

from bot.store import Store, User


async def test_a_backup_that_ended_well_but_whose_log_lost_its_end_is_not_reported_failed(
        sim, tmp_path):
    from bot.parsing_backups import parse_schedule_backup
    from bot.proxmox import Proxmox, ProxmoxSettings
    from bot.runtime import build_services

    store = Store(tmp_path / "s.json")
    store.users.put(User(BOB_ID, "user", "Bob"))
    sim.cluster.add_guest(120, "pve1", status="running", hostname="web")
    store.ownership.set(120, BOB_ID, "web")
    px = Proxmox(ProxmoxSettings(host="127.0.0.1", port=sim.port, token_id=sim.token_id,
                                 token_secret=sim.token_secret, verify_tls=True,
                                 fingerprint=sim.fingerprint))
    async with px:
        backups = build_services(px, store, default_policy()).backups
        assert await backups.new_reports() == []  # the first look is the baseline
        await backups.create_schedule(BOB_ID, parse_schedule_backup("120 02:00 --keep-last 3"))
        # the log loses its end from the guest's "Finished Backup" line on; the task ended OK
        sim.cluster.cut_next_log("vzdump", 5)
        await sim.advance(86400)
        (upid,) = sim.scheduler.runs[-1][2]
        assert sim.cluster.tasks[upid].exitstatus == "OK"
        assert not any("Finished Backup" in line for line in sim.cluster.tasks[upid].lines)
        (report,) = await backups.new_reports()
    assert report.ok and report.owner_id == BOB_ID and not report.notify, report
    assert report.text.startswith("✅ Scheduled backup of CT 120 web ("), report.text
    assert "None" not in report.text, report.text
