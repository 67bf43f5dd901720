"""A 400 from Telegram is final: sending the same request again cannot succeed."""


async def test_a_bad_request_is_not_retried(harness):
    """The retries meant for 5xx must not repeat a 400 (PTB's BadRequest is a NetworkError):
    four pointless retries delayed the bot's error reply (and every "message is not modified"
    edit) by seconds."""
    tg = harness.tg
    tg.fail_next("sendMessage", status=400, count=1)
    msg = await harness.ask(harness.bob, "/list", timeout=15)
    failed = [c for c in tg.calls_to("sendMessage") if not c.ok]
    assert len(failed) == 1, [c.description for c in failed]
    assert msg.content.startswith("Something went wrong")  # the reply that was refused
