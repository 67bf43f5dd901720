"""`python -m bot.setup smoke --write` against pvesim with two nodes and local (non-shared)
storage, as a least-privilege token (the role `python -m bot.setup proxmox-role` makes): every
step passes, and nothing it made is left in the cluster."""

from __future__ import annotations

import io

import pytest

from bot.proxmox.privileges import PRIVILEGES
from bot.setup.smoke import main
from pvesim import SimulatorThread


@pytest.fixture
def sim():
    with SimulatorThread(time_scale=0.0) as s:
        yield s


def environ(sim, token_id: str, secret: str) -> dict[str, str]:
    return {"STRATUS_TELEGRAM_TOKEN": "123456:smoke", "STRATUS_PROXMOX_HOST": "127.0.0.1",
            "STRATUS_PROXMOX_PORT": str(sim.port), "STRATUS_PROXMOX_TOKEN_ID": token_id,
            "STRATUS_PROXMOX_TOKEN_SECRET": secret, "STRATUS_PROXMOX_TLS": "fingerprint",
            "STRATUS_PROXMOX_FINGERPRINT": sim.fingerprint, "STRATUS_ADMIN_IDS": "1001",
            "STRATUS_APPROVAL_CHAT_ID": "-1001"}


def role_token(sim) -> tuple[str, str]:
    sim.auth.grant("/", "stratus@pve", PRIVILEGES)
    return sim.add_token("bot", set(PRIVILEGES), user="stratus@pve")


def test_write_passes_every_step_and_leaves_nothing(sim):
    out = io.StringIO()
    code = main(["--write"], out=out, environ=environ(sim, *role_token(sim)))
    text = out.getvalue()
    print(text)
    steps = [line for line in text.splitlines() if line[:4] in ("PASS", "FAIL", "SKIP")]
    assert code == 0, text
    assert all(line.startswith("PASS") for line in steps), text
    names = [line.split(":")[0][6:] for line in steps]
    for step in ("connect", "TLS", "privileges", "nodes", "storage", "template", "create",
                 "start", "snapshot", "clone", "migrate", "backup", "restore", "nothing left"):
        assert step in names, (step, text)
    assert "moved to pve2" in text and "cloned from the running CT" in text
    cluster = sim.cluster
    assert cluster.guests == {}
    for node in cluster.nodes.values():
        for storage in node.storages.values():
            assert [v for v in storage.volumes.values() if v.content != "vztmpl"] == [], \
                (node.name, storage.id)
    assert not [t for t in cluster.tasks.values() if t.status == "running"]
    assert "SUMMARY: " in text and " 0 failed" in text


def test_read_only_changes_nothing_and_names_missing_privileges(sim):
    sim.auth.grant("/", "weak@pve", {"Sys.Audit", "VM.Audit", "Datastore.Audit"})
    token_id, secret = sim.add_token("weak", {"Sys.Audit", "VM.Audit", "Datastore.Audit"},
                                     user="weak@pve")
    tasks = len(sim.cluster.tasks)
    out = io.StringIO()
    assert main([], out=out, environ=environ(sim, token_id, secret)) == 1
    text = out.getvalue()
    assert "PASS  connect: Proxmox VE 9.2" in text
    assert "FAIL  privileges: " in text and "backups: missing VM.Backup on /vms" in text
    assert "PASS  template: local:vztmpl/" in text
    assert "(read-only; add --write for the lifecycle)" in text
    assert len(sim.cluster.tasks) == tasks and sim.cluster.guests == {}


def test_a_failing_step_says_why_and_the_rest_still_cleans_up(sim):
    sim.cluster.fail_next_task("vzdump", "command 'tar' failed: exit code 2")
    out = io.StringIO()
    assert main(["--write"], out=out, environ=environ(sim, sim.token_id, sim.token_secret)) == 1
    text = out.getvalue()
    assert "FAIL  backup: " in text and "tar' failed" in text, text
    assert "SKIP  restore: no backup to restore" in text
    assert "PASS  nothing left" in text and sim.cluster.guests == {}
