"""`python -m bot.setup {virtualbox,proxmox-role,smoke} [...]`: dispatch to the set-up helper
named first."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from bot.setup import proxmox_role, smoke, virtualbox

HELPERS = {"virtualbox": virtualbox.main, "proxmox-role": proxmox_role.main,
           "smoke": smoke.main}
USAGE = ("usage: python -m bot.setup {virtualbox,proxmox-role,smoke} [options]   (add --help "
         "after it for its options)")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    helper = HELPERS.get(args[0])
    if helper is None:
        print(f"unknown set-up {args[0]!r}\n{USAGE}", file=sys.stderr)
        return 2
    return helper(args[1:])


if __name__ == "__main__":
    sys.exit(main())
