"""Issue 10, defect 9 ("Smaller"): the small holes of the chat door, each closed behind it.

- A revoked user's pending requests are cancelled: their cards say so and they are told.
- Callback data that no button of ours carries (empty, garbage, a negative or huge number, a
  trailing newline, oversized) is answered "not valid any more", never a traceback.
- The /create wizard checks what comes back in its callback data (index, nonce, uid).
- Commands that take no arguments say so when given some.
- A user's error messages name neither where Proxmox is nor the bot's token id; an admin's do.
"""

import logging
import re

import pytest
from e2e_harness import ADMIN_ID, APPROVAL_CHAT, BOB_ID, default_policy

from bot.commands import BUTTONS, COMMANDS
from bot.parsing import USAGE
from bot.services.ratelimit import ChatLimits


@pytest.fixture
def policy():
    """These tests press hundreds of forged buttons in a row: not a flood to slow down."""
    return default_policy(limits=ChatLimits(user_burst=10_000, admin_burst=10_000))

NOT_VALID = "not valid any more"


async def bobs_container(h, name="bobs-box"):
    made = await h.ask(h.bob, f"/create {name}", lambda m: m.content.startswith(("✅", "❌")))
    assert made.content.startswith("✅"), made.content
    return int(made.content.split()[2])


def unhandled_errors(caplog):
    """What the application's error handler (or anyone) logged as an error with a traceback."""
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def press(h, user, message, data):
    """A press carrying `data` on `message`; the text of the alert it was answered with."""
    query_id = await user.press_data(message, data)
    await h.tg.wait_until(lambda: query_id in h.tg.answered_callbacks)
    return h.tg.answered_callbacks[query_id].text or ""


# ---- revoke cancels what the user still waits for ---------------------------------------------

async def test_revoking_a_user_cancels_their_pending_requests_and_tells_them(harness):
    h, tg = harness, harness.tg
    vmid = await bobs_container(h)
    await h.ask(h.bob, f"/ct_delete {vmid}", lambda m: "Waiting" in m.content)
    card = await tg.wait_for(lambda m: f"delete CT {vmid}" in m.content and m.flat_buttons,
                             chat_id=APPROVAL_CHAT)
    (approval,) = h.services.approvals.pending()

    answer = await h.ask(h.admin, f"/revoke {BOB_ID}")
    assert "no longer has access" in answer.content and "1 pending request" in answer.content
    told = await tg.wait_for(lambda m: approval.id in m.content and "cancelled" in m.content,
                             chat_id=BOB_ID)
    assert "access" in told.content and "revoked" in told.content
    await tg.wait_until(lambda: "cancelled: requester's access revoked"
                        in tg.chat(APPROVAL_CHAT).messages_by_id[card.message_id].content.lower())
    assert h.services.store.approvals.get(approval.id).status == "cancelled"
    assert h.services.approvals.pending() == []

    # An admin pressing the old card's Approve does not carry it out.
    alert = await press(h, h.admin, card, f"ap:{approval.id}:yes")
    assert "cancelled" in alert, alert
    await h.settle(0.3)
    assert h.sim.cluster.guests[vmid].status == "running"
    assert "No requests are waiting" in (await h.ask(h.admin, "/pending")).content


# ---- malformed callback data, every family ----------------------------------------------------

def malformed_variants(example: str) -> list[str]:
    """From a family's example: data no button of ours carries, one field at a time empty,
    negative, huge, non-ASCII digits, blank or upper case; cut short, too long, oversized."""
    fields = example.split(":")
    out = [example + "\n", example + ":extra", example + "9" * 80, fields[0] + ":",
           ":".join(fields[:2])]
    for i in range(1, len(fields)):
        for bad in ("", "-1", "9" * 25, "١٠٠", " x", "ZZ"):
            out.append(":".join([*fields[:i], bad, *fields[i + 1:]]))
    return out


# The data of each family that is well formed but malformed in one field, as a forged client
# (or an old bot) sends it; keyed by BUTTONS' patterns, so a new family must be added here.
EXAMPLES = {
    r"^ct:\d+:[a-z-]+(:[0-9a-f]{12})?$": "ct:{vmid}:info",
    r"^cw:": "cw:{me}:ab12:0:s:0:go",
    r"^ap:[0-9a-f]+:(yes|no)$": "ap:deadbeef:yes",
    r"^bk:ri:[0-9a-f]+:(yes|no)$": "bk:ri:ab12cd34:yes",
    r"^nw:[A-Za-z0-9-]+:(apply|discard):[0-9a-f]{12}$": "nw:pve1:apply:0123456789ab",
    r"^sg:[a-z0-9-]+:(destroy|keep|cancel)$": "sg:web:keep",
}


def test_every_button_family_has_an_example():
    assert set(EXAMPLES) == {b.pattern for b in BUTTONS}, "add the new button family"


# A node name of the right form is a question for Proxmox (is there such a node?), not a
# malformed button: the press is answered ("Applying…", or the error), like a stale node.
WELL_FORMED_NODE = re.compile(r"nw:[A-Za-z0-9-]+:(apply|discard):0123456789ab")


async def test_empty_garbage_and_oversized_button_data_is_answered_without_a_traceback(
        harness, caplog):
    h = harness
    vmid = await bobs_container(h)
    caplog.set_level(logging.INFO)
    his_message = await h.ask(h.admin, "/help")  # the admin's presses reach every handler
    datas = ["", "garbage", "x" * 300, "ct", "::::", "\x00", "🙂" * 20]
    for example in EXAMPLES.values():
        datas += malformed_variants(example.format(vmid=vmid, me=ADMIN_ID))
    for data in datas:
        alert = await press(h, h.admin, his_message, data)
        assert alert and "went wrong" not in alert, (data, alert)
        if not WELL_FORMED_NODE.fullmatch(data):
            assert NOT_VALID in alert, (data, alert)
    # A user's presses reach the user families' handlers the same way.
    bobs_message = await h.ask(h.bob, "/help")
    for data in ("", "ct:-1:stop", f"ct:{vmid}:stop\n", "sg:web:keep" + "x" * 70, "bk:ri:zz:yes"):
        assert NOT_VALID in await press(h, h.bob, bobs_message, data), data
    await h.settle(0.2)
    assert not unhandled_errors(caplog), [r.getMessage() for r in unhandled_errors(caplog)]
    assert h.sim.cluster.guests[vmid].status == "running"
    assert his_message.content.startswith("What you can do")  # no handler edited it


# ---- the create wizard checks what comes back --------------------------------------------------

async def test_the_wizard_refuses_forged_indexes_nonces_and_uids(harness, caplog):
    h, tg = harness, harness.tg
    caplog.set_level(logging.INFO)
    menu = await h.ask(h.bob, "/create", lambda m: "step 1 of 3" in m.content)
    templates = len(menu.flat_buttons) - 1  # and Cancel
    before = set(h.sim.cluster.guests)
    forged = [
        f"cw:{BOB_ID}:ab12:-1:s:0:go",  # templates[-1]: the last one, silently
        f"cw:{BOB_ID}:ab12:-{templates}:s:0:go",
        f"cw:{BOB_ID}:ab12:0:s:-1:go",
        f"cw:{BOB_ID}:ab12:-1:-:-",  # a later step built on a negative index
        f"cw:{BOB_ID}:ab12:x1:s:0:go",
        f"cw:{BOB_ID}:ab12:1_0:s:0:go",
        f"cw:{BOB_ID}:ab12: 0:s:0:go",
        f"cw:{BOB_ID}:ab12:٠:s:0:go",
        f"cw:{BOB_ID}:ab12:0:q:0:go",
        f"cw:{BOB_ID}:x-:0:s:0:go",  # the hostname would end with a hyphen
        f"cw:{BOB_ID}:a..b:0:s:0:go",  # an empty label
        f"cw:{BOB_ID}:A_B!:0:s:0:go",
        f"cw:{BOB_ID}:" + "a" * 40 + ":0:s:0:go",
        f"cw:+{BOB_ID}:ab12:0:s:0:go",
        f"cw:{BOB_ID}x:ab12:0:s:0:go",
    ]
    for data in forged:
        alert = await press(h, h.bob, menu, data)
        assert NOT_VALID in alert, (data, alert)
    for data in (f"cw:0{BOB_ID}:ab12:0:s:0:go", f"cw:{ADMIN_ID}:ab12:0:s:0:go"):
        assert "belongs to someone else" in await press(h, h.bob, menu, data), data
    await h.settle(0.3)
    assert set(h.sim.cluster.guests) == before
    assert not h.services.approvals.pending()
    assert not [m for m in tg.chat(BOB_ID).messages if "Creating" in m.content]
    assert "step 1 of 3" in tg.chat(BOB_ID).messages_by_id[menu.message_id].content
    assert not unhandled_errors(caplog)

    # The genuine path still works: its data passes the same checks.
    await h.bob.press(menu, menu.flat_buttons[0].text)
    await tg.wait_for(lambda m: m.message_id == menu.message_id and "Step 2 of 3" in m.content)


# ---- commands without arguments ----------------------------------------------------------------

NO_ARGUMENTS = [c.name for c in COMMANDS if USAGE.get(c.name) == f"/{c.name}"
                and c.name != "start"]  # /start will take an invite link's payload


def test_there_are_commands_without_arguments():
    assert {"users", "pending", "schedules", "doctor"} <= set(NO_ARGUMENTS)


@pytest.mark.parametrize("command", NO_ARGUMENTS)
async def test_a_command_without_arguments_says_so_when_given_some(harness, command):
    answer = await harness.ask(harness.admin, f"/{command} everything --now")
    assert "unexpected argument" in answer.content or "takes none" in answer.content, \
        answer.content
    assert f"Usage: /{command}" in answer.content


# ---- where Proxmox is, and the bot's token id, are for admins ---------------------------------

def location_words(h) -> list[str]:
    return [h.services.px.settings.base_url, f"127.0.0.1:{h.sim.port}", "127.0.0.1",
            h.sim.token_id, "root@pam"]


async def test_a_users_error_names_neither_the_proxmox_url_nor_the_token(harness):
    """A refusal answered at once (the guard) and a failure of background work (a live
    message) both, with an admin seeing the same errors whole."""
    h = harness
    for user, chat in ((h.bob, BOB_ID), (h.admin, ADMIN_ID)):
        h.sim.cluster.fail_next_request("GET", "/cluster/resources", "authentication failure",
                                        status=401)
        answer = await h.ask(user, "/list", chat_id=chat)
        assert "rejected the credentials" in answer.content, answer.content
        shown = [w for w in location_words(h) if w in answer.content]
        if chat == BOB_ID:
            assert shown == [], answer.content
        else:
            assert h.services.px.settings.base_url in answer.content, answer.content


async def test_a_task_id_shown_to_a_user_hides_the_token_it_ran_as(harness, monkeypatch):
    from bot.proxmox import tasks

    monkeypatch.setitem(tasks.TASK_TIMEOUTS_S, "vzcreate", 0.5)
    h = harness
    finals = {}
    for user, chat, name in ((h.bob, BOB_ID, "slow-bob"), (h.admin, ADMIN_ID, "slow-ada")):
        h.sim.cluster.hold_next_task("vzcreate")
        started = await h.ask(user, f"/create {name}", lambda m, n=name: f"Creating {n}:"
                              in m.content, chat_id=chat)
        final = await h.tg.wait_for(lambda m, s=started: m.message_id == s.message_id
                                    and m.content.startswith(("✅", "❌")), timeout=15,
                                    chat_id=chat)
        finals[chat] = final.content
    for upid, task in h.sim.cluster.tasks.items():
        if task.type == "vzcreate" and task.status == "running":
            h.sim.cluster.release_task(upid)
    bob, ada = finals[BOB_ID], finals[ADMIN_ID]
    assert "still running" in bob and "task log" in bob and "UPID:" in bob, bob
    assert [w for w in location_words(h) if w in bob] == [], bob
    assert h.sim.token_id in ada, ada  # the admin can paste it into pvenode task log


@pytest.mark.parametrize(("text", "expected"), [
    ("Cannot reach Proxmox at https://pve.lan:8006 (HTTPSConnectionPool(host='pve.lan', "
     "port=8006): Max retries exceeded)", "Cannot reach Proxmox (HTTPSConnectionPool: Max "
     "retries exceeded)"),
    ("The TLS certificate of https://pve.lan:8006 does not match", "The TLS certificate of "
     "Proxmox does not match"),
    ("Cannot reach pve.lan:8006 (refused)", "Cannot reach Proxmox (refused)"),
    ("pvenode task log UPID:pve1:0000A1B2:0001C3D4:665F0000:vzcreate:101:stratus@pve!bot:",
     "pvenode task log UPID:pve1:0000A1B2:0001C3D4:665F0000:vzcreate:101:(hidden):"),
    ("user stratus@pve lacks Sys.Audit", "user (hidden) lacks Sys.Audit"),
    # Whole names only: other words that start like the host stay.
    ("CT 101 on pve.lan.2 and pve.lanx, pveproxy", "CT 101 on pve.lan.2 and pve.lanx, pveproxy"),
    ("resolve 'pve.lan' failed", "resolve '(hidden)' failed"),
])
def test_hide_location_table(text, expected):
    from bot.proxmox.errors import hide_location

    assert hide_location(text, base_url="https://pve.lan:8006", host="pve.lan", port=8006,
                         identities=("stratus@pve!bot", "stratus@pve", None)) == expected
