import importlib


def test_packages_import():
    for name in ("bot", "bot.proxmox", "pvesim", "tgsim"):
        assert importlib.import_module(name).__name__ == name
