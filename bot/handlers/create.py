"""/create: the one-line form and the guided flow with inline keyboards.

The guided flow keeps its state in the callback data (`cw:<uid>:<nonce>:<t>:<s>:<n>[:go]`), so it
needs no server-side session and survives a restart; `<uid>` lets only the user who started it
press its buttons.
"""

from __future__ import annotations

import re
import secrets

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.handlers import render
from bot.handlers.approvals import Asker, deferrable, run_or_ask
from bot.handlers.common import (
    STALE_BUTTON,
    LiveMessage,
    StaleButton,
    button_fields,
    command_args,
    reply,
    run_reporting,
    services,
)
from bot.parsing import CreateArgs, UsageError, parse_create, parse_hostname
from bot.parsing_keys import parse_public_key
from bot.proxmox import ContainerSpec
from bot.proxmox.errors import StartFailed, StillRunning
from bot.proxmox.tasks import task_vmid
from bot.services.containers import CreatePlan, spec_from_payload, spec_to_payload

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
                               spec: ContainerSpec, lease_holder: str | None = None) -> None:
    svc = services(context)

    async def work() -> str:
        try:
            result = await svc.containers.create(owner_id, spec, progress=live,
                                                 lease_holder=lease_holder)
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
        ct = await svc.containers.resolve(owner_id, result.vmid)
        note = ""
        if result.password:
            note = await send_password(context, owner_id, ct.vmid, ct.hostname, result.password)
        elif spec.ssh_public_key:
            note = (f" Log in as root with your SSH key "
                    f"({parse_public_key(spec.ssh_public_key).fingerprint}).")
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
    await run_or_ask(update, context, "create",
                     {"owner_id": update.effective_user.id, "spec": spec_to_payload(spec),
                      "lease_holder": plan.lease_holder},
                     f"create {describe_spec(spec)}", needs_approval=bool(plan.approval_reasons),
                     reasons=plan.approval_reasons)


@deferrable("create")
async def run_create(context, asker: Asker, payload: dict) -> None:
    spec = spec_from_payload(payload["spec"])
    live = await LiveMessage.post(context.bot, asker.chat_id, f"⏳ Creating {describe_spec(spec)}…")
    await create_in_background(context, payload["owner_id"], live, spec,
                               payload.get("lease_holder"))


async def create(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = command_args(update)
    if not text:
        await start_wizard(update, context)
        return
    args = parse_create(text)
    plan = await services(context).containers.plan_create(update.effective_user.id, args)
    if args.typed_hostname:  # said, not done silently: the name to use from now on
        await reply(update, f"ℹ️ Hostnames are lower case: {args.typed_hostname} is "
                            f"{args.hostname} (use that name with /info, /netcheck ...).")
    await submit_create(update, context, plan)


# ---- the guided flow --------------------------------------------------------------------------

def _data(uid: int, nonce: str, t: str = "-", s: str = "-", n: str = "-", go: bool = False) -> str:
    return f"cw:{uid}:{nonce}:{t}:{s}:{n}" + (":go" if go else "")


def _keyboard(rows: list[tuple[str, str]], uid: int, nonce: str) -> InlineKeyboardMarkup:
    buttons = [[InlineKeyboardButton(label, callback_data=data)] for label, data in rows]
    buttons.append([InlineKeyboardButton("Cancel", callback_data=f"cw:{uid}:{nonce}:x")])
    return InlineKeyboardMarkup(buttons)


async def _templates(context, uid: int) -> list[str]:
    return await services(context).containers.template_names(uid)


async def _usable(context, uid: int):
    """The networks the user may put a CT on (services: the default first), for step 3."""
    return await services(context).network.usable_networks(uid, "ct.create")



async def start_wizard(update: Update, context) -> None:
    uid = update.effective_user.id
    nonce = secrets.token_hex(2)
    text, markup = await _wizard_step(context, uid, nonce, "-", "-", "-")
    await update.effective_message.reply_text(text, reply_markup=markup)


async def _wizard_step(context, uid: int, nonce: str, t: str, s: str, n: str):
    templates = await _templates(context, uid)
    usable = await _usable(context, uid)
    networks = [u.name for u in usable]
    _check_choices(templates, networks, t, s, n)
    if t == "-":
        rows = [(v.split("/")[-1], _data(uid, nonce, str(i))) for i, v in enumerate(templates)]
        return "New container · step 1 of 3: choose a template.", _keyboard(rows, uid, nonce)
    if s == "-":
        rows = [(label, _data(uid, nonce, t, key)) for key, (label, *_r) in SIZES.items()]
        return "Step 2 of 3: choose a size.", _keyboard(rows, uid, nonce)
    if n == "-":
        rows = [(_network_label(u), _data(uid, nonce, t, s, str(i)))
                for i, u in enumerate(usable)]
        return ("Step 3 of 3: choose a network (/bridges lists them).",
                _keyboard(rows, uid, nonce))
    args = _wizard_args(templates, usable, nonce, t, s, n)
    chosen = usable[int(n)]
    summary = (f"Create {args.hostname}: {args.template.split('/')[-1]}, {SIZES[s][0]}, "
               f"{chosen.name} ({chosen.subnet or 'no subnet'}, {chosen.addressing})?\n"
               "(Name it yourself with /create <hostname> …)")
    markup = InlineKeyboardMarkup([[
        InlineKeyboardButton("Create", callback_data=_data(uid, nonce, t, s, n, go=True)),
        InlineKeyboardButton("Cancel", callback_data=f"cw:{uid}:{nonce}:x")]])
    return summary, markup


def _network_label(u) -> str:
    how = f"pool {u.pool}" if u.pool else "DHCP"
    return f"{u.name} · {u.subnet or 'no subnet'} · {how}"


def _wizard_args(templates: list[str], usable: list, nonce: str, t: str, s: str,
                 n: str) -> CreateArgs:
    """Raises IndexError/KeyError/ValueError on stale or forged data; the caller says so.
    A network with an address pool gives the CT its next address and gateway (the create's
    own rule); one without, DHCP."""
    template = _chosen(templates, t)
    _label, cores, memory, disk = SIZES[s]
    network = _chosen(usable, n)
    return CreateArgs(hostname=_hostname(template, nonce), template=template, cores=cores,
                      memory_mb=memory, disk_gb=disk, bridge=network.name,
                      dhcp=network.pool is None)


def _hostname(template: str, nonce: str) -> str:
    """The template's OS and the menu's nonce, e.g. debian-1a2b. The nonce comes back in the
    callback data, so the name is checked as a typed one would be (ValueError if invalid)."""
    os_name = re.match(r"[a-z0-9]*", template.split("/")[-1].lower()).group() or "ct"
    try:
        return parse_hostname(f"{os_name}-{nonce}")
    except UsageError as error:
        raise ValueError(error.problem) from None


_INDEX = re.compile(r"[0-9]{1,3}")


def _chosen(items: list, index: str):
    """The item a menu button names by its index, as `_wizard_step` wrote it: int() would also
    take "-1" (the last item), " 1", "1_0" or "١"."""
    if not _INDEX.fullmatch(index):
        raise ValueError(f"not a menu index: {index[:8]!r}")
    return items[int(index)]  # IndexError: the list changed since the menu was shown


# `_data` and `_keyboard` write `cw:<uid>:<nonce>:<t>:<s>:<n>[:go]` and `cw:<uid>:<nonce>:x`.
_WIZARD_OWNER = re.compile(r"cw:([0-9]{1,20}):(.*)")
_WIZARD_STEP = re.compile(r"([0-9a-f]{4}):(?:(x)|([0-9-]{1,3}):([a-z-]):([0-9-]{1,3})(:go)?)")


def _check_choices(templates: list[str], networks: list[str], t: str, s: str, n: str) -> None:
    """Every choice made so far ("-": not yet) names an item of its menu, before the next
    step is shown: else IndexError/KeyError/ValueError, as `_wizard_args`."""
    for items, index in ((templates, t), (networks, n)):
        if index != "-":
            _chosen(items, index)
    if s != "-" and s not in SIZES:
        raise KeyError(s)


async def on_wizard_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    owner, rest = button_fields(update, _WIZARD_OWNER)
    uid = update.effective_user.id
    if owner != str(uid):
        await query.answer("This menu belongs to someone else: send /create to start your own.",
                           show_alert=True)
        return
    step = _WIZARD_STEP.fullmatch(rest)
    if step is None:
        raise StaleButton
    nonce, cancel, t, s, n, go = step.groups()
    if cancel:
        await query.answer()
        await query.edit_message_text("Cancelled. Nothing was created.")
        return
    try:
        if not go:
            text, markup = await _wizard_step(context, uid, nonce, t, s, n)
            await query.answer()
            await query.edit_message_text(text, reply_markup=markup)
            return
        args = _wizard_args(await _templates(context, uid), await _usable(context, uid), nonce,
                            t, s, n)
    except (IndexError, KeyError, ValueError):
        await query.answer(f"{STALE_BUTTON.rstrip('.')}: the menu is out of date. Send /create "
                           "again.", show_alert=True)
        return
    plan = await services(context).containers.plan_create(uid, args)  # quota errors -> alert
    await query.answer()
    await query.edit_message_text(f"Creating {args.hostname}, see below.")
    await submit_create(update, context, plan)
