"""Fixtures: a pvesim cluster over real HTTPS and a `Proxmox` client pinned to its certificate."""

from __future__ import annotations

import pytest

from bot.proxmox import Proxmox, ProxmoxSettings
from pvesim import Simulator


def _settings_for(sim, **overrides) -> ProxmoxSettings:
    """Token auth and the certificate pinned by fingerprint, as an operator would set it up."""
    values = dict(
        host="127.0.0.1",
        port=sim.port,
        token_id=sim.token_id,
        token_secret=sim.token_secret,
        fingerprint=sim.fingerprint,
        timeout=5.0,
    )
    values.update(overrides)
    return ProxmoxSettings(**values)


@pytest.fixture
async def sim():
    async with Simulator(time_scale=0.0) as simulator:
        yield simulator


@pytest.fixture
def settings_for():
    """`settings_for(sim, **overrides)` (a fixture, since test modules cannot import conftest)."""
    return _settings_for


@pytest.fixture
async def px(sim):
    async with Proxmox(_settings_for(sim)) as client:
        yield client
