"""The REST door's route table: each route mirrors a chat command and calls the same service
methods its handler calls, so the policy point refuses alike through both doors.

`ROUTES` is the one list the server is built from, the OpenAPI document is generated from
(bot/api/openapi.py), the README's parity table is checked against, and the tests enumerate.
A route that may wait for an admin files its request through the desk (the chat's approval
flow, bot/handlers/approvals.py ChatDesk) with the very payload the chat files, so an approved
request runs the same `@deferrable` code whichever door asked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web
from pydantic import BaseModel

from bot.api import schemas as s
from bot.api.operations import Operation, Operations
from bot.api.problems import CONFLICT, NOT_FOUND, Problem, invalid
from bot.parsing import UsageError, parse_ct_ref, parse_user_id
from bot.parsing_backups import parse_volid
from bot.parsing_network import parse_nic_key
from bot.parsing_scaling import CHART_WINDOWS, parse_group
from bot.proxmox import Container
from bot.proxmox.errors import StartFailed, StillRunning
from bot.services import Role, Services
from bot.services.containers import spec_to_payload
from bot.services.tokens import ApiToken
from bot.store import Approval

JSON = "application/json"
PNG = "image/png"


class Desk(Protocol):
    """How the API files and decides requests that wait for an admin (the chat's flow)."""

    async def file(self, requester_id: int, requester_name: str, action: str, payload: dict,
                   summary: str) -> Approval: ...

    async def decide(self, admin_id: int, admin_name: str, approval_id: str,
                     approve: bool) -> Approval: ...

    async def cancelled(self, approvals: list[Approval]) -> None: ...


@dataclass
class Door:
    """What every route is handed besides its request: the services and the door's own parts."""

    services: Services
    desk: Desk
    operations: Operations
    # Held while a scaling group is deleted: the controller must not be half-way through a
    # scale-out of it (bot/scaler/controller.py between_ticks). None: no controller.
    between_ticks: Callable[[], Any] | None = None


@dataclass
class Call:
    """One authenticated request, its inputs checked."""

    door: Door
    token: ApiToken
    path: dict[str, Any]
    query: BaseModel
    body: BaseModel | None
    base: str  # the API's root path, for links

    @property
    def uid(self) -> int:
        return self.token.user_id

    @property
    def svc(self) -> Services:
        return self.door.services

    @property
    def admin(self) -> bool:
        return self.svc.access.is_admin(self.uid)

    def shown(self, exc: BaseException) -> str:
        return self.svc.access.shown_to(self.uid, str(exc))

    def name(self) -> str:
        user = self.svc.store.users.get(self.uid)
        return (user.name if user and user.name else f"user {self.uid}") + " (API)"


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # under /api/v1, with {params} of PATH_PARAMS
    handler: Handler
    summary: str
    tag: str
    use_case: str | None  # what it asks the policy first (bot/services/policy.py RULES)
    command: str | None  # the chat command it mirrors (the README's parity table)
    ok: int = 200
    out: type[BaseModel] | None = None  # the success answer's schema (None: see `media`)
    body: type[s.Body] | None = None
    query: type[s.Query] = s.NoQuery
    media: str = JSON
    public: bool = False  # answered without a token


@dataclass(frozen=True)
class PathParam:
    parse: Callable[[str], Any]
    description: str
    example: str
    schema: dict = field(default_factory=lambda: {"type": "string"})


def _pattern(regex: str, what: str) -> Callable[[str], str]:
    compiled = re.compile(regex)

    def parse(text: str) -> str:
        if not compiled.fullmatch(text):
            raise UsageError(f"{text[:40]!r} is not {what}", what)
        return text

    return parse


PATH_PARAMS: dict[str, PathParam] = {
    "ref": PathParam(parse_ct_ref, "a container id or hostname", "101"),
    "key": PathParam(parse_nic_key, "a NIC of the container: net0 to net31", "net0"),
    "volid": PathParam(parse_volid, "a backup volume id, percent-encoded",
                       "local:backup/vzdump-lxc-101-2026_05_01-02_00_00.tar.zst"),
    "job_id": PathParam(_pattern(r"[a-zA-Z][a-zA-Z0-9_-]{1,63}", "a schedule id"),
                        "a schedule id", "stratus-1a2b3c4d"),
    "name": PathParam(parse_group, "a scaling group's name", "web"),
    "approval_id": PathParam(_pattern(r"[0-9a-f]{8}", "an approval id (8 hex digits)"),
                             "an approval request's id", "1a2b3c4d"),
    "op_id": PathParam(_pattern(r"[0-9a-f]{12}", "an operation id (12 hex digits)"),
                       "an operation's id", "0123456789ab"),
    "user_id": PathParam(parse_user_id, "a Telegram user id", "123456789",
                         {"type": "integer", "minimum": 1}),
}


# ---- answers ----------------------------------------------------------------------------------

def answer(model: BaseModel | None, status: int = 200, headers: dict | None = None,
           ) -> web.Response:
    text = model.model_dump_json() if model is not None else "{}"
    return web.Response(status=status, text=text, content_type=JSON, headers=headers)


def page(call: Call, items: list, model: type[BaseModel], convert: Callable[[Any], BaseModel],
         ) -> web.Response:
    """One page of `items` (`limit` from `cursor`, an offset), converted."""
    start = int(call.query.cursor or 0)
    chosen = items[start:start + call.query.limit]
    after = start + len(chosen)
    next_cursor = str(after) if after < len(items) else None
    return answer(model(items=[convert(i) for i in chosen], next_cursor=next_cursor))


def approval_out(call: Call, a: Approval) -> s.Approval:
    return s.Approval(id=a.id, action=a.action, summary=a.summary, status=a.status,
                      requester_id=a.requester_id, created_at=a.created_at,
                      expires_at=a.expires_at, decided_by=a.decided_by,
                      decided_at=a.decided_at, href=f"{call.base}/approvals/{a.id}")


def operation_out(call: Call, op: Operation) -> s.Operation:
    return s.Operation(id=op.id, kind=op.kind, target=op.target, state=op.state,
                       progress=list(op.progress), result=op.result, error=op.error,
                       created_at=op.created_at, finished_at=op.finished_at,
                       href=f"{call.base}/operations/{op.id}")


def container_out(ct: Container, owner: int | None = None) -> s.Container:
    return s.Container(vmid=ct.vmid, hostname=ct.hostname, node=ct.node, status=ct.status,
                       cores=ct.cores, memory_mb=ct.memory_mb, disk_gb=ct.disk_gb,
                       ips=list(ct.ips), tags=list(ct.tags), owner_id=owner)


async def waiting(call: Call, action: str, payload: dict, summary: str,
                  reasons: tuple[str, ...] | list[str] = ()) -> web.Response:
    """202: filed for an admin, who is asked in the chat as for a chat request."""
    approval = await call.door.desk.file(call.uid, call.name(), action, payload, summary)
    out = approval_out(call, approval)
    return answer(s.Accepted(state="awaiting_approval", approval=out, reasons=list(reasons)),
                  202, {"Location": out.href})


def running(call: Call, kind: str, target: str,
            work: Callable[[Operation], Awaitable[dict | None]]) -> web.Response:
    """202: the work runs in the background; the client follows the operation."""
    from bot.api.problems import problem_of  # here: problems imports nothing of routes

    def failure(exc: BaseException, op: Operation) -> dict:
        problem = problem_of(exc, call.shown(exc))
        if problem is None:
            import logging

            ref = f"op {op.id}"
            logging.getLogger(__name__).error("operation failed (%s)", ref, exc_info=exc)
            return {"type": "urn:stratus:problem:internal-error", "title": "Something went wrong",
                    "status": 500, "detail": f"Something went wrong ({ref}). An admin can find "
                                             "it in the log."}
        return json_of(problem)

    op = call.door.operations.start(call.uid, kind, target, work, failure)
    out = operation_out(call, op)
    return answer(s.Accepted(state="running", operation=out), 202, {"Location": out.href})


def json_of(problem: Problem) -> dict:
    body = {"type": problem.kind.type, "title": problem.kind.title,
            "status": problem.kind.status, "detail": problem.detail}
    if problem.errors:
        body["errors"] = problem.errors
    body.update(problem.extra)
    return body


def done(detail: str) -> web.Response:
    return answer(s.Done(detail=detail))


# ---- containers -------------------------------------------------------------------------------

async def list_containers(call: Call) -> web.Response:
    q = call.query
    cts = await call.svc.containers.visible(call.uid, owner_id=q.owner, node=q.node,
                                            status=q.status)
    owners = call.svc.containers.owners(call.uid) if call.admin else {}
    return page(call, cts, s.ContainerPage, lambda ct: container_out(ct, owners.get(ct.vmid)))


async def get_container(call: Call) -> web.Response:
    ct = await call.svc.containers.resolve(call.uid, call.path["ref"])
    owner = call.svc.containers.owner_of(ct.vmid) if call.admin else None
    return answer(container_out(ct, owner))


def describe_spec(spec) -> str:
    """As the chat's approval card says it (bot/handlers/create.py describe_spec)."""
    from bot.handlers.create import describe_spec as chat_words

    return chat_words(spec)


async def create_container(call: Call) -> web.Response:
    plan = await call.svc.containers.plan_create(call.uid, call.body.request())
    spec = plan.spec
    if plan.approval_reasons:
        return await waiting(call, "create", {"owner_id": call.uid,
                                              "spec": spec_to_payload(spec),
                                              "lease_holder": plan.lease_holder},
                             f"create {describe_spec(spec)}", plan.approval_reasons)
    svc, uid = call.svc, call.uid

    async def work(op: Operation) -> dict:
        try:
            made = await svc.containers.create(uid, spec, progress=op.step,
                                               lease_holder=plan.lease_holder)
        except (StillRunning, StartFailed) as exc:
            if exc.password:  # the CT has it once made: hand it over, or nobody ever will
                op.result = {"password": exc.password}
            raise
        ct = await svc.containers.resolve(uid, made.vmid)
        return {**container_out(ct).model_dump(), "password": made.password}

    return running(call, "create", spec.hostname, work)


def power(action: str) -> Handler:
    async def handler(call: Call) -> web.Response:
        ct = await call.svc.containers.resolve(call.uid, call.path["ref"], "ct.power")
        svc, uid = call.svc, call.uid

        async def work(op: Operation) -> dict:
            now = await svc.containers.power(uid, ct.vmid, action, ct.identity)
            return container_out(now).model_dump()

        return running(call, action, f"ct:{ct.vmid}", work)

    handler.__name__ = f"ct_{action}"
    return handler


async def delete_container(call: Call) -> web.Response:
    svc, uid = call.svc, call.uid
    ct = await svc.containers.resolve(uid, call.path["ref"], "ct.delete")
    if svc.containers.delete_needs_approval(uid):
        return await waiting(call, "delete", {"vmid": ct.vmid, "identity": ct.identity,
                                              "hostname": ct.hostname},
                             f"delete CT {ct.vmid} {ct.hostname}")

    async def work(op: Operation) -> dict:
        await svc.containers.delete(uid, ct.vmid, ct.identity)
        return {"vmid": ct.vmid, "hostname": ct.hostname, "deleted": True}

    return running(call, "delete", f"ct:{ct.vmid}", work)


async def get_nics(call: Call) -> web.Response:
    info = await call.svc.network.nics(call.uid, call.path["ref"])
    return answer(s.ContainerNics(
        vmid=info.vmid, hostname=info.hostname, node=info.node, running=info.running,
        nics=[s.Nic(key=n.key, bridge=n.bridge, hwaddr=n.hwaddr, ip=n.ip, gw=n.gw,
                    dhcp=n.dhcp, link_up=n.link_up) for n in info.nics]))


async def set_nic(call: Call) -> web.Response:
    ref = call.path["ref"]
    change = await call.svc.network.set_nic(call.uid, ref, call.body.request(ref,
                                                                             call.path["key"]))
    return answer(s.NicChanged(vmid=change.vmid, key=change.key, before=change.before,
                               after=change.after,
                               applies="now" if change.running else "at next start"))


# ---- backups ----------------------------------------------------------------------------------

def backup_out(b) -> s.Backup:
    return s.Backup(volid=b.volid, vmid=b.vmid, node=b.node, storage=b.storage, ctime=b.ctime,
                    size=b.size, protected=b.protected, notes=b.notes)


async def list_backups(call: Call) -> web.Response:
    items = await call.svc.backups.visible(call.uid, call.query.ct)
    return page(call, items, s.BackupPage, backup_out)


async def create_backup(call: Call) -> web.Response:
    svc, uid = call.svc, call.uid
    args = call.body.request()
    ct = await svc.backups.check_backup(uid, args)  # refusals (not yours, quota) at once
    args = dataclasses.replace(args, ref=ct.vmid)
    if svc.backups.backup_needs_approval(uid, args):
        return await waiting(call, "backup", {"args": dataclasses.asdict(args),
                                              "identity": ct.identity},
                             f"protected backup of CT {ct.vmid} {ct.hostname} (kept until an "
                             "admin lifts the protection)")
    vmid, node, upid = await svc.backups.start(uid, args, False, ct.identity)

    async def work(op: Operation) -> dict:
        async def show(p) -> None:
            await op.step(f"{p.stage}, {p.bytes_written} bytes written, {p.elapsed_s:.0f} s")

        try:
            result = await svc.backups.follow(uid, vmid, node, upid, show, interval=1.0)
        except asyncio.CancelledError:
            svc.backups.leave_to_watcher(upid)
            raise
        return dataclasses.asdict(result)

    return running(call, "backup", f"ct:{vmid}", work)


async def delete_backup(call: Call) -> web.Response:
    svc, uid, volid = call.svc, call.uid, call.path["volid"]
    backup = await svc.backups.check_deletable(uid, volid)  # refusals (protected, not yours)
    if svc.backups.delete_needs_approval(uid):
        return await waiting(call, "backup_del", {"volid": volid, "ctime": backup.ctime},
                             f"delete backup {volid}")
    await svc.backups.delete(uid, volid, backup.ctime)
    return done(f"🗑 Backup {volid} is deleted.")


async def restore_backup(call: Call) -> web.Response:
    svc, uid, volid = call.svc, call.uid, call.path["volid"]
    req = call.body.request(volid)
    if req.new:
        await svc.backups.backup_of(uid, volid, "backup.restore_new")  # refusals at once

        async def copy(op: Operation) -> dict:
            r = await svc.backups.restore_new(uid, req)
            return dataclasses.asdict(r)

        return running(call, "restore", volid, copy)
    request, ct = await svc.backups.check_restore_into(uid, volid, req.into, req.hostname)
    if svc.backups.restore_into_needs_approval(uid):
        named = f" as {req.hostname}" if req.hostname else ""
        return await waiting(call, "restore_into", request.to_payload(),
                             f"restore {volid} into CT {ct.vmid} {ct.hostname}{named} "
                             "(overwrites it)")
    stop_first = ct.status == "running"
    if stop_first and not call.body.stop_first:
        raise Problem(CONFLICT, f"CT {ct.vmid} {ct.hostname} is running. Restoring overwrites "
                                "it and its current state is lost: give stop_first: true to "
                                "stop it first.")

    async def into(op: Operation) -> dict:
        r = await svc.backups.restore_into(uid, request, stop_first)
        return dataclasses.asdict(r)

    return running(call, "restore", f"ct:{ct.vmid}", into)


# ---- schedules --------------------------------------------------------------------------------

def schedule_out(j) -> s.Schedule:
    return s.Schedule(id=j.id, calendar=j.schedule, vmids=list(j.vmids), storage=j.storage,
                      mode=j.mode, keep=j.prune, enabled=j.enabled, next_run=j.next_run)


async def list_schedules(call: Call) -> web.Response:
    jobs = await call.svc.backups.schedules(call.uid)
    return page(call, jobs, s.SchedulePage, schedule_out)


async def get_schedule(call: Call) -> web.Response:
    return answer(schedule_out(await call.svc.backups.job_of(call.uid, call.path["job_id"])))


async def create_schedule(call: Call) -> web.Response:
    svc, uid, req = call.svc, call.uid, call.body.request()
    vmids, _runs = await svc.backups.check_schedule(uid, req)  # refusals at once
    target = req.target if len(vmids) > 1 else vmids[0]  # all-mine stays all-mine
    reasons = tuple(svc.backups.schedule_approval_reasons(uid, req))
    if reasons:
        return await waiting(call, "schedule_backup",
                             {"args": {**dataclasses.asdict(req), "target": target}},
                             f"backup schedule of CT {', '.join(map(str, vmids))} at "
                             f"'{req.calendar}' keeping {req.prune}", reasons)
    job, runs = await svc.backups.create_schedule(uid, req)
    return answer(s.ScheduleCreated(schedule=schedule_out(job), next_runs=runs[:3]), 201,
                  {"Location": f"{call.base}/schedules/{job.id}"})


async def delete_schedule(call: Call) -> web.Response:
    svc, uid, job_id = call.svc, call.uid, call.path["job_id"]
    job = await svc.backups.job_of(uid, job_id, "schedule.delete")
    if svc.backups.schedule_del_needs_approval(uid):
        return await waiting(call, "schedule_del", {"job_id": job_id, "schedule": job.schedule},
                             f"delete backup schedule {job_id} ('{job.schedule}')")
    await svc.backups.delete_schedule(uid, job_id, job.schedule)
    return done(f"🗑 Schedule {job_id} is deleted.")


# ---- network ----------------------------------------------------------------------------------

async def netcheck(call: Call) -> web.Response:
    a, b = call.query.a, call.query.b
    v = await call.svc.network.netcheck(call.uid, a, b)
    return answer(s.Verdict(reachable=v.reachable, path=list(v.path),
                            problems=[str(p) for p in v.problems], notes=list(v.notes),
                            text=f"{a} -> {b}: {v.text()}"))


class NodeQuery(s.Query):
    node: s.Node | None = None


async def bridges(call: Call) -> web.Response:
    ov = await call.svc.network.overview(call.uid, call.query.node)
    return answer(s.Networks(
        bridges=[s.BridgeInfo(node=b.node, name=b.name, cidr=b.cidr, gateway=b.gateway,
                              ports=list(b.ports), autostart=b.autostart, pending=b.pending,
                              pool=ov.pools.get(b.name)) for n in ov.nodes for b in n.bridges],
        vnets=[s.VNet(name=v.name, zone=v.zone, subnet=v.subnet, gateway=v.gateway,
                      snat=v.snat, applied=v.applied, pool=ov.pools.get(v.name))
               for v in ov.vnets]))


# ---- scaling groups ---------------------------------------------------------------------------

def group_out(g) -> s.ScalingGroup:
    def members(ms) -> list[s.Member]:
        return [s.Member(vmid=m.vmid, hostname=m.hostname, node=m.node) for m in ms]

    return s.ScalingGroup(
        name=g.name, owner_id=g.owner_id, template_vmid=g.template_vmid,
        min_replicas=g.min_replicas, max_replicas=g.max_replicas,
        target_cpu=round(g.target_cpu * 100), bridge=g.bridge, node_spread=g.node_spread,
        approve_above=g.approve_above, warm_spares=g.warm_spares, paused=g.paused,
        members=members(g.members), spares=members(g.spares),
        pending_approval=g.pending_approval, last_failure=g.last_failure)


async def list_groups(call: Call) -> web.Response:
    return page(call, call.svc.scaling.visible(call.uid), s.GroupPage, group_out)


async def create_group(call: Call) -> web.Response:
    # Scaling events go to the owner's private chat, as for a group made there.
    group = await call.svc.scaling.create(call.uid, call.uid, call.body.request())
    return answer(group_out(group), 201, {"Location": f"{call.base}/groups/{group.name}"})


async def get_group(call: Call) -> web.Response:
    return answer(group_out(call.svc.scaling.get(call.uid, call.path["name"])))


async def group_status(call: Call) -> web.Response:
    group = call.svc.scaling.get(call.uid, call.path["name"])
    samples = await call.svc.scaling.history(call.uid, group.name)
    last = samples[-1] if samples else None
    period = s.Period(at=last.at, replicas=last.replicas, ready=last.ready,
                      utilization=last.utilization, desired=last.desired) if last else None
    return answer(s.GroupStatus(group=group_out(group), last_period=period))


async def change_group(call: Call) -> web.Response:
    group = await call.svc.scaling.change(call.uid, call.path["name"], call.body.request())
    return answer(group_out(group))


def pause(paused: bool) -> Handler:
    async def handler(call: Call) -> web.Response:
        return answer(group_out(call.svc.scaling.set_paused(call.uid, call.path["name"],
                                                            paused)))

    handler.__name__ = "scale_pause" if paused else "scale_resume"
    return handler


async def delete_group(call: Call) -> web.Response:
    svc, uid = call.svc, call.uid
    group = svc.scaling.get(uid, call.path["name"], "group.delete")
    destroy = call.query.replicas == "destroy"
    what = "destroying" if destroy else "keeping"
    if svc.scaling.delete_needs_approval(uid):
        return await waiting(call, "scale_delete", {"group": group.name,
                                                    "created_at": group.created_at,
                                                    "destroy": destroy},
                             f"delete scaling group {group.name}, {what} its replicas")
    between = call.door.between_ticks

    async def work(op: Operation) -> dict:
        if between is None:
            gone = await svc.scaling.delete(uid, group.name, destroy, group.created_at)
        else:
            async with between():
                gone = await svc.scaling.delete(uid, group.name, destroy, group.created_at)
        return {"group": group.name, "destroyed": gone}

    return running(call, "scale_delete", f"group:{group.name}", work)


async def group_chart(call: Call) -> web.StreamResponse:
    window = call.query.window
    group = call.svc.scaling.get(call.uid, call.path["name"])
    samples = await call.svc.scaling.history(call.uid, group.name,
                                             time.time() - CHART_WINDOWS[window])
    from bot.scaler.chart import render_chart  # matplotlib: paid only when a chart is asked

    png = await asyncio.to_thread(render_chart, group.name, samples, window)
    return web.Response(body=png, content_type=PNG)


# ---- approvals, operations --------------------------------------------------------------------

async def list_approvals(call: Call) -> web.Response:
    if call.query.scope == "pending":
        items = call.svc.approvals.pending(call.uid)
    else:
        items = call.svc.approvals.mine(call.uid)
    return page(call, items, s.ApprovalPage, lambda a: approval_out(call, a))


async def get_approval(call: Call) -> web.Response:
    return answer(approval_out(call, call.svc.approvals.seen_by(call.uid,
                                                                call.path["approval_id"])))


async def decide_approval(call: Call) -> web.Response:
    approval = await call.door.desk.decide(call.uid, call.name(), call.path["approval_id"],
                                           call.body.approve)
    return answer(approval_out(call, approval))


def _operation(call: Call) -> Operation:
    op = call.door.operations.get(call.path["op_id"])
    if op is None or (op.owner_id != call.uid and not call.admin):
        raise Problem(NOT_FOUND, f"You have no operation {call.path['op_id']!r}.")
    return op


async def list_operations(call: Call) -> web.Response:
    ops = call.door.operations.of_owner(None if call.admin else call.uid)
    return page(call, ops, s.OperationPage, lambda op: operation_out(call, op))


async def get_operation(call: Call) -> web.Response:
    return answer(operation_out(call, _operation(call)))


async def me(call: Call) -> web.Response:
    role = call.svc.access.role_of(call.uid)
    return answer(s.Me(user_id=call.uid, role="admin" if role is Role.ADMIN else "user",
                       token_id=call.token.id))


# ---- people and the trail ---------------------------------------------------------------------

async def list_users(call: Call) -> web.Response:
    rows = call.svc.access.users(call.uid)
    return page(call, rows, s.UserPage, lambda r: s.User(
        id=r[0], role="admin" if r[1] is Role.ADMIN else "user", name=r[2]))


async def grant(call: Call) -> web.Response:
    user = call.svc.access.grant(call.uid, call.path["user_id"], call.body.role)
    return answer(s.User(id=user.id, role=user.role, name=user.name))


async def revoke(call: Call) -> web.Response:
    user_id = call.path["user_id"]
    cancelled = call.svc.access.revoke(call.uid, user_id)
    await call.door.desk.cancelled(cancelled)
    pending = f" {len(cancelled)} pending request(s) of theirs cancelled." if cancelled else ""
    return done(f"✅ {user_id} no longer has access. Their containers stay.{pending}")


async def _quota(call: Call, changes: dict[str, int]) -> web.Response:
    user_id = call.path["user_id"]
    quota, used = await call.svc.containers.quota_report(call.uid, user_id, changes)
    return answer(s.Quota(user_id=user_id, **dataclasses.asdict(quota),
                          used=dataclasses.asdict(used),
                          backups=await call.svc.backups.usage_line(user_id)))


async def get_quota(call: Call) -> web.Response:
    return await _quota(call, {})


async def set_quota(call: Call) -> web.Response:
    return await _quota(call, call.body.model_dump(exclude_none=True))


async def audit(call: Call) -> web.Response:
    entries = call.svc.access.audit_trail(call.uid, call.query.limit)
    return answer(s.AuditPage(items=[s.AuditEntry(**dataclasses.asdict(e)) for e in entries],
                              next_cursor=None))


# ---- the table --------------------------------------------------------------------------------

R = Route
ROUTES: list[Route] = [
    R("GET", "/me", me, "who the token acts as", "auth", None, None, out=s.Me),
    # containers
    R("GET", "/containers", list_containers, "your containers (admins: all, with filters)",
      "containers", "ct.list", "list", out=s.ContainerPage, query=s.ContainerQuery),
    R("POST", "/containers", create_container, "create a container (users: above the size "
      "thresholds, with approval)", "containers", "ct.create", "create", 202, s.Accepted,
      body=s.ContainerCreate),
    R("GET", "/containers/{ref}", get_container, "a container", "containers", "ct.see",
      "info", out=s.Container),
    R("POST", "/containers/{ref}/start", power("start"), "start a container", "containers",
      "ct.power", "ct_start", 202, s.Accepted),
    R("POST", "/containers/{ref}/stop", power("stop"), "stop a container", "containers",
      "ct.power", "ct_stop", 202, s.Accepted),
    R("POST", "/containers/{ref}/reboot", power("reboot"), "reboot a container", "containers",
      "ct.power", "ct_reboot", 202, s.Accepted),
    R("DELETE", "/containers/{ref}", delete_container, "delete a container (users: with "
      "approval)", "containers", "ct.delete", "ct_delete", 202, s.Accepted),
    R("GET", "/containers/{ref}/nics", get_nics, "a container's NICs", "network", "net.see",
      "net", out=s.ContainerNics),
    R("PATCH", "/containers/{ref}/nics/{key}", set_nic, "change a container's NIC", "network",
      "net.set", "net_set", out=s.NicChanged, body=s.NicUpdate),
    R("GET", "/netcheck", netcheck, "can a reach b? (containers, host, host:<node>, pc)",
      "network", "net.check", "netcheck", out=s.Verdict, query=s.NetcheckQuery),
    R("GET", "/bridges", bridges, "bridges and NAT networks (admins)", "network", "bridge.see",
      "bridges", out=s.Networks, query=NodeQuery),
    # backups
    R("GET", "/backups", list_backups, "your backups, or a container's", "backups",
      "backup.list", "backups", out=s.BackupPage, query=s.BackupQuery),
    R("POST", "/backups", create_backup, "back up a container (users: protected ones with "
      "approval)", "backups", "backup.create", "backup", 202, s.Accepted, body=s.BackupCreate),
    R("DELETE", "/backups/{volid}", delete_backup, "delete a backup (users: with approval)",
      "backups", "backup.delete", "backup_del", out=s.Done),
    R("POST", "/backups/{volid}/restore", restore_backup, "restore a backup as a new "
      "container (copy) or into one (users: with approval)", "backups", "backup.restore_new",
      "restore", 202, s.Accepted, body=s.Restore),
    R("GET", "/schedules", list_schedules, "backup schedules with their next run", "backups",
      "schedule.list", "schedules", out=s.SchedulePage, query=s.Page),
    R("POST", "/schedules", create_schedule, "back up on a calendar, with retention (users: "
      "long retention with approval)", "backups", "schedule.create", "schedule_backup", 201,
      s.ScheduleCreated, body=s.ScheduleCreate),
    R("GET", "/schedules/{job_id}", get_schedule, "a backup schedule", "backups",
      "schedule.list", "schedules", out=s.Schedule),
    R("DELETE", "/schedules/{job_id}", delete_schedule, "delete a backup schedule (users: "
      "with approval)", "backups", "schedule.delete", "schedule_del", out=s.Done),
    # scaling groups
    R("GET", "/groups", list_groups, "your scaling groups", "scaling", "group.see",
      "scale_status", out=s.GroupPage, query=s.Page),
    R("POST", "/groups", create_group, "create a scaling group", "scaling", "group.create",
      "scale_create", 201, s.ScalingGroup, body=s.GroupCreate),
    R("GET", "/groups/{name}", get_group, "a scaling group", "scaling", "group.see",
      "scale_status", out=s.ScalingGroup),
    R("GET", "/groups/{name}/status", group_status, "a group and its last period", "scaling",
      "group.see", "scale_status", out=s.GroupStatus),
    R("PATCH", "/groups/{name}", change_group, "change a group's limits or target",
      "scaling", "group.change", "scale_set", out=s.ScalingGroup, body=s.GroupUpdate),
    R("POST", "/groups/{name}/pause", pause(True), "stop a group's scaling for now",
      "scaling", "group.change", "scale_pause", out=s.ScalingGroup),
    R("POST", "/groups/{name}/resume", pause(False), "let a paused group scale again",
      "scaling", "group.change", "scale_resume", out=s.ScalingGroup),
    R("DELETE", "/groups/{name}", delete_group, "delete a scaling group (users: with "
      "approval)", "scaling", "group.delete", "scale_delete", 202, s.Accepted,
      query=s.GroupDelete),
    R("GET", "/groups/{name}/chart", group_chart, "a chart of a group's load and replicas",
      "scaling", "group.see", "scale_chart", query=s.ChartQuery, media=PNG),
    # approvals and operations
    R("GET", "/approvals", list_approvals, "your requests (admins: scope=pending, all "
      "waiting)", "approvals", "approval.mine", "pending", out=s.ApprovalPage,
      query=s.ApprovalQuery),
    R("GET", "/approvals/{approval_id}", get_approval, "a request and how it ended",
      "approvals", "approval.mine", None, out=s.Approval),
    R("POST", "/approvals/{approval_id}/decision", decide_approval, "approve or reject a "
      "request (admins)", "approvals", "approval.decide", None, out=s.Approval,
      body=s.Decision),
    R("GET", "/operations", list_operations, "your operations, newest first", "operations",
      None, None, out=s.OperationPage, query=s.Page),
    R("GET", "/operations/{op_id}", get_operation, "an operation: state, progress, result, "
      "error", "operations", None, None, out=s.Operation),
    # people and the trail (admins)
    R("GET", "/users", list_users, "who has access", "users", "user.list", "users",
      out=s.UserPage, query=s.Page),
    R("PUT", "/users/{user_id}", grant, "let a user in, or make them admin", "users",
      "user.grant", "grant", out=s.User, body=s.Grant),
    R("DELETE", "/users/{user_id}", revoke, "take a user's access away", "users",
      "user.revoke", "revoke", out=s.Done),
    R("GET", "/quotas/{user_id}", get_quota, "a user's quota and usage", "users",
      "quota.manage", "quota", out=s.Quota),
    R("PATCH", "/quotas/{user_id}", set_quota, "set a user's quota", "users", "quota.manage",
      "quota", out=s.Quota, body=s.QuotaUpdate),
    R("GET", "/audit", audit, "the latest entries of the audit trail", "users", "audit.read",
      "audit", out=s.AuditPage, query=s.AuditQuery),
]


def path_params(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


def check_path(route: Route, raw: dict[str, str]) -> dict[str, Any]:
    """The path's parameters, each parsed by its PathParam (400 naming the wrong ones)."""
    out, bad = {}, []
    for name in path_params(route.path):
        try:
            out[name] = PATH_PARAMS[name].parse(raw[name])
        except UsageError as error:
            bad.append((name, error.problem))
    if bad:
        raise invalid(*bad)
    return out


# Chat commands the API has no route for, and why (the README's parity table says so).
CHAT_ONLY = {
    "start": "the API describes itself: `GET /api/v1/openapi.json`",
    "help": "the API describes itself: `GET /api/v1/openapi.json`",
    "api_token": "issued in the chat, shown once there",
    "api_tokens": "in the chat",
    "api_token_revoke": "in the chat",
    "bridge_add": "chat only for now (staged changes are applied with a button)",
    "bridge_del": "chat only for now",
    "natnet_add": "chat only for now",
    "doctor": "chat only for now",
    "netfacts": "chat only for now",
    "ssh_key": "not in the API yet",
    "share": "not in the API yet",
    "unshare": "not in the API yet",
    "shares": "not in the API yet",
    "resize": "not in the API yet",
    "invite": "chat only: an invite is a Telegram link",
    "invites": "chat only for now",
    "invite_revoke": "chat only for now",
    "net_del": "not in the API yet",
    "fw": "not in the API yet",
    "fw_allow": "not in the API yet",
    "fw_del": "not in the API yet",
}
# Routes with no command of their own: what the chat does instead.
CHAT_INSTEAD = {
    "GET /me": "(the chat knows who writes)",
    "GET /approvals/{approval_id}": "(the requester is told in the chat)",
    "POST /approvals/{approval_id}/decision": "Approve / Reject on the approval card",
    "GET /operations": "(the chat's live messages)",
    "GET /operations/{op_id}": "(the chat's live messages)",
}


def parity_table() -> str:
    """Each chat command and its routes, in the order of /help (README.md holds this text;
    tests/test_api_parity.py keeps them equal)."""
    from bot.commands import COMMANDS  # the chat door's table

    rows = ["| chat | REST, under `/api/v1` |", "|---|---|"]
    for command in COMMANDS:
        routes = [f"`{r.method} {r.path}`" for r in ROUTES if r.command == command.name]
        rows.append(f"| `/{command.name}` | {', '.join(routes) or CHAT_ONLY[command.name]} |")
    for route in ROUTES:
        if route.command is None:
            rows.append(f"| {CHAT_INSTEAD[f'{route.method} {route.path}']} | "
                        f"`{route.method} {route.path}` |")
    return "\n".join(rows)
