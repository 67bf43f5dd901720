"""The REST door: an aiohttp application in the bot's own process and event loop.

Off unless STRATUS_API_LISTEN is set. Each request: its size is bounded, its bearer token
is checked (`ApiTokenService.authenticate`: the token acts as its owner, with the owner's
role now), its token's bucket is asked (429 with Retry-After), its path, query and body are
parsed by the route's schemas (400 naming each invalid field), then the route calls the
services. Every error becomes a problem document (bot/api/problems.py). Meant to sit behind
a TLS reverse proxy (README): a token is a password.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.api import problems as p
from bot.api.openapi import openapi_document
from bot.api.operations import Operations
from bot.api.routes import ROUTES, Call, Desk, Door, Route, check_path
from bot.metrics import TIMINGS
from bot.services import Services

log = logging.getLogger(__name__)

BASE = "/api/v1"
BODY_MAX_BYTES = 64 * 1024  # the largest request is a create or a schedule: well under 1 KiB
TOKEN_KEY = web.RequestKey("api_token", object)  # the authenticated token, for error wording


def _location(error: dict) -> str:
    return ".".join(str(part) for part in error["loc"]) or "body"


def invalid_of(error: ValidationError, where: str) -> p.Problem:
    """A pydantic error as a 400 naming each field (in the chat's words where a chat parser
    judged it)."""
    pairs = []
    for e in error.errors(include_url=False):
        name = _location(e)
        message = e["msg"]
        if e["type"] == "extra_forbidden":
            message = f"unknown {'field' if where == 'body' else 'parameter'} {name!r}"
        elif e["type"] == "missing":
            message = f"{name} is required"
        pairs.append((name, message))
    return p.invalid(*pairs)


async def read_body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    if request.content_type != "application/json":
        raise p.Problem(p.MEDIA, "Send the body as JSON, with Content-Type: application/json.")
    raw = await request.read()  # bounded by client_max_size: 413 beyond it
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise p.invalid(("body", f"not valid JSON: {exc}")) from None
    if not isinstance(data, dict):
        raise p.invalid(("body", "must be a JSON object"))
    return validated(model, data, "body")


def validated(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    try:
        value = model.model_validate(data)
    except ValidationError as exc:
        raise invalid_of(exc, where) from None
    wrong = value.problems() if hasattr(value, "problems") else []
    if wrong:
        raise p.invalid(*wrong)
    return value


def query_of(request: web.Request, model: type[BaseModel]) -> BaseModel:
    data: dict[str, str] = {}
    for key, value in request.query.items():
        if key in data:
            raise p.invalid((key, f"{key} is given twice"))
        data[key] = value
    return validated(model, data, "query")


class ApiServer:
    """Serves ROUTES under /api/v1 on (host, port); `start` in the bot's loop, `stop` on exit."""

    def __init__(self, services: Services, desk: Desk, listen: tuple[str, int],
                 between_ticks: Callable[[], Any] | None = None) -> None:
        self.services = services
        self.listen = listen
        self.door = Door(services, desk, Operations(), between_ticks)
        self.app = self.build()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        host = self.listen[0]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}{BASE}"

    def build(self) -> web.Application:
        app = web.Application(client_max_size=BODY_MAX_BYTES,
                              middlewares=[self.problems_middleware])
        app.router.add_get(f"{BASE}/openapi.json", self.openapi)
        for route in ROUTES:
            # A volume id holds "/" (local:backup/vzdump-...): it takes the rest of the path.
            path = BASE + route.path.replace("{volid}", "{volid:.+}")
            app.router.add_route(route.method, path, self.endpoint(route))
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.listen[0], self.listen[1])
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("REST API listening on %s", self.url)

    async def stop(self) -> None:
        await self.door.operations.drain()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ---- requests ---------------------------------------------------------------------------

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(openapi_document(BASE))

    @web.middleware
    async def problems_middleware(self, request: web.Request, handler) -> web.StreamResponse:
        """Every answer that is not a success is a problem document."""
        try:
            return await handler(request)
        except p.Problem as problem:
            return problem.response(request.path)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            kind = {404: p.NOT_FOUND, 405: p.METHOD, 413: p.TOO_LARGE}.get(exc.status)
            if kind is None:
                kind = p.Kind(f"http-{exc.status}", exc.status, exc.reason)
            detail = {404: f"There is no {request.path} in this API: {BASE}/openapi.json "
                           "lists what there is.",
                      405: f"{request.method} is not allowed on {request.path}.",
                      413: f"The request body is larger than {BODY_MAX_BYTES} bytes."}.get(
                exc.status, exc.text or exc.reason)
            return p.Problem(kind, detail, headers={
                k: v for k, v in exc.headers.items() if k == "Allow"}).response(request.path)
        except Exception as exc:  # noqa: BLE001 - every error gets an answer
            reader_id = getattr(request.get(TOKEN_KEY), "user_id", None)
            problem = p.problem_of(exc, self.services.access.shown_to(reader_id, str(exc)))
            if problem is None:
                ref = secrets.token_hex(3).upper()
                log.error("unhandled API error (ref %s) on %s %s", ref, request.method,
                          request.path, exc_info=exc)
                problem = p.Problem(p.INTERNAL, f"Something went wrong (ref {ref}). An admin "
                                                "can find it in the log.")
            return problem.response(request.path)

    def authenticate(self, request: web.Request):
        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        challenge = {"WWW-Authenticate": 'Bearer realm="stratus"'}
        if scheme.lower() != "bearer" or not secret.strip():
            raise p.Problem(p.UNAUTHENTICATED, "Send an API token as 'Authorization: Bearer "
                                               "<token>'. /api_token in the chat with the bot "
                                               "gives you one.", headers=challenge)
        try:
            token = self.services.tokens.authenticate(secret.strip())
        except p.Problem:
            raise
        except Exception as exc:
            problem = p.problem_of(exc, str(exc))
            if problem is not None and problem.kind is p.UNAUTHENTICATED:
                problem.headers.update(challenge)
            raise problem or exc from None
        wait = self.services.api_limiter.admit(token.id)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise p.Problem(p.RATE, f"🐢 Slow down: this token sent many requests in a short "
                                    f"time, so this one was not done. Try again in {retry} s.",
                            headers={"Retry-After": str(retry)})
        return token

    def endpoint(self, route: Route):
        async def handle(request: web.Request) -> web.StreamResponse:
            token = self.authenticate(request)
            request[TOKEN_KEY] = token
            path = check_path(route, dict(request.match_info))
            query = query_of(request, route.query)
            body = await read_body(request, route.body) if route.body is not None else None
            call = Call(self.door, token, path, query, body, BASE)
            with TIMINGS.measure(f"api {route.method} {route.path}", None):
                return await route.handler(call)

        handle.__name__ = route.handler.__name__
        return handle
