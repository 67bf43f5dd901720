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


@route("GET", "/access/permissions", PARAMS)
async def permissions(ctx, p):
    privs = ctx.identity.privileges
    granted = ALL_PRIVILEGES if privs is None else sorted(privs)
    path = p.get("path") or "/"
    return {path: {priv: 1 for priv in granted}}
