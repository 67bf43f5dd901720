"""Text and keyboards people see. Pure functions of our types, no I/O."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.proxmox import Container
from bot.store import Approval

STATE_ICON = {"running": "🟢", "stopped": "⚪"}


def ips_of(ct: Container) -> str:
    if ct.ips:
        return ", ".join(ct.ips)
    if any(nic.dhcp for nic in ct.nics):
        return "DHCP"
    return "none"


def duration(seconds: int) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def container_line(ct: Container, owner: int | str | None = None) -> str:
    icon = STATE_ICON.get(ct.status, "•")
    who = f" · owner {owner}" if owner is not None else ""
    # No address here: the cluster listing does not carry NICs (see /info for them).
    return f"{icon} {ct.vmid} {ct.hostname} · {ct.status} · {ct.node}{who}"


def container_list(cts: list[Container], owners: dict[int, int | str] | None = None) -> str:
    if not cts:
        return "No containers yet. /create <hostname> makes one."
    lines = [container_line(ct, owners.get(ct.vmid) if owners else None) for ct in cts]
    return f"{len(cts)} container(s):\n" + "\n".join(lines)


def container_card(ct: Container, owner: int | str | None) -> str:
    lock = f"\nLocked: {ct.lock}" if ct.lock else ""
    uptime = duration(ct.uptime) if ct.status == "running" else "-"
    return (
        f"CT {ct.vmid} · {ct.hostname}\n"
        f"State: {STATE_ICON.get(ct.status, '')} {ct.status}, uptime {uptime}\n"
        f"Node: {ct.node}\n"
        f"CPU: {ct.cpu * 100:.0f}% of {ct.cores} core(s)\n"
        f"Memory: {ct.mem_used_mb} / {ct.memory_mb} MiB (swap {ct.swap_mb} MiB)\n"
        f"Disk: {ct.disk_gb:g} GiB\n"
        f"IP: {ips_of(ct)}\n"
        f"Owner: {owner if owner is not None else 'unknown'}{lock}"
    )


def ct_data(ct: Container, action: str) -> str:
    """``ct:<vmid>:<action>[:<marker>]``: a card's button names the CT by its identity too, so
    a card left over from a CT since replaced (its vmid reused) acts on nothing."""
    marker = ct.identity.removeprefix("stratus-") if ct.identity else None
    return f"ct:{ct.vmid}:{action}" + (f":{marker}" if marker else "")


def card_buttons(ct: Container) -> InlineKeyboardMarkup:
    """Power buttons that make sense in the current state, plus delete."""
    actions = [("Stop", "stop"), ("Reboot", "reboot")] if ct.status == "running" else [
        ("Start", "start")]
    row = [InlineKeyboardButton(label, callback_data=ct_data(ct, action))
           for label, action in actions]
    row.append(InlineKeyboardButton("Delete", callback_data=ct_data(ct, "rm")))
    return InlineKeyboardMarkup([row, [
        InlineKeyboardButton("Refresh", callback_data=ct_data(ct, "info"))]])


def confirm_delete_buttons(ct: Container) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton("Yes, delete", callback_data=ct_data(ct, "rm-yes")),
        InlineKeyboardButton("Cancel", callback_data=ct_data(ct, "info")),
    ]])


def approval_card(approval: Approval) -> str:
    why = approval.payload.get("why")
    return (
        f"Approval request {approval.id}\n"
        f"{approval.summary}\n"
        + (f"Why it waits: {'; '.join(why)}\n" if why else "")
        + f"Requested by {approval.payload.get('requester_name', 'user')} ({approval.requester_id})"
    )


def approval_buttons(approval: Approval) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton("Approve", callback_data=f"ap:{approval.id}:yes"),
        InlineKeyboardButton("Reject", callback_data=f"ap:{approval.id}:no"),
    ]])
