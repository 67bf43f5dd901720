"""Access without passwords (issue 12, point 3): /ssh_key registers a person's public key,
checked; their creates pass it to Proxmox (ssh-public-keys), which writes it into the new CT;
a clone (a scaling replica) copies its source's, as Proxmox's clone copies the disk."""

from __future__ import annotations

import base64

import pytest
from e2e_harness import BOB_ID, default_policy

from bot.services.scaling import ScalingSettings

ED25519 = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHlhSQwpZYAYyd3SfqHN/tlrjGfURzzD3ApCQ23SePDJ "
           "bob@laptop")
FINGERPRINT = "SHA256:x6d2L6/PbqLvD+ERLkWFn1n5P9C1dvIKVTc+CuFvPRE"  # ssh-keygen -lf
RSA_1024 = ("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCbXWwsADDjtKKmQT5qdYd3Io6oR0X0YraR4L6mf52MZun"
            "rsRa7zBcj/kv+O06DFrNIOy7g28bjdRuZ+UG5KrHGDBLKM78fSUZCAxU36w++kT28fs+T0nmg4kAyRKs1zTb"
            "Hv1+LCH9lLZ5obpA5ttIcOsDDZ1C9VDn7fuWAKXbGbw== weak")


@pytest.fixture
def policy():
    return default_policy(scaling=ScalingSettings(warmup_s=0, run_job=False))


def done(m):
    return m.content.startswith(("✅", "❌"))


async def test_a_registered_key_is_shown_audited_and_given_to_new_containers(harness):
    h = harness
    made = await h.ask(h.bob, f"/ssh_key {ED25519}")
    assert made.content.startswith(f"✅ SSH key registered: ssh-ed25519 {FINGERPRINT} "
                                   "bob@laptop"), made.content
    shown = await h.ask(h.bob, "/ssh_key")
    assert f"Your SSH key: ssh-ed25519 {FINGERPRINT} bob@laptop" in shown.content
    audit = await h.ask(h.admin, "/audit 1")
    assert f"ssh_key user:{BOB_ID} · ok · ssh-ed25519 {FINGERPRINT}" in audit.content

    created = await h.ask(h.bob, "/create c1", done, timeout=15)
    assert created.content.startswith("✅"), created.content
    assert f"Log in as root with your SSH key ({FINGERPRINT})" in created.content
    vmid = int(created.content.split()[2])
    assert h.sim.cluster.guests[vmid].authorized_keys == ED25519
    private = [m.content for m in h.tg.chat(BOB_ID).messages if "Root password" in m.content]
    assert private == []  # the key replaces the password


async def test_the_guided_create_passes_the_key_too(harness):
    h, tg = harness, harness.tg
    await h.ask(h.bob, f"/ssh_key {ED25519}")
    menu = await h.ask(h.bob, "/create", lambda m: "step 1 of 3" in m.content)
    await h.bob.press(menu, next(b.text for b in menu.flat_buttons
                                 if b.text.startswith("debian-12")))
    sizes = await tg.wait_for(lambda m: m.message_id == menu.message_id and "Step 2" in m.content)
    await h.bob.press(sizes, "Small · 1 core, 512 MiB, 8 GiB")
    nets = await tg.wait_for(lambda m: m.message_id == menu.message_id and "Step 3" in m.content)
    await h.bob.press(nets, nets.flat_buttons[0].text)
    summary = await tg.wait_for(lambda m: m.message_id == menu.message_id
                                and m.content.startswith("Create "))
    await h.bob.press(summary, "Create")
    made = await tg.wait_for(done, chat_id=BOB_ID, timeout=15)
    assert made.content.startswith("✅"), made.content
    assert h.sim.cluster.guests[int(made.content.split()[2])].authorized_keys == ED25519


async def test_a_replica_cloned_from_the_users_container_has_the_key(harness):
    h = harness
    await h.ask(h.bob, f"/ssh_key {ED25519}")
    made = await h.ask(h.bob, "/create tpl", done, timeout=15)
    vmid = int(made.content.split()[2])
    answer = await h.ask(h.bob, f"/scale_create web --template {vmid} --min 1 --max 2 "
                                "--target-cpu 60", lambda m: "web" in m.content)
    assert "created" in answer.content, answer.content
    await h.app.bot_data["scaler"].tick(1_000_000.0)
    replicas = [g for g in h.sim.cluster.guests.values() if g.vmid != vmid]
    assert replicas and all(g.authorized_keys == ED25519 for g in replicas)


@pytest.mark.parametrize("text, expected", [
    ("-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAA",
     "that is a PRIVATE key: never send it to anyone"),
    ("ssh-foo AAAAC3NzaC1lZDI1NTE5AAAAIHlhSQ bob", "'ssh-foo' is not an SSH public key type"),
    ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHlh bob", "cut short or damaged"),
    ("ssh-ed25519 not*base64", "missing or not base64"),
    ("ssh-rsa " + ED25519.split()[1], "the key data is not a ssh-rsa key (it says 'ssh-ed25519')"),
    (RSA_1024, "this RSA key has 1024 bits; at least 2048 are needed"),
    ("ssh-dss AAAAB3NzaC1kc3M=", "DSA keys are no longer accepted"),
])
async def test_a_bad_key_is_refused_with_what_to_send(harness, text, expected):
    h = harness
    answer = await h.ask(h.bob, f"/ssh_key {text}")
    assert expected in answer.content, answer.content
    assert "Usage: /ssh_key" in answer.content
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in answer.content  # a private key is not echoed
    assert h.services.store.ssh_keys.get(BOB_ID) is None


async def test_removing_the_key_brings_the_password_back(harness):
    h = harness
    await h.ask(h.bob, f"/ssh_key {ED25519}")
    gone = await h.ask(h.bob, "/ssh_key --remove")
    assert gone.content.startswith("✅ Your SSH key is removed"), gone.content
    again = await h.ask(h.bob, "/ssh_key --remove")
    assert "You have no SSH key registered" in again.content
    made = await h.ask(h.bob, "/create c2", done, timeout=15)
    assert "root password was sent to you privately" in made.content, made.content
    assert h.sim.cluster.guests[int(made.content.split()[2])].authorized_keys is None


async def test_pvesim_refuses_a_damaged_key_as_proxmox_does(harness):
    """PVE::Tools::validate_ssh_public_keys (ssh-keygen -l on each line), in create_vm."""
    from bot.proxmox import ContainerSpec, errors

    spec = ContainerSpec(hostname="x", template="debian-12",
                         ssh_public_key="ssh-ed25519 " + base64.b64encode(b"junk").decode())
    with pytest.raises(errors.ProxmoxError, match="SSH public key validation error"):
        await harness.services.px.create_container(spec)
    assert harness.sim.cluster.guests == {}
