"""Backup commands and buttons: parse, call the backup service, reply; plus the watcher that
reports finished scheduled backups (a JobQueue job)."""

from __future__ import annotations

import dataclasses
import logging
import re
import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.handlers.approvals import Asker, deferrable, run_or_ask
from bot.handlers.common import (
    LiveMessage,
    button_fields,
    command_args,
    error_text_for,
    reply,
    run_reporting,
    services,
)
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
from bot.services.backups import RestoreInto, describe_backup, describe_result, human_size

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 3.0  # at most one edit (and one task-log request) per 3 s


def progress_text(title: str, p: BackupProgress) -> str:
    written = f", {human_size(p.bytes_written)} written" if p.bytes_written else ""
    return f"{title}\n{p.stage}{written} · {p.elapsed_s:.0f} s elapsed"


# ---- /backup ----------------------------------------------------------------------------------

async def backup(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_backup(command_args(update))
    svc = services(context)
    uid = update.effective_user.id
    ct = await svc.backups.check_backup(uid, args)  # refusals (not yours, quota) at once
    await run_or_ask(update, context, "backup",
                     {"args": {**dataclasses.asdict(args), "ref": ct.vmid},
                      "identity": ct.identity},
                     f"protected backup of CT {ct.vmid} {ct.hostname} (kept until an admin lifts "
                     "the protection)" + svc.containers.share_note(uid, ct.vmid),
                     needs_approval=svc.backups.backup_needs_approval(uid, args))


@deferrable("backup")
async def run_backup(context, asker: Asker, payload: dict) -> None:
    try:
        await _back_up(context, asker, BackupArgs(**payload["args"]), payload.get("identity"))
    except Exception as exc:  # noqa: BLE001 - the asker hears why, even after an approval
        text = error_text_for(exc, asker.chat_id, services(context).access)
        if text is None or not asker.approved:
            raise  # a bug; or, asked now, the guard answers it
        await context.bot.send_message(asker.chat_id, f"❌ {text}")


async def _back_up(context, asker: Asker, args: BackupArgs, identity: str | None) -> None:
    """Start the backup and follow it in a live message in the asker's chat."""
    svc = services(context)
    uid, chat_id = asker.user_id, asker.chat_id
    vmid, node, upid = await svc.backups.start(uid, args, asker.approved, identity)
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


async def backup_del(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    volid = parse_backup_del(command_args(update)).volid
    svc = services(context)
    uid = update.effective_user.id
    backup = await svc.backups.check_deletable(uid, volid)  # refusals (protected, not yours)
    await run_or_ask(update, context, "backup_del", {"volid": volid, "ctime": backup.ctime},
                     f"delete backup {volid}",
                     needs_approval=svc.backups.delete_needs_approval(uid))


@deferrable("backup_del")
async def run_backup_del(context, asker: Asker, payload: dict) -> None:
    volid = payload["volid"]
    live = await LiveMessage.post(context.bot, asker.chat_id, f"⏳ Deleting backup {volid}…")

    async def work() -> str:
        await services(context).backups.delete(asker.user_id, volid, payload.get("ctime"))
        return f"🗑 Backup {volid} is deleted."

    context.application.create_task(run_reporting(live, work()))


# ---- /restore ----------------------------------------------------------------------------------

def _restore_into_in_background(context, live: LiveMessage, actor_id: int,
                                request: RestoreInto, stop_first: bool) -> None:
    async def work() -> str:
        r = await services(context).backups.restore_into(actor_id, request, stop_first)
        notes = "".join(f"\n• {n}" for n in r.notes)
        return (f"✅ CT {r.vmid} {r.hostname} is restored from {request.volid} (stopped; "
                f"/ct_start it).{notes}")

    context.application.create_task(run_reporting(live, work()))


@deferrable("restore_into")
async def run_restore_into(context, asker: Asker, payload: dict) -> None:
    """Restore into a stopped target now; a running one is stopped only after the person
    confirms. Checked again for the asker, and bound to the target's identity."""
    svc = services(context)
    bound = RestoreInto.from_payload(payload)
    try:
        request, ct = await svc.backups.check_restore_into(
            asker.user_id, bound.volid, bound.vmid, bound.hostname, bound.identity)
    except Exception as exc:  # noqa: BLE001 - the asker hears why, even after an approval
        text = error_text_for(exc, asker.chat_id, svc.access)
        if text is None:
            raise
        await context.bot.send_message(asker.chat_id, f"❌ {text}")
        return
    request = dataclasses.replace(request, ctime=bound.ctime or request.ctime)
    if ct.status == "running":
        token = svc.backups.ask_confirmation(asker.user_id, request)
        await context.bot.send_message(
            asker.chat_id, f"CT {ct.vmid} {ct.hostname} is running. Stop it and overwrite it "
                           f"with {request.volid}? Its current state will be lost.",
            reply_markup=InlineKeyboardMarkup([[
                InlineKeyboardButton("Stop and restore", callback_data=f"bk:ri:{token}:yes"),
                InlineKeyboardButton("Cancel", callback_data=f"bk:ri:{token}:no")]]))
        return
    live = await LiveMessage.post(context.bot, asker.chat_id,
                                  f"⏳ Restoring {request.volid} into CT {ct.vmid}…")
    _restore_into_in_background(context, live, asker.user_id, request, False)


async def restore(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_restore(command_args(update))
    svc = services(context)
    uid = update.effective_user.id
    chat = update.effective_chat.id
    if args.new:
        await svc.backups.backup_of(uid, args.volid, "backup.restore_new")  # refusals at once
        live = await LiveMessage.post(context.bot, chat, f"⏳ Restoring {args.volid} as a new "
                                                         "container…")

        async def work() -> str:
            r = await svc.backups.restore_new(uid, args)
            notes = "".join(f"\n• {n}" for n in r.notes)
            return (f"✅ CT {r.vmid} {r.hostname} is restored on {r.node} from {args.volid}, "
                    f"with the original's characteristics.{notes}")

        context.application.create_task(run_reporting(live, work()))
        return
    request, ct = await svc.backups.check_restore_into(uid, args.volid, args.into,
                                                       args.hostname)
    named = f" as {args.hostname}" if args.hostname else ""
    await run_or_ask(update, context, "restore_into", request.to_payload(),
                     f"restore {args.volid} into CT {ct.vmid} {ct.hostname}{named} (overwrites "
                     "it)" + svc.containers.share_note(uid, ct.vmid),
                     needs_approval=svc.backups.restore_into_needs_approval(uid))


# ask_confirmation's tokens are token_hex(4).
_RESTORE_CONFIRM_BUTTON = re.compile(r"bk:ri:([0-9a-f]{8}):(yes|no)")


async def on_restore_confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``bk:ri:<token>:yes|no`` - only the person who asked may confirm."""
    query = update.callback_query
    token, verdict = button_fields(update, _RESTORE_CONFIRM_BUTTON)
    request = services(context).backups.take_confirmation(update.effective_user.id, token)
    await query.answer()
    live = LiveMessage(context.bot, query.message.chat_id, query.message.message_id)
    if verdict != "yes":
        await live.edit(f"Cancelled: CT {request.vmid} is left as it was.")
        return
    await live.edit(f"⏳ Stopping CT {request.vmid}, then restoring {request.volid}…")
    _restore_into_in_background(context, live, update.effective_user.id, request, True)


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
    target = args.target if len(vmids) > 1 else vmids[0]  # all-mine stays all-mine
    reasons = tuple(svc.backups.schedule_approval_reasons(uid, args))
    await run_or_ask(update, context, "schedule_backup",
                     {"args": {**dataclasses.asdict(args), "target": target}},
                     f"backup schedule of CT {', '.join(map(str, vmids))} at "
                     f"'{args.calendar}' keeping {args.prune}", needs_approval=bool(reasons),
                     reasons=reasons)


@deferrable("schedule_backup")
async def run_schedule_backup(context, asker: Asker, payload: dict) -> None:
    try:
        job, runs = await services(context).backups.create_schedule(
            asker.user_id, ScheduleArgs(**payload["args"]), approved=asker.approved)
        text = _schedule_made(job, runs)
    except Exception as exc:  # noqa: BLE001 - the asker hears why, even after an approval
        text = error_text_for(exc, asker.chat_id, services(context).access)
        if text is None or not asker.approved:
            raise  # a bug; or, asked now, the guard answers it
        text = f"❌ {text}"
    await context.bot.send_message(asker.chat_id, text)


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
    job = await svc.backups.job_of(uid, job_id, "schedule.delete")
    await run_or_ask(update, context, "schedule_del",
                     {"job_id": job_id, "schedule": job.schedule},
                     f"delete backup schedule {job_id} ('{job.schedule}')",
                     needs_approval=svc.backups.schedule_del_needs_approval(uid))


@deferrable("schedule_del")
async def run_schedule_del(context, asker: Asker, payload: dict) -> None:
    job_id = payload["job_id"]
    try:
        await services(context).backups.delete_schedule(asker.user_id, job_id,
                                                        payload.get("schedule"))
        text = f"🗑 Schedule {job_id} is deleted."
    except Exception as exc:  # noqa: BLE001 - the asker hears why
        text = error_text_for(exc, asker.chat_id, services(context).access)
        if text is None:
            raise
        text = f"❌ {text}"
    await context.bot.send_message(asker.chat_id, text)


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
