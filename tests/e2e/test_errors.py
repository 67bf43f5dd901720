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
