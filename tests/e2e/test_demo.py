"""`make demo`, driven with scripted input the way a person would type it."""

import asyncio
import io
import re

from bot.demo import run_demo

SCRIPT = """\
/help
/create web1
:wait is running
/list
/ct_delete web1
:user ada
:group
:1
:user bob
:wait is deleted
/list
:quit
"""


async def test_demo_create_list_approve_as_the_other_user_quit():
    out = io.StringIO()
    await asyncio.wait_for(run_demo(stdin=io.StringIO(SCRIPT), stdout=out, time_scale=0.0), 60)
    text = out.getvalue()
    assert "/create - create a container" in text  # /help as a user
    assert re.search(r"✅ CT \d+ web1 is running on pve\d", text), text
    assert re.search(r"🟢 \d+ web1 · running", text), text  # /list shows it
    assert "Waiting for an admin's approval" in text
    assert "[1] Approve" in text and "now ada" in text
    assert re.search(r"🗑 CT \d+ web1 is deleted", text), text
    closing = text.rstrip().splitlines()[-2:]
    assert closing[0] == "bye" and closing[1].startswith("bye. The bot's log and state are in")
    assert text.count("No containers yet") == 1  # only the /list after the delete
    assert "Traceback" not in text
    curl = re.search(r"curl -H 'Authorization: Bearer (stratus_\S+)' "
                     r"http://127\.0\.0\.1:(\d+)/api/v1/containers", text)
    assert curl and int(curl.group(2)) > 0, text
