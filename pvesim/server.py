"""The simulator: an aiohttp HTTPS server speaking the PVE API at /api2/json/."""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from . import api
from .auth import Authenticator, Identity
from .errors import ApiError, param_error
from .model import Cluster
from .scenario import load_scenario
from .scheduler import BackupScheduler
from .tls import make_certificate, server_context
from .validator import PerlRef
from .worker import TaskRunner

log = logging.getLogger(__name__)
PREFIX = "/api2/json"
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class RequestRecord:
    """One API request as the simulator saw it (for tests and benches counting requests)."""

    method: str
    path: str  # without /api2/json, e.g. /nodes/pve1/lxc
    route: str | None  # the matched template, e.g. /nodes/{node}/lxc; None when unknown (501)
    status: int


def _json(status: int, body: dict, reason: str | None = None) -> web.Response:
    return web.Response(status=status, reason=reason, body=json.dumps(body).encode(),
                        content_type=JSON_TYPE)


class Simulator:
    """A PVE cluster on 127.0.0.1 over HTTPS; ``async with Simulator() as sim: ...``.

    scenario: path to a JSON/TOML scenario file, a parsed dict, or a ready ``Cluster``.
    time_scale: multiplies simulated task durations (0: tasks finish almost at once).
    auth_failure_delay: seconds to wait before a 401 (real PVE: about 3).
    """

    def __init__(self, scenario: str | Path | dict | Cluster | None = None, port: int = 0,
                 time_scale: float = 0.0, auth_failure_delay: float = 0.0,
                 host: str = "127.0.0.1"):
        if isinstance(scenario, Cluster):
            self.cluster = scenario
        else:
            self.cluster = load_scenario(scenario) if scenario is not None else Cluster()
        self.host = host
        self.port = port
        self.time_scale = time_scale
        self.auth_failure_delay = auth_failure_delay
        self.user = "root@pam"
        self.token_id = "root@pam!stratus"
        self.auth = Authenticator(self.user, password="")
        self.password = self.auth.password = _secret()
        self.token_secret = self.auth.add_token(self.token_id)
        self.runner = TaskRunner(self.cluster, time_scale)
        self.scheduler = BackupScheduler(self)  # backup jobs on their calendar
        self._scheduler_task: asyncio.Task | None = None
        self.requests: list[RequestRecord] = []
        self.cert_path: Path | None = None
        self.fingerprint = ""
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._app_runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    # ---- hooks ----
    def request_counts(self) -> Counter:
        """``Counter`` of ``"METHOD /route/template"`` over the requests seen so far."""
        return Counter(f"{r.method} {r.route or r.path}" for r in self.requests)

    def reset_requests(self) -> None:
        self.requests.clear()

    async def advance(self, seconds: float) -> None:
        """Move the cluster's clock forward, running the backup jobs that fall due meanwhile
        (each a vzdump task, prune-backups applied): a simulated week in milliseconds."""
        await self.scheduler.advance(seconds)

    def add_token(self, name: str, privileges: set[str] | None = None,
                  user: str | None = None) -> tuple[str, str]:
        """Another API token of ``user`` (default root@pam): returns (token_id, secret). With
        ``privileges`` it is privilege-separated and holds them on ``/``; None: its user's.
        A user other than root@pam holds what ``auth.grant`` gives it."""
        token_id = f"{user or self.user}!{name}"
        return token_id, self.auth.add_token(token_id, frozenset(privileges) if privileges is not None else None)

    # ---- lifecycle ----
    async def start(self) -> Simulator:
        self._tmp = tempfile.TemporaryDirectory(prefix="pvesim-")
        first = next(iter(self.cluster.nodes), "pve")
        self.cert_path, key_path, self.fingerprint = make_certificate(Path(self._tmp.name), first)
        app = web.Application(client_max_size=8 << 20)
        app.router.add_route("*", PREFIX + "/{tail:.*}", self._dispatch)
        self._app_runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._app_runner.setup()
        site = web.TCPSite(self._app_runner, self.host, self.port,
                           ssl_context=server_context(self.cert_path, key_path),
                           reuse_address=True)
        await site.start()
        sockets = site._server.sockets if site._server else []  # the bound port when port=0
        self.port = sockets[0].getsockname()[1]
        self._scheduler_task = asyncio.get_running_loop().create_task(self.scheduler.loop())
        return self

    async def close(self) -> None:
        if self._scheduler_task is not None:
            self._scheduler_task.cancel()
            await asyncio.gather(self._scheduler_task, return_exceptions=True)
            self._scheduler_task = None
        await self.runner.close()
        if self._app_runner is not None:
            await self._app_runner.cleanup()
            self._app_runner = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- request handling ----
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        method = request.method
        route, path_params = api.find(method, path)
        self.cluster.load.apply(self.cluster)  # replica CPU reflects the load of this moment
        try:
            response = await self._handle(request, method, path, route, path_params)
        except ApiError as exc:
            response = self._error(exc)
        except Exception as exc:  # a bug in a handler still answers like PVE: 500 + message
            log.exception("pvesim handler failed: %s %s", method, path)
            response = self._error(ApiError(500, str(exc) or type(exc).__name__))
        self.requests.append(RequestRecord(method, path, route.template if route else None,
                                           response.status))
        return response

    def _error(self, exc: ApiError) -> web.Response:
        if exc.status == 401:
            return web.Response(status=401, reason=exc.reason)
        body: dict[str, Any] = {"data": None}
        if exc.errors:
            body["errors"] = exc.errors
        else:
            body["message"] = exc.message.rstrip("\n") + "\n"
        return _json(exc.status, body, reason=exc.reason)

    async def _handle(self, request: web.Request, method: str, path: str,
                      route: api.registry.Route | None, path_params: dict[str, str]) -> web.Response:
        if route is None:
            raise ApiError(501, f"Method '{method} {path}' not implemented")
        if route.template == "/access/ticket":
            identity = Identity("", False)
        else:
            identity = await self._authenticate(request, method)
        # PVE::APIServer::AnyEvent::extract_params: the body, then the query string over it;
        # then PVE::HTTPServer::rest_handler: a parameter of the URI path given again with
        # another value is refused, the method's permissions are checked, the request is
        # proxied to its node, and only there are the parameters verified.
        raw = await _body_params(request) if request.body_exists else {}
        raw.update(request.query)
        duplicates = {k: "duplicate parameter (already defined in URI) with conflicting values!"
                      for k in sorted(raw) if k in path_params and raw[k] != path_params[k]}
        if duplicates:
            raise param_error(duplicates)
        raw.update(path_params)
        ctx = api.Ctx(self, identity, request)
        if route.perm:
            acl_path, privs = route.perm
            any_of = isinstance(privs, tuple)
            ctx.check(acl_path.format_map(_Template(raw)), *(privs if any_of else (privs,)),
                      any_of=any_of)
        if route.params.proxyto:
            self._check_proxy(raw.get(route.params.proxyto))
        params = route.params.validate(raw)
        if (failure := self.cluster.take_request_failure(method, path, route.template)):
            raise ApiError(*failure)
        result = await route.handler(ctx, params)
        if isinstance(result, api.Reply):
            return _json(200, {"data": result.data, **result.extra})
        return _json(200, {"data": result})

    async def _authenticate(self, request: web.Request, method: str) -> Identity:
        identity = self.auth.identify(request.headers.get("Authorization"),
                                      request.cookies.get("PVEAuthCookie"))
        if identity is None:
            if self.auth_failure_delay:
                await asyncio.sleep(self.auth_failure_delay)
            raise ApiError(401, "No ticket" if not request.headers.get("Authorization")
                           and "PVEAuthCookie" not in request.cookies else "authentication failure")
        if identity.via_ticket and method != "GET":
            if not self.auth.check_csrf(identity.user, request.headers.get("CSRFPreventionToken")):
                raise ApiError(401, "Permission denied - invalid csrf token")
        return identity

    def _check_proxy(self, node: str | None) -> None:
        """Requests for another node are proxied by PVE; an unreachable node answers 595."""
        if node is None or node == "localhost":
            return
        target = self.cluster.nodes.get(node)
        if target is None:
            raise ApiError(500, f"hostname lookup '{node}' failed - failed to get address info "
                                f"for: {node}: Name or service not known")
        if not target.online:
            raise ApiError(595, "No route to host")


async def _body_params(request: web.Request) -> dict[str, str]:
    if request.content_type == JSON_TYPE:
        try:
            data = await request.json()
        except ValueError as exc:
            raise ApiError(400, f"malformed JSON body: {exc}") from exc
        if not isinstance(data, dict):
            raise ApiError(400, "malformed JSON body: an object is required")
        return {k: _wire(v) for k, v in data.items()}
    form = await request.post()
    return {k: str(v) for k, v in form.items()}


def _wire(value: Any) -> str:
    """JSON bodies carry typed values; the schema checks see them as PVE's Perl would: a
    boolean is a JSON::PP::Boolean object (only a boolean parameter takes it, as 1/0), an
    object or array a reference (PVE::JSONSchema::check_type: "got HASH")."""
    if isinstance(value, bool):
        return PerlRef("1" if value else "0", "JSON::PP::Boolean")
    if isinstance(value, dict):
        return PerlRef(json.dumps(value), "HASH")
    if isinstance(value, list):
        return PerlRef(json.dumps(value), "ARRAY")
    return str(value)


class _Template(dict):
    """ACL path templates filled from the raw parameters; a missing one stays as written
    (PVE::Tools::template_replace)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _secret() -> str:
    import secrets

    return secrets.token_urlsafe(12)


class SimulatorThread:
    """A Simulator running in its own thread and event loop (benches, the demo).

    Same arguments as ``Simulator``; after ``start()`` the simulator's attributes (port, base_url,
    cert_path, fingerprint, token_id, token_secret, user, password, cluster, requests...) are
    available on this object. Poking ``cluster`` from another thread is fine for simple hooks.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        self.simulator = Simulator(*args, **kwargs)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["simulator"], name)

    def start(self) -> SimulatorThread:
        self._thread = threading.Thread(target=self._main, name="pvesim", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def _main(self) -> None:
        self.loop = asyncio.new_event_loop()
        try:
            self.loop.run_until_complete(self.simulator.start())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.simulator.close())
        self.loop.close()

    def call(self, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` on the simulator's loop (thread-safe poke of the model)."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        if self.loop is not None and self._thread is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
