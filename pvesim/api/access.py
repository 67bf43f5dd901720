"""Ticket login and the caller's permissions."""

from __future__ import annotations

import asyncio

from ..errors import ApiError
from ..params.access import PARAMS
from .registry import route

# Every privilege PVE 9 knows; root@pam (and an unrestricted token) has them all on "/".
ALL_PRIVILEGES = (
    "Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate",
    "Datastore.Audit", "Group.Allocate", "Mapping.Audit", "Mapping.Modify", "Mapping.Use",
    "Permissions.Modify", "Pool.Allocate", "Pool.Audit", "Realm.Allocate", "Realm.AllocateUser",
    "SDN.Allocate", "SDN.Audit", "SDN.Use", "Sys.AccessNetwork", "Sys.Audit", "Sys.Console",
    "Sys.Incoming", "Sys.Modify", "Sys.PowerMgmt", "Sys.Syslog", "User.Modify", "VM.Allocate",
    "VM.Audit", "VM.Backup", "VM.Clone", "VM.Config.CDROM", "VM.Config.CPU",
    "VM.Config.Cloudinit", "VM.Config.Disk", "VM.Config.HWType", "VM.Config.Memory",
    "VM.Config.Network", "VM.Config.Options", "VM.Console", "VM.GuestAgent.Audit",
    "VM.GuestAgent.FileRead", "VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.FileWrite",
    "VM.GuestAgent.Unrestricted", "VM.Migrate", "VM.PowerMgmt", "VM.Replicate", "VM.Snapshot",
    "VM.Snapshot.Rollback",
)


@route("POST", "/access/ticket", PARAMS)
async def create_ticket(ctx, p):
    auth = ctx.sim.auth
    user = auth.login(p["username"], p["password"], p.get("realm"))
    if user is None:
        if ctx.sim.auth_failure_delay:
            await asyncio.sleep(ctx.sim.auth_failure_delay)
        raise ApiError(401, "authentication failure")
    return {
        "username": user,
        "ticket": auth.make_ticket(user),
        "CSRFPreventionToken": auth.make_csrf(user),
        "cap": {"vms": {p: 1 for p in ALL_PRIVILEGES if p.startswith("VM.")}},
    }


@route("GET", "/access/permissions", PARAMS)
async def permissions(ctx, p):
    privs = ctx.identity.privileges
    granted = ALL_PRIVILEGES if privs is None else sorted(privs)
    path = p.get("path") or "/"
    return {path: {priv: 1 for priv in granted}}
