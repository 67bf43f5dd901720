"""`python -m bot.setup proxmox-role`: the pveum commands of Stratus's least-privilege role."""

from __future__ import annotations

import io

from bot.proxmox.privileges import FEATURES, PRIVILEGES, missing
from bot.setup.__main__ import main as setup_main
from bot.setup.proxmox_role import main


def run(*argv: str) -> str:
    out = io.StringIO()
    assert main(list(argv), out=out) == 0
    return out.getvalue()


def test_the_role_user_and_privilege_separated_token():
    text = run()
    commands = [line for line in text.splitlines() if line.startswith("pveum")]
    assert commands == [
        f"pveum role add Stratus --privs \"{','.join(PRIVILEGES)}\"",
        "pveum user add stratus@pve --comment \"Stratus bot\"",
        "pveum acl modify / --users stratus@pve --roles Stratus --propagate 1",
        "pveum user token add stratus@pve bot --privsep 1 --comment \"Stratus\"",
        "pveum acl modify / --tokens 'stratus@pve!bot' --roles Stratus --propagate 1",
    ]
    assert 'proxmox.token_id = "stratus@pve!bot"' in text
    for feature in FEATURES:
        assert f"#   {feature}: " in text


def test_the_exact_privilege_list():
    assert PRIVILEGES == (
        "Datastore.AllocateSpace", "Datastore.Audit", "SDN.Allocate", "SDN.Audit", "SDN.Use",
        "Sys.Audit", "Sys.Modify", "VM.Allocate", "VM.Audit", "VM.Backup", "VM.Clone",
        "VM.Config.CPU", "VM.Config.Disk", "VM.Config.Memory", "VM.Config.Network",
        "VM.Config.Options", "VM.Migrate", "VM.PowerMgmt", "VM.Snapshot")
    assert "Sys.PowerMgmt" not in PRIVILEGES and "Permissions.Modify" not in PRIVILEGES


def test_names_can_be_chosen_and_bad_ones_are_refused(capsys):
    text = run("--role", "Bot", "--user", "ops@pam", "--token", "tg")
    assert "pveum acl modify / --tokens 'ops@pam!tg' --roles Bot --propagate 1" in text
    assert main(["--user", "nobody", "--token", "a b"]) == 2
    err = capsys.readouterr().err
    assert "--user 'nobody' must look like name@realm" in err and "--token 'a b'" in err


def test_dispatch_and_what_is_missing_per_feature(capsys):
    assert setup_main(["proxmox-role"]) == 0
    assert "pveum role add Stratus" in capsys.readouterr().out
    everything = {"/", "/nodes", "/vms", "/storage", "/sdn", "/sdn/zones"}
    full = {path: set(PRIVILEGES) for path in everything}
    assert missing(full) == {}
    lacking = missing({**full, "/vms": set(PRIVILEGES) - {"VM.Backup"}})
    assert list(lacking) == ["backups"]
    assert [(n.privilege, n.path) for n in lacking["backups"]] == [("VM.Backup", "/vms")]
