"""Every use case goes through the one policy point (bot/services/policy.py).

The policy is made to refuse everything; then every command of `COMMANDS` (its /help example)
and every button family of `BUTTONS` (its example data) is sent by an admin, who passes the
chat door's role check. Each must be refused by the policy, for the use case its table entry
declares, before anything happens in Proxmox: so the services, not the handlers, decide, and a
REST door calling the same services gets the same refusals.
"""

import pytest
from e2e_harness import ADMIN_ID

from bot.api.routes import ROUTES
from bot.commands import BUTTONS, COMMANDS
from bot.parsing import EXAMPLES
from bot.services.errors import Forbidden
from bot.services.policy import RULES, Approve, Policy, Scope

# Use cases no command or button starts: the scaling controller asks for these itself.
INTERNAL = {"group.scale_out"}


@pytest.fixture
def refusing(harness, monkeypatch):
    asked: list[str] = []

    def refuse(actor_id, use_case, *args, **kwargs):
        asked.append(use_case)
        raise Forbidden(f"policy refuses {use_case}")

    monkeypatch.setattr(harness.services.access.policy, "authorize", refuse)
    return asked


def cluster_state(sim):
    return {v: (g.status, dict(g.config)) for v, g in sim.cluster.guests.items()}


def test_the_table_names_every_use_case_once():
    declared = ({c.use_case for c in COMMANDS if c.use_case} | {b.use_case for b in BUTTONS}
                | {r.use_case for r in ROUTES if r.use_case})  # the REST door's too
    assert declared <= set(RULES), declared - set(RULES)
    assert set(RULES) - declared == INTERNAL, "a rule no door uses, or a door with no rule"
    assert [c.name for c in COMMANDS if c.use_case is None] == ["start", "help"]


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.use_case], ids=lambda c: c.name)
async def test_every_command_asks_the_policy_first(harness, refusing, command):
    h = harness
    before = cluster_state(h.sim)
    answer = await h.ask(h.admin, EXAMPLES[command.name],
                         lambda m: "policy refuses" in m.content or m.content.startswith("❌"))
    assert f"policy refuses {command.use_case}" in answer.content, answer.content
    assert refusing[0] == command.use_case
    assert cluster_state(h.sim) == before


@pytest.mark.parametrize("button", BUTTONS, ids=lambda b: b.pattern)
async def test_every_button_asks_the_policy_first(harness, refusing, button):
    h = harness
    before = cluster_state(h.sim)
    message = await h.ask(h.admin, "/help")
    data = button.example.replace("cw:1:", f"cw:{ADMIN_ID}:")
    query = await h.admin.press_data(message, data)
    await h.tg.wait_until(lambda: query in h.tg.answered_callbacks)
    refusal = f"policy refuses {button.use_case}"
    if refusal not in h.tg.answered_callbacks[query].text:  # answered at once ("Applying…"):
        await h.tg.wait_for(lambda m: refusal in m.content, chat_id=ADMIN_ID)  # said under it
    assert refusing[0] == button.use_case
    assert cluster_state(h.sim) == before


class Roles:
    def __init__(self, roles):
        self.roles = roles

    def __call__(self, uid):
        return self.roles[uid]


@pytest.mark.parametrize("use_case", sorted(RULES))
def test_the_rules_mean_what_they_say(use_case):
    from bot.services.policy import Role

    rule = RULES[use_case]
    policy = Policy(Roles({1: Role.ADMIN, 2: Role.USER, 3: Role.USER, 4: Role.NONE}))
    policy.authorize(1, use_case, owner_id=2)  # an admin may do anything
    with pytest.raises(Forbidden):
        policy.authorize(4, use_case)  # a stranger nothing
    if rule.role is Role.ADMIN:
        with pytest.raises(Forbidden, match="admins only"):
            policy.authorize(2, use_case)
        return
    policy.authorize(2, use_case, owner_id=2)  # a user on their own
    if rule.scope is Scope.OWN:
        with pytest.raises(Forbidden, match="not yours"):
            policy.authorize(3, use_case, owner_id=2)
        with pytest.raises(Forbidden, match="not yours"):
            policy.authorize(3, use_case, owner_id=None)  # nobody's is not theirs either
    assert policy.needs_approval(2, use_case) == (rule.approve in (Approve.USERS, Approve.ALWAYS))
    assert policy.needs_approval(1, use_case) == (rule.approve is Approve.ALWAYS)
