"""``PUT /nodes/{node}/lxc/{vmid}/resize``: grow a container's mount point.

As pve-container's ``PVE::API2::LXC::resize_vm`` (src/PVE/API2/LXC.pm) does it: the checks of
``$load_and_check`` run once before the worker forks (a refusal is a 500 at once) and again in
the worker under the config lock (a refusal then fails the task); a disk only grows ("unable
to shrink disk size", "disk is already at specified size"); the worker type is ``resize``. The
new size is written into the mount point's ``size=`` as ``print_ct_mountpoint`` does (PVE's
``format_size``), and the volume grows in its storage. A running CT is resized live
(``resize2fs`` online), so nothing waits for a restart.
"""

from __future__ import annotations

import re

from ..errors import ApiError, fail
from ..formats import parse_size
from ..model import Guest, Task
from ..params.resize import PARAMS
from ..worker import TaskError
from .lxc import check_lock, guest_on
from .registry import route

# PVE::JSONSchema::parse_size: a number and an optional binary unit (K, M, G, T, or KiB...).
_PVE_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT](?:iB)?)?$")


def format_size(size: int) -> str:
    """PVE::JSONSchema::format_size: the largest unit that divides the size exactly."""
    for unit, factor in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def _current_size(guest: Guest, disk: str) -> int:
    """The mount point's size from its config (PVE asks the storage; ours agree)."""
    value = guest.config.get(disk)
    if value is None:
        # parse_volume($disk, undef) parses '' with the mount point's format, whose
        # `volume` is required: PVE::JSONSchema::parse_property_string raises "format error".
        raise ApiError(500, "format error", {"volume": "property is missing and it is not "
                                                       "optional"})
    for part in str(value).split(","):
        if part.startswith("size="):
            return parse_size(part[5:])
    return 0


def _new_size(guest: Guest, p: dict, digest: str | None) -> int:
    """`$load_and_check`: the lock, the digest, then the size, which may only grow."""
    check_lock(guest)
    if digest is not None and digest != guest.digest():
        # PVE::Tools::assert_if_modified
        raise fail("detected modified configuration - file changed by other user? Try again.")
    size_text = p["size"]
    grow = size_text.startswith("+")
    match = _PVE_SIZE.match(size_text.removeprefix("+"))
    if match is None:  # the schema's pattern admits no other shape
        raise fail("invalid size string")
    factor = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(
        (match[2] or "")[:1], 1)
    requested = int(float(match[1]) * factor)
    current = _current_size(guest, p["disk"])
    new = int(current + requested if grow else requested)
    if new < current:
        raise fail("unable to shrink disk size")
    if new == current:
        raise fail("disk is already at specified size")
    return new


def _write_size(ctx, guest: Guest, disk: str, size: int) -> None:
    parts = [x for x in str(guest.config[disk]).split(",") if not x.startswith("size=")]
    guest.config[disk] = ",".join([*parts, f"size={format_size(size)}"])
    volid = parts[0]
    store_id = volid.split(":", 1)[0]
    storage = ctx.cluster.nodes[guest.node].storages.get(store_id)
    if storage is not None and volid in storage.volumes:
        storage.volumes[volid].size = size


@route("PUT", "/nodes/{node}/lxc/{vmid}/resize", PARAMS,
       perm=("/vms/{vmid}", "VM.Config.Disk"))
async def resize_ct(ctx, p):
    guest = guest_on(ctx, p["node"], p["vmid"])
    digest = p.get("digest")
    _new_size(guest, p, digest)  # early checks before forking and locking

    async def work(task: Task) -> None:
        try:
            size = _new_size(guest, p, digest)  # again, under the config lock
        except ApiError as exc:
            raise TaskError(exc.message) from None
        volume = str(guest.config[p["disk"]]).split(",")[0].partition(":")[2]
        task.log(f"  Size of logical volume pve/{volume} changed to {format_size(size)}.")
        await ctx.runner.wait(task)
        _write_size(ctx, guest, p["disk"], size)
        task.log(f"resize2fs {'online' if guest.status == 'running' else 'offline'}: "
                 f"the filesystem now has {size // 4096} (4k) blocks.")

    return ctx.runner.start(guest.node, "resize", str(guest.vmid), ctx.identity.userid,
                            work).upid
