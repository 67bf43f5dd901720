"""A full session through chat: create, list, info, stop, start, delete with approval."""

from e2e_harness import ADMIN_ID, APPROVAL_CHAT, BOB_ID


def done(m):
    return m.content.startswith(("✅", "❌", "🗑"))


async def test_full_session(harness):
    h, tg = harness, harness.tg
    bob, admin = h.bob, h.admin

    msg = await h.ask(bob, "/create web1 --cores 1 --memory 512M --disk 8G", done)
    assert msg.content.startswith("✅ CT "), msg.content
    vmid = int(msg.content.split()[2])
    assert "web1 is running" in msg.content and "IP DHCP" in msg.content
    assert h.services.store.ownership.owner(vmid) == BOB_ID
    guest = h.sim.cluster.guests[vmid]
    assert guest.config["hostname"] == "web1" and guest.status == "running"

    listing = await h.ask(bob, "/list", lambda m: "container(s)" in m.content)
    assert f"{vmid} web1" in listing.content and "running" in listing.content

    card = await h.ask(bob, "/info web1", lambda m: m.content.startswith(f"CT {vmid}"))
    assert "Node: pve" in card.content and "Owner: 1002" in card.content
    labels = [b.text for b in card.flat_buttons]
    assert "Stop" in labels and "Delete" in labels and "Start" not in labels

    await bob.press(card, "Stop")
    stopped = await tg.wait_for(lambda m: m.message_id == card.message_id and "stopped" in m.content)
    assert stopped.content.startswith("✅")

    start = await h.ask(bob, f"/ct_start {vmid}", done)
    assert "is running" in start.content

    await bob.send(f"/ct_delete {vmid}")
    waiting = await tg.wait_for(lambda m: "Waiting for an admin" in m.content, chat_id=BOB_ID)
    request_id = waiting.content.rsplit(" ", 1)[1].rstrip(".")
    card = await tg.wait_for(lambda m: request_id in m.content, chat_id=APPROVAL_CHAT)
    assert [b.text for b in card.flat_buttons] == ["Approve", "Reject"]
    assert vmid in h.sim.cluster.guests  # nothing happens before the approval

    await admin.press(card, "Approve")
    closed = await tg.wait_for(lambda m: m.message_id == card.message_id and "Approved by" in m.content,
                               chat_id=APPROVAL_CHAT)
    assert not closed.flat_buttons
    deleted = await tg.wait_for(lambda m: m.content.startswith("🗑"), chat_id=BOB_ID)
    assert f"CT {vmid}" in deleted.content
    assert h.services.store.ownership.owner(vmid) is None
    assert vmid not in h.sim.cluster.guests
    entries = h.services.store.audit.recent(50)
    actions = {(e.action, e.outcome) for e in entries}
    assert {("create", "ok"), ("stop", "ok"), ("start", "ok"), ("approve", "approved"),
            ("delete", "ok")} <= actions
    assert any(e.actor_id == ADMIN_ID and e.action == "approve" for e in entries)
