"""Issue 10, defects 1 and 5: what a /create may unpack, and creates that leave nothing behind
the quota's back. End to end: the real PTB Application against tgsim, proxmoxer against pvesim.

1. A template is a volume its storage lists as ``vztmpl`` on the chosen node; a backup named as
   a template (someone else's file system), a guessed name and a missing one get one answer.
5. What Proxmox would refuse later (a bridge, a storage or the template missing on the node) is
   refused before the create; a CT that Proxmox did create is its owner's from the first moment,
   whatever fails after (owned, counted, its root password sent, the reason said).
"""

from __future__ import annotations

from e2e_harness import BOB_ID

from pvesim.model import add_template

OWN_TEMPLATE = "rocky-9-default_20240912_amd64.tar.xz"  # downloaded on pve2 only


def final(m) -> bool:
    return m.content.startswith(("✅", "❌"))


async def create_outcome(h, user, text: str) -> str:
    """The final words of the progress message that `text` (a /create) started."""
    name = text.split()[1]
    started = await h.ask(user, text, lambda m: f"Creating {name}:" in m.content)
    done = await h.tg.wait_for(lambda m: m.message_id == started.message_id and final(m),
                               timeout=10)
    return done.content


async def vmid_created(h, user, text: str) -> int:
    outcome = await create_outcome(h, user, text)
    assert outcome.startswith("✅ CT "), outcome
    return int(outcome.split()[2])


async def in_use(h, user_id: int) -> str:
    msg = await h.ask(h.admin, f"/quota {user_id}", lambda m: "In use:" in m.content)
    return msg.content.split("In use: ", 1)[1]


def pve1_has_most_room(h) -> None:
    """Placement by free memory alone would choose pve1."""
    h.sim.cluster.nodes["pve2"].memory //= 2


# ---- defect 1 ---------------------------------------------------------------------------------

async def test_a_backup_named_as_template_is_refused_like_any_missing_template(harness):
    """Carol's backup holds her CT's whole file system. Named as Bob's --template it used to be
    unpacked into a CT of his (ostemplate takes "the OS template or backup file"). A backup, a
    guessed backup name and a missing template now get the same answer, naming the templates
    there are; nothing is created; a short name still resolves."""
    h = harness
    secret = await vmid_created(h, h.carol, "/create secret --node pve1")
    done = await h.ask(h.carol, f"/backup {secret}", final)
    backup = done.content.split("done: ")[1].split()[0]
    assert backup.startswith(f"local:backup/vzdump-lxc-{secret}-"), done.content
    guests = set(h.sim.cluster.guests)

    answers = {}
    for template in (backup, "local:backup/vzdump-lxc-999-2020_01_01-00_00_00.tar.zst",
                     "local:vztmpl/nope.tar.zst"):
        text = await create_outcome(h, h.bob, f"/create loot --node pve1 --template {template}")
        answers[template] = text.replace(template, "<template>")
    assert set(h.sim.cluster.guests) == guests, "a CT was created from a non-template"
    assert h.services.store.ownership.by_owner(BOB_ID) == []
    assert len(set(answers.values())) == 1, answers  # no probing of what exists
    answer = answers[backup]
    assert answer.startswith("❌") and "debian-12-standard" in answer, answer  # the hint
    assert "vzdump" not in answer and "Traceback" not in answer

    # Without --node too (every node is asked), and a short name still resolves.
    text = await create_outcome(h, h.bob, f"/create loot2 --template {backup}")
    assert text.startswith("❌") and "debian-12-standard" in text, text
    assert set(h.sim.cluster.guests) == guests
    vmid = await vmid_created(h, h.bob, "/create fine --template debian-12")
    assert h.sim.cluster.guests[vmid].config["ostype"] == "debian"


# ---- defect 5 ---------------------------------------------------------------------------------

async def test_a_bridge_missing_on_the_named_node_creates_nothing(harness):
    """`/create x --node pve1 --bridge vmbr7` four times used to leave four stopped 8 GiB CTs
    nobody owned (the start failed on the bridge), no password sent, /quota showing 0 in use.
    Now it is refused before the create, saying which bridges that node has."""
    h = harness
    for i in range(4):
        text = await create_outcome(h, h.bob, f"/create x{i} --node pve1 --bridge vmbr7")
        assert text.startswith("❌") and "vmbr7" in text and "pve1" in text, text
        assert "vmbr0" in text, text  # what the node does have
    assert h.sim.cluster.guests == {}
    assert (await in_use(h, BOB_ID)).startswith("0 containers")


async def test_a_bridge_on_another_node_only_is_refused_for_the_named_node(harness):
    """--node skipped the bridge check; without --node the bridge's node is chosen."""
    h = harness
    px = h.services.px
    await px.stage_bridge("pve2", "vmbr1", cidr="10.10.20.1/24")
    await px.apply_network("pve2")
    text = await create_outcome(h, h.bob, "/create n1 --node pve1 --bridge vmbr1 --dhcp")
    assert text.startswith("❌") and "vmbr1" in text and "pve1" in text, text
    assert h.sim.cluster.guests == {}
    vmid = await vmid_created(h, h.bob, "/create n2 --bridge vmbr1 --dhcp")
    assert h.sim.cluster.guests[vmid].node == "pve2"


async def test_a_node_without_storage_for_disks_is_not_chosen_nor_accepted(harness):
    """pve1 has the most free memory but no storage for container disks (content rootdir):
    placement chose it and the create failed; named, it is refused with a way out."""
    h = harness
    pve1_has_most_room(h)
    del h.sim.cluster.nodes["pve1"].storages["local-lvm"]
    text = await create_outcome(h, h.bob, "/create s1 --node pve1")
    assert text.startswith("❌") and "pve1" in text and "container disks" in text, text
    assert "pve2" in text, text  # where it can go instead
    assert h.sim.cluster.guests == {}
    vmid = await vmid_created(h, h.bob, "/create s2")
    assert h.sim.cluster.guests[vmid].node == "pve2"


async def test_a_template_on_one_node_only_places_the_container_there(harness):
    """A template downloaded on pve2 only: placement by free memory chose pve1, where Proxmox
    has no such file. Named on pve1, it gets the missing-template answer for pve1."""
    h = harness
    volid = add_template(h.sim.cluster.nodes["pve2"].storages["local"], OWN_TEMPLATE).volid
    text = await create_outcome(h, h.bob, f"/create r1 --node pve1 --template {volid}")
    assert text.startswith("❌") and "debian-12-standard" in text, text
    assert h.sim.cluster.guests == {}
    pve1_has_most_room(h)
    vmid = await vmid_created(h, h.bob, f"/create r2 --template {volid}")
    assert h.sim.cluster.guests[vmid].node == "pve2"


async def test_the_wizard_places_a_template_where_it_is(harness):
    """The guided /create lists the templates of every node; the one chosen decides the node."""
    h, tg = harness, harness.tg
    add_template(h.sim.cluster.nodes["pve2"].storages["local"], OWN_TEMPLATE)
    pve1_has_most_room(h)
    menu = await h.ask(h.bob, "/create", lambda m: "step 1 of 3" in m.content)
    await h.bob.press(menu, OWN_TEMPLATE)
    sizes = await tg.wait_for(lambda m: m.message_id == menu.message_id
                              and "Step 2 of 3" in m.content)
    await h.bob.press(sizes, "Small · 1 core, 512 MiB, 8 GiB")
    nets = await tg.wait_for(lambda m: m.message_id == menu.message_id
                             and "Step 3 of 3" in m.content)
    await h.bob.press(nets, "vmbr0 · 10.0.2.0/24 · DHCP")
    summary = await tg.wait_for(lambda m: m.message_id == menu.message_id
                                and m.content.startswith("Create "))
    await h.bob.press(summary, "Create")
    done = await tg.wait_for(final, chat_id=BOB_ID, timeout=10)
    assert done.content.startswith("✅ CT "), done.content
    vmid = int(done.content.split()[2])
    assert h.sim.cluster.guests[vmid].node == "pve2"
    assert h.services.store.ownership.owner(vmid) == BOB_ID


async def test_a_container_that_cannot_start_is_still_its_owners(harness):
    """The create task succeeded, the start task failed: the CT exists with the generated root
    password. It used to be nobody's (not in /list, not in /quota) and the password was lost.
    Now it is owned and counted, the password is sent privately, and the message says it was
    created but could not start, and why."""
    h, tg = harness, harness.tg
    h.sim.cluster.fail_next_task("vzstart", "startup for container failed: no cgroup left")
    text = await create_outcome(h, h.bob, "/create stuck")
    vmid = next(iter(h.sim.cluster.guests))
    guest = h.sim.cluster.guests[vmid]
    assert guest.status == "stopped"
    assert text.startswith("❌") and f"CT {vmid}" in text, text
    assert "created" in text and "could not start" in text and "no cgroup left" in text, text
    assert "root password was sent to you privately" in text, text
    assert h.services.store.ownership.owner(vmid) == BOB_ID
    listing = await h.ask(h.bob, "/list")
    assert f"{vmid} stuck" in listing.content, listing.content
    assert (await in_use(h, BOB_ID)).startswith("1 containers"), await in_use(h, BOB_ID)
    secret = await tg.wait_for(lambda m: m.content.startswith(f"Root password of CT {vmid}"),
                               chat_id=BOB_ID, since=0)
    assert "stuck" in secret.content
