"""/ssh_key: register, show or remove one's SSH public key. Thin: parse, call one service."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from bot.handlers.common import command_args, reply, services
from bot.parsing_keys import parse_ssh_key


async def ssh_key(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = parse_ssh_key(command_args(update))
    keys = services(context).keys
    uid = update.effective_user.id
    if args.remove:
        keys.remove(uid)
        await reply(update, "✅ Your SSH key is removed: your next containers get a root "
                            "password again. Those made with it keep it.")
    elif args.show:
        key = keys.mine(uid)
        await reply(update, f"Your SSH key: {key}\nYour new containers get it for root."
                    if key else "You have no SSH key registered. /ssh_key <public key> (one "
                                "line of your .pub file) adds one.")
    else:
        key = keys.register(uid, args.key)
        await reply(update, f"✅ SSH key registered: {key}\nThe containers you create from now "
                            "on get it for root (ssh root@<their address>); no password is "
                            "set then. Clones and restored twins keep the keys of their source.")
