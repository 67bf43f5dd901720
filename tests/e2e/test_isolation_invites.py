"""Issue 15, point 2: invite links, end to end (real PTB app, tgsim, pvesim over HTTPS).

An admin's `/invite` gives a Telegram deep link; opening it sends `/start <token>`, which
registers the opener with the invite's quota, once per person and only as many times as the
invite allows, until it expires or is revoked. Only a hash of the token is stored.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from e2e_harness import APPROVAL_CHAT

from bot.store import Quota

LINK = re.compile(r"https://t\.me/stratus_test_bot\?start=([A-Za-z0-9_-]+)")
NINA, OMAR, PIA = 1771, 1772, 1773


async def make_invite(h, options=""):
    made = await h.ask(h.admin, f"/invite {options}".strip())
    assert made.content.startswith("✅ Invite "), made.content
    invite_id = made.content.split()[2].rstrip(":")
    return invite_id, LINK.search(made.content)[1]


def final(m):
    return m.content.startswith(("✅", "❌"))


async def test_an_invite_registers_a_new_user_with_its_quota_exactly_once(harness):
    h = harness
    store = h.services.store
    invite_id, token = await make_invite(h, "--quota containers=1,cores=2 --uses 1")
    nina = h.tg.user(NINA, "Nina", "nina")
    welcome = await h.ask(nina, f"/start {token}")
    assert welcome.content.startswith("Welcome, Nina!"), welcome.content
    assert "1 containers, 2 cores" in welcome.content, welcome.content
    assert store.users.get(NINA).role == "user" and store.users.get(NINA).name == "@nina"
    assert store.quotas.get(NINA) == Quota(containers=1, cores=2, memory_mb=4096, disk_gb=32)
    told = await h.tg.wait_for(lambda m: "joined with invite" in m.content,
                               chat_id=APPROVAL_CHAT)
    assert f"id {NINA}" in told.content and invite_id in told.content, told.content

    again = await h.ask(nina, f"/start {token}")
    assert "registered already" in again.content, again.content
    assert store.invites.get(invite_id).used_by == [NINA]

    omar = h.tg.user(OMAR, "Omar")
    late = await h.ask(omar, f"/start {token}")
    assert "used as many times as it allows" in late.content, late.content
    assert store.users.get(OMAR) is None

    # the quota is hers: one container, and a second is refused
    made = await h.ask(nina, "/create first --disk 1G", final)
    assert made.content.startswith("✅ CT "), made.content
    refused = await h.ask(nina, "/create second --disk 1G")
    assert "Over your quota" in refused.content, refused.content
    assert "containers: 1 in use + 1 asked = 2 > quota 1" in refused.content, refused.content

    # the store never holds a usable link
    assert token not in Path(h.store_path).read_text()  # noqa: ASYNC240 (a test's check)


async def test_an_invite_for_several_expires_and_is_revoked(harness):
    h = harness
    store = h.services.store
    shared_id, shared = await make_invite(h, "--uses 2 --expires 1h")
    for uid in (NINA, OMAR):
        joined = await h.ask(h.tg.user(uid, f"user{uid}"), f"/start {shared}")
        assert joined.content.startswith("Welcome"), joined.content
        assert store.quotas.get(uid) is None  # no --quota: the default one
    third = await h.ask(h.tg.user(PIA, "Pia"), f"/start {shared}")
    assert "used as many times" in third.content and store.users.get(PIA) is None

    revoked_id, revoked = await make_invite(h)
    answer = await h.ask(h.admin, f"/invite_revoke {revoked_id}")
    assert answer.content.startswith(f"✅ Invite {revoked_id} is revoked"), answer.content
    listed = await h.ask(h.admin, "/invites")
    assert f"{shared_id} · used up · 2/2 used by {NINA}, {OMAR}" in listed.content
    assert f"{revoked_id} · revoked · 0/1 used" in listed.content

    later_id, later = await make_invite(h, "--expires 30m")
    h.services.invites._clock = lambda: time.time() + 3600
    for token, why in ((revoked, "revoked by an admin"), (later, "has expired")):
        newcomer = h.tg.user(PIA + len(why), "Late")
        refused = await h.ask(newcomer, f"/start {token}")
        assert why in refused.content, refused.content
        assert store.users.get(newcomer.id) is None


async def test_a_stranger_without_a_valid_link_is_not_let_in(harness):
    h = harness
    for uid, text, expected in ((NINA, "/start", "not registered"),
                                (OMAR, "/start not-a-token-we-made", "not valid"),
                                (PIA, "/start bad$token", f"your Telegram id is {PIA}")):
        answer = await h.ask(h.tg.user(uid, "Eve"), text)
        assert expected in answer.content, (text, answer.content)
        assert h.services.store.users.get(uid) is None
    user = await h.ask(h.bob, "/invite")  # a user cannot make invites
    assert "admins only" in user.content, user.content
