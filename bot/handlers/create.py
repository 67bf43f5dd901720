"""/create: the one-line form and the guided flow with inline keyboards.

The guided flow keeps its state in the callback data (`cw:<uid>:<nonce>:<t>:<s>:<n>[:go]`), so it
needs no server-side session and survives a restart; `<uid>` lets only the user who started it
press its buttons.
"""

from __future__ import annotations

import secrets

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.handlers import render
from bot.handlers.approvals import executor, submit
from bot.handlers.common import LiveMessage, command_args, run_reporting, services
from bot.parsing import CreateArgs, parse_create
from bot.proxmox import ContainerSpec
from bot.proxmox.errors import StartFailed, StillRunning
from bot.proxmox.tasks import task_vmid
from bot.services.containers import CreatePlan, spec_from_payload, spec_to_payload
from bot.store import Approval

SIZES = {  # key: (label, cores, memory MiB, disk GiB)
    "s": ("Small · 1 core, 512 MiB, 8 GiB", 1, 512, 8),
    "m": ("Medium · 2 cores, 2 GiB, 16 GiB", 2, 2048, 16),
    "l": ("Large · 4 cores, 4 GiB, 32 GiB", 4, 4096, 32),
}


def describe_spec(spec: ContainerSpec) -> str:
    nic = spec.nics[0]
    net = f"{nic.bridge} {'DHCP' if nic.dhcp else nic.ip}"
    return (f"{spec.hostname}: {spec.cores} core(s), {spec.memory_mb} MiB, {spec.disk_gb} GiB, "
            f"{spec.template}, {net}" + (f", node {spec.node}" if spec.node else ""))


async def create_in_background(context, owner_id: int, live: LiveMessage,
                               spec: ContainerSpec) -> None:
    svc = services(context)

    async def work() -> str:
        try:
            result = await svc.containers.create(owner_id, spec, progress=live)
        except StillRunning as exc:
            if not exc.password:
                raise
            # The CT has this password once created: send it now, or nobody ever will.
            vmid = task_vmid(exc.upid) or "?"
            note = await send_password(context, owner_id, vmid, spec.hostname, exc.password)
            raise StillRunning(f"{exc}{note}", upid=exc.upid, waited_s=exc.waited_s) from None
        except StartFailed as exc:
            if not exc.password:
                raise
            note = await send_password(context, owner_id, exc.vmid, spec.hostname, exc.password)
            raise StartFailed(f"{exc}{note}", vmid=exc.vmid, node=exc.node, password=None,
                              cause=exc.cause) from None
        ct = await svc.px.get_container(result.vmid)
        note = ""
        if result.password:
            note = await send_password(context, owner_id, ct.vmid, ct.hostname, result.password)
        return (f"✅ CT {ct.vmid} {ct.hostname} is {ct.status} on {ct.node}, "
                f"IP {render.ips_of(ct)}.{note}")

    context.application.create_task(run_reporting(live, work()))


async def send_password(context, owner_id: int, vmid: int, hostname: str, password: str) -> str:
    """The root password goes to the owner's private chat only; never a group, never the log."""
    try:
        await context.bot.send_message(
            owner_id, f"Root password of CT {vmid} ({hostname}): {password}\n"
                      "It is not stored anywhere: keep it now.")
    except TelegramError:
        return " I could not send you its root password privately: open a chat with me first."
    return " Its root password was sent to you privately."


async def submit_create(update: Update, context, plan: CreatePlan) -> None:
    spec = plan.spec
    if plan.approval_reasons:
        await submit(update, context, "create",
                     {"owner_id": update.effective_user.id, "spec": spec_to_payload(spec)},
                     f"create {describe_spec(spec)}", plan.approval_reasons)
        return
    live = await LiveMessage.post(context.bot, update.effective_chat.id,
                                  f"⏳ Creating {describe_spec(spec)}…")
    await create_in_background(context, update.effective_user.id, live, spec)


@executor("create")
async def execute_create(context, approval: Approval) -> None:
    owner_id = approval.payload["owner_id"]
    spec = spec_from_payload(approval.payload["spec"])
    live = await LiveMessage.post(context.bot, approval.requester_chat_id,
                                  f"⏳ Creating {describe_spec(spec)}…")
    await create_in_background(context, owner_id, live, spec)


async def create(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = command_args(update)
    if not text:
        await start_wizard(update, context)
        return
    args = parse_create(text)
    plan = await services(context).containers.plan_create(update.effective_user.id, args)
    await submit_create(update, context, plan)


# ---- the guided flow --------------------------------------------------------------------------

def _data(uid: int, nonce: str, t: str = "-", s: str = "-", n: str = "-", go: bool = False) -> str:
    return f"cw:{uid}:{nonce}:{t}:{s}:{n}" + (":go" if go else "")


def _keyboard(rows: list[tuple[str, str]], uid: int, nonce: str) -> InlineKeyboardMarkup:
    buttons = [[InlineKeyboardButton(label, callback_data=data)] for label, data in rows]
    buttons.append([InlineKeyboardButton("Cancel", callback_data=f"cw:{uid}:{nonce}:x")])
    return InlineKeyboardMarkup(buttons)


async def _templates(context) -> list[str]:
    return sorted(t.volid for t in await services(context).px.templates())


def _networks(context) -> list[str]:
    return [services(context).containers.defaults.bridge]


async def start_wizard(update: Update, context) -> None:
    uid = update.effective_user.id
    nonce = secrets.token_hex(2)
    text, markup = await _wizard_step(context, uid, nonce, "-", "-", "-")
    await update.effective_message.reply_text(text, reply_markup=markup)


async def _wizard_step(context, uid: int, nonce: str, t: str, s: str, n: str):
    templates = await _templates(context)
    if t == "-":
        rows = [(v.split("/")[-1], _data(uid, nonce, str(i))) for i, v in enumerate(templates)]
        return "New container · step 1 of 3: choose a template.", _keyboard(rows, uid, nonce)
    if s == "-":
        rows = [(label, _data(uid, nonce, t, key)) for key, (label, *_r) in SIZES.items()]
        return "Step 2 of 3: choose a size.", _keyboard(rows, uid, nonce)
    if n == "-":
        rows = [(f"{bridge} · DHCP", _data(uid, nonce, t, s, str(i)))
                for i, bridge in enumerate(_networks(context))]
        return "Step 3 of 3: choose a network.", _keyboard(rows, uid, nonce)
    args = _wizard_args(templates, _networks(context), nonce, t, s, n)
    summary = (f"Create {args.hostname}: {args.template.split('/')[-1]}, {SIZES[s][0]}, "
               f"{args.bridge} DHCP?\n(Name it yourself with /create <hostname> …)")
    markup = InlineKeyboardMarkup([[
        InlineKeyboardButton("Create", callback_data=_data(uid, nonce, t, s, n, go=True)),
        InlineKeyboardButton("Cancel", callback_data=f"cw:{uid}:{nonce}:x")]])
    return summary, markup


def _wizard_args(templates: list[str], networks: list[str], nonce: str, t: str, s: str,
                 n: str) -> CreateArgs:
    """Raises IndexError/KeyError/ValueError on stale or forged data; the caller says so."""
    template = templates[int(t)]
    _label, cores, memory, disk = SIZES[s]
    os_name = template.split("/")[-1].split("-")[0].split("_")[0].lower()
    return CreateArgs(hostname=f"{os_name}-{nonce}", template=template, cores=cores,
                      memory_mb=memory, disk_gb=disk, bridge=networks[int(n)], dhcp=True)


async def on_wizard_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    parts = query.data.split(":")
    uid = update.effective_user.id
    if len(parts) < 4 or parts[1] != str(uid):
        await query.answer("This menu belongs to someone else: send /create to start your own.",
                           show_alert=True)
        return
    nonce = parts[2]
    if parts[3] == "x":
        await query.answer()
        await query.edit_message_text("Cancelled. Nothing was created.")
        return
    t, s, n = (parts[3:6] + ["-", "-", "-"])[:3]
    go = len(parts) > 6 and parts[6] == "go"
    try:
        if not go:
            text, markup = await _wizard_step(context, uid, nonce, t, s, n)
            await query.answer()
            await query.edit_message_text(text, reply_markup=markup)
            return
        args = _wizard_args(await _templates(context), _networks(context), nonce, t, s, n)
    except (IndexError, KeyError, ValueError):
        await query.answer("This menu is out of date: send /create again.", show_alert=True)
        return
    plan = await services(context).containers.plan_create(uid, args)  # quota errors -> alert
    await query.answer()
    await query.edit_message_text(f"Creating {args.hostname}, see below.")
    await submit_create(update, context, plan)
