"""`python -m bot.setup proxmox-role [--role R] [--user U] [--token T]`: the `pveum` commands
that give Stratus a least-privilege identity on Proxmox: a role with exactly the privileges it
uses (`bot.proxmox.privileges`), a user holding it on /, and a privilege-separated API token
holding it too. Run them as root on one node; then give Stratus the token."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import TextIO

from bot.proxmox.privileges import FEATURES, PRIVILEGES, pveum_commands

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._-]{1,39}")
_USER = re.compile(r"[^\s:/!@]+@[A-Za-z][A-Za-z0-9._-]+")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot.setup proxmox-role", description=__doc__)
    p.add_argument("--role", default="Stratus", help="role name (default Stratus)")
    p.add_argument("--user", default="stratus@pve", help="user, with its realm "
                                                          "(default stratus@pve)")
    p.add_argument("--token", default="bot", help="token name (default bot)")
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = parser().parse_args(argv)
    problems = []
    if not _NAME.fullmatch(args.role):
        problems.append(f"--role {args.role!r}: letters, digits, . _ - (2 to 40)")
    if not _USER.fullmatch(args.user):
        problems.append(f"--user {args.user!r} must look like name@realm, e.g. stratus@pve")
    if not _NAME.fullmatch(args.token):
        problems.append(f"--token {args.token!r}: letters, digits, . _ - (2 to 40)")
    if problems:
        print("cannot make the commands:\n" + "\n".join(f"  {p}" for p in problems),
              file=sys.stderr)
        return 2
    print(f"# Stratus uses these {len(PRIVILEGES)} privileges:", file=out)
    for feature, needs in FEATURES.items():
        listed = ", ".join(f"{n.privilege} ({n.why})" for n in needs)
        print(f"#   {feature}: {listed}", file=out)
    print("# Run as root on a Proxmox node:", file=out)
    for command in pveum_commands(args.role, args.user, args.token):
        print(command, file=out)
    print(f"# The last but one prints the token's secret once. Then set\n"
          f"#   proxmox.token_id = \"{args.user}!{args.token}\"\n"
          "#   proxmox.token_secret = \"<the secret>\"\n"
          "# and check with /doctor, or: python -m bot.setup smoke", file=out)
    return 0
