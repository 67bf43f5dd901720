"""The lab's steps 1 and 2: a Proxmox VE host in a VirtualBox VM behind NAT, its console and SSH
forwarded to 127.0.0.1 on the PC.

`plan(options)` builds the exact VBoxManage commands as argv lists (never shell strings: a path
with spaces stays one argument); `main` validates the arguments, prints the commands (quoted with
shlex.join so they can be pasted), or runs them one by one with `--run`, stopping at the first
failure. Then it tells what to type in the Proxmox installer and which settings to give Stratus.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

VBOXMANAGE = "VBoxManage"
CONTROLLER = "SATA"
# The NAT adapter's network as VirtualBox defines it: the VM gets .15, the NAT router is .2 (it is
# also the PC as seen from the VM), and .3 is the DNS proxy.
NAT_ADDRESS = "10.0.2.15/24"
NAT_GATEWAY = "10.0.2.2"
NAT_DNS = "10.0.2.3"
HOSTNAME = "pve.local"
PVE_API_PORT = 8006
PVE_SSH_PORT = 22

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SIZE = re.compile(r"(?i)\s*(\d+)\s*([MGT])(?:i?B)?\s*")
_MB_PER_UNIT = {"M": 1, "G": 1024, "T": 1024 * 1024}
MIN_MEMORY_MB = 2048
ADVISED_MEMORY_MB = 4096
MIN_DISK_MB = 8 * 1024


class UsageError(Exception):
    """Bad arguments; the message lists every one of them."""


@dataclass(frozen=True)
class Options:
    iso: Path
    name: str = "pve"
    memory_mb: int = 4096
    cpus: int = 2
    disk_mb: int = 32 * 1024
    api_port: int = 8006
    ssh_port: int = 2222
    folder: Path = Path.home() / "VirtualBox VMs"

    @property
    def disk_path(self) -> Path:
        return self.folder / self.name / f"{self.name}.vdi"


@dataclass(frozen=True)
class Step:
    why: str
    argv: list[str]


def plan(o: Options) -> list[Step]:
    """Every VBoxManage command of steps 1 and 2, in the order they must run."""
    vm = o.name
    return [
        Step(
            "create and register the VM",
            [
                VBOXMANAGE,
                "createvm",
                "--name",
                vm,
                "--ostype",
                "Debian_64",
                "--basefolder",
                str(o.folder),
                "--register",
            ],
        ),
        # Nested virtualization lets Proxmox run KVM guests; LXC containers do not need it but the
        # lab's VMs do. IOAPIC is required by VirtualBox for more than one CPU. 82540EM (Intel
        # PRO/1000) is the NIC every Debian kernel drives. DVD first to boot the installer.
        Step(
            "memory, CPUs, nested virtualization, the NAT adapter, boot order",
            [
                VBOXMANAGE,
                "modifyvm",
                vm,
                "--memory",
                str(o.memory_mb),
                "--cpus",
                str(o.cpus),
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
        ),
        Step(
            "create the disk",
            [
                VBOXMANAGE,
                "createmedium",
                "disk",
                "--filename",
                str(o.disk_path),
                "--size",
                str(o.disk_mb),
                "--format",
                "VDI",
            ],
        ),
        Step(
            "add a SATA controller",
            [
                VBOXMANAGE,
                "storagectl",
                vm,
                "--name",
                CONTROLLER,
                "--add",
                "sata",
                "--controller",
                "IntelAhci",
                "--portcount",
                "2",
                "--bootable",
                "on",
            ],
        ),
        Step(
            "attach the disk",
            [
                VBOXMANAGE,
                "storageattach",
                vm,
                "--storagectl",
                CONTROLLER,
                "--port",
                "0",
                "--device",
                "0",
                "--type",
                "hdd",
                "--medium",
                str(o.disk_path),
            ],
        ),
        Step(
            "insert the Proxmox VE ISO",
            _dvd(vm, str(o.iso)),
        ),
        Step(
            f"forward the web console and API: https://127.0.0.1:{o.api_port} on the PC",
            [
                VBOXMANAGE,
                "modifyvm",
                vm,
                "--natpf1",
                f"pve-api,tcp,127.0.0.1,{o.api_port},,{PVE_API_PORT}",
            ],
        ),
        Step(
            f"forward SSH: ssh -p {o.ssh_port} root@127.0.0.1 on the PC",
            [
                VBOXMANAGE,
                "modifyvm",
                vm,
                "--natpf1",
                f"pve-ssh,tcp,127.0.0.1,{o.ssh_port},,{PVE_SSH_PORT}",
            ],
        ),
        Step("start the VM (the installer boots from the ISO)", [VBOXMANAGE, "startvm", vm]),
    ]


def eject(o: Options) -> list[str]:
    """After the installer finishes: take the ISO out so the VM boots from its disk."""
    return _dvd(o.name, "emptydrive")


def _dvd(vm: str, medium: str) -> list[str]:
    """Put `medium` (an ISO path, or "emptydrive") in the VM's DVD drive."""
    return [VBOXMANAGE, "storageattach", vm, "--storagectl", CONTROLLER, "--port", "1",
            "--device", "0", "--type", "dvddrive", "--medium", medium]


def installer_and_settings(o: Options) -> str:
    """Step 2's answers in the installer, then what Stratus needs."""
    return f"""\
# Step 2: in the Proxmox VE installer (VM window), answer:
#   Target harddisk ........ the {o.disk_mb // 1024} GiB disk (ext4 is fine)
#   Country, time zone, keyboard: yours;  root password and e-mail: yours
#   Management interface ... the only NIC (enp0s3)
#   Hostname (FQDN) ........ {HOSTNAME}
#   IP address (CIDR) ...... {NAT_ADDRESS}      (VirtualBox NAT gives the VM this address)
#   Gateway ................ {NAT_GATEWAY}         (VirtualBox's NAT router)
#   DNS server ............. {NAT_DNS}         (VirtualBox's DNS proxy)
# When it says "Installation successful", eject the ISO before the reboot:
{shlex.join(eject(o))}
# Then from the PC: https://127.0.0.1:{o.api_port} (user root, realm PAM; accept the self-signed
# certificate), or: ssh -p {o.ssh_port} root@127.0.0.1

# Settings for Stratus. On the Proxmox host (console or SSH), create an API token:
#   pveum user token add root@pam stratus --privsep 0
# It prints the secret once: keep it. Then read the certificate's SHA-256 fingerprint:
#   pvenode cert info        (the 'fingerprint' of pve-ssl.pem)
# or in the GUI: {HOSTNAME.split(".")[0]} > System > Certificates > pve-ssl.pem > View Certificate.
# Quoted for a shell, where a bare ! or < > would break the line (fill in the <...> first).
# The network facts tell /netcheck and /doctor about the NAT (/netfacts shows and changes them).
{_settings(o)}"""


def _settings(o: Options) -> str:
    node = HOSTNAME.split(".")[0]
    values = {
        "STRATUS_PROXMOX_HOST": "127.0.0.1",
        "STRATUS_PROXMOX_PORT": str(o.api_port),
        "STRATUS_PROXMOX_TOKEN_ID": "root@pam!stratus",
        "STRATUS_PROXMOX_TOKEN_SECRET": "<the secret printed by pveum>",
        "STRATUS_PROXMOX_TLS": "fingerprint",
        "STRATUS_PROXMOX_FINGERPRINT": "<AB:CD:... from pvenode cert info>",
        "STRATUS_NETWORK_PC_VIA": f"{node}:vmbr0",
        "STRATUS_NETWORK_PORT_FORWARDS":
            f"{node}:{o.api_port}->{PVE_API_PORT},{node}:{o.ssh_port}->{PVE_SSH_PORT}",
        "STRATUS_NETWORK_VBOX_VM": o.name,
    }
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in values.items())


# --------------------------------------------------------------------------------------------------
# Arguments


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bot.setup virtualbox",
        description="Print (or run with --run) the VBoxManage commands that create a Proxmox VE "
        "VM behind VirtualBox NAT, with its console and SSH forwarded to 127.0.0.1.",
    )
    # Numbers are read as text and checked by `options`, so every bad value is reported at once.
    p.add_argument("--iso", required=True, help="the Proxmox VE installer ISO")
    p.add_argument("--name", default="pve", help="VM name (default pve)")
    p.add_argument("--memory", default="4096", help="MiB of RAM (default 4096, at least 2048)")
    p.add_argument("--cpus", default="2", help="virtual CPUs (default 2)")
    p.add_argument("--disk", default="32G", help="disk size with a unit: 32G, 40960M (default 32G)")
    p.add_argument("--api-port", default="8006", help="PC port for the web console (default 8006)")
    p.add_argument("--ssh-port", default="2222", help="PC port for SSH (default 2222)")
    p.add_argument(
        "--folder",
        default=str(Path.home() / "VirtualBox VMs"),
        help="where VirtualBox keeps the VM and its disk",
    )
    p.add_argument("--run", action="store_true", help="run the commands instead of printing them")
    return p


def _int(text: str, what: str, low: int, high: int, errors: list[str]) -> int:
    try:
        value = int(text)
    except ValueError:
        errors.append(f"{what} must be a whole number, got {text!r}")
        return low
    if not low <= value <= high:
        errors.append(f"{what} must be between {low} and {high}, got {value}")
    return value


def parse_size_mb(text: str) -> int:
    """`32G`, `32GB`, `32GiB`, `40960M`, `1T` -> MiB. A bare number is refused: units matter."""
    m = _SIZE.fullmatch(text)
    if not m:
        raise ValueError(f"disk size {text!r} needs a unit, like 32G or 40960M")
    return int(m.group(1)) * _MB_PER_UNIT[m.group(2).upper()]


def options(args: argparse.Namespace, *, need_iso: bool) -> tuple[Options, list[str]]:
    """Validated options and warnings; raises UsageError listing every bad argument."""
    errors: list[str] = []
    warnings: list[str] = []
    if not _NAME.fullmatch(args.name):
        errors.append(
            f"VM name {args.name!r} must be 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    memory = _int(args.memory, "--memory (MiB)", MIN_MEMORY_MB, 1024 * 1024, errors)
    if MIN_MEMORY_MB <= memory < ADVISED_MEMORY_MB:
        warnings.append(
            f"{memory} MiB of memory is tight for Proxmox and its containers; "
            f"{ADVISED_MEMORY_MB} is advised"
        )
    cpus = _int(args.cpus, "--cpus", 1, 64, errors)
    disk = 0
    try:
        disk = parse_size_mb(args.disk)
        if disk < MIN_DISK_MB:
            errors.append(f"disk {args.disk} is too small: the Proxmox installer needs at least 8G")
    except ValueError as e:
        errors.append(str(e))
    api = _int(args.api_port, "--api-port", 1, 65535, errors)
    ssh = _int(args.ssh_port, "--ssh-port", 1, 65535, errors)
    if api == ssh:
        errors.append(f"--api-port and --ssh-port must differ (both {api})")
    for port, flag in ((api, "--api-port"), (ssh, "--ssh-port")):
        if 0 < port < 1024:
            warnings.append(
                f"{flag} {port} is below 1024: VirtualBox may not be allowed to listen there"
            )
    iso = Path(args.iso).expanduser().resolve()
    if not iso.is_file():
        message = (
            f"the ISO {iso} does not exist (download it from https://www.proxmox.com/downloads)"
        )
        (errors if need_iso else warnings).append(message)
    elif iso.suffix.lower() != ".iso":
        warnings.append(f"{iso.name} does not end in .iso; is it the Proxmox VE installer?")
    if errors:
        raise UsageError("\n".join(errors))
    folder = Path(args.folder).expanduser()
    return Options(iso, args.name, memory, cpus, disk, api, ssh, folder), warnings


# --------------------------------------------------------------------------------------------------
# Printing and running

Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def run_steps(steps: Sequence[Step], out: TextIO, err: TextIO, runner: Runner = _run) -> bool:
    """Run each command in order; stop at the first failure and say which and why."""
    for i, step in enumerate(steps, 1):
        print(f"[{i}/{len(steps)}] {step.why}\n$ {shlex.join(step.argv)}", file=out, flush=True)
        try:
            done = runner(step.argv)
        except FileNotFoundError:
            print(
                f"error: {step.argv[0]} is not installed or not on PATH "
                "(install VirtualBox, or add its folder to PATH)",
                file=err,
            )
            return False
        if done.returncode != 0:
            detail = (done.stderr or done.stdout or "").strip()
            print(
                f"error: step {i} ({step.why}) failed with exit status {done.returncode}"
                + (f":\n{detail}" if detail else ""),
                file=err,
            )
            print(
                "The steps before it are done; fix the cause and run the remaining ones by hand "
                "(python -m bot.setup virtualbox ... without --run prints them).",
                file=err,
            )
            return False
    return True


def print_steps(steps: Sequence[Step], out: TextIO) -> None:
    print("# Step 1: create the Proxmox VE VM in VirtualBox (run these on the PC)", file=out)
    for step in steps:
        print(f"# {step.why}\n{shlex.join(step.argv)}", file=out)


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    runner: Runner = _run,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse printed its own usage message
        return int(e.code or 0)
    try:
        opts, warnings = options(args, need_iso=args.run)
    except UsageError as e:
        print(f"{parser.prog}: bad arguments:", file=err)
        for line in str(e).splitlines():
            print(f"  - {line}", file=err)
        return 2
    for w in warnings:
        print(f"warning: {w}", file=err)
    steps = plan(opts)
    if args.run:
        if not run_steps(steps, out, err, runner):
            return 1
    else:
        print_steps(steps, out)
    print(file=out)
    print(installer_and_settings(opts), file=out, end="")
    return 0
