"""pvesim over real HTTPS with aiohttp: auth, errors, validation, tasks, locks, nextid, nodes."""

from __future__ import annotations

import asyncio
import ssl

import aiohttp

from pvesim import Simulator

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


async def test_token_auth_and_version(api):
    data = await api.ok("GET", "/version")
    assert data["release"] == "9.2"


async def test_missing_or_bad_credentials_are_401_with_empty_body(api):
    for headers in ({}, {"Authorization": f"PVEAPIToken={api.sim.token_id}=wrong"}):
        status, _, body = await api.call("GET", "/nodes", headers=headers)
        assert (status, body) == (401, None)


async def test_ticket_login_requires_csrf_on_writes(api):
    sim = api.sim
    status, _, body = await api.call("POST", "/access/ticket", headers={},
                                     username="root@pam", password="nope")
    assert (status, body) == (401, None)
    login = await api.ok("POST", "/access/ticket", username="root", realm="pam",
                         password=sim.password)
    assert login["username"] == "root@pam" and login["ticket"].startswith("PVE:root@pam:")
    cookie = {"Cookie": f"PVEAuthCookie={login['ticket']}"}
    status, _, body = await api.call("GET", "/cluster/nextid", headers=cookie)
    assert status == 200 and body["data"] == "100"
    args = {"vmid": 100, "ostemplate": TEMPLATE, "rootfs": "local-lvm:4"}
    status, _, _ = await api.call("POST", "/nodes/pve1/lxc", headers=cookie, **args)
    assert status == 401 and 100 not in sim.cluster.guests
    csrf = {**cookie, "CSRFPreventionToken": login["CSRFPreventionToken"]}
    status, _, body = await api.call("POST", "/nodes/pve1/lxc", headers=csrf, **args)
    assert status == 200 and body["data"].startswith("UPID:pve1:")


async def test_unknown_path_is_501(api):
    status, reason, body = await api.call("GET", "/nodes/pve1/frobnicate")
    assert status == 501 and reason == "Method 'GET /nodes/pve1/frobnicate' not implemented"
    status, _, _ = await api.call("PATCH", "/version")
    assert status == 501


async def test_validation_names_every_bad_parameter(api):
    status, reason, body = await api.call(
        "POST", "/nodes/pve1/lxc", vmid=99, ostemplate=TEMPLATE, memory="lots", cores=0,
        start="True", colour="blue", ostype="windows", hostname="bad_name!",
        net0="name=eth0,bridge=vmbr0,ip=10.0.0.300/24,firewall=maybe", rootfs="local-lvm:8",
    )
    assert (status, reason) == (400, "Parameter verification failed.")
    errors = body["errors"]
    assert body["data"] is None
    assert errors["vmid"] == "invalid format - value does not look like a valid VM ID"
    assert errors["memory"] == "type check ('integer') failed - got 'lots'"
    assert errors["cores"] == "value must have a minimum value of 1"
    assert errors["start"] == "type check ('boolean') failed - got 'True'"
    assert errors["colour"].startswith("property is not defined in schema")
    assert errors["ostype"].startswith("value 'windows' does not have a value in the enumeration")
    assert errors["hostname"] == "invalid format - value does not look like a valid DNS name"
    assert "net0.ip: invalid format - value does not look like a valid ipv4" in errors["net0"]
    assert "net0.firewall: type check ('boolean') failed - got 'maybe'" in errors["net0"]
    status, _, body = await api.call("POST", "/nodes/pve1/lxc", vmid=150)
    assert body["errors"] == {"ostemplate": "property is missing and it is not optional"}
    assert not api.sim.cluster.guests


async def test_property_string_booleans_accept_words_top_level_only_1_0(api):
    st = await api.create(vmid=120, net0="name=eth0,bridge=vmbr0,ip=dhcp,firewall=yes",
                          unprivileged=0)
    assert st["exitstatus"] == "OK"
    cfg = await api.ok("GET", "/nodes/pve1/lxc/120/config")
    assert "firewall=1" in cfg["net0"] and "hwaddr=BC:24:11:" in cfg["net0"]
    assert cfg["unprivileged"] == 0


async def test_lifecycle_on_both_nodes_with_task_logs(api):
    for node, vmid in (("pve1", 101), ("pve2", 102)):
        st = await api.create(node, vmid, hostname=f"web{vmid}", memory=1024, cores=2)
        assert st["exitstatus"] == "OK" and st["type"] == "vzcreate" and st["id"] == str(vmid)
        status, _, body = await api.call("GET", f"/nodes/{node}/tasks/{st['upid']}/log", limit=2)
        assert body["total"] >= 3 and [line["n"] for line in body["data"]] == [1, 2]
        log = await api.ok("GET", f"/nodes/{node}/tasks/{st['upid']}/log", limit=0)
        assert log[-1]["t"] == "TASK OK"
        cfg = await api.ok("GET", f"/nodes/{node}/lxc/{vmid}/config")
        assert cfg["hostname"] == f"web{vmid}" and cfg["unprivileged"] == 1  # default for create
        assert "lock" not in cfg and cfg["rootfs"].startswith(f"local-lvm:vm-{vmid}-disk-0")
        for action, state in (("start", "running"), ("reboot", "running"),
                              ("shutdown", "stopped"), ("start", "running"), ("stop", "stopped")):
            upid = await api.ok("POST", f"/nodes/{node}/lxc/{vmid}/status/{action}")
            assert (await api.wait(node, upid))["exitstatus"] == "OK"
            cur = await api.ok("GET", f"/nodes/{node}/lxc/{vmid}/status/current")
            assert cur["status"] == state
        await api.ok("PUT", f"/nodes/{node}/lxc/{vmid}/config", memory=2048, tags="web")
        listing = await api.ok("GET", f"/nodes/{node}/lxc")
        assert [(c["vmid"], c["maxmem"], c["tags"]) for c in listing] == [(vmid, 2048 << 20, "web")]
        upid = await api.ok("DELETE", f"/nodes/{node}/lxc/{vmid}")
        assert (await api.wait(node, upid))["exitstatus"] == "OK"
        assert await api.ok("GET", f"/nodes/{node}/lxc") == []
    tasks = await api.ok("GET", "/nodes/pve1/tasks")
    assert {t["type"] for t in tasks} >= {"vzcreate", "vzstart", "vzstop", "vzdestroy"}


async def test_already_running_not_running_and_wrong_node(api):
    await api.create(vmid=130)
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc/130/status/stop")
    assert (status, reason) == (500, "CT 130 not running")
    await api.wait("pve1", await api.ok("POST", "/nodes/pve1/lxc/130/status/start"))
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc/130/status/start")
    assert (status, reason) == (500, "CT 130 already running")
    status, reason, body = await api.call("GET", "/nodes/pve2/lxc/130/config")
    assert (status, reason) == (500, "Configuration file 'nodes/pve2/lxc/130.conf' does not exist")
    assert "does not exist" in body["message"]
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc", vmid=130, ostemplate=TEMPLATE)
    assert (status, reason) == (500, "CT 130 already exists on node 'pve1'")


async def test_locked_ct(api):
    await api.create(vmid=140)
    api.sim.cluster.set_lock(140, "backup")
    upid = await api.ok("POST", "/nodes/pve1/lxc/140/status/start")  # the check is in the task
    st = await api.wait("pve1", upid)
    assert st["exitstatus"] == "CT is locked (backup)"
    log = await api.ok("GET", f"/nodes/pve1/tasks/{upid}/log")
    assert log[-1]["t"] == "TASK ERROR: CT is locked (backup)"
    status, reason, _ = await api.call("DELETE", "/nodes/pve1/lxc/140")
    assert (status, reason) == (500, "CT is locked (backup)")
    status, _, _ = await api.call("PUT", "/nodes/pve1/lxc/140/config", memory=1024)
    assert status == 500
    api.sim.cluster.set_lock(140, None)
    assert (await api.wait("pve1", await api.ok("POST", "/nodes/pve1/lxc/140/status/start")))[
        "exitstatus"] == "OK"


async def test_failed_task_reports_its_message_and_leaves_no_ct(api):
    api.sim.cluster.fail_next_task("vzcreate", "unable to create CT 150 - no space left")
    st = await api.create(vmid=150)
    assert st["status"] == "stopped" and st["exitstatus"] == "unable to create CT 150 - no space left"
    assert 150 not in api.sim.cluster.guests
    assert (await api.create(vmid=150))["exitstatus"] == "OK"  # only the next task failed


async def test_create_checks_template_and_storage(api):
    # A template file that is not there is found by the create task (PVE::LXC::Create::
    # restore_archive), which removes what it made: not refused before it starts.
    st = await api.create(vmid=160, ostemplate="local:vztmpl/nope.tar.zst")
    assert st["exitstatus"] == "unable to create CT 160 - can't find file " \
                               "'local:vztmpl/nope.tar.zst'"
    assert 160 not in api.sim.cluster.guests
    status, _, body = await api.call("POST", "/nodes/pve1/lxc", vmid=160, ostemplate=TEMPLATE,
                                     rootfs="local:8")
    assert status == 400
    assert body["errors"] == {"storage": "storage 'local' does not support container directories"}
    # without rootfs: 4 GiB on `storage`, 'local' by default
    status, _, body = await api.call("POST", "/nodes/pve1/lxc", vmid=160, ostemplate=TEMPLATE)
    assert body["errors"] == {"storage": "storage 'local' does not support container directories"}
    content = await api.ok("GET", "/nodes/pve1/storage/local/content", content="vztmpl")
    assert TEMPLATE in [v["volid"] for v in content]
    storages = await api.ok("GET", "/nodes/pve2/storage", content="rootdir")
    assert [s["storage"] for s in storages] == ["local-lvm"]


async def test_nextid_is_a_string_and_reserves_nothing(api):
    assert await api.ok("GET", "/cluster/nextid") == "100"
    assert await api.ok("GET", "/cluster/nextid") == "100"
    await api.create(vmid=100)
    assert await api.ok("GET", "/cluster/nextid") == "101"
    status, reason, body = await api.call("GET", "/cluster/nextid", vmid=100)
    assert (status, reason) == (400, "Parameter verification failed.")
    assert body["errors"] == {"vmid": "VM 100 already exists"}
    assert await api.ok("GET", "/cluster/nextid", vmid=555) == "555"


async def test_same_vmid_concurrently_second_fails_at_once(api):
    args = {"vmid": 170, "ostemplate": TEMPLATE, "rootfs": "local-lvm:4"}
    api.sim.runner.time_scale = 1.0  # first create still running when the second arrives
    first = await api.call("POST", "/nodes/pve1/lxc", **args)
    second = await api.call("POST", "/nodes/pve2/lxc", **args)
    assert first[0] == 200
    assert second[:2] == (500, "CT 170 already exists on node 'pve1'")
    assert api.sim.cluster.guests[170].lock == "create"


async def test_offline_node_answers_595(api):
    api.sim.cluster.set_node_online("pve2", False)
    status, _, _ = await api.call("GET", "/nodes/pve2/lxc")
    assert status == 595
    nodes = await api.ok("GET", "/nodes")
    assert {n["node"]: n["status"] for n in nodes} == {"pve1": "online", "pve2": "offline"}
    assert (await api.call("GET", "/nodes/pve1/lxc"))[0] == 200


async def test_permission_denied_for_a_restricted_token(api):
    token_id, secret = api.sim.add_token("audit", {"VM.Audit", "Sys.Audit"})
    headers = {"Authorization": f"PVEAPIToken={token_id}={secret}"}
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc", headers=headers, vmid=180,
                                       ostemplate=TEMPLATE)
    assert (status, reason) == (403, "Permission check failed (/vms/180, VM.Allocate)")
    status, _, body = await api.call("GET", "/access/permissions?path=/", headers=headers)
    assert body["data"] == {"/": {"Sys.Audit": 1, "VM.Audit": 1}}
    perms = await api.ok("GET", "/access/permissions")
    assert perms["/"]["VM.Allocate"] == 1


async def test_malformed_and_unknown_upid(api):
    status, _, body = await api.call("GET", "/nodes/pve1/tasks/UPID:garbage/status")
    assert status == 400 and body["errors"] == {"upid": "unable to parse worker upid"}


async def test_cluster_status_and_resources(api):
    await api.create("pve2", 190, start=1)
    status = await api.ok("GET", "/cluster/status")
    assert status[0]["type"] == "cluster" and status[0]["quorate"] == 1
    vms = await api.ok("GET", "/cluster/resources", type="vm")
    assert [(v["id"], v["node"], v["status"]) for v in vms] == [("lxc/190", "pve2", "running")]
    storages = await api.ok("GET", "/cluster/resources", type="storage")
    assert len(storages) == 4
    node = await api.ok("GET", "/nodes/pve2/status")
    assert node["cpuinfo"]["cpus"] == 8 and node["memory"]["total"] == 32 << 30
    rrd = await api.ok("GET", "/nodes/pve2/lxc/190/rrddata", timeframe="hour", cf="AVERAGE")
    assert len(rrd) == 70 and "cpu" in rrd[-1]


async def test_clone_locks_source_and_target_while_running():
    """(It cloned to another node before: PVE refuses that for a CT on local storage.)"""
    async with Simulator(time_scale=0.2) as sim:  # clone takes 0.6 s
        sim.cluster.add_guest(300, "pve1", hostname="tmpl")
        ctx = ssl.create_default_context(cafile=str(sim.cert_path))
        headers = {"Authorization": f"PVEAPIToken={sim.token_id}={sim.token_secret}"}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx),
                                         headers=headers) as s:
            url = f"{sim.base_url}/api2/json/nodes/pve1/lxc/300/clone"
            async with s.post(url, data={"newid": 301, "hostname": "copy"}) as r:
                assert r.status == 200
            assert sim.cluster.guests[300].lock == "disk"
            assert sim.cluster.guests[301].lock == "create"
            await sim.runner.idle()
        assert sim.cluster.guests[300].lock is None
        clone = sim.cluster.guests[301]
        assert (clone.node, clone.name) == ("pve1", "copy")
        assert clone.config["rootfs"].startswith("local-lvm:vm-301-disk-0")


async def test_tasks_run_concurrently():
    async with Simulator(time_scale=0.5) as sim:  # a create takes 1 s
        ctx = ssl.create_default_context(cafile=str(sim.cert_path))
        headers = {"Authorization": f"PVEAPIToken={sim.token_id}={sim.token_secret}"}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx),
                                         headers=headers) as s:
            async def create(vmid):
                async with s.post(f"{sim.base_url}/api2/json/nodes/pve1/lxc",
                                  data={"vmid": vmid, "ostemplate": TEMPLATE,
                                        "rootfs": "local-lvm:1"}) as r:
                    return r.status

            statuses = await asyncio.gather(*(create(400 + i) for i in range(50)))
            assert statuses == [200] * 50
            running = [t for t in sim.cluster.tasks.values() if t.status == "running"]
            assert len(running) == 50  # all in flight together, none waits for another
            await sim.runner.idle()
        assert all(t.exitstatus == "OK" for t in sim.cluster.tasks.values())
        assert len(sim.request_counts()) == 1 and sim.request_counts()[
            "POST /nodes/{node}/lxc"] == 50


async def test_a_held_task_keeps_running_until_released(api):
    """hold_next_task: the next task of that type does not end by itself (a hung pct create, a
    storage that stopped answering); only that one, and release_task lets it finish."""
    cluster = api.sim.cluster
    cluster.hold_next_task("vzcreate")
    upid = await api.ok("POST", "/nodes/pve1/lxc", vmid=170, ostemplate=TEMPLATE,
                        rootfs="local-lvm:8")
    await asyncio.sleep(0.2)
    status = await api.ok("GET", f"/nodes/pve1/tasks/{upid}/status")
    assert status["status"] == "running" and "exitstatus" not in status
    assert cluster.guests[170].lock == "create"
    assert (await api.create(vmid=171))["exitstatus"] == "OK"  # only the next task is held
    cluster.release_task(upid)
    assert (await api.wait("pve1", upid))["exitstatus"] == "OK"
    assert cluster.guests[170].lock is None
