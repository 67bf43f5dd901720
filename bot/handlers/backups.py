"""Backup commands and buttons: parse, call the backup service, reply; plus the watcher that
reports finished scheduled backups (a JobQueue job)."""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.handlers.approvals import executor, submit
from bot.handlers.common import LiveMessage, command_args, reply, run_reporting, services
from bot.parsing_backups import (
    BackupArgs,
    ScheduleArgs,
    parse_backup,
    parse_backup_del,
    parse_backups,
    parse_no_args,
    parse_restore,
    parse_schedule_backup,
    parse_schedule_del,
)
from bot.proxmox.backups import BackupProgress
from bot.services.backups import describe_backup, describe_result, human_size
from bot.store import Approval

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 3.0  # at most one edit (and one task-log request) per 3 s
_CONFIRMS = "backup_confirms"  # bot_data key: token -> pending "stop, then restore" request


def progress_text(title: str, p: BackupProgress) -> str:
    written = f", {human_size(p.bytes_written)} written" if p.bytes_written else ""
    return f"{title}\n{p.stage}{written} · {p.elapsed_s:.0f} s elapsed"


# ---- /backup ----------------------------------------------------------------------------------

async def backup(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_backup(command_args(update))
    svc = services(context)
    uid = update.effective_user.id
    ct = await svc.backups.check_backup(uid, args)  # refusals (not yours, quota) at once
    if svc.backups.backup_needs_approval(uid, args):
        await submit(update, context, "backup",
                     {"args": {**dataclasses.asdict(args), "ref": ct.vmid}, "requester_id": uid},
                     f"protected backup of CT {ct.vmid} {ct.hostname} (kept until an admin lifts "
                     "the protection)")
        return
    await _back_up(context, update.effective_chat.id, uid, args)


@executor("backup")
async def execute_backup(context, approval: Approval) -> None:
    p = approval.payload
    try:
        await _back_up(context, approval.requester_chat_id, p["requester_id"],
                       BackupArgs(**p["args"]), approved=True)
    except Exception as exc:  # noqa: BLE001 - the requester hears why
        await context.bot.send_message(approval.requester_chat_id, f"❌ {exc}")


async def _back_up(context, chat_id: int, uid: int, args: BackupArgs,
                   approved: bool = False) -> None:
    """Start the backup and follow it in a live message in `chat_id`."""
    svc = services(context)
    vmid, node, upid = await svc.backups.start(uid, args, approved)
    title = f"⏳ Backing up CT {vmid} on {node}…"
    try:
        live = await LiveMessage.post(context.bot, chat_id, title, min_interval=0)
    except Exception:
        svc.backups.leave_to_watcher(upid)  # the backup runs on: its outcome must still be told
        raise

    async def show(p: BackupProgress) -> None:
        await live.edit(progress_text(title, p))

    async def work() -> str:
        result = await svc.backups.follow(uid, vmid, node, upid, show,
                                          interval=PROGRESS_INTERVAL_S)
        return describe_result(result)

    context.application.create_task(run_reporting(live, work()))


# ---- /backups, /backup_del ---------------------------------------------------------------------

async def backups(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_backups(command_args(update))
    items = await services(context).backups.visible(update.effective_user.id, args.ref)
    if not items:
        await reply(update, "No backups. /backup <ct> makes one.")
        return
    # reply() splits what exceeds a message: a note may be 1024 characters, a message 4096.
    await reply(update, "\n".join([f"{len(items)} backup(s):"]
                                  + [describe_backup(b) for b in items]))


def _delete_in_background(context, live: LiveMessage, actor_id: int, volid: str,
                          requester_id: int | None = None) -> None:
    async def work() -> str:
        await services(context).backups.delete(actor_id, volid, requester_id)
        return f"🗑 Backup {volid} is deleted."

    context.application.create_task(run_reporting(live, work()))


async def backup_del(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    volid = parse_backup_del(command_args(update)).volid
    svc = services(context)
    uid = update.effective_user.id
    await svc.backups.check_deletable(uid, volid)  # refusals (protected, not yours) at once
    if svc.backups.delete_needs_approval(uid):
        await submit(update, context, "backup_del", {"volid": volid, "requester_id": uid},
                     f"delete backup {volid}")
        return
    live = await LiveMessage.post(context.bot, update.effective_chat.id,
                                  f"⏳ Deleting backup {volid}…")
    _delete_in_background(context, live, uid, volid)


@executor("backup_del")
async def execute_backup_del(context, approval: Approval) -> None:
    volid = approval.payload["volid"]
    live = await LiveMessage.post(context.bot, approval.requester_chat_id,
                                  f"⏳ Deleting backup {volid}…")
    _delete_in_background(context, live, approval.payload["requester_id"], volid,
                          approval.payload["requester_id"])


# ---- /restore ----------------------------------------------------------------------------------

def _restore_into_in_background(context, live: LiveMessage, actor_id: int, volid: str,
                                vmid: int, stop_first: bool, hostname: str | None) -> None:
    async def work() -> str:
        r = await services(context).backups.restore_into(actor_id, volid, vmid, stop_first,
                                                         hostname)
        notes = "".join(f"\n• {n}" for n in r.notes)
        return (f"✅ CT {r.vmid} {r.hostname} is restored from {volid} (stopped; /ct_start "
                f"it).{notes}")

    context.application.create_task(run_reporting(live, work()))


async def _run_or_confirm_into(context, chat_id: int, actor_id: int, volid: str,
                               vmid: int, hostname: str | None) -> None:
    """A running target is stopped only after the person confirms."""
    svc = services(context)
    _backup, ct = await svc.backups.check_restore_into(actor_id, volid, vmid, hostname)
    if ct.status == "running":
        token = secrets.token_hex(4)
        context.application.bot_data.setdefault(_CONFIRMS, {})[token] = (actor_id, volid, vmid,
                                                                          hostname)
        await context.bot.send_message(
            chat_id, f"CT {vmid} {ct.hostname} is running. Stop it and overwrite it with "
                     f"{volid}? Its current state will be lost.",
            reply_markup=InlineKeyboardMarkup([[
                InlineKeyboardButton("Stop and restore", callback_data=f"bk:ri:{token}:yes"),
                InlineKeyboardButton("Cancel", callback_data=f"bk:ri:{token}:no")]]))
        return
    live = await LiveMessage.post(context.bot, chat_id, f"⏳ Restoring {volid} into CT {vmid}…")
    _restore_into_in_background(context, live, actor_id, volid, vmid, False, hostname)


async def restore(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_restore(command_args(update))
    svc = services(context)
    uid = update.effective_user.id
    chat = update.effective_chat.id
    if args.new:
        await svc.backups.backup_of(uid, args.volid)  # refusals at once
        live = await LiveMessage.post(context.bot, chat, f"⏳ Restoring {args.volid} as a new "
                                                         "container…")

        async def work() -> str:
            r = await svc.backups.restore_new(uid, args)
            notes = "".join(f"\n• {n}" for n in r.notes)
            return (f"✅ CT {r.vmid} {r.hostname} is restored on {r.node} from {args.volid}, "
                    f"with the original's characteristics.{notes}")

        context.application.create_task(run_reporting(live, work()))
        return
    _backup, ct = await svc.backups.check_restore_into(uid, args.volid, args.into,
                                                        args.hostname)
    if svc.backups.restore_into_needs_approval(uid):
        named = f" as {args.hostname}" if args.hostname else ""
        await submit(update, context, "restore_into",
                     {"volid": args.volid, "vmid": ct.vmid, "requester_id": uid,
                      "hostname": args.hostname},
                     f"restore {args.volid} into CT {ct.vmid} {ct.hostname}{named} (overwrites "
                     "it)")
        return
    await _run_or_confirm_into(context, chat, uid, args.volid, ct.vmid, args.hostname)


@executor("restore_into")
async def execute_restore_into(context, approval: Approval) -> None:
    p = approval.payload
    try:
        await _run_or_confirm_into(context, approval.requester_chat_id, p["requester_id"],
                                   p["volid"], p["vmid"], p.get("hostname"))
    except Exception as exc:  # noqa: BLE001 - the requester hears why
        await context.bot.send_message(approval.requester_chat_id, f"❌ {exc}")


async def on_restore_confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``bk:ri:<token>:yes|no`` - only the person who asked may confirm."""
    query = update.callback_query
    _, _, token, verdict = query.data.split(":", 3)
    pending = context.application.bot_data.setdefault(_CONFIRMS, {})
    entry = pending.get(token)
    if entry is None or entry[0] != update.effective_user.id:
        await query.answer("This button is not valid any more.", show_alert=True)
        return
    del pending[token]
    actor_id, volid, vmid, hostname = entry
    await query.answer()
    live = LiveMessage(context.bot, query.message.chat_id, query.message.message_id)
    if verdict != "yes":
        await live.edit(f"Cancelled: CT {vmid} is left as it was.")
        return
    await live.edit(f"⏳ Stopping CT {vmid}, then restoring {volid}…")
    _restore_into_in_background(context, live, actor_id, volid, vmid, True, hostname)


# ---- schedules ---------------------------------------------------------------------------------

def _when(epoch: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch)) if epoch else "never"


def _schedule_made(job, runs: list[int]) -> str:
    keep = f", keeping {job.prune}" if job.prune else ", keeping all"
    return (f"🗓 Schedule {job.id}: CT {', '.join(map(str, job.vmids))} backed up at "
            f"'{job.schedule}'{keep} on {job.storage}.\nNext runs: "
            + ", ".join(_when(r) for r in runs[:3]))


async def schedule_backup(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_schedule_backup(command_args(update))
    svc = services(context)
    uid = update.effective_user.id
    vmids, _runs = await svc.backups.check_schedule(uid, args)  # refusals at once
    if svc.backups.schedule_needs_approval(uid, args):
        target = args.target if len(vmids) > 1 else vmids[0]  # all-mine stays all-mine
        await submit(update, context, "schedule_backup",
                     {"args": {**dataclasses.asdict(args), "target": target},
                      "requester_id": uid},
                     f"backup schedule of CT {', '.join(map(str, vmids))} at "
                     f"'{args.calendar}' keeping {args.prune}",
                     tuple(svc.backups.schedule_approval_reasons(uid, args)))
        return
    job, runs = await svc.backups.create_schedule(uid, args)
    await reply(update, _schedule_made(job, runs))


@executor("schedule_backup")
async def execute_schedule_backup(context, approval: Approval) -> None:
    p = approval.payload
    try:
        job, runs = await services(context).backups.create_schedule(
            p["requester_id"], ScheduleArgs(**p["args"]), approved=True)
        text = _schedule_made(job, runs)
    except Exception as exc:  # noqa: BLE001 - the requester hears why
        text = f"❌ {exc}"
    await context.bot.send_message(approval.requester_chat_id, text)


async def schedules(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    parse_no_args(command_args(update), "schedules")
    jobs = await services(context).backups.schedules(update.effective_user.id)
    if not jobs:
        await reply(update, "No backup schedules. /schedule_backup makes one.")
        return
    lines = [f"• {j.id}: CT {', '.join(map(str, j.vmids)) or 'all'} · '{j.schedule}' · "
             f"{j.prune or 'keep all'} · next {_when(j.next_run)}" for j in jobs]
    await reply(update, f"{len(jobs)} schedule(s):\n" + "\n".join(lines))


async def schedule_del(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    job_id = parse_schedule_del(command_args(update)).job_id
    svc = services(context)
    uid = update.effective_user.id
    job = await svc.backups.job_of(uid, job_id)
    if svc.backups.schedule_del_needs_approval(uid):
        await submit(update, context, "schedule_del", {"job_id": job_id, "requester_id": uid},
                     f"delete backup schedule {job_id} ('{job.schedule}')")
        return
    await svc.backups.delete_schedule(uid, job_id)
    await reply(update, f"🗑 Schedule {job_id} is deleted.")


@executor("schedule_del")
async def execute_schedule_del(context, approval: Approval) -> None:
    p = approval.payload
    try:
        await services(context).backups.delete_schedule(p["requester_id"], p["job_id"],
                                                        p["requester_id"])
        text = f"🗑 Schedule {p['job_id']} is deleted."
    except Exception as exc:  # noqa: BLE001 - the requester hears why
        text = f"❌ {exc}"
    await context.bot.send_message(approval.requester_chat_id, text)


# ---- the watcher -------------------------------------------------------------------------------

async def backup_watch_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """JobQueue: report each finished scheduled backup to its owner once (failures also to the
    notification chat). The store remembers what was reported, across restarts."""
    svc = services(context)
    try:
        reports = await svc.backups.new_reports()
    except Exception:  # noqa: BLE001 - PVE unreachable now: try again next round
        log.warning("backup watcher could not read the tasks", exc_info=True)
        return
    for r in reports:
        targets = [r.owner_id] if r.owner_id is not None else []
        if r.notify and svc.notify_chat_id is not None:
            targets.append(svc.notify_chat_id)
        for chat_id in targets:
            try:
                await context.bot.send_message(chat_id, r.text)
            except TelegramError as exc:
                log.warning("could not report backup %s to %s: %s", r.upid, chat_id, exc)
