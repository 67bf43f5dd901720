"""Issue 15, point 1: tenants isolated on the network by Proxmox's firewall, end to end (real
PTB app, tgsim, pvesim over HTTPS).

Every CT the bot makes gets its firewall on (firewall=1 on its NICs, incoming dropped unless a
rule accepts it), the security group that closes the hosts' management ports, and a rule that
lets its owner's other CTs in (their fixed addresses, in the owner's ipset). /netcheck reads
the rules: a second tenant's CT does not reach the first's, while the owner's CTs reach each
other, until the owner opens a port (/fw_allow). /doctor says whether the datacenter firewall,
without which nothing filters, is on.
"""

from __future__ import annotations

import pytest
from e2e_harness import ADMIN_ID, BOB_ID, CAROL_ID, default_policy

POOL = ("vmbr0", "10.0.2.100", "10.0.2.199")


@pytest.fixture
def policy():
    """Fixed addresses from a pool, and the ports users may open (imported here: the module
    still loads on a bot without a firewall, where its tests fail on what they check)."""
    try:
        from bot.services.firewall import FirewallSettings
    except ImportError:
        return default_policy(network_pools=(POOL,))
    return default_policy(network_pools=(POOL,), firewall=FirewallSettings(
        host_ports="22,8006", user_ports=((80, 80), (443, 443), (1024, 65535))))


def final(m):
    return m.content.startswith(("✅", "❌", "🗑"))


async def make_ct(h, user, name):
    msg = await h.ask(user, f"/create {name} --disk 1G", final)
    assert msg.content.startswith("✅ CT "), msg.content
    return int(msg.content.split()[2])


def ip_of(h, vmid):
    net0 = h.sim.cluster.guests[vmid].config["net0"]
    return next(p[3:].split("/")[0] for p in net0.split(",") if p.startswith("ip="))


def fw_of(h, vmid):
    return h.sim.cluster.firewall.guests[vmid]


def datacenter_firewall(h, on: bool):
    """What an operator does once in Proxmox: Datacenter > Firewall > Options > Firewall."""
    h.sim.cluster.firewall.options["enable"] = int(on)


async def test_every_ct_the_bot_makes_gets_its_owners_isolation(harness):
    h, fw = harness, harness.sim.cluster.firewall
    c1 = await make_ct(h, h.bob, "c1")
    guest = fw_of(h, c1)
    assert guest.options == {"enable": 1, "policy_in": "DROP", "policy_out": "ACCEPT"}
    assert "firewall=1" in h.sim.cluster.guests[c1].config["net0"]
    assert [(r["type"], r["action"], r.get("source"), r["enable"]) for r in guest.rules] == [
        ("group", "stratus-guest", None, 1), ("in", "ACCEPT", f"+stratus-u{BOB_ID}", 1)]
    assert [e["cidr"] for e in fw.ipsets[f"stratus-u{BOB_ID}"]] == [ip_of(h, c1)]
    assert {e["cidr"] for e in fw.ipsets["stratus-hosts"]} == {"10.0.2.15", "10.0.2.16"}
    (closed,) = fw.groups["stratus-guest"]
    assert (closed["type"], closed["action"], closed["dport"], closed["dest"]) == (
        "out", "DROP", "22,8006", "+stratus-hosts")

    # a restored copy is isolated too, and its address joins its owner's ipset
    backup = await h.ask(h.bob, f"/backup {c1}", lambda m: "Backup of CT" in m.content
                         and final(m))
    volid = backup.content.split(": ", 1)[1].split()[0]
    twin = await h.ask(h.bob, f"/restore {volid} --new", final)
    assert twin.content.startswith("✅ CT "), twin.content
    copy = int(twin.content.split()[2])
    assert fw_of(h, copy).options["enable"] == 1 and len(fw_of(h, copy).rules) == 2
    assert {e["cidr"] for e in fw.ipsets[f"stratus-u{BOB_ID}"]} == {ip_of(h, c1),
                                                                     ip_of(h, copy)}


async def test_netcheck_keeps_tenants_apart_and_owners_together(harness):
    h = harness
    datacenter_firewall(h, True)
    c1, c2 = await make_ct(h, h.bob, "c1"), await make_ct(h, h.bob, "c2")
    c3 = await make_ct(h, h.carol, "c3")

    mine = await h.ask(h.bob, "/netcheck c1 c2")
    assert "NOT reachable" not in mine.content and "reachable" in mine.content, mine.content
    assert "firewall lets it through" in mine.content, mine.content
    out = await h.ask(h.bob, "/netcheck c1 host")
    assert "NOT reachable" not in out.content, out.content

    theirs = await h.ask(h.admin, f"/netcheck {c3} {c1}")
    assert "NOT reachable" in theirs.content, theirs.content
    assert f"blocked by c1 (vmid {c1})'s firewall (tenant isolation" in theirs.content
    assert f"/fw_allow {c1} icmp from {c3}" in theirs.content, theirs.content
    # Carol may not even name Bob's CT
    refused = await h.ask(h.carol, f"/netcheck c3 {c1}")
    assert "not yours" in refused.content, refused.content

    opened = await h.ask(h.bob, f"/fw_allow c1 icmp from {ip_of(h, c3)}")
    assert opened.content.startswith("✅"), opened.content
    now = await h.ask(h.admin, f"/netcheck {c3} {c1}")
    assert "NOT reachable" not in now.content, now.content
    assert c2  # c2 stays closed to Carol
    still = await h.ask(h.admin, f"/netcheck {c3} {c2}")
    assert "NOT reachable" in still.content, still.content

    datacenter_firewall(h, False)
    off = await h.ask(h.admin, f"/netcheck {c3} {c2}")
    assert "NOT reachable" not in off.content and "datacenter firewall is off" in off.content


async def test_doctor_says_whether_the_datacenter_firewall_is_on(harness):
    h = harness
    report = await h.ask(h.admin, "/doctor", lambda m: m.content.startswith("Doctor"))
    assert "❌ the datacenter firewall is off" in report.content, report.content
    assert "Datacenter > Firewall > Options" in report.content
    datacenter_firewall(h, True)
    report = await h.ask(h.admin, "/doctor", lambda m: m.content.startswith("Doctor"))
    assert "✅ the datacenter firewall is on" in report.content, report.content


async def test_owners_open_and_close_ports_within_the_admins_choice(harness):
    h = harness
    c1 = await make_ct(h, h.bob, "web")
    refused = await h.ask(h.bob, "/fw_allow web tcp/22")
    assert "You may open only ports 80, 443, 1024-65535" in refused.content, refused.content
    opened = await h.ask(h.bob, "/fw_allow web tcp/80 from 10.0.2.0/24")
    assert opened.content.startswith("✅"), opened.content
    rule = fw_of(h, c1).rules[0]
    assert (rule["type"], rule["action"], rule["proto"], rule["dport"], rule["source"],
            rule["enable"]) == ("in", "ACCEPT", "tcp", "80", "10.0.2.0/24", 1)
    again = await h.ask(h.bob, "/fw_allow web tcp/80 from 10.0.2.0/24")
    assert "already" in again.content, again.content

    listed = await h.ask(h.bob, "/fw web")
    assert "1. accepts tcp/80 from 10.0.2.0/24" in listed.content, listed.content
    assert "2. [Stratus] host management closed to tenants" in listed.content
    assert "datacenter firewall is off" in listed.content
    kept = await h.ask(h.bob, "/fw_del web 3")
    assert "part of Stratus's tenant isolation" in kept.content, kept.content
    assert len(fw_of(h, c1).rules) == 3
    stranger = await h.ask(h.carol, f"/fw_allow {c1} tcp/80")
    assert "not yours" in stranger.content, stranger.content
    closed = await h.ask(h.bob, "/fw_del web 1")
    assert closed.content.startswith("✅ Rule 1"), closed.content
    assert [r["comment"].split(":")[0] for r in fw_of(h, c1).rules] == ["stratus", "stratus"]
    (entry,) = [e for e in h.services.store.audit.recent(50) if e.action == "fw_del"]
    assert entry.actor_id == BOB_ID


async def test_a_deleted_ct_leaves_its_owners_ipset(harness):
    h, fw = harness, harness.sim.cluster.firewall
    first, second = await make_ct(h, h.admin, "a1"), await make_ct(h, h.admin, "a2")
    gone_ip = ip_of(h, second)
    assert {e["cidr"] for e in fw.ipsets[f"stratus-u{ADMIN_ID}"]} == {ip_of(h, first), gone_ip}
    confirm = await h.ask(h.admin, f"/ct_delete {second}", lambda m: "Delete CT" in m.content)
    await h.admin.press(confirm, "Yes, delete")  # a running CT: confirmed first (issue 12)
    deleted = await h.tg.wait_for(final, chat_id=ADMIN_ID)
    assert deleted.content.startswith("🗑"), deleted.content
    assert {e["cidr"] for e in fw.ipsets[f"stratus-u{ADMIN_ID}"]} == {ip_of(h, first)}
    assert CAROL_ID  # Carol's set was never made: she has no CT
    assert f"stratus-u{CAROL_ID}" not in fw.ipsets


async def test_an_address_is_one_tenants_at_a_time(harness):
    """Bob's CT goes outside the bot (its ipset is not told); its address, handed to Carol's
    new CT, leaves Bob's ipset, or Bob's CTs would let hers in."""
    h, fw = harness, harness.sim.cluster.firewall
    bobs = await make_ct(h, h.bob, "bobs")
    address = ip_of(h, bobs)
    guest = h.sim.cluster.guests.pop(bobs)
    h.sim.cluster.drop_disks(guest)
    h.services.store.pools.release("vmbr0", address)  # its lease ran out
    carols = await make_ct(h, h.carol, "carols")
    assert ip_of(h, carols) == address
    assert address not in {e["cidr"] for e in fw.ipsets[f"stratus-u{BOB_ID}"]}
    assert {e["cidr"] for e in fw.ipsets[f"stratus-u{CAROL_ID}"]} == {address}
