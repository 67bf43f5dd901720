"""Unmodified proxmoxer against pvesim (token, ticket, verify with the CA file); scenarios; CLI."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from proxmoxer import AuthenticationError, ProxmoxAPI
from proxmoxer.core import ResourceException

from pvesim import ScenarioError, Simulator, SimulatorThread, load_scenario

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
TEMPLATE = "local:vztmpl/alpine-3.20-default_20240908_amd64.tar.xz"


def _wait(px, node, upid):
    for _ in range(500):
        st = px.nodes(node).tasks(upid).status.get()
        if st["status"] == "stopped":
            return st
        time.sleep(0.01)
    raise AssertionError("task did not finish")


def test_proxmoxer_token_lifecycle_verifying_the_certificate(simthread):
    sim = simthread
    px = ProxmoxAPI("127.0.0.1", port=sim.port, user="root@pam", token_name="stratus",
                    token_value=sim.token_secret, verify_ssl=str(sim.cert_path), backend="https")
    vmid = int(px.cluster.nextid.get())
    upid = px.nodes("pve2").lxc.post(vmid=vmid, ostemplate=TEMPLATE, rootfs="local-lvm:2",
                                     hostname="alp", start=1)
    assert upid.startswith("UPID:pve2:") and upid.endswith(f":vzcreate:{vmid}:root@pam!stratus:")
    assert _wait(px, "pve2", upid)["exitstatus"] == "OK"
    assert px.nodes("pve2").lxc(vmid).status.current.get()["status"] == "running"
    assert px.nodes("pve2").lxc(vmid).config.get()["ostype"] == "alpine"
    with pytest.raises(ResourceException) as exc:
        px.nodes("pve2").lxc(vmid).status.start.post(debug=True)  # proxmoxer sends "True"
    assert exc.value.status_code == 400
    assert exc.value.errors == {"debug": "type check ('boolean') failed - got 'True'"}
    with pytest.raises(ResourceException) as exc:
        px.nodes("pve2").lxc(vmid).delete()
    assert exc.value.status_code == 500
    assert exc.value.content == f"unable to destroy CT {vmid} - container is running"
    _wait(px, "pve2", px.nodes("pve2").lxc(vmid).status.stop.post())
    _wait(px, "pve2", px.nodes("pve2").lxc(vmid).delete())
    assert vmid not in sim.cluster.guests


def test_proxmoxer_password_login_and_bad_password(simthread):
    sim = simthread
    px = ProxmoxAPI("127.0.0.1", port=sim.port, user=sim.user, password=sim.password,
                    verify_ssl=False, backend="https")
    assert px.access.permissions.get()["/"]["VM.Allocate"] == 1
    with pytest.raises(ResourceException) as exc:
        px.nodes("pve1").lxc(999).config.put(memory=256)  # a write: CSRF sent by proxmoxer
    assert exc.value.status_code == 500  # past auth and CSRF, to the handler
    assert exc.value.content == "Configuration file 'nodes/pve1/lxc/999.conf' does not exist"
    with pytest.raises(AuthenticationError):
        ProxmoxAPI("127.0.0.1", port=sim.port, user=sim.user, password="wrong",
                   verify_ssl=False, backend="https")


def test_scenario_file_toml(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text("""
name = "lab"
templates = ["debian-12-standard_12.7-1_amd64.tar.zst"]
[[nodes]]
name = "alpha"
cpus = 4
memory = 8192
bridges = ["vmbr0", "vmbr1"]
[[nodes]]
name = "beta"
online = false
[[guests]]
vmid = 120
node = "alpha"
status = "running"
hostname = "db"
cores = 2
lock = "backup"
""")
    cluster = load_scenario(path)
    assert list(cluster.nodes) == ["alpha", "beta"] and cluster.name == "lab"
    assert cluster.nodes["alpha"].memory == 8192 << 20 and not cluster.nodes["beta"].online
    guest = cluster.guests[120]
    assert (guest.status, guest.name, guest.cpus, guest.lock) == ("running", "db", 2, "backup")
    assert list(cluster.nodes["alpha"].storages["local"].volumes) == [
        "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"]
    with SimulatorThread(scenario=path) as sim:
        px = ProxmoxAPI("127.0.0.1", port=sim.port, user="root@pam", token_name="stratus",
                        token_value=sim.token_secret, verify_ssl=False, backend="https")
        assert [c["vmid"] for c in px.nodes("alpha").lxc.get()] == [120]
        with pytest.raises(ResourceException) as exc:
            px.nodes("beta").lxc.get()
        assert exc.value.status_code == 595


def test_bad_scenario_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"guests": [{"vmid": 101, "node": "nowhere"}]}')
    with pytest.raises(ScenarioError, match="unknown node 'nowhere'"):
        Simulator(scenario=path)
    path.write_text("{not json")
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(path)


def test_cli_serves_and_prints_url_and_fingerprint():
    proc = subprocess.Popen([sys.executable, "-m", "pvesim", "--port", "0", "--time-scale", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        lines = [proc.stdout.readline() for _ in range(4)]
        assert first.startswith("pvesim serving https://127.0.0.1:")
        assert "fingerprint" in lines[1] and lines[1].count(":") == 31
        url = first.split()[-1]
        port = int(url.split(":")[2].split("/")[0])
        token = lines[2].split("PVEAPIToken=")[1].strip()
        token_id, secret = token.rsplit("=", 1)
        px = ProxmoxAPI("127.0.0.1", port=port, user="root@pam", token_name="stratus",
                        token_value=secret, verify_ssl=False, backend="https")
        assert px.version.get()["release"] == "9.2"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
