"""Every family of inline buttons refuses a granted user who does not own the thing behind it.

Carol (a granted user) sends callback data naming Bob's container, wizard, approval, restore
confirmation, bridge change or scaling group: a forged press from a modified client, or a press on
a message forwarded to her. Each is refused in the alert, and nothing changes. The table is keyed
by the patterns of bot.commands.BUTTONS, so a new button family without a case fails here.
"""

import re

import pytest
from e2e_harness import BOB_ID

from bot.commands import BUTTONS
from bot.services.backups import RestoreInto
from bot.store.scaling import ScalingGroup


async def bobs_container(h):
    made = await h.ask(h.bob, "/create bobs-box", lambda m: m.content.startswith(("✅", "❌")))
    assert made.content.startswith("✅"), made.content
    return int(made.content.split()[2])


def state(h, vmid):
    guest = h.sim.cluster.guests.get(vmid)
    return guest.status if guest else None


async def case_card(h):
    vmid = await bobs_container(h)
    datas = [f"ct:{vmid}:{a}" for a in ("stop", "reboot", "rm", "rm-yes", "info")]

    def unchanged():
        return state(h, vmid) == "running" and not h.services.approvals.pending()

    return datas, ("not yours",), unchanged


async def case_wizard(h):
    before = set(h.sim.cluster.guests)
    datas = [f"cw:{BOB_ID}:ab12:0:s:0:go", f"cw:{BOB_ID}:ab12:0", f"cw:{BOB_ID}:ab12:x"]
    return datas, ("belongs to someone else",), lambda: set(h.sim.cluster.guests) == before


async def case_approval(h):
    vmid = await bobs_container(h)
    await h.ask(h.bob, f"/ct_delete {vmid}", lambda m: "Waiting" in m.content)
    (approval,) = h.services.approvals.pending()

    def unchanged():
        return (state(h, vmid) == "running"
                and h.services.store.approvals.get(approval.id).status == "pending")

    return [f"ap:{approval.id}:yes", f"ap:{approval.id}:no"], ("admins only",), unchanged


async def case_restore_confirm(h):
    vmid = await bobs_container(h)
    # What /restore --into on a running CT leaves for Bob to confirm (bot.services.backups).
    token = h.services.backups.ask_confirmation(
        BOB_ID, RestoreInto("local:backup/vzdump-lxc-100-x.tar.zst", vmid, None, None))

    def unchanged():
        return state(h, vmid) == "running" and token in h.services.backups._confirmations

    return [f"bk:ri:{token}:yes", f"bk:ri:{token}:no"], ("not valid",), unchanged


async def case_network(h):
    audit = len(h.services.store.audit.recent(1000))
    datas = ["nw:pve1:apply:0123456789ab", "nw:pve1:discard:0123456789ab"]
    return datas, ("admins only",), lambda: len(h.services.store.audit.recent(1000)) == audit


async def case_scaling_group(h):
    h.services.store.scaling.add(ScalingGroup(
        name="bobweb", owner_id=BOB_ID, template_vmid=900, min_replicas=1, max_replicas=2,
        target_cpu=0.6, notify_chat_id=BOB_ID, paused=True))

    def unchanged():
        return (h.services.store.scaling.get("bobweb") is not None
                and not h.services.approvals.pending())

    return ["sg:bobweb:destroy", "sg:bobweb:keep", "sg:bobweb:cancel"], ("No scaling group",), \
        unchanged


CASES = {
    r"^ct:\d+:[a-z-]+(:[0-9a-f]{12})?$": case_card,
    r"^cw:": case_wizard,
    r"^ap:[0-9a-f]+:(yes|no)$": case_approval,
    r"^bk:ri:[0-9a-f]+:(yes|no)$": case_restore_confirm,
    r"^nw:[A-Za-z0-9-]+:(apply|discard):[0-9a-f]{12}$": case_network,
    r"^sg:[a-z0-9-]+:(destroy|keep|cancel)$": case_scaling_group,
}


def test_every_button_family_has_a_case():
    assert set(CASES) == {b.pattern for b in BUTTONS}, "add a case for the new button family"


@pytest.mark.parametrize("pattern", sorted(CASES))
async def test_non_owner_press_is_refused_and_changes_nothing(harness, pattern):
    h, tg = harness, harness.tg
    datas, refusal, unchanged = await CASES[pattern](h)
    assert unchanged()
    # A message of the bot's in Carol's own chat, as a forwarded card or a modified client gives.
    her_message = await h.ask(h.carol, "/help")
    sent_before = len(tg.chat(h.carol.id).messages)
    for data in datas:
        assert re.search(pattern, data), data
        query_id = await h.carol.press_data(her_message, data)
        await tg.wait_until(lambda q=query_id: q in tg.answered_callbacks)
        text = tg.answered_callbacks[query_id].text or ""
        assert any(word in text for word in refusal), (data, text)
    await h.settle(0.3)
    assert unchanged(), pattern
    assert len(tg.chat(h.carol.id).messages) == sent_before  # no progress, no "waiting" message
    assert her_message.content.startswith("What you can do")  # her message was not edited
