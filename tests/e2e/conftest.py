"""End-to-end harness: pvesim over HTTPS, the Telegram stand-in over HTTP, and the real PTB
Application long-polling it. Nothing in between is mocked."""

from __future__ import annotations

import pytest
from e2e_harness import (
    ADMIN_ID,
    APPROVAL_CHAT,
    BOB_ID,
    CAROL_ID,
    Harness,
    default_policy,
    running_bot,
)

from bot.store import Store, User
from pvesim import Simulator
from tgsim import TelegramStandIn


@pytest.fixture
async def sim():
    async with Simulator(time_scale=0.0) as simulator:
        yield simulator


@pytest.fixture
async def tg():
    async with TelegramStandIn() as standin:
        standin.group(APPROVAL_CHAT, "Stratus approvals")
        yield standin


@pytest.fixture
def policy():
    return default_policy()


@pytest.fixture
async def harness(sim, tg, tmp_path, policy):
    store_path = tmp_path / "stratus.json"
    with Store(store_path) as store:  # closed: the bot's store is the one of this data folder
        for uid, name in ((BOB_ID, "Bob"), (CAROL_ID, "Carol")):
            store.users.put(User(id=uid, role="user", name=name, granted_by=ADMIN_ID))
    async with running_bot(sim, tg, store_path, policy) as (services, app):
        yield Harness(sim, tg, services, app, str(store_path))
