"""The pinned certificate fingerprint holds through an HTTPS proxy (issue 11): with HTTPS_PROXY
set, requests built its proxy's connection pools without the pin, so an intercepting proxy
(one that answers the CONNECT and then plays the server with its own certificate) received
the token secret, while /doctor, which probes the host directly, still said the pin matched.

Two real proxies on 127.0.0.1: an honest one that tunnels the CONNECT to pvesim, and one that
intercepts it (TLS with its own certificate, recording what it reads, then relaying).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import tempfile
from pathlib import Path

import pytest
from e2e_harness import ADMIN_ID, default_policy, running_bot

from bot.proxmox import Proxmox, ProxmoxSettings, errors
from pvesim.tls import make_certificate


class Proxy:
    """An HTTP CONNECT proxy; ``intercept``: it terminates TLS itself (its own certificate)
    and records the bytes the client sends before relaying them to the real server."""

    def __init__(self, intercept: bool):
        self.intercept = intercept
        self.connects: list[str] = []
        self.seen = b""
        self._tmp = tempfile.TemporaryDirectory()
        cert, key, self.fingerprint = make_certificate(Path(self._tmp.name), "mallory")
        self._server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server_ctx.load_cert_chain(cert, key)
        self._server: asyncio.base_events.Server | None = None
        self.url = ""

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        self._tmp.cleanup()

    async def _handle(self, reader, writer) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            line = request.split(b"\r\n", 1)[0].decode()
            self.connects.append(line)
            host, _, port = line.split()[1].rpartition(":")
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            if self.intercept:
                await writer.start_tls(self._server_ctx)
                client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
                up_r, up_w = await asyncio.open_connection(host, int(port), ssl=client)
            else:
                up_r, up_w = await asyncio.open_connection(host, int(port))
            await asyncio.gather(self._pipe(reader, up_w, record=self.intercept),
                                 self._pipe(up_r, writer))
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _pipe(self, reader, writer, record: bool = False) -> None:
        try:
            while data := await reader.read(65536):
                if record:
                    self.seen += data
                writer.write(data)
                await writer.drain()
        except (OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()


def settings_for(sim) -> ProxmoxSettings:
    return ProxmoxSettings(host="127.0.0.1", port=sim.port, token_id=sim.token_id,
                           token_secret=sim.token_secret, fingerprint=sim.fingerprint,
                           timeout=5.0)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY",
                 "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


async def test_an_intercepting_proxy_gets_nothing_with_the_pin(sim, monkeypatch):
    async with Proxy(intercept=True) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        async with Proxmox(settings_for(sim)) as px:
            with pytest.raises(errors.TLSError, match="pinned SHA-256 fingerprint"):
                await px.version()
        assert [c.rsplit(" ", 1)[0] for c in proxy.connects] == [f"CONNECT 127.0.0.1:{sim.port}"]
        assert proxy.seen == b""  # not one byte of a request, let alone the token
        assert sim.token_secret.encode() not in proxy.seen


async def test_an_honest_proxy_tunnels_to_the_pinned_server(sim, monkeypatch):
    async with Proxy(intercept=False) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        async with Proxmox(settings_for(sim)) as px:
            assert (await px.version())["version"].startswith("9.")
            probe = await px.probe_tls()
        assert proxy.connects and all(c.startswith("CONNECT ") for c in proxy.connects)
        assert probe.fingerprint == sim.fingerprint and probe.via == proxy.url


async def test_the_doctor_probe_sees_what_the_api_connection_sees(sim, monkeypatch):
    """Through an intercepting proxy the probe reports the proxy's certificate, as the API
    connection meets it (a direct probe said the pin matched while the API went through the
    interceptor)."""
    async with Proxy(intercept=True) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        async with Proxmox(settings_for(sim)) as px:
            probe = await px.probe_tls()
        assert probe.fingerprint == proxy.fingerprint != sim.fingerprint
        assert probe.via == proxy.url


async def test_doctor_reports_the_interception_and_what_it_verified(sim, tg, tmp_path,
                                                                    monkeypatch):
    async with Proxy(intercept=True) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        async with running_bot(sim, tg, tmp_path / "s.json", default_policy()):
            admin = tg.user(ADMIN_ID, "Ada")
            await admin.send("/doctor")
            msg = await tg.wait_for(lambda m: m.content.startswith("Doctor:"),
                                    chat_id=ADMIN_ID)
        assert proxy.seen == b""
    text = msg.content
    assert f"✅ API reachable at 127.0.0.1:{sim.port} through proxy {proxy.url}" in text, text
    assert (f"❌ TLS certificate through proxy {proxy.url} fingerprint is {proxy.fingerprint}, "
            "not the pinned one") in text, text
    assert "other checks skipped" in text and "Proxmox VE" not in text


async def test_doctor_through_an_honest_proxy(sim, tg, tmp_path, monkeypatch):
    async with Proxy(intercept=False) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        async with running_bot(sim, tg, tmp_path / "s.json", default_policy()):
            admin = tg.user(ADMIN_ID, "Ada")
            sim.cluster.firewall.options["enable"] = 1  # set up as the README says (issue 15)
            await admin.send("/doctor")
            msg = await tg.wait_for(lambda m: m.content.startswith("Doctor:"),
                                    chat_id=ADMIN_ID)
    assert (f"✅ TLS certificate through proxy {proxy.url} matches the pinned fingerprint "
            f"{sim.fingerprint} (checked on every API connection)") in msg.content, msg.content
    assert "❌" not in msg.content, msg.content
