"""The tenant isolation scenarios (tests/e2e/test_isolation_*.py) through BOTH front doors.

Each scenario is written once against a small `Door` (chat, or the REST API with a token the
person got from /api_token) and run through each: the same refusals, in the same words, the
same approvals (the admin is asked in the chat either way), the same state in Proxmox. What a
door does not have (buttons, the wizard, forged callback data) stays in the chat's own tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import pytest
from e2e_harness import APPROVAL_CHAT, BOB_ID, default_policy

from bot.services.quota import BackupLimits

PROGRESS = ("⏳ Creating", "⏳ Backing up", "⏳ Deleting", "⏳ Stopping", "⏳ Starting",
            "⏳ Rebooting", "⏳ Restoring")


@dataclass
class Outcome:
    kind: str  # done | waiting | refused
    text: str
    value: object = None  # what was made: a vmid, a volid
    approval: str | None = None


class ChatDoor:
    name = "chat"

    def __init__(self, h) -> None:
        self.h = h

    async def _say(self, user, text: str) -> Outcome:
        msg = await self.h.ask(user, text, lambda m: not m.content.startswith(
            (*PROGRESS, "Root password")), timeout=15)
        content = msg.content
        if "Waiting for an admin's approval" in content:
            return Outcome("waiting", content, approval=content.rsplit("Request ", 1)[1][:8])
        if content.startswith(("✅", "🗑", "🗓")):
            return Outcome("done", content)
        return Outcome("refused", content.removeprefix("❌ "))

    async def create(self, user, name: str, extra: str = "") -> Outcome:
        out = await self._say(user, f"/create {name} {extra}")
        if out.kind == "done":
            out.value = int(out.text.split()[2])
        return out

    async def power(self, user, ref, action: str) -> Outcome:
        return await self._say(user, f"/ct_{action} {ref}")

    async def delete(self, user, ref) -> Outcome:
        return await self._say(user, f"/ct_delete {ref}")

    async def backup(self, user, ref, protected: bool = False) -> Outcome:
        out = await self._say(user, f"/backup {ref}" + (" --protected" if protected else ""))
        if out.kind == "done":
            out.value = out.text.split(": ", 1)[1].split()[0]
        return out

    async def restore_copy(self, user, volid: str) -> Outcome:
        return await self._say(user, f"/restore {volid} --new")

    async def delete_backup(self, user, volid: str) -> Outcome:
        return await self._say(user, f"/backup_del {volid}")

    async def schedule(self, user, ref, calendar: str, keep: str = "") -> Outcome:
        return await self._say(user, f"/schedule_backup {ref} {calendar} {keep}")

    async def set_ip(self, user, ref, ip: str) -> Outcome:
        return await self._say(user, f"/net_set {ref} net0 --ip {ip}")

    async def users(self, user) -> Outcome:
        msg = await self.h.ask(user, "/users")
        return Outcome("done" if msg.content.startswith("Users:") else "refused", msg.content)

    async def info(self, user, ref) -> Outcome:
        msg = await self.h.ask(user, f"/info {ref}")
        return Outcome("done" if msg.flat_buttons else "refused", msg.content)


class ApiDoor:
    name = "api"

    def __init__(self, h) -> None:
        self.h = h
        self.clients: dict[int, object] = {}
        self._stack = None

    async def client(self, user):
        if user.id not in self.clients:
            self.clients[user.id] = await self._stack.enter_async_context(self.h.api(user))
        return self.clients[user.id]

    async def _do(self, user, method: str, path: str, **kw) -> Outcome:
        api = await self.client(user)
        status, body, _ = await api.call(method, path, **kw)
        if status == 202 and body["state"] == "awaiting_approval":
            return Outcome("waiting", body["approval"]["summary"],
                           approval=body["approval"]["id"])
        if status == 202:
            op = await api.finished(body)
            if op["state"] == "failed":
                return Outcome("refused", op["error"]["detail"])
            return Outcome("done", str(op["result"]), value=op["result"])
        if status < 300:
            return Outcome("done", str(body), value=body)
        return Outcome("refused", body["detail"])

    async def create(self, user, name: str, extra: dict | None = None) -> Outcome:
        out = await self._do(user, "POST", "/containers", json={"hostname": name,
                                                                **(extra or {})})
        if out.kind == "done":
            out.value = out.value["vmid"]
        return out

    async def power(self, user, ref, action: str) -> Outcome:
        return await self._do(user, "POST", f"/containers/{ref}/{action}", json={})

    async def delete(self, user, ref) -> Outcome:
        return await self._do(user, "DELETE", f"/containers/{ref}")

    async def backup(self, user, ref, protected: bool = False) -> Outcome:
        out = await self._do(user, "POST", "/backups", json={"ct": ref, "protected": protected})
        if out.kind == "done":
            out.value = out.value["volid"]
        return out

    async def restore_copy(self, user, volid: str) -> Outcome:
        return await self._do(user, "POST", f"/backups/{quote(volid, safe='')}/restore",
                              json={"mode": "copy"})

    async def delete_backup(self, user, volid: str) -> Outcome:
        return await self._do(user, "DELETE", f"/backups/{quote(volid, safe='')}")

    async def schedule(self, user, ref, calendar: str, keep: str = "") -> Outcome:
        body = {"ct": ref, "calendar": calendar}
        if keep:
            option, value = keep.split()
            body[option.lstrip("-").replace("-", "_")] = int(value)
        return await self._do(user, "POST", "/schedules", json=body)

    async def set_ip(self, user, ref, ip: str) -> Outcome:
        return await self._do(user, "PATCH", f"/containers/{ref}/nics/net0", json={"ip": ip})

    async def users(self, user) -> Outcome:
        return await self._do(user, "GET", "/users")

    async def info(self, user, ref) -> Outcome:
        return await self._do(user, "GET", f"/containers/{ref}")


@pytest.fixture(params=["chat", "api"])
async def door(request, harness):
    from contextlib import AsyncExitStack

    if request.param == "chat":
        yield ChatDoor(harness)
        return
    api = ApiDoor(harness)
    async with AsyncExitStack() as stack:
        api._stack = stack
        yield api


@pytest.fixture
def policy(request):
    limits = getattr(request, "param", None)
    return default_policy(backup_limits=BackupLimits(**limits)) if limits else default_policy()


async def bobs_ct(door, name="alpha") -> int:
    made = await door.create(door.h.bob, name)
    assert made.kind == "done", made
    return made.value


# ---- ownership (issue 10, defects 2-4, 9) ------------------------------------------------------

async def test_another_users_container_is_not_theirs(door):
    h = door.h
    vmid = await bobs_ct(door)
    for attempt in (door.power(h.carol, vmid, "stop"), door.delete(h.carol, vmid),
                    door.info(h.carol, vmid), door.backup(h.carol, vmid),
                    door.set_ip(h.carol, vmid, "10.0.2.60/24")):
        out = await attempt
        assert out.kind == "refused" and "is not yours" in out.text, out
    assert h.sim.cluster.guests[vmid].status == "running"
    assert h.services.approvals.pending() == []


async def test_someone_elses_backup_and_a_missing_one_get_the_same_answer(door):
    h = door.h
    vmid = await bobs_ct(door)
    made = await door.backup(h.bob, vmid)
    assert made.kind == "done", made
    volid = made.value
    missing = volid.replace("lxc-", "lxc-9")
    for act in (door.delete_backup, door.restore_copy):
        theirs = await act(h.carol, volid)
        nothing = await act(h.carol, missing)
        assert theirs.kind == nothing.kind == "refused"
        assert theirs.text.replace(volid, "V") == nothing.text.replace(missing, "V")


async def test_an_approved_delete_spares_the_ct_that_took_the_vmid_since(door):
    h, sim = door.h, door.h.sim
    alpha = await bobs_ct(door, "alpha")
    asked = await door.delete(h.bob, alpha)
    assert asked.kind == "waiting", asked
    card = await h.tg.wait_for(lambda m: f"delete CT {alpha}" in m.content and m.flat_buttons,
                               chat_id=APPROVAL_CHAT)
    guest = sim.cluster.guests.pop(alpha)  # deleted outside the bot; its number is free
    sim.cluster.drop_disks(guest)
    beta = await bobs_ct(door, "beta")
    assert beta == alpha
    await h.admin.press(card, "Approve")
    told = await h.tg.wait_for(lambda m: m.content.startswith(("❌", "🗑")), chat_id=BOB_ID)
    assert "no longer the container this request was about" in told.content
    assert sim.cluster.guests[beta].config["hostname"] == "beta"
    await h.tg.wait_until(lambda: h.services.store.approvals.get(asked.approval).status
                          == "failed")


async def test_identical_delete_requests_file_one_card(door):
    h = door.h
    vmid = await bobs_ct(door)
    first = await door.delete(h.bob, vmid)
    again = await door.delete(h.bob, vmid)
    assert first.kind == "waiting" and again.kind == "refused", (first, again)
    assert f"request {first.approval}" in again.text and "asked for this already" in again.text
    assert len(h.services.approvals.pending()) == 1


# ---- admins only, revoked users ----------------------------------------------------------------

async def test_admin_only_use_cases_are_refused_to_users(door):
    out = await door.users(door.h.bob)
    assert out.kind == "refused" and "admins only" in out.text, out
    assert (await door.users(door.h.admin)).kind == "done"


# ---- storage (defect 7), addresses (defect 6) --------------------------------------------------

@pytest.mark.parametrize("policy", [{"backups": 1}], indirect=True)
async def test_a_backup_beyond_the_count_quota_is_refused(door):
    h = door.h
    vmid = await bobs_ct(door)
    assert (await door.backup(h.bob, vmid)).kind == "done"
    tasks = len(h.sim.cluster.tasks)
    refused = await door.backup(h.bob, vmid)
    assert refused.kind == "refused" and "2 backups > quota 1" in refused.text, refused
    assert len(h.sim.cluster.tasks) == tasks  # no vzdump started


async def test_a_users_protected_backup_waits_for_an_admin(door):
    h = door.h
    vmid = await bobs_ct(door)
    out = await door.backup(h.bob, vmid, protected=True)
    assert out.kind == "waiting", out
    await h.tg.wait_for(lambda m: "protected backup" in m.content and m.flat_buttons,
                        chat_id=APPROVAL_CHAT)
    assert not [t for t in h.sim.cluster.tasks.values() if t.type == "vzdump"]


async def test_a_users_schedule_without_retention_is_refused_and_a_long_one_waits(door):
    h = door.h
    vmid = await bobs_ct(door)
    refused = await door.schedule(h.bob, vmid, "02:00")
    assert refused.kind == "refused" and "keeps every backup" in refused.text, refused
    waits = await door.schedule(h.bob, vmid, "02:00", "--keep-daily 8")
    assert waits.kind == "waiting", waits
    assert h.sim.cluster.backup_jobs == {}


async def test_the_gateway_is_refused_as_an_address(door):
    h = door.h
    vmid = await bobs_ct(door)
    before = h.sim.cluster.guests[vmid].config["net0"]
    out = await door.set_ip(h.bob, vmid, "10.0.2.2/24")
    assert out.kind == "refused" and "10.0.2.2 is the gateway of vmbr0" in out.text, out
    assert h.sim.cluster.guests[vmid].config["net0"] == before
