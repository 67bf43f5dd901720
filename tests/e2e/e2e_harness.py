"""Who is who in the end-to-end tests, and how the bot is started for them."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.app import build_application, serving
from bot.proxmox import Proxmox, ProxmoxSettings
from bot.runtime import ChatPolicy, build_services
from bot.services import Services
from bot.store import Store
from pvesim import Simulator
from tgsim import TelegramStandIn

ADMIN_ID, BOB_ID, CAROL_ID, STRANGER_ID = 1001, 1002, 1003, 1666
APPROVAL_CHAT = -100500


@dataclass
class Harness:
    sim: Simulator
    tg: TelegramStandIn
    services: Services
    app: object
    store_path: str

    @property
    def admin(self):
        return self.tg.user(ADMIN_ID, "Ada", "ada")

    @property
    def bob(self):
        return self.tg.user(BOB_ID, "Bob", "bob")

    @property
    def carol(self):
        return self.tg.user(CAROL_ID, "Carol")

    @property
    def stranger(self):
        return self.tg.user(STRANGER_ID, "Mallory", "mallory")

    @property
    def api_url(self) -> str:
        """The REST door's base URL (/api/v1), on the port it was given."""
        return self.app.bot_data["api"].url

    async def api_token(self, user, name: str = "test") -> str:
        """A token issued as a person gets one: /api_token in their private chat."""
        answer = await self.ask(user, f"/api_token {name}", lambda m: "API token" in m.content)
        return next(line for line in answer.content.splitlines()
                    if line.startswith("stratus_"))

    @asynccontextmanager
    async def api(self, user=None, token: str | None = None):
        """An ApiClient with `user`'s token (issued from the chat) or `token`."""
        import aiohttp

        if user is not None and token is None:
            token = await self.api_token(user)
        async with aiohttp.ClientSession() as session:
            yield ApiClient(session, self.api_url, token)

    async def ask(self, user, text: str, predicate=None, timeout: float = 10.0, chat_id=None):
        """Send `text` as `user`; the bot's first answer in their chat (matching `predicate`)."""
        await user.send(text)
        target = chat_id if chat_id is not None else user.id
        return await self.tg.wait_for(predicate or (lambda m: True), timeout=timeout,
                                      chat_id=target)

    async def settle(self, seconds: float = 0.3) -> None:
        await asyncio.sleep(seconds)


class ApiClient:
    """A real HTTP client of the running bot's REST door, acting with one token."""

    def __init__(self, session, base: str, token: str | None) -> None:
        self.session = session
        self.base = base
        self.token = token

    def as_(self, token: str | None) -> ApiClient:
        return ApiClient(self.session, self.base, token)

    async def call(self, method: str, path: str, json=None, params=None, headers=None,
                   data=None):
        """(status, body as JSON or bytes, headers) of `method path` under /api/v1."""
        head = dict(headers or {})
        if self.token is not None:
            head.setdefault("Authorization", f"Bearer {self.token}")
        async with self.session.request(method, self.base + path, json=json, params=params,
                                        headers=head, data=data) as response:
            raw = await response.read()
            body = raw
            if response.content_type.endswith("json"):
                body = await response.json(content_type=None)
            return response.status, body, response.headers

    async def get(self, path, **kw):
        return await self.call("GET", path, **kw)

    async def post(self, path, json=None, **kw):
        return await self.call("POST", path, json=json if json is not None else {}, **kw)

    async def patch(self, path, json=None, **kw):
        return await self.call("PATCH", path, json=json, **kw)

    async def put(self, path, json=None, **kw):
        return await self.call("PUT", path, json=json if json is not None else {}, **kw)

    async def delete(self, path, **kw):
        return await self.call("DELETE", path, **kw)

    async def finished(self, accepted: dict, timeout: float = 15.0) -> dict:
        """The operation a 202 started, once it has ended."""
        href = accepted["operation"]["href"].removeprefix("/api/v1")
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            _status, op, _h = await self.get(href)
            if op["state"] != "running":
                return op
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"operation still running: {op}")
            await asyncio.sleep(0.05)


@asynccontextmanager
async def running_bot(sim: Simulator, tg: TelegramStandIn, store_path, policy: ChatPolicy,
                      approval_check_s: float = 0.2, api: bool = True):
    px = Proxmox(ProxmoxSettings(host="127.0.0.1", port=sim.port, token_id=sim.token_id,
                                 token_secret=sim.token_secret, verify_tls=True,
                                 fingerprint=sim.fingerprint))
    services = build_services(px, Store(store_path), policy)
    app = build_application(tg.token, services, base_url=tg.base_url,
                            base_file_url=tg.base_file_url, approval_check_s=approval_check_s,
                            api_listen=("127.0.0.1", 0) if api else None)
    try:
        async with serving(app, poll_timeout=1):
            yield services, app
    finally:
        await px.aclose()
        services.store.close()  # a stopped bot lets go of its data folder


def default_policy(**overrides) -> ChatPolicy:
    fields = {"admin_ids": (ADMIN_ID,), "approval_chat_id": APPROVAL_CHAT, **overrides}
    return ChatPolicy(**fields)
