"""Scaling-group commands and buttons: parse, call the scaling service, reply."""

from __future__ import annotations

import asyncio
import re
import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.handlers.approvals import Asker, deferrable, run_or_ask
from bot.handlers.common import (
    LiveMessage,
    StaleButton,
    button_fields,
    command_args,
    reply,
    run_reporting,
    services,
)
from bot.parsing import UsageError
from bot.parsing_scaling import (
    CHART_WINDOWS,
    parse_group,
    parse_group_command,
    parse_scale_chart,
    parse_scale_create,
    parse_scale_set,
)
from bot.proxmox.tasks import duration_text
from bot.scaler import group_policy
from bot.scaler.notify import percent
from bot.store.scaling import ScalingGroup

ELASTICITY_HELP = """\
Elasticity: a scaling group is a set of identical containers (replicas), all clones of one \
template container, that share the work of a service. The bot watches how busy they are \
(their CPU) every period (15 s by default) and adds replicas when they are busier than the \
target, removes some when they are idle, always between --min and --max.

A new replica is cloned from the template, named <group>-<n>, tagged with the group in \
Proxmox, started, and counted as ready after a warm-up. Removing one shuts it down and \
destroys it (or keeps it stopped as a warm spare with --warm-spares). Every change is \
announced in the chat where the group was created, e.g. \
"web: 3 -> 5 replicas (CPU 87% vs target 60%) - added web-4 on pve2, web-5 on pve1". \
Growing past --approve-above K replicas waits for an admin's approval.

The predictive policy (the default) orders replicas for the load expected when they will be \
ready (a clone, its start and warm-up take time: the bot measures it on each clone), keeping \
the CPU under --slo (default 85%: where your service starts to slow down). Its one knob, \
--violation-cost C (default DEFAULT_COST), is what a second over the SLO is worth to you in \
replica-seconds: higher buys fewer slow seconds with more replicas. It learns the load's daily \
shape (--season 24h by default, 7d or none) and removes replicas only when they are unlikely \
to be wanted back soon (no flapping). --policy hpa --target-cpu N runs Kubernetes' HPA instead \
(default 80%).

Try it in the demo: the simulated cluster has a template CT 900 (web-template) and replays a \
daily load curve for the group "web" fast (a day in a few minutes):
  /scale_create web --template 900 --min 1 --max 6
  /scale_status web     what it has now
  /scale_chart web 1h   load, target and replicas as a picture
  /scale_pause web, /scale_resume web, /scale_delete web
"""

ELASTICITY_HELP = ELASTICITY_HELP.replace(
    "DEFAULT_COST", f"{group_policy.DEFAULT_VIOLATION_COST:g}")
TOPICS = {"elasticity": ELASTICITY_HELP, "scaling": ELASTICITY_HELP}


def policy_text(group: ScalingGroup) -> str:
    """The group's policy and its options, defaults filled in."""
    opts = group_policy.effective(group)
    if opts["policy"] == "hpa":
        return f"HPA policy, target CPU {percent(opts['target_cpu'])}"
    season = opts["season_s"]
    return (f"predictive policy, SLO CPU {percent(opts['slo_cpu'])}, violation cost "
            f"{opts['violation_cost']:g}, season "
            + (duration_text(season) if season else "none"))


def group_card(group: ScalingGroup, last=None) -> str:
    flags = [policy_text(group), f"{group.min_replicas}-{group.max_replicas} replicas"]
    if group.approve_above is not None:
        flags.append(f"approval above {group.approve_above}")
    if group.node_spread:
        flags.append("spread over nodes")
    if group.warm_spares:
        flags.append(f"{group.warm_spares} warm spare(s)")
    state = "⏸ paused" if group.paused else "▶️ active"
    lines = [f"{group.name} · {state} · template CT {group.template_vmid} · " + ", ".join(flags)]
    if last is not None:
        lines.append(f"Last period: {last.replicas} replicas, {last.ready} ready, CPU "
                     f"{percent(last.utilization)}, wanted {last.desired}")
    members = ", ".join(f"{m.hostname} (CT {m.vmid}, {m.node})" for m in group.members)
    lines.append(f"Members: {members or 'none yet'}")
    if group.spares:
        lines.append("Spares: " + ", ".join(f"{s.hostname} (CT {s.vmid})" for s in group.spares))
    if group.pending_approval:
        lines.append(f"Waiting for approval: request {group.pending_approval}")
    if group.ready_delay_s is not None:
        lines.append(f"Replica delay (clone + start + warm-up, measured): "
                     f"{duration_text(group.ready_delay_s)}")
    if group.last_failure:
        lines.append(f"Last failure: {group.last_failure}")
    return "\n".join(lines)


async def scale_create(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_scale_create(command_args(update))
    svc = services(context)
    group = await svc.scaling.create(update.effective_user.id, update.effective_chat.id, args)
    note = ""
    if args.options.policy is None and args.options.target_cpu is not None:
        note = ("\n--target-cpu is the HPA policy's target, so this group runs HPA. Without it, "
                "the predictive policy keeps --slo (default 85%) with fewer replicas; "
                "/help elasticity.")
    await reply(update, f"✅ Scaling group {group.name} created.\n{group_card(group)}\n"
                        f"Scaling events will be posted in this chat; the controller looks "
                        f"every {svc.scaling.settings.sync_s:g} s.{note}")


async def scale_status(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    name = parse_group_command(command_args(update), "scale_status", required=False)
    svc = services(context)
    uid = update.effective_user.id
    groups = [svc.scaling.get(uid, name)] if name else svc.scaling.visible(uid)
    if not groups:
        await reply(update, "No scaling groups yet. /help scale_create shows how to make one.")
        return
    cards = []
    for group in groups:
        samples = await svc.scaling.history(uid, group.name)
        cards.append(group_card(group, samples[-1] if samples else None))
    await reply(update, "\n\n".join(cards))


async def scale_set(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_scale_set(command_args(update))
    group = await services(context).scaling.change(update.effective_user.id, args.name,
                                                   args.options)
    await reply(update, f"✅ Changed.\n{group_card(group)}")


def pause_command(paused: bool):
    command = "scale_pause" if paused else "scale_resume"

    async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        name = parse_group_command(command_args(update), command)
        group = services(context).scaling.set_paused(update.effective_user.id, name, paused)
        word = "paused: no replica is added or removed until /scale_resume" if paused else \
            "resumed"
        await reply(update, f"{group.name} is {word}.")

    handler.__name__ = command
    return handler


async def scale_delete(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    name = parse_group_command(command_args(update), "scale_delete")
    group = services(context).scaling.get(update.effective_user.id, name, "group.delete")
    count = len(group.members) + len(group.spares)
    await reply(update, f"Delete scaling group {group.name}? It has {count} replica(s).",
                reply_markup=InlineKeyboardMarkup([
                    [InlineKeyboardButton("Destroy the replicas",
                                          callback_data=f"sg:{name}:destroy")],
                    [InlineKeyboardButton("Keep the replicas", callback_data=f"sg:{name}:keep")],
                    [InlineKeyboardButton("Cancel", callback_data=f"sg:{name}:cancel")]]))


_DELETE_BUTTON = re.compile(r"sg:([a-z0-9-]{1,20}):(destroy|keep|cancel)")  # scale_delete


async def on_delete_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``sg:<group>:destroy|keep|cancel``: the presser must own the group (or be an admin)."""
    query = update.callback_query
    raw_name, choice = button_fields(update, _DELETE_BUTTON)
    try:
        name = parse_group(raw_name)
    except UsageError:
        raise StaleButton from None
    svc = services(context)
    uid = update.effective_user.id
    group = svc.scaling.get(uid, name, "group.delete")
    if choice == "cancel":
        await query.answer("Nothing deleted.")
        await query.edit_message_text(f"Scaling group {name} is kept.")
        return
    destroy = choice == "destroy"
    what = "destroying" if destroy else "keeping"
    await query.answer()
    await query.edit_message_text(f"Delete scaling group {name}, {what} its replicas.")
    await run_or_ask(update, context, "scale_delete",
                     {"group": group.name, "created_at": group.created_at, "destroy": destroy},
                     f"delete scaling group {group.name}, {what} its replicas",
                     needs_approval=svc.scaling.delete_needs_approval(uid))


@deferrable("scale_delete")
async def run_scale_delete(context, asker: Asker, payload: dict) -> None:
    name, destroy = payload["group"], payload["destroy"]
    live = await LiveMessage.post(context.bot, asker.chat_id, f"⏳ Deleting scaling group {name}…")

    async def work() -> str:
        async with context.bot_data["scaler"].between_ticks():
            gone = await services(context).scaling.delete(asker.user_id, name, destroy,
                                                          payload.get("created_at"))
        kept = "" if destroy else " Its replicas are kept."
        return f"🗑 Scaling group {name} is deleted ({gone} replica(s) destroyed).{kept}"

    context.application.create_task(run_reporting(live, work()))


@deferrable("scale_out")
async def run_scale_out(context, asker: Asker, payload: dict) -> None:
    """The controller reads the approval on its next period; run one now rather than later."""
    controller = context.application.bot_data.get("scaler")
    if controller is not None:
        context.application.create_task(controller.tick())


async def scale_chart(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_scale_chart(command_args(update))
    svc = services(context)
    group = svc.scaling.get(update.effective_user.id, args.name)
    samples = await svc.scaling.history(update.effective_user.id, group.name,
                                        time.time() - args.window_s)
    label = next(k for k, v in CHART_WINDOWS.items() if v == args.window_s)
    # Imported here: matplotlib costs the bot ~35 MB, paid only once someone asks for a chart.
    from bot.scaler.chart import render_chart

    png = await asyncio.to_thread(render_chart, group.name, samples, label)
    await update.effective_message.reply_photo(
        png, caption=f"{group.name}: load, target and replicas, last {label} "
                     f"({len(samples)} samples)")
