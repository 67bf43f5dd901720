"""Route registry: each endpoint module registers its handlers with its parameter table."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ApiError
from ..validator import Method, compiled

if TYPE_CHECKING:
    from aiohttp import web

    from ..auth import Identity
    from ..model import Cluster
    from ..server import Simulator
    from ..worker import TaskRunner


@dataclass
class Ctx:
    """What a handler gets besides its validated parameters."""

    sim: Simulator
    identity: Identity
    request: web.Request

    @property
    def cluster(self) -> Cluster:
        return self.sim.cluster

    @property
    def runner(self) -> TaskRunner:
        return self.sim.runner

    def check(self, path: str, *privileges: str, any_of: bool = False) -> None:
        """403 unless the caller holds ``privileges`` (all, or one with ``any_of``) on ``path``:
        PVE::RPCEnvironment::check / check_any, with their message."""
        if not self.sim.auth.allowed(self.identity.userid, path, privileges, any_of):
            raise ApiError(403, f"Permission check failed ({path}, {'|'.join(privileges)})")

    def allowed(self, path: str, *privileges: str) -> bool:
        return self.sim.auth.allowed(self.identity.userid, path, privileges)


@dataclass
class Reply:
    """A result with top-level keys besides ``data`` (e.g. ``total`` of a task log)."""

    data: Any
    extra: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Ctx, dict[str, Any]], Awaitable[Any]]


@dataclass
class Route:
    method: str
    template: str
    regex: re.Pattern
    handler: Handler
    params: Method
    # (ACL path template, privilege or privileges of which one suffices) checked before the
    # handler, as the method's ``permissions => {check => ['perm', ...]}``; None: no check
    # there (the handler checks, or filters, as PVE's code does).
    perm: tuple[str, str | tuple[str, ...]] | None


ROUTES: list[Route] = []


def _regex(template: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")


def route(method: str, template: str, tables: dict[str, dict],
          perm: tuple[str, str | tuple[str, ...]] | None = None,
          ) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``method template``; its table must be in ``tables``."""
    key = f"{method} {template}"
    table = tables[key]  # a KeyError here means a handler without a parameter table

    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method, template, _regex(template), handler, compiled(key, table), perm))
        return handler

    return register


def find(method: str, path: str) -> tuple[Route | None, dict[str, str]]:
    for r in ROUTES:
        if r.method == method:
            m = r.regex.match(path)
            if m:
                return r, m.groupdict()
    return None, {}


def implemented() -> list[str]:
    """``METHOD /path`` of every implemented method (the conformance test walks these)."""
    return [f"{r.method} {r.template}" for r in ROUTES]
