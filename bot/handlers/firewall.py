"""/fw, /fw_allow, /fw_del: a container's firewall. Parse, call the firewall service, reply."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.handlers.common import command_args, reply, services
from bot.parsing import parse_ct_command
from bot.parsing_tenants import parse_fw_allow, parse_fw_del
from bot.proxmox.firewall import FwRule
from bot.services.firewall import BASE, USER, CtFirewall, Opening


def rule_text(rule: FwRule) -> str:
    """``accept tcp/80 from 10.0.0.0/24``, or what the bot's own rule is for."""
    if rule.comment.startswith(BASE):
        return f"[Stratus] {rule.comment.removeprefix(BASE)}"
    if rule.comment.startswith(USER):
        return f"accepts {rule.comment.removeprefix(USER)}"
    what = (rule.proto or "anything") + (f"/{rule.dport}" if rule.dport else "")
    off = "" if rule.enable else " (disabled)"
    return f"{rule.type} {rule.action.lower()} {what} from {rule.source or 'anyone'}{off}"


def firewall_text(fw: CtFirewall) -> str:
    ct = fw.ct
    lines = [f"Firewall of CT {ct.vmid} {ct.hostname}: " + ("on" if fw.active else "OFF")]
    if not fw.datacenter:
        lines.append("⚠️ The datacenter firewall is off: none of this filters anything yet "
                     "(an admin's /doctor says how to turn it on).")
    lines.append(f"Incoming: only what a rule accepts (else {fw.policy_in.lower()}); "
                 "outgoing: allowed, but for the hosts' management ports.")
    lines += [f"{i}. {rule_text(rule)}" for i, rule in enumerate(fw.rules, start=1)]
    lines.append(f"/fw_allow {ct.vmid} tcp/80 [from <network|container>] opens a port; "
                 f"/fw_del {ct.vmid} <n> closes one you opened.")
    return "\n".join(lines)


async def fw(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    ref = parse_ct_command(command_args(update), command="fw").ref
    shown = await services(context).firewall.show(update.effective_user.id, ref)
    await reply(update, firewall_text(shown))


async def fw_allow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_fw_allow(command_args(update))
    rule = await services(context).firewall.allow(
        update.effective_user.id, args.ref, Opening(args.proto, args.ports, args.source))
    await reply(update, f"✅ CT {args.ref} now {rule_text(rule)}. /fw {args.ref} lists its "
                        "rules.")


async def fw_del(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_fw_del(command_args(update))
    rule = await services(context).firewall.remove(update.effective_user.id, args.ref,
                                                   args.number)
    await reply(update, f"✅ Rule {args.number} of CT {args.ref} is gone (it "
                        f"{rule_text(rule)}).")
