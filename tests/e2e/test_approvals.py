"""Approvals are decided once: double clicks, two admins, restarts, expiry."""

import asyncio

from e2e_harness import ADMIN_ID, APPROVAL_CHAT, BOB_ID, default_policy, running_bot

from bot.store import Store, User

SECOND_ADMIN = 1009


def hostnames(sim):
    return [g.config.get("hostname") for g in sim.cluster.guests.values()]


async def request_big_create(h, name):
    await h.ask(h.admin, f"/quota {BOB_ID} --cores 16 --memory 16G")
    await h.bob.send(f"/create {name} --cores 4")
    return await h.tg.wait_for(lambda m: f"create {name}" in m.content and m.flat_buttons,
                               chat_id=APPROVAL_CHAT)


async def test_double_click_and_second_admin_run_it_once(sim, tg, tmp_path):
    store_path = tmp_path / "s.json"
    with Store(store_path) as store:
        store.users.put(User(BOB_ID, "user", "Bob"))
    policy = default_policy(admin_ids=(ADMIN_ID, SECOND_ADMIN))
    async with running_bot(sim, tg, store_path, policy) as (services, _app):
        ada, eve = tg.user(ADMIN_ID, "Ada"), tg.user(SECOND_ADMIN, "Eve")
        bob = tg.user(BOB_ID, "Bob")
        await ada.send(f"/quota {BOB_ID} --cores 16 --memory 16G")
        await tg.wait_for(lambda m: "Quota of" in m.content)
        await bob.send("/create twice --cores 4")
        card = await tg.wait_for(lambda m: "create twice" in m.content and m.flat_buttons,
                                 chat_id=APPROVAL_CHAT)
        ids = await asyncio.gather(ada.press(card, "Approve"), ada.press(card, "Approve"),
                                   eve.press(card, "Approve"), eve.press(card, "Reject"))
        await tg.wait_until(lambda: all(i in tg.answered_callbacks for i in ids))
        await tg.wait_for(lambda m: m.content.startswith("✅ CT"), chat_id=BOB_ID)
        await asyncio.sleep(0.3)
        answers = [tg.answered_callbacks[i].text for i in ids]
        assert sum("already" in a for a in answers) == 3, answers
        assert hostnames(sim).count("twice") == 1
        decisions = [e for e in services.store.audit.recent(100)
                     if e.action in ("approve", "reject")]
        assert len(decisions) == 1


async def test_restart_in_between_keeps_the_request_and_runs_it_once(sim, tg, tmp_path):
    store_path = tmp_path / "s.json"
    with Store(store_path) as store:
        store.users.put(User(BOB_ID, "user", "Bob"))
    policy = default_policy()
    ada, bob = tg.user(ADMIN_ID, "Ada"), tg.user(BOB_ID, "Bob")
    async with running_bot(sim, tg, store_path, policy):
        await ada.send(f"/quota {BOB_ID} --cores 16 --memory 16G")
        await tg.wait_for(lambda m: "Quota of" in m.content)
        await bob.send("/create survivor --cores 4")
        card = await tg.wait_for(lambda m: "create survivor" in m.content and m.flat_buttons,
                                 chat_id=APPROVAL_CHAT)
    # The bot is down; a new process reads the same store.
    async with running_bot(sim, tg, store_path, policy) as (services, _app):
        assert [a.summary for a in services.approvals.pending()] == [
            "create survivor: 4 core(s), 512 MiB, 8 GiB, debian-12, vmbr0 DHCP"]
        assert "survivor" not in hostnames(sim)
        approve = await ada.press(card, "Approve")
        await tg.wait_for(lambda m: m.content.startswith("✅ CT") and "survivor" in m.content,
                          chat_id=BOB_ID)
    # The bot stopped before confirming the press; Telegram delivers it again to the next one.
    tg.redeliver(approve)
    async with running_bot(sim, tg, store_path, policy) as (services, _app):
        await tg.wait_until(lambda: tg.updates_delivered and not tg.pending_update_count)
        await asyncio.sleep(0.5)
        assert [e.action for e in services.store.audit.recent(100)].count("approve") == 1
    assert hostnames(sim).count("survivor") == 1


async def test_pending_lists_open_requests(harness):
    card = await request_big_create(harness, "listed")
    listing = await harness.ask(harness.admin, "/pending", lambda m: "listed" in m.content)
    assert [b.text for b in listing.flat_buttons] == ["Approve", "Reject"]
    assert card.message_id != listing.message_id


async def test_requests_expire_and_the_requester_is_told(sim, tg, tmp_path):
    store_path = tmp_path / "s.json"
    with Store(store_path) as store:
        store.users.put(User(BOB_ID, "user", "Bob"))
    policy = default_policy(approval_ttl_s=0.5)
    ada, bob = tg.user(ADMIN_ID, "Ada"), tg.user(BOB_ID, "Bob")
    # First with the expiry job far away: a click after the deadline is refused all the same.
    async with running_bot(sim, tg, store_path, policy, approval_check_s=3600):
        await ada.send(f"/quota {BOB_ID} --cores 16 --memory 16G")
        await tg.wait_for(lambda m: "Quota of" in m.content)
        await bob.send("/create late --cores 4")
        card = await tg.wait_for(lambda m: "create late" in m.content and m.flat_buttons,
                                 chat_id=APPROVAL_CHAT)
        await asyncio.sleep(0.7)
        pressed = await ada.press(card, "Approve")
        await tg.wait_until(lambda: pressed in tg.answered_callbacks)
        assert "already expired" in tg.answered_callbacks[pressed].text
    # Then the job closes the card and tells the requester, once.
    async with running_bot(sim, tg, store_path, policy) as (services, _app):
        told = await tg.wait_for(lambda m: "expired without a decision" in m.content,
                                 chat_id=BOB_ID, timeout=10)
        assert "late" in told.content
        closed = await tg.wait_for(lambda m: m.message_id == card.message_id
                                   and "Expired" in m.content, chat_id=APPROVAL_CHAT)
        assert not closed.flat_buttons
        await asyncio.sleep(0.5)
        assert len([m for m in tg.chat(BOB_ID).messages if "expired" in m.content]) == 1
        assert "late" not in hostnames(sim)
        assert services.store.approvals.pending() == []
