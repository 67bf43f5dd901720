"""pvesim backups over HTTPS: vzdump's task and log, backup volumes, extractconfig, restore,
locks during a backup, backup jobs with their calendar in simulated time, prune-backups."""

from __future__ import annotations

import asyncio
import re

from pvesim.prune import select

VOLID = re.compile(r"^local:backup/vzdump-lxc-(\d+)-\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d\.tar\.zst$")


async def log_of(api, node, upid):
    return [line["t"] for line in await api.ok("GET", f"/nodes/{node}/tasks/{upid}/log", limit=0)]


async def backup(api, vmid=200, node="pve1", **extra):
    upid = await api.ok("POST", f"/nodes/{node}/vzdump", vmid=vmid, storage="local",
                        compress="zstd", **extra)
    return upid, await api.wait(node, upid)


async def test_vzdump_task_log_and_volume(api):
    await api.create(vmid=200, hostname="web1", cores=2, memory=1024)
    upid, status = await backup(api)
    assert upid.split(":")[5:7] == ["vzdump", "200"]
    assert status["exitstatus"] == "OK"
    lines = await log_of(api, "pve1", upid)
    order = ["INFO: starting new backup job: vzdump 200", "INFO: Starting Backup of VM 200 (lxc)",
             "INFO: status = stopped", "INFO: CT Name: web1",
             "INFO: including mount point rootfs ('/') in backup", "INFO: backup mode: stop",
             "INFO: creating vzdump archive '/var/lib/vz/dump/vzdump-lxc-200-",
             "INFO: Total bytes written: ", "INFO: archive file size: ",
             "INFO: Finished Backup of VM 200 (00:01:00)", "INFO: Backup job finished successfully",
             "TASK OK"]
    positions = [next(i for i, line in enumerate(lines) if line.startswith(p)) for p in order]
    assert positions == sorted(positions), lines
    assert not any("%" in line for line in lines)  # LXC backups print no percentages
    content = await api.ok("GET", "/nodes/pve1/storage/local/content", content="backup")
    assert len(content) == 1
    vol = content[0]
    assert VOLID.match(vol["volid"]) and vol["vmid"] == 200
    assert (vol["format"], vol["subtype"], vol["content"], vol["protected"], vol["notes"]) == (
        "tar.zst", "lxc", "backup", 0, "")
    assert vol["size"] > 0 and vol["ctime"] > 0
    text = await api.ok("GET", "/nodes/pve1/vzdump/extractconfig", volume=vol["volid"])
    assert "cores: 2\n" in text and "hostname: web1\n" in text and "memory: 1024\n" in text
    assert "lock:" not in text and text.splitlines() == sorted(text.splitlines())


async def test_running_ct_is_locked_during_backup_and_stop_fails_inside_its_task(api):
    sim = api.sim
    sim.runner.time_scale = 0.02  # 8 GiB: 60 s simulated, 1.2 s real
    sim.cluster.add_guest(300, "pve1", status="running", hostname="busy")
    upid = await api.ok("POST", "/nodes/pve1/vzdump", vmid=300, mode="snapshot")
    await asyncio.sleep(0.1)
    assert sim.cluster.guests[300].lock == "backup"
    stop = await api.ok("POST", "/nodes/pve1/lxc/300/status/stop")
    st = await api.wait("pve1", stop)
    assert st["exitstatus"] == "CT is locked (backup)"
    status, _, _ = await api.call("DELETE", "/nodes/pve1/lxc/300")
    assert status == 500
    await sim.runner.idle()
    assert sim.cluster.guests[300].lock is None
    assert sim.cluster.guests[300].status == "running"
    assert "INFO: create storage snapshot 'vzdump'" in await log_of(api, "pve1", upid)


async def test_failed_guest_logs_error_and_ends_with_job_errors(api):
    await api.create(vmid=200)
    api.sim.cluster.fail_next_backup(200, "command 'tar' failed: exit code 2")
    upid, status = await backup(api)
    assert status["exitstatus"] == "job errors"
    lines = await log_of(api, "pve1", upid)
    assert "ERROR: Backup of VM 200 failed - command 'tar' failed: exit code 2" in lines
    assert lines[-1] == "TASK ERROR: job errors"
    assert await api.ok("GET", "/nodes/pve1/storage/local/content", content="backup") == []
    assert api.sim.cluster.guests[200].lock is None


async def test_backup_refusals(api):
    await api.create(vmid=200)
    status, reason, _ = await api.call("POST", "/nodes/pve1/vzdump", vmid=200, storage="local-lvm")
    assert status == 500 and "wrong content type" in reason
    status, _, body = await api.call("POST", "/nodes/pve1/vzdump", vmid=200, protected="True")
    assert status == 400 and "boolean" in body["errors"]["protected"]
    status, reason, _ = await api.call("POST", "/nodes/pve1/vzdump", vmid=999)
    assert status == 500 and "999" in reason


async def test_notes_protected_and_delete(api):
    await api.create(vmid=200)
    await backup(api, protected=1, **{"notes-template": "{{guestname}} on {{node}}"})
    (vol,) = await api.ok("GET", "/nodes/pve1/storage/local/content", content="backup")
    assert vol["protected"] == 1 and vol["notes"] == "CT200 on pve1"
    path = f"/nodes/pve1/storage/local/content/{vol['volid']}"
    attrs = await api.ok("GET", path)
    assert attrs["protected"] == 1 and attrs["path"].startswith("/var/lib/vz/dump/vzdump-lxc-200")
    upid = await api.ok("DELETE", path)
    st = await api.wait("pve1", upid)
    assert st["exitstatus"].startswith("cannot remove protected archive")
    assert upid.split(":")[5:7] == ["imgdel", "200@local"]
    await api.ok("PUT", path, protected=0, notes="nightly")
    attrs = await api.ok("GET", path)
    assert (attrs["protected"], attrs["notes"]) == (0, "nightly")
    st = await api.wait("pve1", await api.ok("DELETE", path))
    assert st["exitstatus"] == "OK"
    assert await api.ok("GET", "/nodes/pve1/storage/local/content", content="backup") == []
    status, reason, _ = await api.call("GET", path)
    assert status == 500 and "does not exist" in reason


async def test_a_backup_is_no_template_without_restore(api):
    """create_vm checks ostemplate's content type (PVE::Storage::check_volume_access): a backup,
    existing or not, is refused at once unless restore=1; a missing template is not found."""
    await api.create(vmid=200, hostname="web1")
    await backup(api)
    (vol,) = await api.ok("GET", "/nodes/pve1/storage/local/content", content="backup")
    for volid in (vol["volid"], "local:backup/vzdump-lxc-999-2020_01_01-00_00_00.tar.zst"):
        status, reason, _ = await api.call("POST", "/nodes/pve1/lxc", vmid=300, ostemplate=volid,
                                           rootfs="local-lvm:8")
        assert (status, reason) == (
            500, f"unable to use volume {volid} - content type needs to be 'vztmpl'")
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc", vmid=300,
                                       ostemplate="local:iso/x.iso", rootfs="local-lvm:8")
    assert (status, reason) == (
        500, "unable to use volume local:iso/x.iso - content type needs to be 'vztmpl'")
    assert 300 not in api.sim.cluster.guests
    upid = await api.ok("POST", "/nodes/pve1/lxc", vmid=300, ostemplate=vol["volid"],
                        restore=1, storage="local-lvm")
    assert (await api.wait("pve1", upid))["exitstatus"] == "OK"


async def test_restore_new_and_into_existing(api):
    await api.create(vmid=200, hostname="orig", cores=2, memory=1024,
                     net0="name=eth0,bridge=vmbr0,ip=10.0.0.5/24,gw=10.0.0.1")
    await backup(api)
    (vol,) = await api.ok("GET", "/nodes/pve1/storage/local/content", content="backup")
    base = {"ostemplate": vol["volid"], "restore": 1}
    status, _, body = await api.call("POST", "/nodes/pve1/lxc", vmid=201, **base)
    assert status == 400 and body["errors"]["storage"] == (
        "storage 'local' does not support container directories")
    upid = await api.ok("POST", "/nodes/pve1/lxc", vmid=201, storage="local-lvm", unique=1,
                        hostname="twin", net0="name=eth0,bridge=vmbr0,ip=dhcp", **base)
    assert upid.split(":")[5:7] == ["vzrestore", "201"]
    assert (await api.wait("pve1", upid))["exitstatus"] == "OK"
    twin = await api.ok("GET", "/nodes/pve1/lxc/201/config")
    orig = await api.ok("GET", "/nodes/pve1/lxc/200/config")
    for key in ("cores", "memory", "swap", "ostype", "arch", "unprivileged"):
        assert twin[key] == orig[key]
    assert twin["hostname"] == "twin" and "ip=dhcp" in twin["net0"]
    assert twin["rootfs"] == "local-lvm:vm-201-disk-0,size=8G"
    # into an existing CT: needs force, refuses a running one
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc", vmid=201, storage="local-lvm",
                                       **base)
    assert status == 500 and "already exists" in reason
    await api.wait("pve1", await api.ok("POST", "/nodes/pve1/lxc/201/status/start"))
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc", vmid=201, storage="local-lvm",
                                       force=1, **base)
    assert (status, reason) == (500, "can't overwrite running container")
    await api.wait("pve1", await api.ok("POST", "/nodes/pve1/lxc/201/status/stop"))
    upid = await api.ok("POST", "/nodes/pve1/lxc", vmid=201, storage="local-lvm", force=1, **base)
    assert (await api.wait("pve1", upid))["exitstatus"] == "OK"
    restored = await api.ok("GET", "/nodes/pve1/lxc/201/config")
    assert restored["hostname"] == "orig" and "ip=10.0.0.5/24" in restored["net0"]
    # over an existing CT too, create's options override the archive's config (pct restore)
    upid = await api.ok("POST", "/nodes/pve1/lxc", vmid=201, storage="local-lvm", force=1,
                        unique=1, hostname="copy", net0="name=eth0,bridge=vmbr0,ip=dhcp",
                        **base)
    assert (await api.wait("pve1", upid))["exitstatus"] == "OK"
    copy = await api.ok("GET", "/nodes/pve1/lxc/201/config")
    assert copy["hostname"] == "copy" and "ip=dhcp" in copy["net0"]
    assert "10.0.0.5" not in copy["net0"] and copy["cores"] == orig["cores"]
    mac = next(p for p in orig["net0"].split(",") if p.startswith("hwaddr="))
    assert mac not in copy["net0"]


async def test_backup_jobs_crud_and_schedule_analyze(api):
    status, _, body = await api.call("POST", "/cluster/backup", vmid="200", schedule="25:61")
    assert status == 400 and "invalid calendar event '25:61'" in body["errors"]["schedule"]
    status, _, body = await api.call("POST", "/cluster/backup", vmid="200")
    assert status == 400 and "schedule" in body["errors"]
    await api.ok("POST", "/cluster/backup", id="nightly", vmid="200", schedule="02:00",
                 storage="local", **{"prune-backups": "keep-last=3"})
    status, reason, _ = await api.call("POST", "/cluster/backup", id="nightly", vmid="200",
                                       schedule="02:00")
    assert (status, reason) == (500, "Job 'nightly' already exists")
    await api.ok("POST", "/cluster/backup", vmid="201", schedule="mon..fri 22:30")
    jobs = await api.ok("GET", "/cluster/backup")
    assert len(jobs) == 2 and all(j["type"] == "vzdump" and "next-run" in j for j in jobs)
    generated = next(j["id"] for j in jobs if j["id"] != "nightly")
    assert re.fullmatch(r"backup-[0-9a-f]{8}-[0-9a-f]{4}", generated)
    await api.ok("PUT", "/cluster/backup/nightly", schedule="03:00", delete="prune-backups")
    job = await api.ok("GET", "/cluster/backup/nightly")
    assert job["schedule"] == "03:00" and "prune-backups" not in job
    await api.ok("DELETE", f"/cluster/backup/{generated}")
    assert [j["id"] for j in await api.ok("GET", "/cluster/backup")] == ["nightly"]
    runs = await api.ok("GET", "/cluster/jobs/schedule-analyze", schedule="sat *-1..7 03:00",
                        starttime=1_767_225_600, iterations=3)  # 2026-01-01 00:00 UTC
    assert [r["utc"] for r in runs] == ["Sat Jan  3 03:00:00 2026", "Sat Feb  7 03:00:00 2026",
                                        "Sat Mar  7 03:00:00 2026"]
    status, _, body = await api.call("GET", "/cluster/jobs/schedule-analyze", schedule="mon..")
    assert status == 400 and "invalid calendar event" in body["errors"]["schedule"]


async def test_a_week_of_nightly_backups_keeps_what_prune_says(api):
    sim = api.sim
    await api.create(vmid=200)
    retention = "keep-last=2,keep-daily=3,keep-weekly=2"
    await api.ok("POST", "/cluster/backup", id="nightly", vmid="200", schedule="*-*-* 02,14:00",
                 storage="local", compress="zstd", **{"prune-backups": retention})
    await sim.advance(7 * 86400)
    assert len(sim.scheduler.runs) == 14
    upids = [u for _job, _t, us in sim.scheduler.runs for u in us]
    tasks = await api.ok("GET", "/nodes/pve1/tasks", typefilter="vzdump", limit=0)
    assert {t["upid"] for t in tasks} == set(upids)
    assert all(t["status"] == "OK" and t["user"] == "root@pam" for t in tasks)
    kept = await api.ok("GET", "/nodes/pve1/storage/local/content", content="backup")
    # what prune-backups keeps of all 14 runs, by the pure selection
    all_runs = [(when, when) for _job, when, _ in sim.scheduler.runs]
    expected, _ = select(all_runs, retention)
    assert sorted(v["ctime"] for v in kept) == sorted(expected)
    assert 0 < len(kept) < 14
    log = await log_of(api, "pve1", upids[-1])
    assert "INFO: prune older backups with retention: keep-daily=3, keep-last=2, keep-weekly=2" in log


async def test_included_volumes(api):
    await api.create(vmid=200)
    await api.ok("POST", "/cluster/backup", id="j1", vmid="200", schedule="02:00")
    tree = await api.ok("GET", "/cluster/backup/j1/included_volumes")
    assert tree["children"][0]["id"] == 200
    assert tree["children"][0]["children"][0]["included"] == 1


async def test_a_cut_log_loses_its_last_lines_but_the_status_still_says_how_it_ended(api):
    """cut_next_log: the node lost the end of a task's log (truncated file); the status,
    which PVE keeps apart, still says stopped with the exit status."""
    await api.create(vmid=200)
    api.sim.cluster.cut_next_log("vzdump", 3)
    upid, status = await backup(api)
    assert status["exitstatus"] == "OK"
    lines = await log_of(api, "pve1", upid)
    assert lines[-1].startswith("INFO: Finished Backup of VM 200")
    assert not any(line.startswith("TASK ") for line in lines)
    # only the next task of that type
    upid, status = await backup(api)
    assert (await log_of(api, "pve1", upid))[-1] == "TASK OK"


async def test_a_backup_job_that_fails_before_any_guest(api):
    """fail_next_backup_job: vzdump ends before it starts a guest (its global lock held, say):
    no per-guest lines, the reason in an ERROR: line, and the exit status."""
    await api.create(vmid=200)
    api.sim.cluster.fail_next_backup_job(
        "got timeout", "can't acquire lock '/var/run/vzdump.lock' - got timeout")
    upid, status = await backup(api)
    assert status["exitstatus"] == "got timeout"
    lines = await log_of(api, "pve1", upid)
    assert lines[-2:] == ["ERROR: can't acquire lock '/var/run/vzdump.lock' - got timeout",
                          "TASK ERROR: got timeout"]
    assert not any("Backup of VM" in line for line in lines)
    assert await api.ok("GET", "/nodes/pve1/storage/local/content", content="backup") == []
    _upid, status = await backup(api)  # only the next job
    assert status["exitstatus"] == "OK"


async def test_a_backup_job_that_fails_after_its_guests(api):
    """fail_next_backup_job_end: every guest is backed up, then the job as a whole fails (its
    job-end hook script, say): vzdump's "Backup job failed - <reason>" and TASK ERROR."""
    await api.create(vmid=200)
    hook = "command '/usr/local/bin/vzdump-hook job-end' failed: exit code 1"
    api.sim.cluster.fail_next_backup_job_end(hook)
    upid, status = await backup(api)
    assert status["exitstatus"] == hook
    lines = await log_of(api, "pve1", upid)
    assert any(line.startswith("INFO: Finished Backup of VM 200 (") for line in lines)
    assert not any("Backup of VM 200 failed" in line for line in lines)
    assert lines[-2:] == [f"ERROR: Backup job failed - {hook}", f"TASK ERROR: {hook}"]
    assert len(await api.ok("GET", "/nodes/pve1/storage/local/content", content="backup")) == 1
    _upid, status = await backup(api)  # only the next job
    assert status["exitstatus"] == "OK"
