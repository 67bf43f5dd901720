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

    async def ask(self, user, text: str, predicate=None, timeout: float = 10.0, chat_id=None):
        """Send `text` as `user`; the bot's first answer in their chat (matching `predicate`)."""
        await user.send(text)
        target = chat_id if chat_id is not None else user.id
        return await self.tg.wait_for(predicate or (lambda m: True), timeout=timeout,
                                      chat_id=target)

    async def settle(self, seconds: float = 0.3) -> None:
        await asyncio.sleep(seconds)


@asynccontextmanager
async def running_bot(sim: Simulator, tg: TelegramStandIn, store_path, policy: ChatPolicy,
                      approval_check_s: float = 0.2):
    px = Proxmox(ProxmoxSettings(host="127.0.0.1", port=sim.port, token_id=sim.token_id,
                                 token_secret=sim.token_secret, verify_tls=True,
                                 fingerprint=sim.fingerprint))
    services = build_services(px, Store(store_path), policy)
    app = build_application(tg.token, services, base_url=tg.base_url,
                            base_file_url=tg.base_file_url, approval_check_s=approval_check_s)
    try:
        async with serving(app, poll_timeout=1):
            yield services, app
    finally:
        await px.aclose()
        services.store.close()  # a stopped bot lets go of its data folder


def default_policy(**overrides) -> ChatPolicy:
    fields = {"admin_ids": (ADMIN_ID,), "approval_chat_id": APPROVAL_CHAT, **overrides}
    return ChatPolicy(**fields)
