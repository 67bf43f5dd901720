"""The REST door's own mechanics, end to end: tokens issued from the chat, bearer auth, the
token acting as its user with that user's role now, per-token limits (429 + Retry-After),
request size, problem documents. A real aiohttp client against the running bot and pvesim."""

from __future__ import annotations

import hashlib
from pathlib import Path

import aiohttp
import pytest
from e2e_harness import ADMIN_ID, APPROVAL_CHAT, BOB_ID, default_policy

from bot.services.ratelimit import ApiLimits

PROBLEM = "application/problem+json"


@pytest.fixture
def policy(request):
    limits = getattr(request, "param", None)
    return default_policy(**({"api_limits": ApiLimits(**limits)} if limits else {}))


async def test_a_token_is_shown_once_stored_hashed_and_acts_as_its_user(harness):
    h = harness
    answer = await h.ask(h.bob, "/api_token ci", lambda m: "API token" in m.content)
    token = next(line for line in answer.content.splitlines() if line.startswith("stratus_"))
    assert "shown only now" in answer.content
    stored = Path(h.store_path).read_text()  # noqa: ASYNC240 - the store as it is on disk
    assert token not in stored
    assert hashlib.sha256(token.encode()).hexdigest() in stored
    async with h.api(token=token) as api:
        status, me, _ = await api.get("/me")
    assert status == 200 and me["user_id"] == BOB_ID and me["role"] == "user", me
    listed = await h.ask(h.bob, "/api_tokens")
    assert me["token_id"] in listed.content and "ci" in listed.content
    assert token not in listed.content


async def test_a_token_is_not_given_in_a_group_chat(harness):
    h = harness
    await h.admin.send("/api_token ci", chat_id=APPROVAL_CHAT)  # the admins' group
    said = await h.tg.wait_for(lambda m: "private chat" in m.content, chat_id=APPROVAL_CHAT)
    assert "stratus_" not in said.content
    assert h.services.store.api_tokens.of_user(ADMIN_ID) == []


async def test_no_token_a_stranger_token_and_a_revoked_one_are_refused(harness):
    h = harness
    token = await h.api_token(h.bob, "ci")
    async with h.api(token=token) as api:
        for client, header in ((api.as_(None), None), (api.as_("stratus_" + "x" * 43), None),
                               (api.as_(None), "Basic Ym9iOmJvYg==")):
            status, body, headers = await client.get(
                "/containers", headers={"Authorization": header} if header else None)
            assert status == 401, body
            assert headers["Content-Type"].startswith(PROBLEM)
            assert body["type"] == "urn:stratus:problem:unauthenticated"
            assert headers["WWW-Authenticate"].startswith("Bearer")
        token_id = (await api.get("/me"))[1]["token_id"]
        revoked = await h.ask(h.bob, f"/api_token_revoke {token_id}")
        assert "revoked" in revoked.content
        status, body, _ = await api.get("/containers")
        assert status == 401 and "not valid" in body["detail"], body
        # Carol cannot revoke Bob's token, nor tell it from a missing one.
        other = await h.api_token(h.bob, "other")
        async with h.api(token=other) as api2:
            other_id = (await api2.get("/me"))[1]["token_id"]
        carols = await h.ask(h.carol, f"/api_token_revoke {other_id}")
        missing = await h.ask(h.carol, "/api_token_revoke 00000000")
        assert carols.content.replace(other_id, "X") == missing.content.replace("00000000", "X")
        async with h.api(token=other) as api2:
            assert (await api2.get("/me"))[0] == 200


async def test_a_revoked_users_token_lets_nobody_in(harness):
    h = harness
    async with h.api(h.bob) as api:
        assert (await api.get("/me"))[0] == 200
        await h.ask(h.admin, f"/revoke {BOB_ID}", lambda m: "no longer has access" in m.content)
        status, body, _ = await api.get("/containers")
        assert status == 403 and "not registered" in body["detail"], body


@pytest.mark.parametrize("policy", [{"burst": 3, "rate_per_min": 6}], indirect=True)
async def test_a_token_over_its_limit_gets_429_with_retry_after(harness):
    h = harness
    async with h.api(h.bob) as api:
        statuses = [(await api.get("/me"))[0] for _ in range(3)]
        status, body, headers = await api.get("/me")
        assert statuses == [200, 200, 200]
        assert status == 429 and body["type"] == "urn:stratus:problem:too-many-requests"
        assert int(headers["Retry-After"]) >= 1
        async with h.api(h.carol) as carols:  # another token's bucket is its own
            assert (await carols.get("/me"))[0] == 200


async def test_bodies_are_bounded_json_objects_and_every_bad_field_is_named(harness):
    h = harness
    async with h.api(h.bob) as api:
        status, body, _ = await api.call("POST", "/containers", data=b"{" + b" " * 70_000 + b"}",
                                         headers={"Content-Type": "application/json"})
        assert status == 413 and body["type"] == "urn:stratus:problem:payload-too-large", body
        status, body, _ = await api.call("POST", "/containers", data=b"hostname=web1",
                                         headers={"Content-Type": "text/plain"})
        assert status == 415, body
        status, body, _ = await api.call("POST", "/containers", data=b"{not json",
                                         headers={"Content-Type": "application/json"})
        assert status == 400 and body["errors"][0]["field"] == "body", body
        status, body, _ = await api.post("/containers", {"hostname": "-bad", "cores": 0,
                                                         "memory_mb": 1, "colour": "red"})
        assert status == 400, body
        fields = {e["field"]: e["detail"] for e in body["errors"]}
        assert set(fields) == {"hostname", "cores", "memory_mb", "colour"}, fields
        # the chat's own words for the same values
        chat = await h.ask(h.bob, "/create -bad")
        assert fields["hostname"] in chat.content, (fields, chat.content)
        assert fields["cores"] == "cores must be from 1 to 8192, not 0"
        status, body, _ = await api.post("/containers", {"hostname": "ok", "ip": "10.0.2.50/24",
                                                         "dhcp": True})
        assert status == 400 and body["errors"][0]["field"] == "dhcp", body
        status, body, _ = await api.get("/containers", params={"status": "asleep", "x": "1"})
        assert status == 400 and {e["field"] for e in body["errors"]} == {"status", "x"}, body
        status, body, _ = await api.get("/containers/-1")
        assert status == 400 and body["errors"][0]["field"] == "ref", body
    assert not [g for g in h.sim.cluster.guests.values() if g.name in ("ok", "-bad")]


async def test_unknown_paths_and_methods_are_problems_too(harness):
    h = harness
    async with h.api(h.bob) as api:
        status, body, headers = await api.get("/nothing")
        assert status == 404 and headers["Content-Type"].startswith(PROBLEM), body
        status, body, headers = await api.call("PUT", "/containers")
        assert status == 405 and "GET" in headers["Allow"], body


async def test_the_api_is_off_unless_asked(sim, tg, tmp_path):
    from e2e_harness import running_bot

    async with running_bot(sim, tg, tmp_path / "s.json", default_policy(), api=False) \
            as (_services, app):
        assert "api" not in app.bot_data


async def test_openapi_is_served_without_a_token(harness):
    async with aiohttp.ClientSession() as session, \
            session.get(harness.api_url + "/openapi.json") as response:
        assert response.status == 200
        doc = await response.json()
    assert doc["openapi"].startswith("3.1")
