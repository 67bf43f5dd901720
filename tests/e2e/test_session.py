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
    assert "Node: pve" in card.content and "Owner: Bob (1002)" in card.content
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


async def test_delete_from_the_card_asks_first_then_waits_for_approval(harness):
    h, tg = harness, harness.tg
    made = await h.ask(h.carol, "/create carols", done)
    vmid = int(made.content.split()[2])
    card = await h.ask(h.carol, f"/info {vmid}", lambda m: m.content.startswith("CT "))
    await h.carol.press(card, "Delete")
    confirm = await tg.wait_for(lambda m: m.message_id == card.message_id
                                and "cannot be undone" in m.content)
    assert [b.text for b in confirm.flat_buttons] == ["Yes, delete", "Cancel"]
    await h.carol.press(confirm, "Yes, delete")
    await tg.wait_for(lambda m: "deletion sent for approval" in m.content)
    request = await tg.wait_for(lambda m: f"delete CT {vmid} carols" in m.content
                                and m.flat_buttons, chat_id=APPROVAL_CHAT)
    await h.admin.press(request, "Approve")
    gone = await tg.wait_for(lambda m: m.content.startswith("🗑"), chat_id=h.carol.id)
    assert gone.content == f"🗑 CT {vmid} carols is deleted."
    assert vmid not in h.sim.cluster.guests


async def test_admin_deletes_from_the_card_without_approval(harness):
    h, tg = harness, harness.tg
    made = await h.ask(h.admin, "/create adas", done)
    vmid = int(made.content.split()[2])
    card = await h.ask(h.admin, f"/info {vmid}", lambda m: m.content.startswith("CT "))
    await h.admin.press(card, "Delete")
    confirm = await tg.wait_for(lambda m: m.message_id == card.message_id
                                and "cannot be undone" in m.content)
    await h.admin.press(confirm, "Yes, delete")
    gone = await tg.wait_for(lambda m: m.message_id == card.message_id
                             and m.content.startswith("🗑"))
    assert f"CT {vmid} adas is deleted" in gone.content
    assert not [m for m in tg.chat(APPROVAL_CHAT).messages if "adas" in m.content]


async def test_a_long_list_arrives_in_several_messages(harness):
    h, tg = harness, harness.tg
    for i in range(120):  # more than one Telegram message can hold in /list's lines
        h.sim.cluster.add_guest(300 + i, "pve1", status="running",
                                hostname=f"a-rather-long-hostname-number-{i:03d}",
                                cores=1, memory=512, rootfs=f"local-lvm:vm-{300 + i}-disk-0,size=8G")
    await h.admin.send("/list")
    last = await tg.wait_for(lambda m: "number-119" in m.content, chat_id=h.admin.id)
    parts = [m for m in tg.chat(h.admin.id).messages if "a-rather-long-hostname" in m.content]
    assert len(parts) >= 2 and all(len(m.content) <= 4096 for m in parts)
    assert sum(m.content.count("a-rather-long-hostname") for m in parts) == 120
    assert last.message_id == parts[-1].message_id  # the end of the list comes last
