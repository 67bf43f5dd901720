"""Building the (blocking) proxmoxer client: session, TLS policy and authentication.

We assemble proxmoxer's own pieces (`ProxmoxHttpSession`, its auth classes, its
`ProxmoxResource` path builder and error raising) rather than calling `ProxmoxAPI(...)`,
for one reason: proxmoxer's ticket login posts with a bare `requests.post`, outside the
session, so a pinned fingerprint would not protect the password. Here every byte,
login included, goes through one session whose adapter enforces our TLS policy.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import time
from urllib.parse import unquote, urlsplit

import requests
from proxmoxer import AuthenticationError
from proxmoxer.backends.https import (
    JsonSerializer,
    ProxmoxHTTPApiTokenAuth,
    ProxmoxHTTPAuth,
    ProxmoxHTTPAuthBase,
    ProxmoxHttpSession,
)
from proxmoxer.core import ProxmoxResource
from requests.adapters import HTTPAdapter

from .settings import ProxmoxSettings


class FingerprintAdapter(HTTPAdapter):
    """An adapter whose connection pools accept only a certificate with this SHA-256.

    Hostname and CA checks are off (PVE's certificate is self-signed), but urllib3's
    `assert_fingerprint` compares the peer certificate on every new connection; a mismatch
    is an `SSLError` before any request byte is sent.

    The adapter also brings its own SSL context: without one, urllib3 builds a context and
    loads the system CA store for every new connection (~40 ms holding the GIL, which
    stalls the event loop when many connections open at once), CAs we do not use here.
    """

    def __init__(self, fingerprint: str, **kwargs):
        self._fingerprint = fingerprint.replace(":", "").lower()
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._context.check_hostname = False
        self._context.verify_mode = ssl.CERT_NONE
        super().__init__(**kwargs)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        pool_kwargs["assert_fingerprint"] = self._fingerprint
        pool_kwargs["ssl_context"] = self._context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        """Through a proxy too, the pin is checked on the TLS session with Proxmox itself:
        urllib3's ProxyManager builds the pools to the target from these keywords, and talks
        TLS to Proxmox inside the CONNECT tunnel (inside the proxy's own TLS for an https://
        proxy, which is verified on its own). Without them requests' proxy pools had no pin,
        and an intercepting proxy received the token secret."""
        proxy_kwargs["assert_fingerprint"] = self._fingerprint
        proxy_kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(proxy, **proxy_kwargs)


class SessionTicketAuth(ProxmoxHTTPAuth):
    """proxmoxer's ticket auth, but logging in (and renewing) through our session."""

    def __init__(self, session: requests.Session, username, password, **kwargs):
        self._session = session
        super().__init__(username, password, **kwargs)

    def _get_new_tokens(self, password=None, otp=None, otptype=None):
        # A renewal presents the current ticket as the password, as proxmoxer does.
        data = {"username": self.username, "password": password or self.pve_auth_ticket}
        # A plain auth object: no cookies, no CSRF, and no recursion into this method.
        plain = ProxmoxHTTPAuthBase(timeout=self.timeout, verify_ssl=self.verify_ssl)
        response = self._session.request(
            "POST", self.base_url + "/access/ticket", data=data, auth=plain
        )
        if response.status_code != 200:
            raise AuthenticationError(
                f"Couldn't authenticate user {self.username} (HTTP {response.status_code})"
            )
        ticket = response.json()["data"]
        if ticket.get("NeedTFA"):
            raise AuthenticationError("this user needs two-factor authentication; use an API token")
        self.birth_time = time.monotonic()
        self.pve_auth_ticket = ticket["ticket"]
        self.csrf_prevention_token = ticket["CSRFPreventionToken"]


def connect(settings: ProxmoxSettings) -> ProxmoxResource:
    """Return proxmoxer's resource root for `settings` (blocking: a ticket login happens here)."""
    base_url = settings.base_url + "/api2/json"
    session = ProxmoxHttpSession()
    session.headers["accept"] = JsonSerializer().get_accept_types()
    session.headers["Connection"] = "keep-alive"
    # One pooled connection per worker thread, so concurrency is not lost to pool churn.
    pool = dict(pool_connections=4, pool_maxsize=settings.max_workers)
    if settings.fingerprint:
        session.mount("https://", FingerprintAdapter(settings.fingerprint, **pool))
        verify: bool | str = False
    else:
        session.mount("https://", HTTPAdapter(**pool))
        verify = settings.ca_file or settings.verify_tls
    # requests reads the proxy and CA-bundle environment variables again on every request (a
    # third of its CPU per call, measured against pvesim). The process's environment does not
    # change: read them once, with requests' own meaning (NO_PROXY included).
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    if verify is True:
        verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    common = dict(timeout=settings.timeout, verify_ssl=verify, service="PVE")
    if settings.token_id:
        user, _, token_name = settings.token_id.partition("!")
        session.auth = ProxmoxHTTPApiTokenAuth(user, token_name, settings.token_secret, **common)
    else:
        session.auth = SessionTicketAuth(
            session, settings.user, settings.password, base_url=base_url, **common
        )
    return ProxmoxResource(base_url=base_url, session=session, serializer=JsonSerializer())


def proxy_for(settings: ProxmoxSettings) -> str | None:
    """The proxy the API connection goes through (the environment's, as `connect` reads it;
    NO_PROXY honoured), or None."""
    proxies = requests.utils.get_environ_proxies(settings.base_url + "/api2/json")
    return proxies.get("https") or proxies.get("all")


def open_route(host: str, port: int, timeout: float, proxy: str | None) -> socket.socket:
    """A TCP stream to host:port along the API connection's route: direct, or through an
    http:// proxy's CONNECT tunnel (so that what is read on it is what the API meets).
    Raises OSError, or ValueError for a proxy this cannot tunnel through (https://, socks)."""
    if proxy is None:
        return socket.create_connection((host, port), timeout=timeout)
    url = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if url.scheme != "http":
        raise ValueError(f"cannot probe through a {url.scheme}:// proxy")
    sock = socket.create_connection((url.hostname, url.port or 80), timeout=timeout)
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    head = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
    if url.username:
        login = f"{unquote(url.username)}:{unquote(url.password or '')}".encode()
        head += f"Proxy-Authorization: Basic {base64.b64encode(login).decode()}\r\n"
    sock.sendall((head + "\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer and len(answer) < 65536:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    status = answer.split(b"\r\n", 1)[0].decode(errors="replace")
    if len(status.split()) < 2 or status.split()[1] != "200":
        sock.close()
        raise OSError(f"proxy {url.hostname}:{url.port or 80} refused CONNECT {target}: "
                      f"{status or 'no answer'}")
    return sock
