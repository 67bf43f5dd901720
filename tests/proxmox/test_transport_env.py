"""The Proxmox session honours the proxy and CA-bundle environment variables as requests does,
read once when it connects rather than on every request."""

import pytest

from bot.proxmox import ProxmoxSettings
from bot.proxmox.transport import connect


def session_for(**kw):
    settings = ProxmoxSettings(host="pve.example", token_id="root@pam!t", token_secret="s", **kw)
    return connect(settings)._store["session"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY",
                 "no_proxy", "ALL_PROXY", "all_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def test_env_is_read_once_not_per_request():
    assert session_for().trust_env is False


def test_a_proxy_from_the_environment_is_used(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.lan:3128")
    assert session_for().proxies.get("https") == "http://proxy.lan:3128"


def test_no_proxy_for_the_proxmox_host_is_honoured(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.lan:3128")
    monkeypatch.setenv("NO_PROXY", "pve.example")
    assert session_for().proxies == {}


def test_a_ca_bundle_from_the_environment_verifies_when_no_ca_file_is_set(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp.pem")
    assert session_for(verify_tls=True).auth.verify_ssl == "/etc/ssl/corp.pem"
    assert session_for(verify_tls=True, ca_file="/etc/pve/ca.pem").auth.verify_ssl == \
        "/etc/pve/ca.pem"
    assert session_for(verify_tls=False).auth.verify_ssl is False
