"""The firewall API as pve-firewall answers it (src/PVE/API2/Firewall/*.pm, src/PVE/Firewall.pm)."""

from __future__ import annotations

CT = "/nodes/pve1/lxc/200/firewall"


async def test_the_datacenter_firewall_is_off_until_enabled(api):
    options = await api.ok("GET", "/cluster/firewall/options")
    assert set(options) == {"digest"}  # nothing set: enable defaults to 0
    status, _, body = await api.call("PUT", "/cluster/firewall/options", enable="yes")
    assert status == 400 and "enable" in body["errors"]
    await api.ok("PUT", "/cluster/firewall/options", enable=1, policy_in="DROP")
    options = await api.ok("GET", "/cluster/firewall/options")
    assert options["enable"] == 1 and options["policy_in"] == "DROP"
    status, reason, _ = await api.call("PUT", "/cluster/firewall/options", enable=0,
                                       digest=options["digest"][::-1])
    assert (status, reason) == (500, "detected modified configuration - file changed by other "
                                     "user? Try again.")
    await api.ok("PUT", "/cluster/firewall/options", delete="policy_in")
    assert "policy_in" not in await api.ok("GET", "/cluster/firewall/options")


async def test_ipsets_hold_addresses_once_and_go_only_when_empty(api):
    await api.ok("POST", "/cluster/firewall/ipset", name="Tenant-1", comment="Bob")
    status, _, body = await api.call("POST", "/cluster/firewall/ipset", name="tenant-1")
    assert status == 400 and body["errors"]["name"] == "IPSet 'tenant-1' already exists"
    assert [s["name"] for s in await api.ok("GET", "/cluster/firewall/ipset")] == ["tenant-1"]
    await api.ok("POST", "/cluster/firewall/ipset/tenant-1", cidr="10.0.2.100/32")
    await api.ok("POST", "/cluster/firewall/ipset/tenant-1", cidr="10.0.3.7/24")
    entries = await api.ok("GET", "/cluster/firewall/ipset/tenant-1")
    assert [e["cidr"] for e in entries] == ["10.0.3.0/24", "10.0.2.100"]  # newest first
    status, _, body = await api.call("POST", "/cluster/firewall/ipset/tenant-1", cidr="10.0.2.100")
    assert body["errors"]["cidr"] == "address '10.0.2.100' already exists"
    status, _, body = await api.call("POST", "/cluster/firewall/ipset/tenant-1", cidr="10.0.2.300")
    assert status == 400 and "cidr" in body["errors"]
    status, reason, _ = await api.call("DELETE", "/cluster/firewall/ipset/tenant-1")
    assert (status, reason) == (500, "IPSet 'tenant-1' is not empty")
    await api.ok("DELETE", "/cluster/firewall/ipset/tenant-1/10.0.2.100")
    status, _, body = await api.call("DELETE", "/cluster/firewall/ipset/tenant-1/10.0.2.100")
    assert body["errors"]["cidr"] == "no such IP/Network"
    await api.ok("DELETE", "/cluster/firewall/ipset/tenant-1", force=1)
    status, reason, _ = await api.call("GET", "/cluster/firewall/ipset/tenant-1")
    assert (status, reason) == (500, "no such IPSet 'tenant-1'")


async def test_rules_are_verified_put_first_and_disabled_unless_enabled(api):
    await api.create(vmid=200)
    status, _, body = await api.call("POST", f"{CT}/rules", type="in", action="ACCEPT",
                                     source="+nope")
    assert status == 400 and body["errors"] == {"source": "no such ipset 'nope'"}
    for bad, error in (({"type": "forward", "action": "ACCEPT"}, "type"),
                       ({"type": "in", "action": "ALLOW"}, "action"),
                       ({"type": "in", "action": "ACCEPT", "dport": "80"}, "proto"),
                       ({"type": "in", "action": "ACCEPT", "proto": "gre", "dport": "80"}, "dport"),
                       ({"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "80:22"},
                        "dport"),
                       ({"type": "in", "action": "ACCEPT", "proto": "warp"}, "proto")):
        status, _, body = await api.call("POST", f"{CT}/rules", **bad)
        assert status == 400 and error in body["errors"], (bad, body)
    await api.ok("POST", "/cluster/firewall/ipset", name="tenant-1")
    await api.ok("POST", f"{CT}/rules", type="in", action="ACCEPT", source="+tenant-1", enable=1)
    await api.ok("POST", f"{CT}/rules", type="in", action="ACCEPT", proto="tcp", dport="80")
    rules = await api.ok("GET", f"{CT}/rules")
    assert [(r["pos"], r.get("dport"), r["enable"]) for r in rules] == [(0, "80", 0),
                                                                         (1, None, 1)]
    await api.ok("DELETE", f"{CT}/rules/0", digest=rules[0]["digest"])
    status, reason, _ = await api.call("DELETE", f"{CT}/rules/5")
    assert (status, reason) == (500, "no rule at position 5")
    await api.ok("PUT", f"{CT}/options", enable=1, policy_in="DROP")
    assert (await api.ok("GET", f"{CT}/options"))["policy_in"] == "DROP"


async def test_a_cts_firewall_goes_with_the_ct(api):
    await api.create(vmid=200)
    await api.ok("PUT", f"{CT}/options", enable=1)
    await api.ok("POST", f"{CT}/rules", type="in", action="DROP", enable=1)
    upid = await api.ok("DELETE", "/nodes/pve1/lxc/200")
    await api.wait("pve1", upid)
    await api.create(vmid=200)  # the vmid handed out again: a CT with no firewall of its own
    assert await api.ok("GET", f"{CT}/rules") == []
    assert set(await api.ok("GET", f"{CT}/options")) == {"digest"}


async def test_security_groups_hold_in_and_out_rules(api):
    await api.ok("POST", "/cluster/firewall/groups", group="stratus-guest")
    await api.ok("POST", "/cluster/firewall/ipset", name="mgmt")
    await api.ok("POST", "/cluster/firewall/groups/stratus-guest", type="out", action="DROP",
                 proto="tcp", dport="22,8006", dest="+mgmt", enable=1)
    status, _, body = await api.call("POST", "/cluster/firewall/groups/stratus-guest",
                                     type="group", action="other")
    assert status == 400 and "type" in body["errors"]
    rules = await api.ok("GET", "/cluster/firewall/groups/stratus-guest")
    assert rules[0]["dport"] == "22,8006" and rules[0]["pos"] == 0
    status, reason, _ = await api.call("GET", "/cluster/firewall/groups/nope")
    assert (status, reason) == (500, "no such security group 'nope'")
    status, _, body = await api.call("POST", "/cluster/firewall/groups", group="a-name-far-too-long")
    assert status == 400 and "group" in body["errors"]
