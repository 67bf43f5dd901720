"""pvesim's node network (interfaces.new semantics) and SDN endpoints, over real HTTPS."""

from __future__ import annotations

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


async def test_default_node_has_vmbr0_on_the_nat_nic(api):
    ifaces = {i["iface"]: i for i in await api.ok("GET", "/nodes/pve1/network")}
    vmbr0 = ifaces["vmbr0"]
    assert vmbr0["cidr"] == "10.0.2.15/24" and vmbr0["gateway"] == "10.0.2.2"
    assert vmbr0["bridge_ports"] == "enp0s3" and vmbr0["active"] == 1
    assert ifaces["enp0s3"]["type"] == "eth" and ifaces["enp0s8"]["exists"] == 1
    other = {i["iface"]: i for i in await api.ok("GET", "/nodes/pve2/network")}
    assert other["vmbr0"]["cidr"] == "10.0.2.16/24"
    bridges = await api.ok("GET", "/nodes/pve1/network", type="any_bridge")
    assert [b["iface"] for b in bridges] == ["vmbr0"]


async def test_staged_bridge_is_pending_with_a_diff_then_applied(api):
    sim = api.sim
    await api.ok("POST", "/nodes/pve1/network", iface="vmbr1", type="bridge",
                 cidr="10.10.20.1/24", autostart=1, comments="lab net")
    status, _, body = await api.call("GET", "/nodes/pve1/network")
    assert status == 200
    listed = {i["iface"]: i for i in body["data"]}
    assert listed["vmbr1"]["cidr"] == "10.10.20.1/24" and "active" not in listed["vmbr1"]
    assert "+iface vmbr1 inet static" in body["changes"]
    assert "+\taddress 10.10.20.1/24" in body["changes"]
    assert "/etc/network/interfaces.new" in body["changes"]
    assert "vmbr1" not in sim.cluster.nodes["pve1"].bridges
    # a CT on the staged bridge cannot start yet
    st = await api.create(vmid=300, net0="name=eth0,bridge=vmbr1,ip=10.10.20.5/24")
    assert st["exitstatus"] == "OK"
    upid = await api.ok("POST", "/nodes/pve1/lxc/300/status/start")
    assert (await api.wait("pve1", upid))["exitstatus"] == "bridge 'vmbr1' does not exist"

    upid = await api.ok("PUT", "/nodes/pve1/network")
    assert upid.split(":")[5:7] == ["srvreload", "networking"]
    assert (await api.wait("pve1", upid))["exitstatus"] == "OK"
    _, _, body = await api.call("GET", "/nodes/pve1/network")
    assert "changes" not in body
    assert {i["iface"]: i for i in body["data"]}["vmbr1"]["active"] == 1
    upid = await api.ok("POST", "/nodes/pve1/lxc/300/status/start")
    assert (await api.wait("pve1", upid))["exitstatus"] == "OK"


async def test_revert_drops_pending_changes(api):
    await api.ok("POST", "/nodes/pve1/network", iface="vmbr2", type="bridge")
    await api.ok("DELETE", "/nodes/pve1/network")
    _, _, body = await api.call("GET", "/nodes/pve1/network")
    assert "changes" not in body and "vmbr2" not in {i["iface"] for i in body["data"]}


async def test_duplicate_iface_and_second_gateway_are_400(api):
    status, reason, body = await api.call("POST", "/nodes/pve1/network", iface="vmbr0",
                                          type="bridge")
    assert (status, reason) == (400, "Parameter verification failed.")
    assert body["errors"] == {"iface": "interface already exists"}
    status, _, body = await api.call("POST", "/nodes/pve1/network", iface="vmbr3", type="bridge",
                                     cidr="10.9.0.1/24", gateway="10.9.0.254")
    assert status == 400 and "already exists on interface 'vmbr0'" in body["errors"]["gateway"]
    status, _, body = await api.call("POST", "/nodes/pve1/network", iface="1bad", type="bridge")
    assert status == 400 and "invalid network interface name" in body["errors"]["iface"]


async def test_update_and_delete_iface_are_staged(api):
    await api.ok("PUT", "/nodes/pve1/network/vmbr0", type="bridge", comments="uplink")
    assert (await api.ok("GET", "/nodes/pve1/network/vmbr0"))["comments"] == "uplink"
    await api.ok("DELETE", "/nodes/pve1/network/enp0s8")
    _, _, body = await api.call("GET", "/nodes/pve1/network")
    assert "-iface enp0s8 inet manual" in body["changes"]
    status, _, body = await api.call("GET", "/nodes/pve1/network/vmbr9")
    assert status == 400 and body["errors"] == {"iface": "interface does not exist"}


async def test_network_needs_sys_modify(api):
    token_id, secret = api.sim.add_token("audit", {"Sys.Audit"})
    headers = {"Authorization": f"PVEAPIToken={token_id}={secret}"}
    status, _, _ = await api.call("GET", "/nodes/pve1/network", headers=headers)
    assert status == 200
    status, reason, _ = await api.call("POST", "/nodes/pve1/network", headers=headers,
                                       iface="vmbr5", type="bridge")
    assert status == 403 and reason == "Permission check failed (/nodes/pve1, Sys.Modify)"


async def _natnet(api, zone="natz", vnet="natnet", cidr="10.20.0.0/24", gw="10.20.0.1"):
    await api.ok("POST", "/cluster/sdn/zones", zone=zone, type="simple", ipam="pve")
    await api.ok("POST", "/cluster/sdn/vnets", vnet=vnet, zone=zone)
    await api.ok("POST", f"/cluster/sdn/vnets/{vnet}/subnets", subnet=cidr, type="subnet",
                 gateway=gw, snat=1)


async def test_sdn_objects_pending_until_applied(api):
    sim = api.sim
    await _natnet(api)
    assert await api.ok("GET", "/cluster/sdn/vnets", running=1) == []
    pending = await api.ok("GET", "/cluster/sdn/vnets", pending=1)
    assert pending == [{"vnet": "natnet", "type": "vnet", "state": "new",
                        "pending": {"zone": "natz"}}] or pending[0]["state"] == "new"
    subnets = await api.ok("GET", "/cluster/sdn/vnets/natnet/subnets")
    assert subnets[0]["subnet"] == "natz-10.20.0.0-24" and subnets[0]["snat"] == 1
    assert subnets[0]["cidr"] == "10.20.0.0/24" and subnets[0]["gateway"] == "10.20.0.1"
    one = await api.ok("GET", "/cluster/sdn/vnets/natnet/subnets/natz-10.20.0.0-24")
    assert one["vnet"] == "natnet"

    st = await api.create(vmid=301, net0="name=eth0,bridge=natnet,ip=10.20.0.5/24,gw=10.20.0.1")
    assert st["exitstatus"] == "OK"
    upid = await api.ok("POST", "/nodes/pve1/lxc/301/status/start")
    assert (await api.wait("pve1", upid))["exitstatus"] == "bridge 'natnet' does not exist"

    upid = await api.ok("PUT", "/cluster/sdn")
    assert upid.split(":")[5] == "reloadnetworkall"
    assert (await api.wait(upid.split(":")[1], upid))["exitstatus"] == "OK"
    assert [v["vnet"] for v in await api.ok("GET", "/cluster/sdn/vnets", running=1)] == ["natnet"]
    assert "state" not in (await api.ok("GET", "/cluster/sdn/zones", pending=1))[0]
    assert "natnet" in sim.cluster.nodes["pve2"].bridges
    upid = await api.ok("POST", "/nodes/pve1/lxc/301/status/start")
    assert (await api.wait("pve1", upid))["exitstatus"] == "OK"

    await api.ok("PUT", "/cluster/sdn/vnets/natnet/subnets/natz-10.20.0.0-24", snat=0)
    changed = (await api.ok("GET", "/cluster/sdn/vnets/natnet/subnets", pending=1))[0]
    assert changed["state"] == "changed" and changed["pending"] == {"snat": 0}


async def test_sdn_validation(api):
    status, _, body = await api.call("POST", "/cluster/sdn/zones", zone="a", type="simple")
    assert status == 400 and "zone" in body["errors"]
    status, _, body = await api.call("POST", "/cluster/sdn/vnets", vnet="bad-name", zone="x")
    assert status == 400 and body["errors"]["vnet"] == "value does not match the regex pattern"
    status, _, body = await api.call("POST", "/cluster/sdn/vnets", vnet="nowhere", zone="nozone")
    assert status == 400 and "does not exist" in body["errors"]["zone"]
    await _natnet(api)
    status, reason, _ = await api.call("POST", "/cluster/sdn/zones", zone="natz", type="simple")
    assert status == 500 and "already defined" in reason
    status, _, body = await api.call("POST", "/cluster/sdn/vnets/natnet/subnets",
                                     subnet="10.30.0.0/24", type="subnet", gateway="10.31.0.1")
    assert status == 400 and "not in subnet" in body["errors"]["gateway"]
    status, reason, _ = await api.call("DELETE", "/cluster/sdn/zones/natz")
    assert status == 500 and "vnet 'natnet'" in reason


async def test_loopback_is_not_listed_and_a_port_serves_one_bridge(api):
    """Real PVE: the index drops `lo`; a port already in another iface's bridge_ports is a 400
    (`$check_duplicate_ports` in PVE::API2::Network), on create and on update."""
    listed = {i["iface"] for i in await api.ok("GET", "/nodes/pve1/network")}
    assert "lo" not in listed and {"vmbr0", "enp0s3", "enp0s8"} <= listed
    status, reason, body = await api.call("POST", "/nodes/pve1/network", iface="vmbr1",
                                          type="bridge", bridge_ports="enp0s8 enp0s3")
    assert (status, reason) == (400, "Parameter verification failed.")
    assert body["errors"] == {"bridge_ports": "enp0s3 is already used on interface 'vmbr0'."}
    await api.ok("POST", "/nodes/pve1/network", iface="vmbr1", type="bridge",
                 bridge_ports="enp0s8")
    status, _, body = await api.call("PUT", "/nodes/pve1/network/vmbr0", type="bridge",
                                     bridge_ports="enp0s8")
    assert status == 400
    assert body["errors"] == {"bridge_ports": "enp0s8 is already used on interface 'vmbr1'."}
    await api.ok("PUT", "/nodes/pve1/network/vmbr1", type="bridge", bridge_ports="enp0s8")


async def test_fail_next_request_answers_once_and_changes_nothing(api):
    """`Cluster.fail_next_request`: the next matching request (path as sent or route template)
    gets the status and reason, after its parameters pass; the one after it works."""
    sim = api.sim
    await api.ok("POST", "/cluster/sdn/zones", zone="natz", type="simple", ipam="pve")
    await api.ok("POST", "/cluster/sdn/vnets", vnet="natnet", zone="natz")
    sim.cluster.fail_next_request("POST", "/cluster/sdn/vnets/{vnet}/subnets",
                                  "cfs-lock 'file-sdn_cfg' error: got lock request timeout")
    status, _, body = await api.call("POST", "/cluster/sdn/vnets/natnet/subnets",
                                     subnet="10.30.0.0/24", type="subnet", snat="maybe")
    assert status == 400 and "snat" in body["errors"]  # the parameters' check comes first
    status, reason, _ = await api.call("POST", "/cluster/sdn/vnets/natnet/subnets",
                                       subnet="10.30.0.0/24", type="subnet", gateway="10.30.0.1")
    assert (status, reason) == (500, "cfs-lock 'file-sdn_cfg' error: got lock request timeout")
    assert sim.cluster.sdn["subnets"] == {}
    sim.cluster.fail_next_request("delete", "/cluster/sdn/vnets/natnet", "no", status=503)
    await api.ok("GET", "/cluster/sdn/vnets/natnet")  # another method: untouched
    status, _, _ = await api.call("DELETE", "/cluster/sdn/vnets/natnet")
    assert status == 503 and "natnet" in sim.cluster.sdn["vnets"]
    await api.ok("POST", "/cluster/sdn/vnets/natnet/subnets", subnet="10.30.0.0/24",
                 type="subnet", gateway="10.30.0.1")
    assert sim.cluster.request_failures == []
