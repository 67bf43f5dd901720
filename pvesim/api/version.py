"""GET /version."""

from __future__ import annotations

from ..params.version import PARAMS
from .registry import route

VERSION = {"version": "9.2.0", "release": "9.2", "repoid": "3c9d0c5d1f1e2b7a"}


@route("GET", "/version", PARAMS)
async def get_version(ctx, p):
    return dict(VERSION)
