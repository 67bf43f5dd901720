"""Admin commands: users, grants, quotas, audit."""

from __future__ import annotations

import time

from telegram import Update
from telegram.ext import ContextTypes

from bot.handlers.approvals import report_cancelled
from bot.handlers.common import command_args, reply, services
from bot.parsing import parse_audit, parse_grant, parse_quota, parse_revoke
from bot.parsing_backups import parse_no_args
from bot.store import Quota


async def grant(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_grant(command_args(update))
    access = services(context).access
    user = access.grant(update.effective_user.id, args.user_id, args.role)
    await reply(update, f"✅ {access.display(user.id)} is now "
                        f"{'an admin' if user.role == 'admin' else 'a user'}.")


async def revoke(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_revoke(command_args(update))
    cancelled = services(context).access.revoke(update.effective_user.id, args.user_id)
    await report_cancelled(context, cancelled)
    pending = f" {len(cancelled)} pending request(s) of theirs cancelled." if cancelled else ""
    await reply(update, f"✅ {services(context).access.display(args.user_id)} no longer has "
                        f"access. Their containers stay.{pending}")


async def users(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    parse_no_args(command_args(update), "users")
    rows = services(context).access.users(update.effective_user.id)
    lines = [f"{uid} · {role.name.lower()}" + (f" · {name}" if name else "")
             for uid, role, name in rows]
    await reply(update, "Users:\n" + "\n".join(lines))


def _quota_text(quota: Quota) -> str:
    return (f"{quota.containers} containers, {quota.cores} cores, "
            f"{quota.memory_mb} MiB memory, {quota.disk_gb} GiB disk")


async def quota(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_quota(command_args(update))
    svc = services(context)
    changes = {k: v for k, v in (("containers", args.containers), ("cores", args.cores),
                                 ("memory_mb", args.memory_mb), ("disk_gb", args.disk_gb))
               if v is not None}
    current, used = await svc.containers.quota_report(update.effective_user.id, args.user_id,
                                                      changes)
    await reply(update, f"Quota of {svc.access.display(args.user_id)}: {_quota_text(current)}.\n"
                        f"In use: {used.containers} containers, {used.cores} cores, "
                        f"{used.memory_mb} MiB memory, {used.disk_gb} GiB disk.\n"
                        + await svc.backups.usage_line(args.user_id))


async def audit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_audit(command_args(update))
    access = services(context).access
    entries = access.audit_trail(update.effective_user.id, args.n)
    if not entries:
        await reply(update, "The audit trail is empty.")
        return
    lines = [f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(e.at))} · "
             f"{access.display(e.actor_id)} · "
             f"{e.action} {e.target} · {e.outcome}" + (f" · {e.detail}" if e.detail else "")
             for e in entries]
    await reply(update, "\n".join(lines)[-4000:])
