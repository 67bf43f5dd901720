"""Issue 15, point 5: sharing a container, end to end (real PTB app, tgsim, pvesim over HTTPS).

`/share <ct> <user> viewer|operator|manager`: a viewer sees it, an operator also powers it, a
manager also backs it up and restores into it; only the owner deletes it (or shares it). The
one policy point decides for every door, from the CT's identity: a share dies with the CT, it
never passes to the CT that takes its vmid. Approvals and the audit name both people.
"""

from __future__ import annotations

import pytest
from e2e_harness import ADMIN_ID, APPROVAL_CHAT, BOB_ID, CAROL_ID

from bot.services.errors import Forbidden
from bot.services.policy import RULES, Policy, Role, Scope, ShareRole


def final(m):
    return m.content.startswith(("✅", "❌", "🗑"))


async def make_ct(h, user, name):
    msg = await h.ask(user, f"/create {name} --disk 1G", final)
    assert msg.content.startswith("✅ CT "), msg.content
    return int(msg.content.split()[2])


async def share(h, vmid, role):
    """Bob shares CT `vmid` with Carol; returns what she is told (waited for: it must not
    be taken for the answer to what she writes next)."""
    h.carol.open_chat()  # as if she had pressed Start: Telegram lets a bot write to her then
    done = await h.ask(h.bob, f"/share {vmid} {CAROL_ID} {role}")
    assert done.content.startswith(f"✅ CT {vmid} "), done.content
    return await h.tg.wait_for(lambda m: f"shared CT {vmid}" in m.content, chat_id=CAROL_ID)


def audit_of(h, action):
    return [e for e in h.services.store.audit.recent(200) if e.action == action]


async def test_a_viewer_sees_a_shared_ct_but_cannot_stop_it(harness):
    h, sim = harness, harness.sim
    vmid = await make_ct(h, h.bob, "shared-web")
    before = await h.ask(h.carol, f"/info {vmid}")
    assert "not yours" in before.content, before.content

    told = await share(h, vmid, "viewer")
    assert "as a viewer" in told.content and "Bob" in told.content, told.content
    card = await h.ask(h.carol, f"/info {vmid}")
    assert card.content.startswith(f"CT {vmid} · shared-web"), card.content
    listed = await h.ask(h.carol, "/list")
    assert f"{vmid} shared-web" in listed.content and f"owner Bob ({BOB_ID})" in listed.content

    refused = await h.ask(h.carol, f"/ct_stop {vmid}")
    assert "shared with you as a viewer" in refused.content, refused.content
    assert "operator" in refused.content, refused.content
    assert sim.cluster.guests[vmid].status == "running"
    # the card's button asks the same policy
    query = await h.carol.press(card, "Stop")
    await h.tg.wait_until(lambda: query in h.tg.answered_callbacks)
    assert "shared with you as a viewer" in h.tg.answered_callbacks[query].text
    assert sim.cluster.guests[vmid].status == "running"


async def test_an_operator_stops_it_and_the_audit_names_both(harness):
    h, sim = harness, harness.sim
    vmid = await make_ct(h, h.bob, "op-web")
    await share(h, vmid, "operator")
    stopped = await h.ask(h.carol, "/ct_stop shared-web-missing")
    assert "No container named" in stopped.content, stopped.content
    stopped = await h.ask(h.carol, "/ct_stop op-web", final)  # by hostname too
    assert stopped.content.startswith(f"✅ CT {vmid} op-web is stopped"), stopped.content
    assert sim.cluster.guests[vmid].status == "stopped"
    (entry,) = [e for e in audit_of(h, "stop") if e.target == f"ct:{vmid}"]
    assert entry.actor_id == CAROL_ID
    assert f"owner {BOB_ID}" in entry.detail and "operator" in entry.detail, entry.detail

    backup = await h.ask(h.carol, f"/backup {vmid}")
    assert "shared with you as an operator" in backup.content, backup.content


async def test_a_manager_backs_up_and_only_the_owner_deletes(harness):
    h, sim = harness, harness.sim
    vmid = await make_ct(h, h.bob, "mgr-web")
    await share(h, vmid, "manager")
    done = await h.ask(h.carol, f"/backup {vmid}", final)
    assert done.content.startswith(f"✅ Backup of CT {vmid} done"), done.content
    volid = done.content.split(": ", 1)[1].split()[0]
    # the backup is the owner's (counted in Bob's quota, listed for him), seen by the manager
    owners = await h.ask(h.bob, f"/backups {vmid}")
    assert volid in owners.content, owners.content
    theirs = await h.ask(h.carol, f"/backups {vmid}")
    assert volid in theirs.content, theirs.content

    # a protected one waits for an admin, and the card names both people
    await h.ask(h.carol, f"/backup {vmid} --protected", lambda m: "Waiting" in m.content)
    card = await h.tg.wait_for(lambda m: "protected backup" in m.content, chat_id=APPROVAL_CHAT)
    assert f"({CAROL_ID})" in card.content and f"owner {BOB_ID}" in card.content, card.content

    for attempt in (f"/ct_delete {vmid}", f"/backup_del {volid}",
                    f"/share {vmid} {BOB_ID} viewer", f"/unshare {vmid} {CAROL_ID}"):
        refused = await h.ask(h.carol, attempt)
        assert refused.content.startswith(("CT ", "There is no backup")), refused.content
        assert ("only its owner" in refused.content
                or "among yours" in refused.content), (attempt, refused.content)
    assert vmid in sim.cluster.guests
    assert any(v.volid == volid for node in sim.cluster.nodes.values()
               for s in node.storages.values() for v in s.volumes.values())


async def test_unsharing_ends_it(harness):
    h, sim = harness, harness.sim
    vmid = await make_ct(h, h.bob, "brief")
    await share(h, vmid, "operator")
    listed = await h.ask(h.bob, "/shares")
    assert f"CT {vmid} brief with {CAROL_ID} as operator" in listed.content, listed.content
    gone = await h.ask(h.bob, f"/unshare brief {CAROL_ID}")
    assert gone.content.startswith("✅") and "no longer shared" in gone.content, gone.content
    await h.tg.wait_for(lambda m: "no longer shared with you" in m.content, chat_id=CAROL_ID)
    refused = await h.ask(h.carol, f"/ct_stop {vmid}")
    assert "not yours" in refused.content, refused.content
    assert sim.cluster.guests[vmid].status == "running"


async def test_a_share_dies_with_the_cts_identity(harness):
    """Deleted outside the bot, its vmid handed out again to another CT of the same owner:
    the new CT is not shared, whatever its number."""
    h, sim = harness, harness.sim
    vmid = await make_ct(h, h.bob, "first")
    await share(h, vmid, "manager")
    guest = sim.cluster.guests.pop(vmid)
    sim.cluster.drop_disks(guest)
    assert await make_ct(h, h.bob, "second") == vmid

    refused = await h.ask(h.carol, f"/ct_stop {vmid}")
    assert "not yours" in refused.content, refused.content
    assert sim.cluster.guests[vmid].status == "running"
    listed = await h.ask(h.carol, "/shares")
    assert "Nothing is shared" in listed.content, listed.content
    assert h.services.store.shares.of_user(CAROL_ID) == []


async def test_a_share_dies_when_the_owner_deletes_the_ct(harness):
    h = harness
    vmid = await make_ct(h, h.admin, "admins")
    await h.ask(h.admin, f"/share {vmid} {CAROL_ID} viewer", final)
    assert h.services.store.shares.of_user(CAROL_ID)
    confirm = await h.ask(h.admin, f"/ct_delete {vmid}", lambda m: "Delete CT" in m.content)
    await h.admin.press(confirm, "Yes, delete")  # a running CT: confirmed first (issue 12)
    deleted = await h.tg.wait_for(lambda m: m.content.startswith(("🗑", "❌")),
                                  chat_id=ADMIN_ID)
    assert deleted.content.startswith("🗑"), deleted.content
    assert h.services.store.shares.of_user(CAROL_ID) == []


async def test_sharing_refuses_what_makes_no_sense(harness):
    h = harness
    vmid = await make_ct(h, h.bob, "solo")
    for text, expected in ((f"/share {vmid} {BOB_ID} viewer", "owns CT"),
                           (f"/share {vmid} 424242 viewer", "not registered"),
                           (f"/share {vmid} {CAROL_ID} boss", "viewer, operator or manager"),
                           (f"/share {vmid} Carol", "missing the role"),
                           (f"/unshare {vmid} {CAROL_ID}", "not shared with")):
        answer = await h.ask(h.bob, text)
        assert expected in answer.content, (text, answer.content)
    by_name = await h.ask(h.bob, f"/share {vmid} carol viewer")  # the name she was granted with
    assert by_name.content.startswith("✅") and str(CAROL_ID) in by_name.content


@pytest.mark.parametrize("use_case", sorted(RULES))
def test_a_share_lets_through_exactly_what_its_rule_says(use_case):
    rule = RULES[use_case]
    for held in ShareRole:
        policy = Policy(lambda uid: Role.USER, lambda uid, identity, held=held: held)
        allowed = rule.scope is not Scope.OWN or (rule.shared is not None and held >= rule.shared)
        if rule.role is Role.ADMIN:
            continue
        try:
            policy.authorize(CAROL_ID, use_case, owner_id=BOB_ID, identity="stratus-0123456789ab")
        except Forbidden as refusal:
            assert not allowed, (use_case, held, str(refusal))
            assert f"shared with you as {held.a}" in str(refusal)
        else:
            assert allowed, (use_case, held)
    # nothing shared: nothing but one's own
    policy = Policy(lambda uid: Role.USER)
    if rule.scope is Scope.OWN and rule.role is Role.USER:
        with pytest.raises(Forbidden, match="not yours"):
            policy.authorize(CAROL_ID, use_case, owner_id=BOB_ID, identity="stratus-0123456789ab")
