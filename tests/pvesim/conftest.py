from __future__ import annotations

import ssl

import aiohttp
import pytest

from pvesim import Simulator, SimulatorThread

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


class Api:
    """A tiny aiohttp client for the simulator (token auth, TLS verified with its certificate)."""

    def __init__(self, sim: Simulator, session: aiohttp.ClientSession):
        self.sim = sim
        self.session = session
        self.headers = {"Authorization": f"PVEAPIToken={sim.token_id}={sim.token_secret}"}

    async def call(self, method: str, path: str, headers: dict | None = None, **params):
        kwargs = {"params": params} if method == "GET" else {"data": params}
        async with self.session.request(method, f"{self.sim.base_url}/api2/json{path}",
                                        headers=self.headers if headers is None else headers,
                                        **kwargs) as resp:
            body = await resp.read()
            return resp.status, resp.reason, (await resp.json() if body else None)

    async def ok(self, method: str, path: str, **params):
        status, reason, body = await self.call(method, path, **params)
        assert status == 200, (status, reason, body)
        return body["data"]

    async def wait(self, node: str, upid: str) -> dict:
        for _ in range(500):
            st = await self.ok("GET", f"/nodes/{node}/tasks/{upid}/status")
            if st["status"] == "stopped":
                return st
            await __import__("asyncio").sleep(0.01)
        raise AssertionError(f"task {upid} did not finish")

    async def create(self, node: str = "pve1", vmid: int = 200, **extra) -> dict:
        params = {"vmid": vmid, "ostemplate": TEMPLATE, "rootfs": "local-lvm:8", **extra}
        upid = await self.ok("POST", f"/nodes/{node}/lxc", **params)
        return await self.wait(node, upid)


@pytest.fixture
async def sim():
    async with Simulator(time_scale=0.0) as s:
        yield s


@pytest.fixture
async def api(sim):
    ctx = ssl.create_default_context(cafile=str(sim.cert_path))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as session:
        yield Api(sim, session)


@pytest.fixture(scope="module")
def simthread():
    with SimulatorThread(time_scale=0.0) as s:
        yield s
