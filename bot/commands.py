"""Every command and button of the bot, with who may use it, in one table.

The Application is built from these tables (bot.app), /help is generated from them, and the tests
enumerate them; a handler's role is declared here and enforced by `guarded` in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update
from telegram.ext import ContextTypes

from bot.handlers import (
    admin,
    approvals,
    containers,
    create,
    firewall,
    invites,
    keys,
    resizing,
    scaling,
    sharing,
    tokens,
)
from bot.handlers import backups as bk
from bot.handlers import network as net
from bot.handlers.common import Handler, command_args, refuse_unknown, reply, services
from bot.parsing import EXAMPLES, USAGE
from bot.parsing_tenants import start_payload
from bot.services import Role


@dataclass(frozen=True)
class Command:
    name: str
    role: Role
    summary: str
    handler: Handler
    use_case: str | None  # its entry in bot.services.policy.RULES (None: no object, no data)


@dataclass(frozen=True)
class Button:
    """A family of inline buttons: callback data matching `pattern`, e.g. `example`."""

    pattern: str
    role: Role
    handler: Handler
    example: str
    use_case: str  # what a press asks of the policy first (bot.services.policy.RULES)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Also what opening an invite link sends (``/start <token>``): the one command a
    stranger may use, and only with a token."""
    user = update.effective_user
    role = services(context).access.role_of(user.id)
    if role is Role.NONE:
        token = start_payload(command_args(update))
        await (invites.join(update, context, token) if token else refuse_unknown(update, context))
        return
    link = ("You are registered already: that link was not used.\n\n"
            if command_args(update) else "")
    await reply(update, f"{link}Hello {user.first_name}! I am Stratus: I create and run Linux "
                        f"containers on Proxmox for you.\nYou are {'an admin' if role is Role.ADMIN else 'a user'}.\n\n"
                        + help_text(role))


start.welcomes_strangers = True  # read by `guarded`


def help_text(role: Role) -> str:
    lines = [f"/{c.name} - {c.summary}" for c in COMMANDS if c.role <= role]
    return "What you can do:\n" + "\n".join(lines) + "\n\n/help <command> shows its usage."


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    role = services(context).access.role_of(update.effective_user.id)
    topic = " ".join(context.args).lstrip("/").lower()
    if not topic:
        await reply(update, help_text(role))
        return
    if topic in scaling.TOPICS:
        await reply(update, scaling.TOPICS[topic])
        return
    command = next((c for c in COMMANDS if c.name == topic and c.role <= role), None)
    if command is None:
        await reply(update, f"No command /{topic[:32]} that you can use. /help lists them.")
        return
    text = f"/{command.name} - {command.summary}\nUsage: {USAGE.get(command.name, '/' + command.name)}"
    if command.name in EXAMPLES:
        text += f"\nExample: {EXAMPLES[command.name]}"
    await reply(update, text)


COMMANDS: list[Command] = [
    Command("start", Role.USER, "introduction", start, None),
    Command("help", Role.USER, "what you can do; /help <command> for its usage", help_command, None),
    Command("create", Role.USER, "create a container (alone: a guided menu)", create.create, "ct.create"),
    Command("list", Role.USER, "your containers (admins: all, with filters)",
            containers.list_containers, "ct.list"),
    Command("info", Role.USER, "a container's card with its buttons", containers.info, "ct.see"),
    Command("ct_start", Role.USER, "start a container", containers.power_command("start"), "ct.power"),
    Command("ct_stop", Role.USER, "stop a container", containers.power_command("stop"), "ct.power"),
    Command("ct_reboot", Role.USER, "reboot a container", containers.power_command("reboot"), "ct.power"),
    Command("ct_delete", Role.USER, "delete a container (users: with approval)",
            containers.ct_delete, "ct.delete"),
    Command("resize", Role.USER, "more cores or memory, a bigger disk (within your quota)",
            resizing.resize, "ct.resize"),
    Command("share", Role.USER, "let another user see, power or manage a container",
            sharing.share, "ct.share"),
    Command("unshare", Role.USER, "stop sharing a container with a user", sharing.unshare,
            "ct.share"),
    Command("shares", Role.USER, "what you shared, and what is shared with you",
            sharing.shares, "share.list"),
    Command("invite", Role.ADMIN, "a link that registers whoever opens it, with a quota",
            invites.invite, "invite.create"),
    Command("invites", Role.ADMIN, "invite links, used and unused", invites.invites, "invite.list"),
    Command("invite_revoke", Role.ADMIN, "make an invite link register nobody",
            invites.invite_revoke, "invite.revoke"),
    Command("ssh_key", Role.USER, "your SSH public key: your new containers get it for root",
            keys.ssh_key, "key.manage"),
    Command("grant", Role.ADMIN, "let a user in, or make them admin", admin.grant, "user.grant"),
    Command("revoke", Role.ADMIN, "take a user's access away", admin.revoke, "user.revoke"),
    Command("users", Role.ADMIN, "who has access", admin.users, "user.list"),
    Command("quota", Role.ADMIN, "show or set a user's quota", admin.quota, "quota.manage"),
    Command("pending", Role.ADMIN, "requests waiting for approval", approvals.pending, "approval.list"),
    Command("audit", Role.ADMIN, "the latest entries of the audit trail", admin.audit, "audit.read"),
    Command("backup", Role.USER, "back up a container (live progress)", bk.backup, "backup.create"),
    Command("backups", Role.USER, "your backups, or a container's", bk.backups, "backup.list"),
    Command("backup_del", Role.USER, "delete a backup (users: with approval)", bk.backup_del, "backup.delete"),
    Command("restore", Role.USER, "restore a backup as a new container or into one",
            bk.restore, "backup.restore_new"),
    Command("schedule_backup", Role.USER, "back up on a calendar, with retention",
            bk.schedule_backup, "schedule.create"),
    Command("schedules", Role.USER, "backup schedules with their next run", bk.schedules, "schedule.list"),
    Command("schedule_del", Role.USER, "delete a backup schedule (users: with approval)",
            bk.schedule_del, "schedule.delete"),
    Command("net", Role.USER, "a container's NICs: bridge, MAC, IP, gateway", net.net, "net.see"),
    Command("net_set", Role.USER, "change a container's NIC", net.net_set, "net.set"),
    Command("net_del", Role.USER, "take a NIC off a container", net.net_del, "net.set"),
    Command("netcheck", Role.USER, "can A reach B? (containers, host, pc)", net.netcheck, "net.check"),
    Command("fw", Role.USER, "a container's firewall rules", firewall.fw, "fw.see"),
    Command("fw_allow", Role.USER, "open a port of your container (to a network or container)",
            firewall.fw_allow, "fw.change"),
    Command("fw_del", Role.USER, "close a port you opened", firewall.fw_del, "fw.change"),
    Command("bridges", Role.USER, "the networks you may use (admins: every bridge, with "
            "pending changes)", net.bridges, "bridge.see"),
    Command("bridge_add", Role.ADMIN, "stage a Linux bridge (then Apply)", net.bridge_add, "bridge.add"),
    Command("bridge_del", Role.ADMIN, "delete a bridge (with approval)", net.bridge_del, "bridge.delete"),
    Command("natnet_add", Role.ADMIN, "create a NAT network (SDN, SNAT)", net.natnet_add, "natnet.add"),
    Command("doctor", Role.ADMIN, "check Stratus's Proxmox set-up", net.doctor, "doctor"),
    Command("netfacts", Role.ADMIN, "the network facts Proxmox cannot show (NAT, forwarding, "
            "port forwards): see or change them", net.netfacts_command, "netfacts"),
    Command("scale_create", Role.USER, "create a scaling group of replicas (/help elasticity)",
            scaling.scale_create, "group.create"),
    Command("scale_status", Role.USER, "your scaling groups and their replicas",
            scaling.scale_status, "group.see"),
    Command("scale_set", Role.USER, "change a scaling group's limits or target", scaling.scale_set, "group.change"),
    Command("scale_pause", Role.USER, "stop a group's scaling for now", scaling.pause_command(True), "group.change"),
    Command("scale_resume", Role.USER, "let a paused group scale again",
            scaling.pause_command(False), "group.change"),
    Command("scale_delete", Role.USER, "delete a scaling group (destroy or keep its replicas)",
            scaling.scale_delete, "group.delete"),
    Command("scale_chart", Role.USER, "a chart of a group's load and replicas",
            scaling.scale_chart, "group.see"),
    Command("api_token", Role.USER, "a token for the REST API, acting as you (shown once)",
            tokens.api_token, "token.issue"),
    Command("api_tokens", Role.USER, "your API tokens", tokens.api_tokens, "token.list"),
    Command("api_token_revoke", Role.USER, "revoke one of your API tokens",
            tokens.api_token_revoke, "token.revoke"),
]

BUTTONS: list[Button] = [
    Button(r"^ct:\d+:[a-z-]+(:[0-9a-f]{12})?$", Role.USER, containers.on_card_button,
           "ct:100:start:0123456789ab", "ct.power"),
    Button(r"^cw:", Role.USER, create.on_wizard_button, "cw:1:ab12:0:s:0:go", "ct.create"),
    Button(r"^ap:[0-9a-f]+:(yes|no)$", Role.ADMIN, approvals.on_decision, "ap:deadbeef:yes", "approval.decide"),
    Button(r"^bk:ri:[0-9a-f]+:(yes|no)$", Role.USER, bk.on_restore_confirm, "bk:ri:ab12cd34:yes", "backup.restore_into"),
    Button(r"^nw:[A-Za-z0-9-]+:(apply|discard):[0-9a-f]{12}$", Role.ADMIN,
           net.on_network_button, "nw:pve1:apply:0123456789ab", "bridge.apply"),
    Button(r"^sg:[a-z0-9-]+:(destroy|keep|cancel)$", Role.USER, scaling.on_delete_button,
           "sg:web:keep", "group.delete"),
]
