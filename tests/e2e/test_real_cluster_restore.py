"""Restores across nodes on a cluster without shared storage (issue 11). A backup on pve1's
'local' storage is a file on pve1: PVE's restore task reads it on the node it runs on
(PVE::LXC::Create::recover_config), so restoring it into a CT on pve2 failed only after the
bot had stopped that CT, which it left stopped. Now every precondition is checked first."""

from __future__ import annotations

from e2e_harness import ADMIN_ID, BOB_ID


def final(m):
    return m.content.startswith(("✅", "❌", "🗑"))


def refused(m):
    return "cannot read" in m.content or final(m)


async def make_ct(h, user, name, node):
    msg = await h.ask(user, f"/create {name} --cores 1 --memory 512M --disk 4G --node {node}",
                      final, timeout=15)
    assert msg.content.startswith("✅ CT "), msg.content
    return int(msg.content.split()[2])


async def backup_volid(h, user, ref) -> str:
    msg = await h.ask(user, f"/backup {ref}", final, timeout=15)
    assert msg.content.startswith("✅"), msg.content
    return msg.content.split("done: ")[1].split()[0]


async def test_restore_into_a_running_ct_on_another_node_is_refused_before_it_is_stopped(
        harness):
    h = harness
    await make_ct(h, h.bob, "orig", "pve1")
    volid = await backup_volid(h, h.bob, "orig")
    target = await make_ct(h, h.bob, "other", "pve2")
    started = await h.ask(h.bob, f"/ct_start {target}", lambda m: "running" in m.content)
    assert "running" in started.content  # ✅ started, or ℹ️ already running (issue 12)
    before = len(h.sim.cluster.tasks)
    answer = await h.ask(h.bob, f"/restore {volid} --into {target}", refused)
    assert "pve1's own storage local" in answer.content and "pve2" in answer.content
    assert f"/restore {volid} --new" in answer.content
    guest = h.sim.cluster.guests[target]
    assert guest.status == "running" and guest.lock is None
    assert len(h.sim.cluster.tasks) == before  # nothing was started in Proxmox
    # an admin (no approval, straight to the work) hears the same, and nothing stops either
    answer = await h.ask(h.admin, f"/restore {volid} --into {target}", refused,
                         chat_id=ADMIN_ID)
    assert "cannot read" in answer.content, answer.content
    assert h.sim.cluster.guests[target].status == "running"


async def test_restore_as_new_on_a_node_without_the_archive_is_refused_first(harness):
    h = harness
    await make_ct(h, h.bob, "orig", "pve1")
    volid = await backup_volid(h, h.bob, "orig")
    count = len(h.sim.cluster.guests)
    answer = await h.ask(h.admin, f"/restore {volid} --new --node pve2", refused,
                         chat_id=ADMIN_ID, timeout=15)
    assert "cannot read" in answer.content, answer.content
    assert len(h.sim.cluster.guests) == count
    # on its own node it works
    answer = await h.ask(h.bob, f"/restore {volid} --new", final, chat_id=BOB_ID, timeout=15)
    assert answer.content.startswith("✅") and "on pve1" in answer.content, answer.content
