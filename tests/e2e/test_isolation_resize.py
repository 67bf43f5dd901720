"""Issue 15, point 4: resizing a container, end to end (real PTB app, tgsim, pvesim over HTTPS).

`/resize <ct> [--cores N] [--memory 2G] [--disk +4G]`: within the quota (what the CT grows by
counts), above the approval thresholds only with an admin's approval bound to the CT's
identity; a disk only grows (Proxmox's PUT .../resize); cores and memory change live on a
running CT, and the bot says when a restart is needed instead.
"""

from __future__ import annotations

from e2e_harness import APPROVAL_CHAT, BOB_ID, CAROL_ID


def final(m):
    return m.content.startswith(("✅", "❌", "🗑"))


async def make_ct(h, user, name, options="--disk 1G"):
    msg = await h.ask(user, f"/create {name} {options}", final)
    assert msg.content.startswith("✅ CT "), msg.content
    return int(msg.content.split()[2])


def sizes(h, vmid):
    guest = h.sim.cluster.guests[vmid]
    return guest.config["cores"], guest.config["memory"], guest.maxdisk >> 30


async def test_a_resize_within_quota_and_thresholds_runs_live(harness):
    h = harness
    vmid = await make_ct(h, h.bob, "grow")
    assert sizes(h, vmid) == (1, 512, 1) and h.sim.cluster.guests[vmid].status == "running"
    done = await h.ask(h.bob, "/resize grow --cores 2 --memory 1G --disk +2G", final)
    assert done.content.startswith(f"✅ CT {vmid} grow is resized"), done.content
    assert "cores 1 → 2, memory 512 → 1024 MiB, disk 1 → 3 GiB" in done.content
    assert "no restart needed" in done.content, done.content
    assert sizes(h, vmid) == (2, 1024, 3)
    assert h.sim.cluster.guests[vmid].status == "running"
    assert any(t.type == "resize" and t.id == str(vmid) for t in h.sim.cluster.tasks.values())
    (entry,) = [e for e in h.services.store.audit.recent(50) if e.action == "resize"]
    assert entry.actor_id == BOB_ID and entry.outcome == "ok"


async def test_a_disk_only_grows_and_a_resize_stays_within_the_quota(harness):
    h = harness
    vmid = await make_ct(h, h.bob, "fixed", "--disk 4G")
    for text, expected in (("/resize fixed --disk 2G", "disk only grows"),
                           ("/resize fixed --disk 4G", "Nothing to change"),
                           ("/resize fixed", "say what to change"),
                           ("/resize fixed --cores 8", "cores: 1 in use + 7 asked = 8 > quota 4"),
                           ("/resize fixed --disk +40G", "disk: 4 GiB in use + 40 GiB asked")):
        refused = await h.ask(h.bob, text)
        assert expected in refused.content, (text, refused.content)
    assert sizes(h, vmid) == (1, 512, 4)
    assert not any(t.type == "resize" for t in h.sim.cluster.tasks.values())


async def test_above_the_thresholds_it_waits_for_an_admin_bound_to_the_ct(harness):
    h, sim = harness, harness.sim
    vmid = await make_ct(h, h.bob, "big")
    await h.ask(h.bob, "/resize big --cores 3", lambda m: "Waiting" in m.content)
    card = await h.tg.wait_for(lambda m: "resize CT" in m.content and m.flat_buttons,
                               chat_id=APPROVAL_CHAT)
    assert "cores 1 → 3" in card.content, card.content
    assert sizes(h, vmid)[0] == 1
    await h.admin.press(card, "Approve")
    done = await h.tg.wait_for(final, chat_id=BOB_ID)
    assert done.content.startswith(f"✅ CT {vmid} big is resized"), done.content
    assert sizes(h, vmid)[0] == 3

    # the request names the CT by identity: a CT that took its vmid since is not resized
    await h.ask(h.bob, "/resize big --cores 4", lambda m: "Waiting" in m.content)
    card = await h.tg.wait_for(lambda m: "cores 3 → 4" in m.content and m.flat_buttons,
                               chat_id=APPROVAL_CHAT)
    guest = sim.cluster.guests.pop(vmid)
    sim.cluster.drop_disks(guest)
    assert await make_ct(h, h.bob, "other") == vmid
    await h.admin.press(card, "Approve")
    told = await h.tg.wait_for(final, chat_id=BOB_ID)
    assert told.content.startswith("❌") and "no longer the container" in told.content
    assert sizes(h, vmid)[0] == 1


async def test_memory_the_ct_uses_is_taken_only_after_a_stop(harness):
    h = harness
    vmid = await make_ct(h, h.bob, "busy", "--memory 1G --disk 1G")
    used = h.sim.cluster.guests[vmid].mem >> 20
    refused = await h.ask(h.bob, f"/resize busy --memory {used // 2}M")
    assert f"uses {used} MiB" in refused.content and "/ct_stop" in refused.content
    assert sizes(h, vmid)[1] == 1024
    await h.ask(h.bob, "/ct_stop busy", final)
    done = await h.ask(h.bob, f"/resize busy --memory {used // 2}M", final)
    assert done.content.startswith("✅") and "starts with its new size" in done.content
    assert sizes(h, vmid)[1] == used // 2


async def test_only_the_owner_resizes_a_shared_ct(harness):
    h = harness
    vmid = await make_ct(h, h.bob, "theirs")
    h.carol.open_chat()
    await h.ask(h.bob, f"/share {vmid} {CAROL_ID} manager", final)
    await h.tg.wait_for(lambda m: "shared CT" in m.content, chat_id=CAROL_ID)
    refused = await h.ask(h.carol, f"/resize {vmid} --cores 2")
    assert "only its owner" in refused.content, refused.content
    assert sizes(h, vmid)[0] == 1
