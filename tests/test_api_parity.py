"""The README's parity table is the route table's: each chat command and its REST routes."""

from pathlib import Path

from bot.api.routes import CHAT_INSTEAD, CHAT_ONLY, ROUTES, parity_table
from bot.commands import COMMANDS

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_command_has_a_route_or_says_why_not():
    routed = {r.command for r in ROUTES if r.command}
    names = {c.name for c in COMMANDS}
    assert routed <= names, routed - names
    assert names - routed == set(CHAT_ONLY), "a command needs a route or a reason"
    assert {f"{r.method} {r.path}" for r in ROUTES if r.command is None} == set(CHAT_INSTEAD)


def test_the_readme_shows_the_table():
    assert parity_table() in README.read_text(encoding="utf-8"), \
        "README.md: paste bot.api.routes.parity_table() under 'The REST API'"
