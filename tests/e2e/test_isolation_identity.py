"""Objects are bound by identity, not by number (issue 10, defects 2-4).

Proxmox hands a freed vmid out again. A request, a card, an ownership record or a group
membership made for the CT that held a vmid must never act on, or hand over, whatever holds
that vmid later: each names the CT by the marker the bot set in its create/clone/restore call.
"""

import pytest
from e2e_harness import (
    ADMIN_ID,
    APPROVAL_CHAT,
    BOB_ID,
    CAROL_ID,
    Harness,
    default_policy,
    running_bot,
)

from bot.services.scaling import ScalingSettings
from bot.store import Store, User


@pytest.fixture
def policy():
    return default_policy(scaling=ScalingSettings(warmup_s=0, run_job=False, ready_delay_s=30))


def done(m):
    return m.content.startswith(("✅", "❌", "🗑"))


async def create(h, user, name):
    made = await h.ask(user, f"/create {name}", done)
    assert made.content.startswith("✅"), made.content
    return int(made.content.split()[2])


def delete_outside_the_bot(sim, vmid):
    """As an admin in the Proxmox GUI would: the CT and its disks go, its vmid is free."""
    guest = sim.cluster.guests.pop(vmid)
    sim.cluster.drop_disks(guest)


async def test_an_approved_delete_does_not_destroy_the_ct_that_took_the_vmid_since(harness):
    h, sim = harness, harness.sim
    alpha = await create(h, h.bob, "alpha")
    await h.ask(h.bob, f"/ct_delete {alpha}", lambda m: "Waiting" in m.content)
    card = await h.tg.wait_for(lambda m: "delete CT" in m.content and m.flat_buttons,
                               chat_id=APPROVAL_CHAT)
    delete_outside_the_bot(sim, alpha)
    beta = await create(h, h.bob, "beta")
    assert beta == alpha  # Proxmox handed the number out again

    await h.admin.press(card, "Approve")
    told = await h.tg.wait_for(lambda m: m.content.startswith(("❌", "🗑")), chat_id=BOB_ID)
    assert told.content.startswith("❌"), told.content
    assert "no longer the container this request was about" in told.content
    assert sim.cluster.guests[beta].config["hostname"] == "beta"


async def test_a_card_left_over_from_a_replaced_ct_acts_on_nothing(harness):
    h, sim = harness, harness.sim
    alpha = await create(h, h.bob, "alpha")
    card = await h.ask(h.bob, f"/info {alpha}", lambda m: bool(m.flat_buttons))
    delete_outside_the_bot(sim, alpha)
    assert await create(h, h.bob, "beta") == alpha
    query = await h.bob.press(card, "Stop")
    await h.tg.wait_until(lambda: query in h.tg.answered_callbacks)
    assert "no longer the container" in h.tg.answered_callbacks[query].text
    assert sim.cluster.guests[alpha].status == "running"


async def test_an_approved_restore_into_does_not_overwrite_the_ct_that_took_the_vmid(harness):
    h, sim = harness, harness.sim
    alpha = await create(h, h.bob, "alpha")
    backup = await h.ask(h.bob, f"/backup {alpha}", lambda m: "Backup of CT" in m.content
                         and m.content.startswith(("✅", "❌")))
    volid = backup.content.split(": ", 1)[1].split()[0]
    await h.ask(h.bob, f"/ct_stop {alpha}", done)
    await h.ask(h.bob, f"/restore {volid} --into {alpha}", lambda m: "Waiting" in m.content)
    card = await h.tg.wait_for(lambda m: "restore" in m.content and m.flat_buttons,
                               chat_id=APPROVAL_CHAT)
    delete_outside_the_bot(sim, alpha)
    assert await create(h, h.bob, "beta") == alpha
    await h.admin.press(card, "Approve")
    told = await h.tg.wait_for(lambda m: m.content.startswith("❌"), chat_id=BOB_ID)
    assert "no longer the container this request was about" in told.content
    assert sim.cluster.guests[alpha].config["hostname"] == "beta"


async def test_ownership_ends_with_the_ct_not_with_the_number(harness):
    h, sim = harness, harness.sim
    alpha = await create(h, h.bob, "alpha")
    delete_outside_the_bot(sim, alpha)
    # Someone makes a CT outside the bot; Proxmox gives it the free number.
    sim.cluster.add_guest(alpha, "pve1", status="running", hostname="payroll")
    stop = await h.ask(h.bob, f"/ct_stop {alpha}")
    assert "not yours" in stop.content, stop.content
    assert sim.cluster.guests[alpha].status == "running"
    listing = await h.ask(h.bob, "/list")
    assert "payroll" not in listing.content
    # Its backups are not Bob's either.
    made = await h.ask(h.admin, f"/backup {alpha}", lambda m: m.content.startswith(("✅", "❌"))
                       and "Backup of CT" in m.content)
    volid = made.content.split(": ", 1)[1].split()[0]
    restore = await h.ask(h.bob, f"/restore {volid} --new", lambda m: "not yours" in m.content
                          or m.content.startswith(("✅", "❌")))
    assert "not yours" in restore.content, restore.content
    theirs = await h.ask(h.bob, "/backups")
    assert volid not in theirs.content
    assert h.services.store.ownership.owner(alpha) is None


async def test_a_ct_replaced_while_the_bot_was_down_is_forgotten_at_start(sim, tg, tmp_path,
                                                                          policy):
    store_path = tmp_path / "s.json"
    with Store(store_path) as store:
        store.users.put(User(BOB_ID, "user", "Bob"))
    async with running_bot(sim, tg, store_path, policy) as (services, app):
        h = Harness(sim, tg, services, app, str(store_path))
        alpha = await create(h, h.bob, "alpha")
    # The bot is down; the CT is deleted and its number given to another one.
    delete_outside_the_bot(sim, alpha)
    sim.cluster.add_guest(alpha, "pve1", hostname="payroll")
    async with running_bot(sim, tg, store_path, policy) as (services, app):
        h = Harness(sim, tg, services, app, str(store_path))
        await tg.wait_until(lambda: services.store.ownership.owner(alpha) is None)
        quota = await h.ask(h.admin, f"/quota {BOB_ID}")
        assert "In use: 0 containers" in quota.content


async def test_a_scaling_group_adopts_no_ct_it_did_not_clone(harness):
    h, sim = harness, harness.sim
    template = await create(h, h.bob, "tmpl")
    await h.ask(h.bob, f"/ct_stop {template}", done)
    # Made outside the bot, tagged and named like a replica of the group to be.
    sim.cluster.add_guest(555, "pve1", status="running", hostname="prod-1", tags="stratus;prod")
    made = await h.ask(h.bob, f"/scale_create prod --template {template} --min 1 --max 2 "
                              "--target-cpu 60")
    assert made.content.startswith("✅"), made.content
    controller = h.app.bot_data["scaler"]
    await controller.tick(2_000_000.0)
    await controller.tick(2_000_015.0)
    group = h.services.store.scaling.get("prod")
    assert 555 not in [m.vmid for m in group.members]
    assert h.services.store.ownership.owner(555) is None
    assert len(group.members) == 1 and group.members[0].identity


async def test_a_group_never_clones_a_ct_that_took_its_templates_vmid(harness):
    h, sim = harness, harness.sim
    template = await create(h, h.bob, "tmpl")
    await h.ask(h.bob, f"/ct_stop {template}", done)
    made = await h.ask(h.bob, f"/scale_create web --template {template} --min 1 --max 2 "
                              "--target-cpu 60")
    assert made.content.startswith("✅"), made.content
    delete_outside_the_bot(sim, template)
    sim.cluster.add_guest(template, "pve1", hostname="carols-db")
    h.services.store.ownership.set(template, CAROL_ID, "carols-db")
    await h.app.bot_data["scaler"].tick(2_000_000.0)
    assert not [g for g in sim.cluster.guests.values() if g.name.startswith("web-")]
    assert any("no longer the group's template" in m.content
               for m in h.tg.chat(BOB_ID).messages), [m.content for m in h.tg.chat(BOB_ID).messages]


async def test_an_approved_group_delete_does_not_delete_a_group_made_again_since(harness):
    h = harness
    template = await create(h, h.bob, "tmpl")
    await h.ask(h.bob, f"/ct_stop {template}", done)
    args = f"--template {template} --min 0 --max 2 --target-cpu 60"
    await h.ask(h.bob, f"/scale_create web {args}", lambda m: m.content.startswith("✅"))
    question = await h.ask(h.bob, "/scale_delete web", lambda m: bool(m.flat_buttons))
    await h.bob.press(question, "Keep the replicas")
    card = await h.tg.wait_for(lambda m: "scaling group web" in m.content and m.flat_buttons,
                               chat_id=APPROVAL_CHAT)
    # An admin deletes it meanwhile; Bob makes a new group of the same name.
    await h.services.scaling.delete(ADMIN_ID, "web", destroy=False)
    await h.ask(h.bob, f"/scale_create web {args}", lambda m: m.content.startswith("✅"))
    await h.admin.press(card, "Approve")
    told = await h.tg.wait_for(lambda m: m.content.startswith(("❌", "🗑")), chat_id=BOB_ID)
    assert "not the one this request was about" in told.content, told.content
    assert h.services.store.scaling.get("web") is not None


async def test_an_approved_schedule_delete_does_not_delete_a_changed_schedule(harness):
    h, sim = harness, harness.sim
    alpha = await create(h, h.bob, "alpha")
    made = await h.ask(h.bob, f"/schedule_backup {alpha} 02:00 --keep-last 3")
    job_id = made.content.split()[2].rstrip(":")
    await h.ask(h.bob, f"/schedule_del {job_id}", lambda m: "Waiting" in m.content)
    card = await h.tg.wait_for(lambda m: job_id in m.content and m.flat_buttons,
                               chat_id=APPROVAL_CHAT)
    sim.cluster.backup_jobs[job_id]["config"]["schedule"] = "sat 03:00"  # changed in the GUI
    await h.admin.press(card, "Approve")
    told = await h.tg.wait_for(lambda m: m.content.startswith(("❌", "🗑")), chat_id=BOB_ID)
    assert "changed since this request" in told.content, told.content
    assert job_id in sim.cluster.backup_jobs


async def test_containers_owned_before_markers_get_one_at_start(sim, tg, tmp_path, policy):
    """An upgrade: records made before identity markers are bound to their CT at start."""
    store_path = tmp_path / "s.json"
    with Store(store_path) as store:
        store.users.put(User(BOB_ID, "user", "Bob"))
        store.ownership.set(300, BOB_ID, "old-box")  # no identity: an older Stratus made it
    sim.cluster.add_guest(300, "pve1", hostname="old-box", tags="stratus")
    async with running_bot(sim, tg, store_path, policy) as (services, app):
        await tg.wait_until(lambda: services.store.ownership.get(300).identity)
        marker = services.store.ownership.get(300).identity
        assert marker in sim.cluster.guests[300].config["tags"].split(";")
        h = Harness(sim, tg, services, app, str(store_path))
        listing = await h.ask(h.bob, "/list")
        assert "old-box" in listing.content


async def test_someone_elses_backup_and_a_missing_one_get_the_same_answer(harness):
    h = harness
    alpha = await create(h, h.bob, "alpha")
    made = await h.ask(h.bob, f"/backup {alpha}", lambda m: "Backup of CT" in m.content
                       and m.content.startswith(("✅", "❌")))
    volid = made.content.split(": ", 1)[1].split()[0]
    missing = volid.replace("lxc-", "lxc-9")
    for command in ("/backup_del {}", "/restore {} --new", "/restore {} --into 999"):
        theirs = await h.ask(h.carol, command.format(volid))
        nothing = await h.ask(h.carol, command.format(missing))
        assert theirs.content.replace(volid, "V") == nothing.content.replace(missing, "V"), \
            (theirs.content, nothing.content)
