"""/create alone: the guided flow with inline keyboards."""

from e2e_harness import BOB_ID


async def test_guided_create_template_size_network_summary(harness):
    h, tg = harness, harness.tg
    menu = await h.ask(h.bob, "/create", lambda m: "step 1 of 3" in m.content)
    labels = [b.text for b in menu.flat_buttons]
    assert any(label.startswith("debian-12") for label in labels) and labels[-1] == "Cancel"
    debian = next(label for label in labels if label.startswith("debian-12"))

    await h.bob.press(menu, debian)
    sizes = await tg.wait_for(lambda m: m.message_id == menu.message_id and "Step 2 of 3" in m.content)
    await h.bob.press(sizes, "Medium · 2 cores, 2 GiB, 16 GiB")
    nets = await tg.wait_for(lambda m: m.message_id == menu.message_id and "Step 3 of 3" in m.content)
    await h.bob.press(nets, "vmbr0 · 10.0.2.0/24 · DHCP")
    summary = await tg.wait_for(lambda m: m.message_id == menu.message_id
                                and m.content.startswith("Create "))
    hostname = summary.content.split()[1].rstrip(":")
    assert hostname.startswith("debian-")

    # Carol cannot press Bob's menu, even holding the message.
    query = await h.carol.press(summary, "Create")
    await tg.wait_until(lambda: query in tg.answered_callbacks)
    assert "belongs to someone else" in tg.answered_callbacks[query].text

    await h.bob.press(summary, "Create")
    done = await tg.wait_for(lambda m: m.content.startswith(("✅", "❌")), chat_id=BOB_ID)
    assert f"{hostname} is running" in done.content
    vmid = int(done.content.split()[2])
    config = h.sim.cluster.guests[vmid].config
    assert (config["cores"], config["memory"]) == (2, 2048)
    assert h.services.store.ownership.owner(vmid) == BOB_ID


async def test_guided_create_cancel_and_stale_data(harness):
    h, tg = harness, harness.tg
    menu = await h.ask(h.bob, "/create", lambda m: "step 1 of 3" in m.content)
    await h.bob.press(menu, "Cancel")
    await tg.wait_for(lambda m: m.message_id == menu.message_id and "Cancelled" in m.content)
    forged = await h.bob.press_data(menu, f"cw:{BOB_ID}:abcd:99:s:0:go")  # no template 99
    await tg.wait_until(lambda: forged in tg.answered_callbacks)
    assert "out of date" in tg.answered_callbacks[forged].text
