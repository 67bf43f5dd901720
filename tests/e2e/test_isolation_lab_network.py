"""The lab's network in the product's model (issue 12, point 1).

Proxmox sits where the lab puts it: a VirtualBox VM behind NAT (pve1 10.0.2.15 on vmbr0, the NAT
router 10.0.2.2 leading to the PC, the PC reaching the VM only through port forwards). What the
API cannot show (NAT, forwarding, masquerading, port forwards) is declared: in the settings as
initial values, and by an admin from the chat with /netfacts (stored, audited), under the same
names; /netcheck's advice names the /netfacts command that declares each missing piece.
"""

from __future__ import annotations

import asyncio
import io
import re

import pytest
from e2e_harness import ADMIN_ID, BOB_ID, default_policy

from bot.demo import run_demo
from bot.runtime import build_services
from bot.services.netcheck import Facts, PortForward
from bot.settings import Settings

NAT = Facts(pc_reachable_via=(("pve1", "vmbr0"), ("pve2", "vmbr0")),
            nat_port_forwards=(PortForward("pve1", 8006, 8006),))
POOLS = (("vmbr0", "10.0.2.100", "10.0.2.199"),)


@pytest.fixture
def policy():
    return default_policy(network_facts=NAT, network_pools=POOLS)


def done(m):
    return m.content.startswith(("✅", "❌"))


async def netcheck(h, user, a, b):
    msg = await h.ask(user, f"/netcheck {a} {b}", lambda m: m.content.startswith(f"{a} -> "))
    return msg.content


async def test_netfacts_shows_the_settings_under_their_names(harness):
    h = harness
    shown = await h.ask(h.admin, "/netfacts", lambda m: m.content.startswith("Network facts"))
    text = shown.content
    assert "pc_via = pve1:vmbr0, pve2:vmbr0   (the setting STRATUS_NETWORK_PC_VIA)" in text
    assert "port_forwards = pve1:8006->8006   (the setting STRATUS_NETWORK_PORT_FORWARDS)" \
        in text
    assert "forwarding = none" in text and "masquerade = none" in text
    for name in ("pc_via", "forwarding", "masquerade", "port_forwards", "dhcp", "vbox_vm"):
        assert f"\n{name} = " in text, name
    refused = await h.ask(h.bob, "/netfacts add forwarding pve1")
    assert "admins only" in refused.content
    assert h.services.network.facts.forwarding_nodes == frozenset()


async def test_an_admin_declares_a_fact_it_is_stored_audited_and_survives_a_restart(harness):
    h = harness
    made = await h.ask(h.admin, "/netfacts add forwarding pve1")
    assert made.content.startswith("✅ forwarding = pve1   (set from the chat by"), made.content
    await h.ask(h.admin, "/netfacts add port_forwards pve1:2222->22 pve1:2201->10.0.2.100:22")
    shown = await h.ask(h.admin, "/netfacts", lambda m: m.content.startswith("Network facts"))
    assert "port_forwards = pve1:2201->10.0.2.100:22, pve1:2222->22, pve1:8006->8006" \
        in shown.content
    audit = await h.ask(h.admin, "/audit 2")
    assert "netfacts fact:port_forwards · ok · add pve1:2222->22 pve1:2201->10.0.2.100:22" \
        in audit.content
    assert "netfacts fact:forwarding · ok · add pve1 -> pve1" in audit.content
    # services built anew on the same store and settings (as at a restart): the chat's values
    # hold (one store per data folder: the running bot's)
    store = h.services.store
    stored = store.netfacts.all()
    assert stored["forwarding"]["items"] == ["pve1"] and stored["forwarding"]["by"] == ADMIN_ID
    again = build_services(h.services.px, store, default_policy(network_facts=NAT))
    assert again.network.facts.forwarding_nodes == frozenset({"pve1"})
    assert PortForward("pve1", 2222, 22) in again.network.facts.nat_port_forwards


async def test_del_set_and_reset(harness):
    h = harness
    gone = await h.ask(h.admin, "/netfacts del pc_via pve2:vmbr0")
    assert gone.content.startswith("✅ pc_via = pve1:vmbr0   (set from the chat"), gone.content
    missing = await h.ask(h.admin, "/netfacts del pc_via pve2:vmbr0")
    assert "pc_via has no pve2:vmbr0; it holds: pve1:vmbr0." in missing.content
    emptied = await h.ask(h.admin, "/netfacts set pc_via none")
    assert emptied.content.startswith("✅ pc_via = none"), emptied.content
    assert h.services.network.facts.pc_reachable_via == ()
    back = await h.ask(h.admin, "/netfacts reset pc_via")
    assert "pc_via = pve1:vmbr0, pve2:vmbr0   (the setting STRATUS_NETWORK_PC_VIA)" \
        in back.content
    vm = await h.ask(h.admin, "/netfacts set vbox_vm lab-pve")
    assert vm.content.startswith("✅ vbox_vm = lab-pve"), vm.content


@pytest.mark.parametrize("text, expected", [
    ("/netfacts add forwarding pve3", "pve3 is not an online node of the cluster (online: "
                                      "pve1, pve2)"),
    ("/netfacts add masquerade pve1:vmbr1:vmbr0", "pve1 has no bridge vmbr1 (its bridges: "
                                                  "vmbr0)"),
    ("/netfacts add pc_via pve1", "pc_via: 'pve1' is not NODE:BRIDGE"),
    ("/netfacts add port_forwards pve1:8006", "port_forwards: 'pve1:8006' is not a port forward"),
    ("/netfacts add nat pve1", "'nat' is not a network fact; the facts are: pc_via, "
                               "forwarding, masquerade, port_forwards, dhcp, vbox_vm"),
    ("/netfacts drop forwarding pve1", "'drop' is not add, del, set or reset"),
    ("/netfacts add forwarding", "add forwarding needs at least one item, e.g. pve1"),
    ("/netfacts set vbox_vm a b", "vbox_vm holds one value, not 2"),
])
async def test_bad_facts_are_refused_with_what_to_write(harness, text, expected):
    h = harness
    answer = await h.ask(h.admin, text)
    assert expected in answer.content, answer.content
    assert h.services.store.netfacts.all() == {}


async def test_netcheck_advice_names_the_netfacts_command_that_fixes_it(harness):
    """C2 on a host-only vmbr1: the advice is the exact /netfacts command; run as written, it
    makes the pair reachable."""
    h = harness
    staged = await h.ask(h.admin, "/bridge_add vmbr1 10.10.20.1/24 --node pve1 "
                                  "--pool 10.10.20.10-10.10.20.20", lambda m: "Staged" in m.content)
    await h.admin.press(staged, "Apply")
    await h.tg.wait_for(lambda m: m.message_id == staged.message_id and "applied" in m.content,
                        chat_id=ADMIN_ID)
    c2 = await h.ask(h.bob, "/create c2 --bridge vmbr1", done, timeout=15)
    assert c2.content.startswith("✅"), c2.content
    verdict = await netcheck(h, h.bob, "c2", "pc")
    assert "NOT reachable" in verdict
    fix = re.search(r"/netfacts add masquerade \S+", verdict).group()
    assert fix == "/netfacts add masquerade pve1:vmbr1:vmbr0", verdict
    assert "declare it in Stratus's network facts" not in verdict
    await h.ask(h.admin, fix, done)
    assert "c2 -> pc: reachable" in await netcheck(h, h.bob, "c2", "pc")


async def test_undeclared_pc_side_and_port_forward_name_their_commands(harness):
    h = harness
    await h.ask(h.admin, "/netfacts set pc_via none", done)
    await h.ask(h.admin, "/netfacts set port_forwards none", done)
    out = await netcheck(h, h.admin, "host", "pc")
    assert "declare the bridge whose uplink leads to it: /netfacts add pc_via pve1:vmbr0" in out
    inbound = await netcheck(h, h.admin, "pc", "host")
    assert "then declare them: /netfacts add port_forwards pve1:8006->8006" in inbound
    await h.ask(h.admin, "/netfacts add pc_via pve1:vmbr0", done)
    await h.ask(h.admin, "/netfacts add port_forwards pve1:8006->8006", done)
    assert "host -> pc: reachable" in await netcheck(h, h.admin, "host", "pc")
    assert "pc -> host: reachable" in await netcheck(h, h.admin, "pc", "host")


async def test_doctor_checks_the_nat_forward_stratus_comes_through(harness):
    """The bot reaches pvesim on 127.0.0.1:<port>: behind the lab's NAT, that is the PC's end
    of a port forward to the node's 8006, which must be declared."""
    h = harness
    port = h.sim.port
    h.sim.cluster.firewall.options["enable"] = 1  # set up as the README says (issue 15)
    report = await h.ask(h.admin, "/doctor", lambda m: m.content.startswith("Doctor:"))
    assert f"❌ Proxmox answers at 127.0.0.1:{port}" in report.content
    assert f"/netfacts add port_forwards pve1:{port}->8006" in report.content
    await h.ask(h.admin, f"/netfacts add port_forwards pve1:{port}->8006", done)
    report = await h.ask(h.admin, "/doctor", lambda m: m.content.startswith("Doctor:"))
    assert "❌" not in report.content, report.content
    assert f"✅ the PC reaches pve1's API through the NAT port forward {port}->8006" \
        in report.content


def test_the_dhcp_fact_is_a_setting_too():
    env = {"STRATUS_TELEGRAM_TOKEN": "1:x", "STRATUS_PROXMOX_HOST": "127.0.0.1",
           "STRATUS_PROXMOX_TOKEN_ID": "root@pam!s", "STRATUS_PROXMOX_TOKEN_SECRET": "s",
           "STRATUS_ADMIN_IDS": "1", "STRATUS_APPROVAL_CHAT_ID": "1",
           "STRATUS_NETWORK_DHCP": "pve1:vmbr0"}
    assert Settings.load(env).network_facts.dhcp_bridges == (("pve1", "vmbr0"),)


DEMO_SCRIPT = """\
/create c1
:wait is running
/netcheck c1 host
/netcheck c1 pc
:user ada
/doctor
/netcheck pc host
:quit
"""


async def test_the_demo_host_sits_behind_the_labs_nat_and_c1_reaches_host_and_pc():
    out = io.StringIO()
    await asyncio.wait_for(run_demo(stdin=io.StringIO(DEMO_SCRIPT), stdout=out, time_scale=0.0),
                           60)
    text = out.getvalue()
    assert re.search(r"✅ CT 100 c1 is running on pve1, IP 10\.0\.2\.100\.", text), text
    assert "c1 -> host: reachable" in text and "pve1 10.0.2.15 on vmbr0" in text
    assert "c1 -> pc: reachable" in text and "gateway 10.0.2.2" in text
    assert "✅ the PC reaches pve1's API through the NAT port forward" in text
    assert "pc -> host: reachable" in text and "->8006) -> pve1" in text
    assert "❌" not in text and "Traceback" not in text
    assert BOB_ID  # the demo's Bob is the tests' Bob
