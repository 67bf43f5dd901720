"""STRATUS_API_LISTEN and the API token limits, read like every other setting."""

import pytest

from bot.settings import Settings, SettingsError

BASE = {
    "STRATUS_TELEGRAM_TOKEN": "123:abc", "STRATUS_PROXMOX_HOST": "pve.example.com",
    "STRATUS_PROXMOX_TOKEN_ID": "root@pam!stratus", "STRATUS_PROXMOX_TOKEN_SECRET": "s3cret",
    "STRATUS_ADMIN_IDS": "1", "STRATUS_APPROVAL_CHAT_ID": "-100",
}


def test_the_api_is_off_by_default():
    assert Settings.load(BASE).api_listen is None


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)),
    ("localhost:0", ("localhost", 0)),
    ("[::1]:8443", ("::1", 8443)),
])
def test_where_the_api_listens(text, expected):
    assert Settings.load({**BASE, "STRATUS_API_LISTEN": text}).api_listen == expected


@pytest.mark.parametrize("text", ["8080", "http://127.0.0.1:8080", "127.0.0.1:99999", "a b:1"])
def test_a_bad_listen_address_is_named(text):
    with pytest.raises(SettingsError) as error:
        Settings.load({**BASE, "STRATUS_API_LISTEN": text})
    assert "api_listen (STRATUS_API_LISTEN)" in str(error.value)
    assert "HOST:PORT" in str(error.value)


def test_token_limits():
    settings = Settings.load({**BASE, "STRATUS_LIMITS_API_RATE_PER_MIN": "30",
                              "STRATUS_LIMITS_API_BURST": "5"})
    assert (settings.api_limits.rate_per_min, settings.api_limits.burst) == (30, 5)
    with pytest.raises(SettingsError, match="limits_api_burst"):
        Settings.load({**BASE, "STRATUS_LIMITS_API_BURST": "0"})
