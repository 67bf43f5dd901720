"""The REST door's routes, end to end with a real HTTP client: the OpenAPI document is valid and
lists exactly what is served; every route asks the policy point first, for the use case its
table entry declares (so the API refuses as the chat does); and every route works, walked
through as a user and an admin would use them."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from e2e_harness import BOB_ID, default_policy
from openapi_spec_validator import validate

from bot.api.openapi import openapi_document
from bot.api.routes import ROUTES
from bot.services.errors import Forbidden
from bot.services.scaling import ScalingSettings

VOLID = "local:backup/vzdump-lxc-101-2026_05_01-02_00_00.tar.zst"


@pytest.fixture
def policy():
    return default_policy(scaling=ScalingSettings(warmup_s=0, run_job=False, ready_delay_s=30))


def template_of(route) -> str:
    return f"{route.method} {route.path}"


def test_the_document_is_valid_openapi_3_1():
    validate(openapi_document())


def test_every_served_route_is_listed_and_every_listed_route_served(harness):
    app = harness.app.bot_data["api"].app
    served = set()
    for resource in app.router.resources():
        path = re.sub(r"{(\w+):[^}]*}", r"{\1}", resource.canonical)
        for route in resource:
            if route.method != "HEAD":
                served.add(f"{route.method} {path}")
    listed = {f"{method.upper()} {path}" for path, item in openapi_document()["paths"].items()
              for method in item}
    assert served == listed


# One request per route: (path with its parameters, query, body).
EXAMPLES = {
    "GET /me": ("/me", None, None),
    "GET /containers": ("/containers", {"status": "running"}, None),
    "POST /containers": ("/containers", None, {"hostname": "web1"}),
    "GET /containers/{ref}": ("/containers/101", None, None),
    "POST /containers/{ref}/start": ("/containers/101/start", None, {}),
    "POST /containers/{ref}/stop": ("/containers/101/stop", None, {}),
    "POST /containers/{ref}/reboot": ("/containers/101/reboot", None, {}),
    "DELETE /containers/{ref}": ("/containers/101", None, None),
    "GET /containers/{ref}/nics": ("/containers/101/nics", None, None),
    "PATCH /containers/{ref}/nics/{key}": ("/containers/101/nics/net0", None, {"dhcp": True}),
    "GET /netcheck": ("/netcheck", {"a": "web1", "b": "pc"}, None),
    "GET /bridges": ("/bridges", None, None),
    "GET /backups": ("/backups", None, None),
    "POST /backups": ("/backups", None, {"ct": 101}),
    "DELETE /backups/{volid}": (f"/backups/{quote(VOLID, safe='')}", None, None),
    "POST /backups/{volid}/restore": (f"/backups/{quote(VOLID, safe='')}/restore", None,
                                      {"mode": "copy"}),
    "GET /schedules": ("/schedules", None, None),
    "POST /schedules": ("/schedules", None, {"ct": 101, "calendar": "02:00", "keep_last": 3}),
    "GET /schedules/{job_id}": ("/schedules/stratus-1a2b3c4d", None, None),
    "DELETE /schedules/{job_id}": ("/schedules/stratus-1a2b3c4d", None, None),
    "GET /groups": ("/groups", None, None),
    "POST /groups": ("/groups", None, {"name": "web", "template": 900, "min_replicas": 1,
                                       "max_replicas": 3, "target_cpu": 60}),
    "GET /groups/{name}": ("/groups/web", None, None),
    "GET /groups/{name}/status": ("/groups/web/status", None, None),
    "PATCH /groups/{name}": ("/groups/web", None, {"max_replicas": 4}),
    "POST /groups/{name}/pause": ("/groups/web/pause", None, {}),
    "POST /groups/{name}/resume": ("/groups/web/resume", None, {}),
    "DELETE /groups/{name}": ("/groups/web", {"replicas": "keep"}, None),
    "GET /groups/{name}/chart": ("/groups/web/chart", {"window": "6h"}, None),
    "GET /approvals": ("/approvals", None, None),
    "GET /approvals/{approval_id}": ("/approvals/deadbeef", None, None),
    "POST /approvals/{approval_id}/decision": ("/approvals/deadbeef/decision", None,
                                               {"approve": True}),
    "GET /operations": ("/operations", None, None),
    "GET /operations/{op_id}": ("/operations/0123456789ab", None, None),
    "GET /users": ("/users", None, None),
    "PUT /users/{user_id}": ("/users/123456789", None, {"role": "user"}),
    "DELETE /users/{user_id}": ("/users/123456789", None, None),
    "GET /quotas/{user_id}": (f"/quotas/{BOB_ID}", None, None),
    "PATCH /quotas/{user_id}": (f"/quotas/{BOB_ID}", None, {"containers": 5}),
    "GET /audit": ("/audit", {"limit": 5}, None),
}


def test_every_route_has_an_example():
    assert set(EXAMPLES) == {template_of(r) for r in ROUTES}


@pytest.mark.parametrize("route", [r for r in ROUTES if r.use_case], ids=template_of)
async def test_every_route_asks_the_policy_first(harness, monkeypatch, route):
    """The policy refuses everything: every route answers 403 with its refusal, for the use
    case its table entry declares, asked first, before anything happens in Proxmox."""
    h = harness
    asked: list[str] = []

    def refuse(actor_id, use_case, *args, **kwargs):
        asked.append(use_case)
        raise Forbidden(f"policy refuses {use_case}")

    before = {v: (g.status, dict(g.config)) for v, g in h.sim.cluster.guests.items()}
    async with h.api(h.admin) as api:
        monkeypatch.setattr(h.services.access.policy, "authorize", refuse)
        path, params, body = EXAMPLES[template_of(route)]
        status, answer, _ = await api.call(route.method, path, params=params, json=body)
    assert status == 403, answer
    assert answer["detail"] == f"policy refuses {route.use_case}"
    assert asked[0] == route.use_case
    assert {v: (g.status, dict(g.config)) for v, g in h.sim.cluster.guests.items()} == before


class Walk:
    """An API client that records which route each request reached."""

    def __init__(self, api, hits: set[str]) -> None:
        self.api = api
        self.hits = hits

    def _record(self, method: str, path: str) -> None:
        bare = path.split("?")[0]
        for route in ROUTES:
            pattern = re.sub(r"{volid}", ".+", route.path)
            pattern = re.sub(r"{\w+}", "[^/]+", pattern)
            if route.method == method and re.fullmatch(pattern, bare):
                self.hits.add(template_of(route))
                return

    async def call(self, method: str, path: str, expect: int, **kw):
        self._record(method, path)
        status, body, _headers = await self.api.call(method, path, **kw)
        assert status == expect, (method, path, status, body)
        return body

    async def op(self, method: str, path: str, **kw) -> dict:
        accepted = await self.call(method, path, 202, **kw)
        assert accepted["state"] == "running", accepted
        op = await self.api.finished(accepted)
        assert op["state"] == "succeeded", op
        return op

    async def waits(self, method: str, path: str, **kw) -> str:
        accepted = await self.call(method, path, 202, **kw)
        assert accepted["state"] == "awaiting_approval", accepted
        return accepted["approval"]["id"]


async def test_every_route_works(harness):
    h, sim = harness, harness.sim
    hits: set[str] = set()
    async with h.api(h.bob) as bob_api, h.api(h.admin) as admin_api:
        bob, ada = Walk(bob_api, hits), Walk(admin_api, hits)
        assert (await bob.call("GET", "/me", 200))["user_id"] == BOB_ID
        await ada.call("PATCH", f"/quotas/{BOB_ID}", 200,
                       json={"containers": 10, "cores": 10, "memory_mb": 8192, "disk_gb": 100})
        quota = await ada.call("GET", f"/quotas/{BOB_ID}", 200)
        assert quota["containers"] == 10 and "Backups" in quota["backups"]

        made = await bob.op("POST", "/containers", json={"hostname": "web1"})
        vmid = made["result"]["vmid"]
        assert made["result"]["password"] and sim.cluster.guests[vmid].status == "running"
        listed = await bob.call("GET", "/containers", 200, params={"limit": 1})
        assert [c["vmid"] for c in listed["items"]] == [vmid]
        assert (await bob.call("GET", "/containers/web1", 200))["vmid"] == vmid
        for action, state in (("stop", "stopped"), ("start", "running"), ("reboot", "running")):
            op = await bob.op("POST", f"/containers/{vmid}/{action}")
            assert op["result"]["status"] == state and sim.cluster.guests[vmid].status == state
        nics = await bob.call("GET", f"/containers/{vmid}/nics", 200)
        assert nics["nics"][0]["key"] == "net0"
        changed = await bob.call("PATCH", f"/containers/{vmid}/nics/net0", 200,
                                 json={"dhcp": True})
        assert "ip=dhcp" in changed["after"] and changed["applies"] == "now"
        verdict = await bob.call("GET", "/netcheck", 200, params={"a": "web1", "b": "pc"})
        assert verdict["text"].startswith("web1 -> pc:")
        nets = await ada.call("GET", "/bridges", 200)
        assert any(b["name"] == "vmbr0" for b in nets["bridges"])

        # backups
        backup = await bob.op("POST", "/backups", json={"ct": vmid, "note": "first"})
        volid = backup["result"]["volid"]
        listed = await bob.call("GET", "/backups", 200, params={"ct": str(vmid)})
        assert [b["volid"] for b in listed["items"]] == [volid]
        enc = quote(volid, safe="")
        copy = await bob.op("POST", f"/backups/{enc}/restore", json={"mode": "copy"})
        copy_vmid = copy["result"]["vmid"]
        assert sim.cluster.guests[copy_vmid].config["hostname"] == "web1-twin"
        waiting = await bob.waits("POST", f"/backups/{enc}/restore",
                                  json={"mode": "into", "into": vmid, "stop_first": True})
        rejected = await ada.call("POST", f"/approvals/{waiting}/decision", 200,
                                  json={"approve": False})
        assert rejected["status"] == "rejected"
        await h.tg.wait_for(lambda m: waiting in m.content and "rejected" in m.content,
                            chat_id=BOB_ID)
        waiting = await bob.waits("DELETE", f"/backups/{volid}")  # unencoded works too
        assert (await bob.call("GET", f"/approvals/{waiting}", 200))["status"] == "pending"
        pending = await ada.call("GET", "/approvals", 200, params={"scope": "pending"})
        assert waiting in [a["id"] for a in pending["items"]]
        await ada.call("POST", f"/approvals/{waiting}/decision", 200, json={"approve": True})
        await h.tg.wait_for(lambda m: volid in m.content and "deleted" in m.content,
                            chat_id=BOB_ID)
        mine = await bob.call("GET", "/approvals", 200)
        assert {a["id"]: a["status"] for a in mine["items"]}[waiting] == "done"
        assert (await bob.call("GET", "/backups", 200))["items"] == []

        # schedules
        made = await bob.call("POST", "/schedules", 201,
                              json={"ct": vmid, "calendar": "02:00", "keep_last": 3})
        job = made["schedule"]["id"]
        assert job in sim.cluster.backup_jobs and len(made["next_runs"]) == 3
        assert [j["id"] for j in (await bob.call("GET", "/schedules", 200))["items"]] == [job]
        assert (await bob.call("GET", f"/schedules/{job}", 200))["keep"] == "keep-last=3"
        waiting = await bob.waits("DELETE", f"/schedules/{job}")
        await ada.call("POST", f"/approvals/{waiting}/decision", 200, json={"approve": True})
        await h.tg.wait_until(lambda: job not in sim.cluster.backup_jobs)

        # scaling groups
        template = (await bob.op("POST", "/containers", json={"hostname": "tmpl"}))["result"]
        await bob.op("POST", f"/containers/{template['vmid']}/stop")
        group = await bob.call("POST", "/groups", 201, json={
            "name": "web", "template": template["vmid"], "min_replicas": 0, "max_replicas": 1,
            "target_cpu": 60})
        assert group["target_cpu"] == 60 and group["owner_id"] == BOB_ID
        assert [g["name"] for g in (await bob.call("GET", "/groups", 200))["items"]] == ["web"]
        assert (await bob.call("GET", "/groups/web", 200))["paused"] is False
        changed = await bob.call("PATCH", "/groups/web", 200,
                                 json={"target_cpu": 70, "approve_above": "none"})
        assert changed["target_cpu"] == 70 and changed["approve_above"] is None
        assert (await bob.call("POST", "/groups/web/pause", 200))["paused"] is True
        assert (await bob.call("POST", "/groups/web/resume", 200))["paused"] is False
        await h.app.bot_data["scaler"].tick(2_000_000.0)
        status = await bob.call("GET", "/groups/web/status", 200)
        assert status["last_period"] is not None, status
        png = await bob.call("GET", "/groups/web/chart", 200, params={"window": "1h"})
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        waiting = await bob.waits("DELETE", "/groups/web", params={"replicas": "keep"})
        await ada.call("POST", f"/approvals/{waiting}/decision", 200, json={"approve": True})
        await h.tg.wait_until(lambda: h.services.store.scaling.get("web") is None)

        # an admin's delete runs at once; operations are their starters'
        op = await ada.op("DELETE", f"/containers/{copy_vmid}")
        assert copy_vmid not in sim.cluster.guests
        ops = await bob.call("GET", "/operations", 200)
        assert op["id"] not in [o["id"] for o in ops["items"]] and ops["items"]
        assert (await bob.call("GET", f"/operations/{ops['items'][0]['id']}", 200))["state"]
        await bob.call("GET", f"/operations/{op['id']}", 404)

        # people and the trail
        users = await ada.call("GET", "/users", 200)
        assert BOB_ID in [u["id"] for u in users["items"]]
        assert (await ada.call("PUT", "/users/4242", 200, json={"role": "user"}))["id"] == 4242
        gone = await ada.call("DELETE", "/users/4242", 200)
        assert "no longer has access" in gone["detail"]
        trail = await ada.call("GET", "/audit", 200, params={"limit": 200})
        assert any(e["action"] == "revoke" for e in trail["items"])
    assert hits == set(EXAMPLES), set(EXAMPLES) - hits
