"""An approved request whose execution a restart cut short is reported, never re-run silently;
one that was carried out is recorded as such and not reported again."""

import asyncio

from e2e_harness import ADMIN_ID, APPROVAL_CHAT, BOB_ID, default_policy, running_bot

from bot.store import Store, User


async def bobs_delete_request(tg, services, name):
    bob = tg.user(BOB_ID, "Bob")
    await bob.send(f"/create {name}")
    made = await tg.wait_for(lambda m: m.content.startswith("✅ CT") and name in m.content,
                             chat_id=BOB_ID)
    vmid = int(made.content.split()[2])
    await bob.send(f"/ct_delete {vmid}")
    card = await tg.wait_for(lambda m: f"delete CT {vmid}" in m.content and m.flat_buttons,
                             chat_id=APPROVAL_CHAT)
    (approval,) = services.approvals.pending()
    return vmid, card, approval


async def test_approved_but_interrupted_is_reported_not_rerun(sim, tg, tmp_path):
    store_path = tmp_path / "s.json"
    with Store(store_path) as store:
        store.users.put(User(BOB_ID, "user", "Bob"))
    policy = default_policy()
    async with running_bot(sim, tg, store_path, policy) as (services, _app):
        vmid, card, approval = await bobs_delete_request(tg, services, "cut-short")
        # What on_decision stores before it runs the action; the bot dies right then.
        services.approvals.decide(approval.id, True, ADMIN_ID)
    async with running_bot(sim, tg, store_path, policy) as (services, _app):
        told = await tg.wait_for(lambda m: "not carried out" in m.content, chat_id=BOB_ID)
        assert approval.id in told.content and "ask again" in told.content.lower()
        closed = await tg.wait_for(lambda m: m.message_id == card.message_id
                                   and "not carried out" in m.content, chat_id=APPROVAL_CHAT)
        assert not closed.flat_buttons
        assert services.store.approvals.get(approval.id).status == "interrupted"
        # Pressing the old card's Approve again (a stale client) runs nothing either.
        pressed = await tg.user(ADMIN_ID, "Ada").press_data(card, f"ap:{approval.id}:yes")
        await tg.wait_until(lambda: pressed in tg.answered_callbacks)
        assert "already" in tg.answered_callbacks[pressed].text
        await asyncio.sleep(0.3)
    assert vmid in sim.cluster.guests  # never deleted behind anyone's back
    # A further restart does not report it again.
    async with running_bot(sim, tg, store_path, policy):
        await asyncio.sleep(0.5)
    assert len([m for m in tg.chat(BOB_ID).messages if "not carried out" in m.content]) == 1


async def test_carried_out_approval_is_recorded_done_and_not_reported(sim, tg, tmp_path):
    store_path = tmp_path / "s.json"
    with Store(store_path) as store:
        store.users.put(User(BOB_ID, "user", "Bob"))
    policy = default_policy()
    async with running_bot(sim, tg, store_path, policy) as (services, _app):
        vmid, card, approval = await bobs_delete_request(tg, services, "goes-away")
        await tg.user(ADMIN_ID, "Ada").press(card, "Approve")
        await tg.wait_for(lambda m: m.content.startswith("🗑 CT"), chat_id=BOB_ID)
        await tg.wait_until(lambda: services.store.approvals.get(approval.id).status != "approved")
        assert services.store.approvals.get(approval.id).status == "done"
    assert vmid not in sim.cluster.guests
    async with running_bot(sim, tg, store_path, policy):
        await asyncio.sleep(0.5)
    assert not [m for m in tg.chat(BOB_ID).messages if "not carried out" in m.content]


async def test_failed_approved_action_is_recorded_failed(sim, tg, tmp_path):
    store_path = tmp_path / "s.json"
    with Store(store_path) as store:
        store.users.put(User(BOB_ID, "user", "Bob"))
    policy = default_policy()
    async with running_bot(sim, tg, store_path, policy) as (services, _app):
        vmid, card, approval = await bobs_delete_request(tg, services, "vanishes")
        del sim.cluster.guests[vmid]  # gone behind the bot's back: the delete will fail
        await tg.user(ADMIN_ID, "Ada").press(card, "Approve")
        await tg.wait_for(lambda m: m.content.startswith("❌"), chat_id=BOB_ID)
        await tg.wait_until(lambda: services.store.approvals.get(approval.id).status != "approved")
        assert services.store.approvals.get(approval.id).status == "failed"
