"""Networking commands: /bridges, /bridge_add (+ Apply/Discard), /bridge_del (approval),
/natnet_add, /net, /net_set, /netcheck, /doctor. Thin: parse, call one service, reply."""

from __future__ import annotations

import re
import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from bot.handlers.approvals import Asker, deferrable, run_or_ask
from bot.handlers.common import (
    LiveMessage,
    button_fields,
    command_args,
    reply,
    run_reporting,
    services,
)
from bot.parsing_netfacts import parse_netfacts
from bot.parsing_network import (
    parse_bridge_add,
    parse_bridge_del,
    parse_natnet_add,
    parse_net,
    parse_net_del,
    parse_net_set,
    parse_netcheck,
    parse_no_args,
    parse_node_arg,
)
from bot.proxmox.network import NodeNetwork
from bot.services.network import FactLine, Overview, StaleChanges, changes_token

_DIFF_MAX = 2500


def _bridge_line(b) -> str:
    bits = [b.name, b.cidr or "no address"]
    if b.gateway:
        bits.append(f"gw {b.gateway}")
    bits.append(f"ports {' '.join(b.ports)}" if b.ports else "no ports")
    bits.append("autostart" if b.autostart else "no autostart")
    if b.pending:
        bits.append("PENDING")
    return " · ".join(bits)


def usable_line(n) -> str:
    """One network a person may use: what /bridges lists for users and the create menu offers."""
    where = f"on {', '.join(n.nodes)}" if n.nodes else "on no online node"
    return (f"{n.name}{' (default)' if n.default else ''} · {n.subnet or 'no subnet'}"
            f"{' · NAT' if n.nat else ''} · {n.addressing} · {where}")


def render_overview(ov: Overview) -> str:
    if not ov.full:
        if not ov.usable:
            return "No network is open to you yet: ask an admin to give one an address pool."
        return ("Networks you may use (/create <name> --bridge <network>):\n"
                + "\n".join(f"  {usable_line(n)}" for n in ov.usable))
    lines = []
    for net in ov.nodes:
        lines.append(f"Node {net.node}:")
        lines += [f"  {_bridge_line(b)}" + (f" · pool {ov.pools[b.name]}" if b.name in ov.pools
                                             else "") for b in net.bridges]
        if net.changes:
            lines.append(f"  pending changes (not applied): /bridges {net.node} then Apply")
    if ov.vnets:
        lines.append("NAT / SDN networks:")
        for v in ov.vnets:
            lines.append(f"  {v.name} · zone {v.zone} · {v.subnet or 'no subnet'} · gw "
                         f"{v.gateway or '-'} · {'SNAT' if v.snat else 'no SNAT'}"
                         + ("" if v.applied else " · PENDING (not applied)")
                         + (f" · pool {ov.pools[v.name]}" if v.name in ov.pools else ""))
    users = [n.name + (" (default)" if n.default else "") for n in ov.usable
             if n.pool or n.default]
    if users:
        lines.append(f"Open to users: {', '.join(users)}")
    return "\n".join(lines) or "No networks."


def _changes_markup(net: NodeNetwork) -> InlineKeyboardMarkup:
    token = changes_token(net)  # the buttons act only on the diff this card shows
    return InlineKeyboardMarkup([[
        InlineKeyboardButton("Apply", callback_data=f"nw:{net.node}:apply:{token}"),
        InlineKeyboardButton("Discard", callback_data=f"nw:{net.node}:discard:{token}")]])


def _changes_text(net: NodeNetwork, title: str) -> str:
    diff = net.changes or "(no difference)"
    if len(diff) > _DIFF_MAX:
        diff = diff[:_DIFF_MAX] + "\n…"
    return f"{title}\nPending changes on {net.node} (PVE's diff):\n{diff}"


async def bridges(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    node = parse_node_arg(command_args(update), "bridges")
    svc = services(context)
    ov = await svc.network.overview(update.effective_user.id, node)
    await reply(update, render_overview(ov))
    for net in ov.nodes:
        if net.changes:
            await update.effective_message.reply_text(
                _changes_text(net, "Not applied yet."), reply_markup=_changes_markup(net))


async def bridge_add(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_bridge_add(command_args(update))
    net = await services(context).network.stage_bridge(update.effective_user.id, args)
    title = f"Staged {args.name} ({args.cidr}) on {net.node}" + (
        f", pool {args.pool}" if args.pool else "") + ". Apply to make it live."
    await update.effective_message.reply_text(_changes_text(net, title),
                                              reply_markup=_changes_markup(net))


# _changes_markup: a node name (PVE's pve-node format), the action, the diff's changes_token.
_NETWORK_BUTTON = re.compile(
    r"nw:([a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?):(apply|discard):([0-9a-f]{12})")


async def on_network_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """`nw:<node>:apply|discard:<token>` under a pending diff (the token is the diff's)."""
    query = update.callback_query
    node, action, token = button_fields(update, _NETWORK_BUTTON)
    svc = services(context)
    uid = update.effective_user.id
    try:
        if action == "apply":
            await query.answer("Applying…")
            net = await svc.network.apply(uid, node, token)
            names = ", ".join(b.name for b in net.bridges)
            await query.edit_message_text(f"✅ Network changes applied on {node} (ifreload). "
                                          f"Bridges: {names}.")
        else:
            await svc.network.discard(uid, node, token)
            await query.answer("Discarded.")
            await query.edit_message_text(f"🗑 Pending network changes on {node} discarded.")
    except StaleChanges as stale:
        if action == "discard":  # Apply has answered "Applying…" already; its card says it
            await query.answer("The changes differ from this card: nothing done.",
                               show_alert=True)
        current = stale.current
        if current.changes:
            await query.edit_message_text(_changes_text(current, str(stale)),
                                          reply_markup=_changes_markup(current))
        else:
            await query.edit_message_text(f"{stale}\nNothing is pending on {node} now.")


async def bridge_del(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_bridge_del(command_args(update))
    svc = services(context)
    uid = update.effective_user.id
    node = await svc.network.check_bridge_delete(uid, args.name, args.node)
    await run_or_ask(update, context, "bridge_del", {"name": args.name, "node": node},
                     f"delete bridge {args.name} on {node}",
                     needs_approval=svc.network.delete_needs_approval(uid))


@deferrable("bridge_del")
async def run_bridge_del(context, asker: Asker, payload: dict) -> None:
    name, node = payload["name"], payload["node"]
    live = await LiveMessage.post(context.bot, asker.chat_id, f"⏳ Deleting bridge {name} on {node}…")

    async def work() -> str:
        await services(context).network.delete_bridge(asker.user_id, name, node)
        return f"🗑 Bridge {name} deleted on {node} (applied)."

    context.application.create_task(run_reporting(live, work()))


async def natnet_add(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_natnet_add(command_args(update))
    live = await LiveMessage.post(context.bot, update.effective_chat.id,
                                  f"⏳ Creating NAT network {args.name} ({args.network})…")

    async def work() -> str:
        v = await services(context).network.add_natnet(update.effective_user.id, args)
        pool = f", pool {args.pool}" if args.pool else ""
        return (f"✅ NAT network {v.name}: {v.subnet}, gateway {v.gateway}, SNAT "
                f"{'on' if v.snat else 'off'}, zone {v.zone}{pool}. Applied.")

    await run_reporting(live, work())


async def net(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ref = parse_net(command_args(update))
    info = await services(context).network.nics(update.effective_user.id, ref)
    lines = [f"CT {info.vmid} {info.hostname} on {info.node} ({'running' if info.running else 'stopped'}):"]
    for n in info.nics:
        addr = "DHCP" if n.dhcp else (n.ip or "no address")
        lines.append(f"  {n.key}: bridge {n.bridge} · MAC {n.hwaddr or '-'} · IP {addr} · "
                     f"gw {n.gw or '-'}" + ("" if n.link_up else " · link down"))
    if not info.nics:
        lines.append("  no NIC")
    await reply(update, "\n".join(lines))


async def net_set(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_net_set(command_args(update))
    change = await services(context).network.set_nic(update.effective_user.id, args.ref, args)
    when = ("CT is running: Proxmox applies it now (the interface restarts; open connections on "
            "it drop)." if change.running else "CT is stopped: it takes effect at its next start.")
    await reply(update, f"✅ CT {change.vmid} {change.key}: {change.after}\n{when}")


async def net_del(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ref, key = parse_net_del(command_args(update))
    change = await services(context).network.delete_nic(update.effective_user.id, ref, key)
    when = ("CT is running: Proxmox takes it off now." if change.running
            else "CT is stopped: it is gone at its next start.")
    await reply(update, f"✅ CT {change.vmid}: {change.key} removed (it was {change.before}).\n"
                        f"{when}")


async def netcheck(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    a, b = parse_netcheck(command_args(update))
    verdict = await services(context).network.netcheck(update.effective_user.id, a, b)
    await reply(update, f"{a} -> {b}: {verdict.text()}")


async def doctor(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    parse_no_args(command_args(update), "doctor")
    checks = await services(context).doctor.run(update.effective_user.id)
    await reply(update, "Doctor:\n" + "\n".join(str(c) for c in checks))


def _fact_text(line: FactLine, name=str) -> str:
    k = line.kind
    source = (f"set from the chat by {name(line.by)} on "
              f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(line.at))}" if line.by
              else f"the setting {k.setting}")
    return f"{k.name} = {', '.join(line.items) or 'none'}   ({source})\n    {k.meaning}"


async def netfacts_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_netfacts(command_args(update))
    network = services(context).network
    uid = update.effective_user.id
    if args.op == "show":
        lines = network.fact_sheet(uid)
        await reply(update, "Network facts (what /netcheck cannot read from Proxmox):\n"
                    + "\n".join(_fact_text(line, services(context).access.display)
                                 for line in lines)
                    + "\nChange one: /netfacts add|del|set <fact> <item>...; "
                      "/netfacts reset <fact> goes back to its setting.")
        return
    line = await network.change_fact(uid, args.op, args.name, args.items)
    await reply(update, f"✅ {_fact_text(line, services(context).access.display)}")
