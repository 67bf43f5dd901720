"""Bad input and Proxmox's refusals reach the user as clear words, never a traceback."""

import pytest


@pytest.mark.parametrize(("command", "expected"), [
    ("/create", None),  # the guided flow, not an error
    ("/create -bad-", "Usage: /create"),
    ("/create web --memory lots", "Usage: /create"),
    ("/create web --ip 10.0.0.5/24 --dhcp", "Usage: /create"),
    ("/create web --cores 0", "Usage: /create"),
    ('/create "unterminated', "Usage: /create"),
    ("/info", "Usage: /info"),
    ("/info 99999", "99999"),
    ("/ct_start nosuch", "No container named 'nosuch'"),
    ("/frobnicate", "I don't know /frobnicate"),
    ("hello there", "I answer commands"),
])
async def test_bad_input_gets_a_clear_answer(harness, command, expected):
    msg = await harness.ask(harness.bob, command)
    if expected is not None:
        assert expected in msg.content, msg.content
    assert "Traceback" not in msg.content and "Something went wrong" not in msg.content


async def create_outcome(h, text: str) -> str:
    """The final words of the progress message that `text` (an admin's /create) started."""
    name = text.split()[1]
    started = await h.ask(h.admin, text, lambda m: f"Creating {name}:" in m.content)
    final = await h.tg.wait_for(lambda m: m.message_id == started.message_id
                                and m.content.startswith(("✅", "❌")))
    return final.content


async def test_proxmox_refusals_are_explained(harness):
    h = harness
    text = await create_outcome(h, "/create w1 --node pve9")
    assert text == "❌ There is no node 'pve9'; nodes: pve1, pve2."
    text = await create_outcome(h, "/create w2 --template nosuch-os")
    assert text.startswith("❌") and "nosuch-os" in text
    # A task that fails inside Proxmox shows PVE's own error line.
    h.sim.cluster.fail_next_task("vzcreate", "unable to create CT - disk full")
    text = await create_outcome(h, "/create w3")
    assert text.startswith("❌") and "disk full" in text


async def test_a_create_whose_task_never_ends_says_so_and_stays_its_owners(harness, monkeypatch):
    """A create task that never stops used to keep the progress message waiting forever. The
    wait is bounded: the message names the task and where its outcome will show, and the CT
    (which exists in Proxmox and may yet come up) is the asker's meanwhile."""
    from e2e_harness import BOB_ID

    from bot.proxmox import tasks

    monkeypatch.setitem(tasks.TASK_TIMEOUTS_S, "vzcreate", 0.5)
    h = harness
    h.sim.cluster.hold_next_task("vzcreate")
    started = await h.ask(h.bob, "/create slowpoke", lambda m: "Creating slowpoke:" in m.content)
    final = await h.tg.wait_for(lambda m: m.message_id == started.message_id
                                and m.content.startswith(("✅", "❌")), timeout=15)
    upid, task = next((u, t) for u, t in h.sim.cluster.tasks.items() if t.type == "vzcreate")
    assert task.status == "running"
    text = final.content
    assert text.startswith("❌ Proxmox task vzcreate"), text
    # Bob is a user: the UPID's user field (the bot's token id) is hidden from him (issue 10).
    shown_upid = upid.replace(h.sim.token_id, "(hidden)")
    assert f"still running on {task.node}" in text and shown_upid in text and "task log" in text
    assert "Traceback" not in text and "went wrong" not in text
    vmid = int(task.id)
    assert h.services.store.ownership.owner(vmid) == BOB_ID
    h.sim.cluster.release_task(upid)
    await h.tg.wait_until(lambda: task.status == "stopped")
    listing = await h.ask(h.bob, "/list")
    assert f"{vmid} slowpoke" in listing.content, listing.content


async def test_a_create_whose_start_never_ends_still_gives_its_root_password(harness, monkeypatch):
    """The CT exists with the generated password once its create task is done; a start that
    outlasts its wait must not take the only copy of that password with it."""
    from e2e_harness import BOB_ID

    from bot.proxmox import tasks

    monkeypatch.setitem(tasks.TASK_TIMEOUTS_S, "vzstart", 0.5)
    h = harness
    h.sim.cluster.hold_next_task("vzstart")
    started = await h.ask(h.bob, "/create slowstart", lambda m: "Creating slowstart:" in m.content)
    final = await h.tg.wait_for(lambda m: m.message_id == started.message_id
                                and m.content.startswith(("✅", "❌")), timeout=15)
    assert "Proxmox task vzstart" in final.content and "still running" in final.content
    assert "root password was sent to you privately" in final.content, final.content
    secret = await h.tg.wait_for(lambda m: m.content.startswith("Root password of CT"),
                                 chat_id=BOB_ID)
    assert "slowstart" in secret.content
