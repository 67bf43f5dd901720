"""The firewall's two settings (issue 15): read, checked, and handed to the service."""

import pytest

from bot.runtime import chat_policy
from bot.settings import Settings, SettingsError

BASE = {"STRATUS_TELEGRAM_TOKEN": "123:abc", "STRATUS_PROXMOX_HOST": "pve",
        "STRATUS_PROXMOX_TOKEN_ID": "root@pam!s", "STRATUS_PROXMOX_TOKEN_SECRET": "x",
        "STRATUS_ADMIN_IDS": "1", "STRATUS_APPROVAL_CHAT_ID": "-5"}


def test_defaults_close_ssh_and_the_gui_and_let_users_open_any_port():
    policy = chat_policy(Settings.load(BASE))
    assert policy.firewall.host_ports == "22,8006"
    assert policy.firewall.user_ports == ((1, 65535),)


def test_an_admin_chooses_the_ports():
    settings = Settings.load({**BASE, "STRATUS_FIREWALL_HOST_PORTS": "22, 8006, 3128",
                              "STRATUS_FIREWALL_USER_PORTS": "80,443,1024-65535"})
    firewall = chat_policy(settings).firewall
    assert firewall.host_ports == "22,8006,3128"
    assert firewall.user_ports == ((80, 80), (443, 443), (1024, 65535))
    assert Settings.load({**BASE, "STRATUS_FIREWALL_HOST_PORTS": "none"}) \
        .firewall_host_ports == ""


def test_bad_ports_are_reported_with_the_others():
    with pytest.raises(SettingsError) as error:
        Settings.load({**BASE, "STRATUS_FIREWALL_HOST_PORTS": "ssh",
                       "STRATUS_FIREWALL_USER_PORTS": "2000-1000"})
    text = str(error.value)
    assert "firewall_host_ports" in text and "firewall_user_ports" in text
