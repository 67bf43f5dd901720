"""What real PVE refuses (and accepts) when a CT is created, restored or changed, and when: at
once, or inside the task. Sources: pve-container PVE::API2::LXC create_vm,
PVE::API2::LXC::Config update_vm, PVE::LXC::Config::update_pct_config; pve-manager
PVE::HTTPServer::rest_handler; pve-http-server extract_params; pve-common PVE::JSONSchema."""

from __future__ import annotations

import base64
import json

import pytest

from pvesim import Simulator

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
ED25519 = "ssh-ed25519 " + base64.b64encode(
    len(b"ssh-ed25519").to_bytes(4, "big") + b"ssh-ed25519" + (32).to_bytes(4, "big")
    + bytes(32)).decode() + " ada@laptop"


@pytest.fixture
async def sim(request):
    async with Simulator(scenario=getattr(request, "param", None)) as simulator:
        yield simulator


async def post_ct(api, vmid: int, node: str = "pve1", headers=None, **params):
    params = {"ostemplate": TEMPLATE, "rootfs": "local-lvm:8", **params}
    return await api.call("POST", f"/nodes/{node}/lxc", headers=headers, vmid=vmid, **params)


async def as_root(api) -> dict:
    """Headers of a root@pam ticket session (a token of root is not root@pam)."""
    login = await api.ok("POST", "/access/ticket", username="root@pam",
                         password=api.sim.password)
    return {"Cookie": f"PVEAuthCookie={login['ticket']}",
            "CSRFPreventionToken": login["CSRFPreventionToken"]}


# ---- create -------------------------------------------------------------------------------

async def test_a_missing_template_fails_the_task_and_leaves_nothing(api):
    status, _, body = await post_ct(api, 200, ostemplate="local:vztmpl/gone.tar.zst")
    assert status == 200  # check_volume_access reads the name, not the disk
    st = await api.wait("pve1", body["data"])
    assert st["exitstatus"] == "unable to create CT 200 - can't find file " \
                               "'local:vztmpl/gone.tar.zst'"
    assert 200 not in api.sim.cluster.guests
    assert not [v for v in api.sim.cluster.nodes["pve1"].storages["local-lvm"].volumes
                if "200" in v]
    # a storage that is not configured at all is found before (PVE::Storage::storage_config)
    status, reason, _ = await post_ct(api, 200, ostemplate="nfs:vztmpl/x.tar.zst")
    assert (status, reason) == (500, "storage 'nfs' does not exist")


async def test_no_checks_pve_does_not_make(api):
    """Neither the node's memory nor a thin pool's room is checked by create_vm."""
    status, _, body = await post_ct(api, 200, memory=64 * 1024 * 1024, rootfs="local-lvm:500")
    assert status == 200, body
    assert (await api.wait("pve1", body["data"]))["exitstatus"] == "OK"


@pytest.mark.parametrize("sim", [{"nodes": [{"name": "pve1", "storages": [
    {"id": "local", "type": "dir", "content": ["vztmpl"]},
    {"id": "thick", "type": "lvm", "content": ["rootdir"], "total": 10}]}]}], indirect=True)
async def test_a_thick_lvm_without_room_fails_in_the_task(api):
    status, _, body = await post_ct(api, 200, rootfs="thick:50")
    assert status == 200
    st = await api.wait("pve1", body["data"])
    assert "insufficient free space" in st["exitstatus"], st
    assert st["exitstatus"].startswith("unable to create CT 200 - lvcreate")
    assert 200 not in api.sim.cluster.guests


async def test_a_bare_rootfs_size_is_on_the_storage_parameter(api):
    """create_vm: "allow to use simple numbers (add default storage in that case)"."""
    status, _, body = await post_ct(api, 200, rootfs="8", storage="local-lvm")
    assert status == 200, body
    await api.wait("pve1", body["data"])
    config = await api.ok("GET", "/nodes/pve1/lxc/200/config")
    assert config["rootfs"] == "local-lvm:vm-200-disk-0,size=8G"
    status, _, body = await post_ct(api, 201, rootfs="8")  # 'local' by default: no rootdir
    assert (status, body["errors"]) == (400, {
        "storage": "storage 'local' does not support container directories"})


async def test_smaller_refusals(api):
    status, reason, _ = await post_ct(api, 200, pool="nowhere")  # check_pool_exist
    assert (status, reason) == (403, "Permission check failed (pool 'nowhere' does not exist)")
    status, _, body = await post_ct(api, 200, net01="name=eth0,bridge=vmbr0")
    assert status == 400 and "not defined in schema" in body["errors"]["net01"]
    status, reason, _ = await post_ct(api, 200, **{"ssh-public-keys": "ssh-rsa AAAA nope"})
    assert (status, reason) == (500, "SSH public key validation error")
    status, _, body = await post_ct(api, 200, timezone="Mars/Olympus")
    assert status == 400 and body["errors"] == {
        "timezone": "invalid format - invalid time zone 'Mars/Olympus'"}
    # a hookscript is root@pam's alone (check_ct_modify_config_perm), a token of root too
    status, reason, _ = await post_ct(api, 200, hookscript="local:snippets/hook.pl")
    assert (status, reason) == (403, "Permission check failed (changing the hookscript is "
                                     "only allowed for root@pam)")
    status, reason, _ = await post_ct(api, 200, headers=await as_root(api),
                                      hookscript="local:snippets/hook.pl")
    assert (status, reason) == (500, "script 'local:snippets/hook.pl' does not exist")
    assert 200 not in api.sim.cluster.guests
    status, _, body = await post_ct(api, 200, timezone="Europe/Paris",
                                    **{"ssh-public-keys": ED25519})
    assert status == 200, body


async def test_json_true_is_only_a_boolean(api):
    """A JSON body's true is a JSON::PP::Boolean: PVE::JSONSchema::check_type takes it for a
    boolean only."""
    url = f"{api.sim.base_url}/api2/json/nodes/pve1/lxc"
    payload = {"vmid": 200, "ostemplate": TEMPLATE, "rootfs": "local-lvm:8", "cores": True}
    async with api.session.post(url, headers={**api.headers,
                                              "Content-Type": "application/json"},
                                data=json.dumps(payload)) as r:
        body = await r.json()
    assert r.status == 400
    assert body["errors"] == {"cores": "type check ('integer') failed - got JSON::PP::Boolean"}
    payload.update(cores=2, onboot=True)
    async with api.session.post(url, headers={**api.headers,
                                              "Content-Type": "application/json"},
                                data=json.dumps(payload)) as r:
        assert r.status == 200, await r.text()


async def test_a_path_parameter_given_again_with_another_value(api):
    """PVE::HTTPServer::rest_handler: 400 "duplicate parameter (already defined in URI) with
    conflicting values!"; the same value again is fine."""
    status, _, body = await api.call("GET", "/nodes/pve1/lxc?node=pve2")
    assert status == 400 and body["errors"] == {
        "node": "duplicate parameter (already defined in URI) with conflicting values!"}
    assert (await api.call("GET", "/nodes/pve1/lxc?node=pve1"))[0] == 200


# ---- config updates ------------------------------------------------------------------------

async def test_config_updates(api):
    await api.create(vmid=200, rootfs="local-lvm:8")
    url = "/nodes/pve1/lxc/200/config"
    assert (await api.call("PUT", url, delete="hostname"))[0] == 200  # not a required one
    status, reason, _ = await api.call("PUT", url, delete="memory")
    assert (status, reason) == (500, "unable to delete required option 'memory'")
    status, _, body = await api.call("PUT", url, delete="colour")
    assert (status, body["errors"]) == (400, {"delete": "unknown option 'colour'"})
    status, reason, _ = await api.call("PUT", url, unprivileged=0)
    assert (status, reason) == (500, "unable to modify read-only option: 'unprivileged'")
    status, reason, _ = await api.call("PUT", url)
    assert (status, reason) == (500, "no options specified")
    status, reason, _ = await api.call("PUT", url, rootfs="local:vm-200-disk-0,size=8G")
    assert (status, reason) == (500, "storage 'local' does not allow content type 'rootdir' "
                                     "(Container)")
    api.sim.cluster.set_lock(200, "backup")
    status, reason, _ = await api.call("PUT", url, delete="lock")  # only pct unlock can
    assert (status, reason) == (500, "CT is locked (backup)")
    assert api.sim.cluster.guests[200].lock == "backup"
    assert "hostname" not in api.sim.cluster.guests[200].config


# ---- restore -------------------------------------------------------------------------------

async def backup_on_pve1(api, vmid: int = 200) -> str:
    await api.create(vmid=vmid, hostname="orig", rootfs="local-lvm:8")
    upid = await api.ok("POST", "/nodes/pve1/vzdump", vmid=vmid, storage="local")
    await api.wait("pve1", upid)
    (vol,) = await api.ok("GET", "/nodes/pve1/storage/local/content", content="backup")
    return vol["volid"]


async def test_a_backup_on_local_storage_is_only_on_its_node(api):
    volid = await backup_on_pve1(api)
    assert await api.ok("GET", "/nodes/pve2/storage/local/content", content="backup") == []
    status, _, body = await api.call("POST", "/nodes/pve2/lxc", vmid=300, ostemplate=volid,
                                     restore=1, storage="local-lvm")
    assert status == 200  # the worker reads the archive, on pve2: it is not there
    st = await api.wait("pve2", body["data"])
    assert st["exitstatus"] == f"unable to restore CT 300 - can't find file '{volid}'"
    assert 300 not in api.sim.cluster.guests


async def test_a_restore_that_cannot_read_its_archive_leaves_the_ct_as_it_was(api):
    volid = await backup_on_pve1(api)
    await api.create(vmid=300, node="pve2", hostname="keep", rootfs="local-lvm:4")
    before = dict(api.sim.cluster.guests[300].config)
    upid = await api.ok("POST", "/nodes/pve2/lxc", vmid=300, ostemplate=volid, restore=1,
                        storage="local-lvm", force=1)
    st = await api.wait("pve2", upid)
    assert "can't find file" in st["exitstatus"]
    assert api.sim.cluster.guests[300].config == before  # not destroyed, not locked
    assert "local-lvm:vm-300-disk-0" in api.sim.cluster.nodes["pve2"].storages[
        "local-lvm"].volumes


async def test_restore_checks_come_in_pve_order(api):
    volid = await backup_on_pve1(api)
    await api.create(vmid=300, rootfs="local-lvm:4")
    api.sim.cluster.set_lock(300, "backup")
    # an existing CT without force: check_vmid_unused comes first
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc", vmid=300, ostemplate=volid,
                                       restore=1, storage="local")
    assert (status, reason) == (500, "CT 300 already exists on node 'pve1'")
    # with force: the storage is checked before the lock (create_and_lock_config is last)
    status, _, body = await api.call("POST", "/nodes/pve1/lxc", vmid=300, ostemplate=volid,
                                     restore=1, storage="local", force=1)
    assert status == 400 and "storage" in body["errors"]
    status, reason, _ = await api.call("POST", "/nodes/pve1/lxc", vmid=300, ostemplate=volid,
                                       restore=1, storage="local-lvm", force=1)
    assert (status, reason) == (500, "unable to restore CT 300 - CT is locked (backup)")
