"""Errors as RFC 9457 problem details (application/problem+json), one stable `type` per class.

The `detail` is the very text the chat shows for the same error (the services' messages), as
the reader may read it (`AccessService.shown_to`: only admins see where Proxmox is); a 400
names each invalid field in `errors`. A bug answers 500 with a short ref, logged with its
traceback, like the chat's "Something went wrong (ref ...)".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from aiohttp import web

from bot.parsing import UsageError
from bot.proxmox import errors as px
from bot.services.approvals import AlreadyPending
from bot.services.errors import (
    Conflict,
    Forbidden,
    NotFound,
    QuotaExceeded,
    ServiceError,
    Unauthenticated,
)

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "urn:stratus:problem:"


@dataclass(frozen=True)
class Kind:
    slug: str
    status: int
    title: str

    @property
    def type(self) -> str:
        return TYPE_BASE + self.slug


INVALID = Kind("invalid-request", 400, "The request is not valid")
UNAUTHENTICATED = Kind("unauthenticated", 401, "No valid API token")
FORBIDDEN = Kind("forbidden", 403, "Not allowed")
QUOTA = Kind("quota-exceeded", 403, "Over the quota")
NOT_FOUND = Kind("not-found", 404, "Not found")
METHOD = Kind("method-not-allowed", 405, "Method not allowed")
CONFLICT = Kind("conflict", 409, "Conflicts with the current state")
ALREADY_PENDING = Kind("already-pending", 409, "Asked already, waiting for an admin")
TOO_LARGE = Kind("payload-too-large", 413, "The request body is too large")
MEDIA = Kind("unsupported-media-type", 415, "The body must be JSON")
REFUSED = Kind("cannot-do", 422, "Cannot be done as asked")
RATE = Kind("too-many-requests", 429, "Too many requests")
PROXMOX = Kind("proxmox-error", 502, "Proxmox refused or failed")
PROXMOX_DOWN = Kind("proxmox-unavailable", 503, "Proxmox cannot be reached")
INTERNAL = Kind("internal-error", 500, "Something went wrong")

KINDS = (INVALID, UNAUTHENTICATED, FORBIDDEN, QUOTA, NOT_FOUND, METHOD, CONFLICT,
         ALREADY_PENDING, TOO_LARGE, MEDIA, REFUSED, RATE, PROXMOX, PROXMOX_DOWN, INTERNAL)


@dataclass
class Problem(Exception):
    """An answer that is an error; raised anywhere in a route, written by the middleware."""

    kind: Kind
    detail: str
    errors: list[dict] = field(default_factory=list)  # [{"field": ..., "detail": ...}]
    extra: dict = field(default_factory=dict)  # members of this type (e.g. approval_id)
    headers: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.detail

    def response(self, instance: str | None = None) -> web.Response:
        body = {"type": self.kind.type, "title": self.kind.title, "status": self.kind.status,
                "detail": self.detail}
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return web.Response(status=self.kind.status, text=json.dumps(body),
                            content_type=MEDIA_TYPE, headers=self.headers)


def invalid(*pairs: tuple[str, str]) -> Problem:
    """A 400 naming each invalid field with what is wrong."""
    errors = [{"field": name, "detail": text} for name, text in pairs]
    detail = "; ".join(f"{e['field']}: {e['detail']}" for e in errors)
    return Problem(INVALID, detail, errors)


def kind_of(exc: BaseException) -> Kind | None:
    """The problem type of an error we expect (None: a bug)."""
    for cls, kind in _BY_CLASS:
        if isinstance(exc, cls):
            return kind
    return None


_BY_CLASS: tuple[tuple[type[BaseException], Kind], ...] = (
    (UsageError, INVALID),
    (Unauthenticated, UNAUTHENTICATED),
    (QuotaExceeded, QUOTA),
    (Forbidden, FORBIDDEN),
    (NotFound, NOT_FOUND),
    (AlreadyPending, ALREADY_PENDING),
    (Conflict, CONFLICT),
    (ServiceError, REFUSED),
    (px.NotFound, NOT_FOUND),
    (px.InvalidRequest, REFUSED),
    (px.AlreadyExists, CONFLICT),
    (px.Locked, CONFLICT),
    (px.PermissionDenied, PROXMOX),
    (px.Unreachable, PROXMOX_DOWN),
    (px.NodeUnavailable, PROXMOX_DOWN),
    (px.ProxmoxError, PROXMOX),
)


def problem_of(exc: BaseException, shown: str) -> Problem | None:
    """The problem an expected error answers (`shown`: its text as the reader may read it)."""
    if isinstance(exc, Problem):
        return exc
    kind = kind_of(exc)
    if kind is None:
        return None
    if isinstance(exc, UsageError):
        return Problem(INVALID, exc.problem, [{"field": "body", "detail": exc.problem}])
    extra = {"approval_id": exc.approval.id} if isinstance(exc, AlreadyPending) else {}
    return Problem(kind, shown, extra=extra)
