"""`python -m bot.setup virtualbox`: the generated VBoxManage commands, bad input, and --run with a
fake VBoxManage on PATH that logs its argv (no VirtualBox here)."""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from bot.setup import virtualbox
from bot.setup.__main__ import main as setup_main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def iso(tmp_path: Path) -> Path:
    path = tmp_path / "proxmox-ve_9.0-1.iso"
    path.write_bytes(b"not really an ISO")
    return path


def run_main(*argv: str, runner=virtualbox._run) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = virtualbox.main(list(argv), out=out, err=err, runner=runner)
    return code, out.getvalue(), err.getvalue()


def expected(
    iso: Path, folder: Path, name="pve", mem="4096", cpus="2", mb="32768", api="8006", ssh="2222"
) -> list[list[str]]:
    vdi = str(folder / name / f"{name}.vdi")
    vb = "VBoxManage"
    return [
        [
            vb,
            "createvm",
            "--name",
            name,
            "--ostype",
            "Debian_64",
            "--basefolder",
            str(folder),
            "--register",
        ],
        [
            vb,
            "modifyvm",
            name,
            "--memory",
            mem,
            "--cpus",
            cpus,
            "--ioapic",
            "on",
            "--nested-hw-virt",
            "on",
            "--nic1",
            "nat",
            "--nictype1",
            "82540EM",
            "--boot1",
            "dvd",
            "--boot2",
            "disk",
            "--boot3",
            "none",
            "--boot4",
            "none",
        ],
        [vb, "createmedium", "disk", "--filename", vdi, "--size", mb, "--format", "VDI"],
        [
            vb,
            "storagectl",
            name,
            "--name",
            "SATA",
            "--add",
            "sata",
            "--controller",
            "IntelAhci",
            "--portcount",
            "2",
            "--bootable",
            "on",
        ],
        [
            vb,
            "storageattach",
            name,
            "--storagectl",
            "SATA",
            "--port",
            "0",
            "--device",
            "0",
            "--type",
            "hdd",
            "--medium",
            vdi,
        ],
        [
            vb,
            "storageattach",
            name,
            "--storagectl",
            "SATA",
            "--port",
            "1",
            "--device",
            "0",
            "--type",
            "dvddrive",
            "--medium",
            str(iso),
        ],
        [vb, "modifyvm", name, "--natpf1", f"pve-api,tcp,127.0.0.1,{api},,8006"],
        [vb, "modifyvm", name, "--natpf1", f"pve-ssh,tcp,127.0.0.1,{ssh},,22"],
        [vb, "startvm", name],
    ]


def printed_commands(out: str) -> list[list[str]]:
    """The step-1 commands as printed (the lines that are not comments), split like a shell."""
    step1 = out.split("# Step 2")[0]
    return [shlex.split(line) for line in step1.splitlines() if line and not line.startswith("#")]


def test_defaults(iso, tmp_path):
    folder = tmp_path / "VirtualBox VMs"  # a space: must stay one argument
    code, out, err = run_main("--iso", str(iso), "--folder", str(folder))
    assert code == 0, err
    assert err == ""
    assert printed_commands(out) == expected(iso, folder)
    assert f"'{folder}'" in out  # quoted for pasting
    for answer in (
        "10.0.2.15/24",
        "10.0.2.2",
        "10.0.2.3",
        "pve.local",
        "pveum user token add root@pam stratus --privsep 0",
        "pvenode cert info",
        "STRATUS_PROXMOX_HOST=127.0.0.1",
        "STRATUS_PROXMOX_PORT=8006",
        "STRATUS_PROXMOX_TOKEN_ID='root@pam!stratus'",
        "STRATUS_PROXMOX_TLS=fingerprint",
        "STRATUS_PROXMOX_FINGERPRINT=",
        "https://127.0.0.1:8006",
        "ssh -p 2222 root@127.0.0.1",
        "--medium emptydrive",
    ):
        assert answer in out, answer


def test_custom_arguments(iso, tmp_path):
    code, out, err = run_main(
        "--iso",
        str(iso),
        "--name",
        "lab-pve.2",
        "--memory",
        "3072",
        "--cpus",
        "4",
        "--disk",
        "40GiB",
        "--api-port",
        "18006",
        "--ssh-port",
        "12222",
        "--folder",
        str(tmp_path),
    )
    assert code == 0
    assert printed_commands(out) == expected(
        iso, tmp_path, "lab-pve.2", "3072", "4", "40960", "18006", "12222"
    )
    assert "STRATUS_PROXMOX_PORT=18006" in out and "https://127.0.0.1:18006" in out
    assert "warning: 3072 MiB of memory is tight" in err


@pytest.mark.parametrize(
    ("text", "mb"),
    [("32G", 32768), ("40960M", 40960), ("1T", 1048576), ("16gb", 16384), ("20 GiB", 20480)],
)
def test_disk_sizes(text, mb):
    assert virtualbox.parse_size_mb(text) == mb


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "my vm"], "VM name 'my vm' must be 1-64 letters"),
        (["--name=-rf"], "VM name '-rf' must be"),
        (["--memory", "1024"], "--memory (MiB) must be between 2048"),
        (["--memory", "lots"], "--memory (MiB) must be a whole number, got 'lots'"),
        (["--cpus", "0"], "--cpus must be between 1 and 64, got 0"),
        (["--disk", "32"], "disk size '32' needs a unit, like 32G or 40960M"),
        (["--disk", "4G"], "disk 4G is too small"),
        (["--api-port", "0"], "--api-port must be between 1 and 65535, got 0"),
        (["--ssh-port", "70000"], "--ssh-port must be between 1 and 65535, got 70000"),
        (["--api-port", "2222"], "--api-port and --ssh-port must differ (both 2222)"),
    ],
)
def test_bad_arguments(iso, args, message):
    code, out, err = run_main("--iso", str(iso), *args)
    assert code == 2
    assert message in err
    assert out == "" and "Traceback" not in err


def test_every_bad_argument_is_listed_at_once(iso):
    code, _, err = run_main("--iso", str(iso), "--memory", "10", "--disk", "x", "--cpus", "y")
    assert code == 2
    assert err.count("\n  - ") == 3


def test_missing_iso_warns_when_printing_but_refuses_to_run(tmp_path):
    missing = tmp_path / "nope.iso"
    code, out, err = run_main("--iso", str(missing), "--folder", str(tmp_path))
    assert code == 0 and f"warning: the ISO {missing} does not exist" in err
    assert printed_commands(out)[5][-1] == str(missing)
    code, out, err = run_main("--iso", str(missing), "--run")
    assert code == 2 and f"the ISO {missing} does not exist" in err and out == ""


def test_command_line_bad_input_exits_2_without_traceback(tmp_path):
    """The real entry point, as a person runs it."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.setup",
            "virtualbox",
            "--iso",
            str(tmp_path / "x.iso"),
            "--api-port",
            "99999",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--api-port must be between 1 and 65535, got 99999" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_dispatcher(capsys):
    assert setup_main(["nothing"]) == 2
    assert "unknown set-up 'nothing'" in capsys.readouterr().err
    assert setup_main([]) == 2
    assert setup_main(["virtualbox"]) == 2  # --iso is required: argparse's own message
    assert "--iso" in capsys.readouterr().err


FAKE = """#!{python}
import json, os, sys
with open(os.environ["FAKE_VBOX_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1:2] == [os.environ.get("FAKE_VBOX_FAIL", "")]:
    print("VBoxManage: error: Could not find a registered machine", file=sys.stderr)
    sys.exit(1)
"""


@pytest.fixture
def fake_vbox(tmp_path, monkeypatch) -> Path:
    """A VBoxManage on PATH that logs its argv, one JSON list a line."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "VBoxManage"
    script.write_text(FAKE.format(python=sys.executable))
    script.chmod(0o755)
    log = tmp_path / "vbox.log"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_VBOX_LOG", str(log))
    return log


def logged(log: Path) -> list[list[str]]:
    return [["VBoxManage", *json.loads(line)] for line in log.read_text().splitlines()]


def test_run_executes_every_command_in_order(iso, tmp_path, fake_vbox):
    code, out, err = run_main("--iso", str(iso), "--folder", str(tmp_path), "--run")
    assert code == 0, err
    assert logged(fake_vbox) == expected(iso, tmp_path)
    assert "[9/9] start the VM" in out and "# Step 2" in out


def test_run_stops_at_the_first_failure(iso, tmp_path, fake_vbox, monkeypatch):
    monkeypatch.setenv("FAKE_VBOX_FAIL", "storagectl")
    code, out, err = run_main("--iso", str(iso), "--folder", str(tmp_path), "--run")
    assert code == 1
    assert logged(fake_vbox) == expected(iso, tmp_path)[:4]  # nothing after the failing step
    assert "step 4 (add a SATA controller) failed with exit status 1" in err
    assert "Could not find a registered machine" in err
    assert "# Step 2" not in out


def test_run_without_virtualbox_says_so(iso, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no VBoxManage anywhere
    code, _, err = run_main("--iso", str(iso), "--run")
    assert code == 1 and "VBoxManage is not installed or not on PATH" in err
