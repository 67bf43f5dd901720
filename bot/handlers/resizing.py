"""/resize: parse, plan with the resize service, run now or once an admin approves."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.handlers.approvals import Asker, deferrable, run_or_ask
from bot.handlers.common import LiveMessage, command_args, run_reporting, services
from bot.parsing_tenants import parse_resize
from bot.services.resizing import ResizeAsk, ResizeRequest


async def resize(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_resize(command_args(update))
    svc = services(context)
    ask = ResizeAsk(args.cores, args.memory_mb, args.disk_gb, args.disk_grow)
    plan = await svc.resizing.plan(update.effective_user.id, args.ref, ask)  # refusals now
    await run_or_ask(update, context, "resize", plan.request.to_payload(), plan.summary,
                     needs_approval=bool(plan.approval_reasons), reasons=plan.approval_reasons)


@deferrable("resize")
async def run_resize(context, asker: Asker, payload: dict) -> None:
    request = ResizeRequest.from_payload(payload)
    title = f"⏳ Resizing CT {request.vmid} {request.hostname}…"
    live = asker.live or await LiveMessage.post(context.bot, asker.chat_id, title)

    async def work() -> str:
        done = await services(context).resizing.resize(asker.user_id, request, asker.approved)
        ct = done.ct
        return (f"✅ CT {ct.vmid} {ct.hostname} is resized ({done.changes}): {ct.cores} "
                f"core(s), {ct.memory_mb} MiB, {ct.disk_gb:g} GiB. {done.note}")

    context.application.create_task(run_reporting(live, work()))
