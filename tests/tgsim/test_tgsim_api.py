"""The stand-in's HTTP contract, checked over real HTTP: shapes, errors, validation like Telegram."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def call(http, tg, method, *, token=None, **params):
    """POST a JSON body; returns (HTTP status, decoded body)."""
    url = f"{tg.base_url}{token or tg.token}/{method}"
    async with http.post(url, json=params) as resp:
        return resp.status, await resp.json()


@pytest.fixture
async def bot(tg):
    async with Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as b:
        yield b


async def test_get_me_and_the_error_envelope(tg, http):
    status, body = await call(http, tg, "getMe")
    assert status == 200 and body["ok"] is True
    assert body["result"]["id"] == 123456 and body["result"]["is_bot"] is True

    status, body = await call(http, tg, "getMe", token="123456:wrong")
    assert (status, body) == (401, {"ok": False, "error_code": 401,
                                    "description": "Unauthorized"})
    status, body = await call(http, tg, "noSuchMethod")
    assert (status, body["error_code"], body["description"]) == (404, 404, "Not Found")


async def test_form_and_query_bodies_are_read_like_json(tg, http):
    tg.user(1001, "Alice").open_chat()
    markup = json.dumps({"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]})
    url = f"{tg.base_url}{tg.token}/sendMessage"
    async with http.post(url, data={"chat_id": "1001", "text": "form", "reply_markup": markup}) \
            as resp:
        form_result = (await resp.json())["result"]
    async with http.get(url, params={"chat_id": "1001", "text": "query"}) as resp:
        query_result = (await resp.json())["result"]
    assert form_result["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "go"
    assert form_result["from"]["is_bot"] is True and form_result["chat"]["type"] == "private"
    assert (form_result["message_id"], query_result["message_id"]) == (1, 2)
    assert [c.method for c in tg.calls] == ["sendMessage", "sendMessage"]


async def test_send_message_is_validated_like_telegram(tg, http):
    tg.user(1001, "Alice").open_chat()
    cases = [
        ({"chat_id": 1001, "text": ""}, "Bad Request: message text is empty"),
        ({"chat_id": 1001, "text": "x" * 4097}, "Bad Request: message is too long"),
        ({"chat_id": 999, "text": "hi"}, "Bad Request: chat not found"),
        ({"chat_id": 1001, "text": "hi", "reply_markup": {"inline_keyboard": [[
            {"text": "x", "callback_data": "d" * 65}]]}}, "Bad Request: BUTTON_DATA_INVALID"),
        ({"chat_id": 1001, "text": "1.5", "parse_mode": "MarkdownV2"},
         "Bad Request: can't parse entities: Character '.' is reserved and must be escaped "
         "with the preceding '\\'"),
        ({"chat_id": 1001, "text": "<b>open", "parse_mode": "HTML"},
         "Bad Request: can't parse entities: Can't find end tag corresponding to start tag "
         '"b"'),
        ({"chat_id": 1001, "text": "hi", "reply_parameters": {"message_id": 77}},
         "Bad Request: message to be replied not found"),
    ]
    for params, description in cases:
        status, body = await call(http, tg, "sendMessage", **params)
        assert (status, body["description"]) == (400, description), params
    assert tg.chat(1001).messages == []
    assert [c.status for c in tg.calls] == [400] * len(cases)


async def test_a_user_who_never_wrote_cannot_be_messaged_first(tg, bot):
    tg.user(1001, "Alice")
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(1001, "hello?")


async def test_formatting_is_stripped_into_entities(tg, bot):
    tg.user(1001, "Alice").open_chat()
    await bot.send_message(1001, "<b>CT 101</b> is &lt;running&gt;", parse_mode=ParseMode.HTML)
    await bot.send_message(1001, r"*vm* 101\.2 [docs](https://x\.y)",
                           parse_mode=ParseMode.MARKDOWN_V2)
    html, md = tg.chat(1001).messages
    assert html.text == "CT 101 is <running>"
    assert html.entities == [{"type": "bold", "offset": 0, "length": 6}]
    assert md.text == "vm 101.2 docs"
    assert {"type": "text_link", "offset": 9, "length": 4, "url": "https://x.y"} in md.entities


async def test_edits_are_checked_and_recorded(tg, bot):
    tg.user(1001, "Alice").open_chat()
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Stop", callback_data="ct:101:stop")]])
    sent = await bot.send_message(1001, "starting", reply_markup=keyboard)

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("starting", 1001, sent.message_id, reply_markup=keyboard)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", 1001, 999)

    edited = await bot.edit_message_text("running", 1001, sent.message_id,
                                         reply_markup=keyboard)
    assert edited.text == "running" and edited.edit_date is not None
    await bot.edit_message_reply_markup(1001, sent.message_id, reply_markup=None)
    msg = tg.chat(1001).messages[0]
    assert msg.edit_count == 2 and msg.buttons == []
    assert [e.previous_text for e in msg.edits] == ["starting", "running"]
    assert msg.edit_times == sorted(msg.edit_times)

    assert await bot.delete_message(1001, sent.message_id) is True
    assert tg.chat(1001).messages == []


async def test_a_second_answer_to_a_callback_is_refused(tg, bot):
    alice = tg.user(1001, "Alice")
    alice.open_chat()
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("OK", callback_data="ok")]])
    card = tg.chat(1001).messages_by_id[
        (await bot.send_message(1001, "sure?", reply_markup=keyboard)).message_id]
    query_id = await alice.press(card, "OK")
    assert await bot.answer_callback_query(query_id, "done", show_alert=True)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query_id, "again")
    assert tg.answered_callbacks[query_id].show_alert is True
    with pytest.raises(ValueError, match="no button 'Nope'"):
        await alice.press(card, "Nope")


async def test_fail_next_500_then_success(tg, http):
    tg.user(1001, "Alice").open_chat()
    tg.fail_next("sendMessage", status=500, count=2)
    statuses = [(await call(http, tg, "sendMessage", chat_id=1001, text="hi"))[0]
                for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert [m.text for m in tg.chat(1001).messages] == ["hi"]


async def test_429_carries_retry_after(tg, http):
    tg.fail_next("getMe", status=429, retry_after=7)
    status, body = await call(http, tg, "getMe")
    assert status == 429 and body["parameters"] == {"retry_after": 7}
    assert body["description"] == "Too Many Requests: retry after 7"


async def test_a_second_poller_terminates_the_first(tg, http):
    first = asyncio.create_task(call(http, tg, "getUpdates", timeout=5))
    await tg.wait_until(lambda: tg._poll_generation == 1)
    second = await call(http, tg, "getUpdates", timeout=0)
    status, body = await asyncio.wait_for(first, 5)
    assert second[0] == 200
    assert status == 409 and body["description"].startswith("Conflict: terminated by other")


async def test_bad_token_is_invalid_token_for_ptb(tg):
    with pytest.raises(InvalidToken, match="was rejected by the server"):
        async with Bot("123456:nope", base_url=tg.base_url):
            pass


async def test_documents_can_be_downloaded_back(tg, bot):
    tg.user(1001, "Alice").open_chat()
    sent = await bot.send_document(1001, b"id,name\n1,a\n", filename="report.csv")
    blob = tg.chat(1001).messages[0].document
    assert blob.data == b"id,name\n1,a\n" and blob.filename == "report.csv"
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"id,name\n1,a\n"


async def test_non_images_are_refused_as_photos(tg, bot):
    tg.user(1001, "Alice").open_chat()
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(1001, b"not an image")
