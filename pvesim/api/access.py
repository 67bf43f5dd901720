"""Ticket login and the caller's permissions."""

from __future__ import annotations

import asyncio

from ..errors import ApiError
from ..params.access import PARAMS
from ..privileges import ALL_PRIVILEGES
from .registry import route


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


# The paths GET /access/permissions answers for without ``path`` (PVE::RPCEnvironment::
# get_effective_permissions), besides those named in ACL entries.
TOP_PATHS = ("/", "/access", "/access/groups", "/nodes", "/pool", "/sdn", "/storage", "/vms")


@route("GET", "/access/permissions", PARAMS)
async def permissions(ctx, p):
    """What the caller (or ``userid``: itself or one of its tokens, else Sys.Audit on /access
    is needed) may do: on ``path``, or on every top path and every path of an ACL entry
    (pve-access-control PVE::API2::AccessControl 'permissions'). Paths without any privilege
    are left out; 1 means propagated to the paths below, 0 granted on the path alone."""
    authid = ctx.identity.userid
    userid = p.get("userid", authid)
    if userid != authid and userid.partition("!")[0] != authid:
        ctx.check("/access", "Sys.Audit")
    auth = ctx.sim.auth
    if "path" in p:
        perms = auth.permissions(userid, p["path"])
        return {p["path"]: perms} if perms else {}
    paths = set(TOP_PATHS) | {entry.path for entry in auth.acl}
    return {path: perms for path in sorted(paths) if (perms := auth.permissions(userid, path))}
