"""Least privilege (issue 11): the bot runs with the token `python -m bot.setup proxmox-role`
makes (a privilege-separated token of stratus@pve holding the role's privileges on /, which
pvesim checks as PVE does), and /doctor names, per feature, any privilege the token lacks
(asked through GET /access/permissions)."""

from __future__ import annotations

from e2e_harness import ADMIN_ID, BOB_ID, default_policy, running_bot

from bot.proxmox.privileges import PRIVILEGES


def final(m):
    return m.content.startswith(("✅", "❌", "🗑"))


def use_token(sim, privileges) -> None:
    """The bot's identity becomes a privilege-separated token of stratus@pve, the user and
    the token each holding ``privileges`` on / (the pveum commands of proxmox-role)."""
    sim.auth.grant("/", "stratus@pve", privileges)
    name = f"bot{len(sim.auth.tokens)}"
    sim.token_id, sim.token_secret = sim.add_token(name, set(privileges), user="stratus@pve")


async def test_the_role_is_enough_for_the_whole_lifecycle(sim, tg, tmp_path):
    from bot.store import Store, User

    use_token(sim, PRIVILEGES)
    store_path = tmp_path / "s.json"
    with Store(store_path) as store:
        store.users.put(User(id=BOB_ID, role="user", name="Bob", granted_by=ADMIN_ID))
    async with running_bot(sim, tg, store_path, default_policy()):
        bob = tg.user(BOB_ID, "Bob")
        admin = tg.user(ADMIN_ID, "Ada")
        await bob.send("/create web1 --cores 2 --memory 1G --disk 4G")
        made = await tg.wait_for(final, chat_id=BOB_ID, timeout=15)
        assert made.content.startswith("✅ CT "), made.content
        vmid = int(made.content.split()[2])
        await bob.send(f"/backup {vmid}")
        done = await tg.wait_for(lambda m: final(m) and "Backup" in m.content, chat_id=BOB_ID,
                                 timeout=15)
        assert done.content.startswith("✅"), done.content
        sim.cluster.firewall.options["enable"] = 1  # set up as the README says (issue 15)
        await admin.send("/doctor")
        doctor = await tg.wait_for(lambda m: m.content.startswith("Doctor:"), chat_id=ADMIN_ID)
        assert f"the token has the {len(PRIVILEGES)} privileges Stratus uses" in doctor.content
        assert "❌" not in doctor.content, doctor.content
    assert sim.cluster.guests[vmid].config["hostname"] == "web1"


async def test_doctor_names_what_each_feature_lacks(sim, tg, tmp_path):
    use_token(sim, set(PRIVILEGES) - {"VM.Backup", "VM.Migrate"})
    async with running_bot(sim, tg, tmp_path / "s.json", default_policy()):
        admin = tg.user(ADMIN_ID, "Ada")
        await admin.send("/doctor")
        doctor = await tg.wait_for(lambda m: m.content.startswith("Doctor:"), chat_id=ADMIN_ID)
    text = doctor.content
    assert "❌ backups: missing VM.Backup on /vms" in text, text
    assert "❌ scaling groups: missing VM.Migrate on /vms" in text, text
    assert "containers:" not in text
    assert "python -m bot.setup proxmox-role" in text
