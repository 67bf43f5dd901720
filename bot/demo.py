"""`make demo`: Stratus on its embedded default, with nothing to set up.

It starts pvesim (a simulated two-node Proxmox cluster, over HTTPS, in its own thread), a local
stand-in of the Telegram Bot API, and the real bot (the same PTB Application as `python -m bot`),
then lets a person chat with it in the terminal as one of two demo users:
Ada (admin, id 1001) and Bob (user, id 1002). Approval cards go to Ada's private chat.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path

from bot.app import serving
from bot.runtime import build_bot, secrets_of
from bot.settings import Settings
from bot.store import Store, User
from bot.telegram_io import configure_logging
from pvesim import SimulatorThread
from tgsim import TelegramStandIn
from tgsim.terminal import TerminalChat

ADMIN = (1001, "Ada", "ada")
# A template CT for scaling groups, and a day of load for the group "web" replayed 180x fast.
DEMO_SCENARIO = {
    "guests": [{"vmid": 900, "node": "pve1", "hostname": "web-template", "template": 1}],
    "loads": [{"group": "web", "trace": str(Path(__file__).parent / "demo_data" / "web_load.csv"),
               "speed": 180, "capacity_rps": 100, "warmup_s": 5}],
}
USER = (1002, "Bob", "bob")

INTRO = """\
Stratus demo: a simulated Proxmox cluster (pve1, pve2) and a chat with the bot.
You are Bob (a user). Try:  /help   /create web1   /list   /info web1   /ct_delete web1
Bob's delete waits for an admin: switch with ":user ada", press Approve with ":1".
Elasticity: as Ada, /scale_create web --template 900 --min 1 --max 6
then watch the replicas follow a day's load replayed in 8 minutes (/help elasticity).
":user bob" switches back, ":help" shows the terminal's commands, ":quit" leaves.
"""


def demo_settings(tg: TelegramStandIn, sim: SimulatorThread, data_dir: Path) -> Settings:
    env = {
        "STRATUS_TELEGRAM_TOKEN": tg.token,
        "STRATUS_TELEGRAM_BASE_URL": tg.base_url,
        "STRATUS_PROXMOX_HOST": "127.0.0.1",
        "STRATUS_PROXMOX_PORT": str(sim.port),
        "STRATUS_PROXMOX_TOKEN_ID": sim.token_id,
        "STRATUS_PROXMOX_TOKEN_SECRET": sim.token_secret,
        "STRATUS_PROXMOX_TLS": "fingerprint",
        "STRATUS_PROXMOX_FINGERPRINT": sim.fingerprint,
        "STRATUS_ADMIN_IDS": str(ADMIN[0]),
        "STRATUS_APPROVAL_CHAT_ID": str(ADMIN[0]),
        "STRATUS_DATA_DIR": str(data_dir),
    }
    return Settings.load(env)


async def run_demo(stdin=None, stdout=None, time_scale: float = 0.5) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="stratus-demo-"))
    with SimulatorThread(scenario=DEMO_SCENARIO, time_scale=time_scale) as sim:
        async with TelegramStandIn() as tg:
            settings = demo_settings(tg, sim, data_dir)
            log_handler = configure_logging(secrets_of(settings), path=str(data_dir / "bot.log"))
            Store(Path(settings.data_dir) / "stratus.json").users.put(
                User(id=USER[0], role="user", name=USER[1], granted_by=ADMIN[0]))
            bob, ada = tg.user(*USER), tg.user(*ADMIN)
            ada.open_chat()
            app = build_bot(settings)
            out = stdout or sys.stdout
            async with serving(app):
                out.write(INTRO)
                await TerminalChat(tg, [bob, ada], stdin=stdin, stdout=out).run()
            logging.getLogger().removeHandler(log_handler)
            log_handler.close()
            out.write(f"bye. The bot's log and state are in {data_dir}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.demo", description=__doc__)
    parser.add_argument("--time-scale", type=float, default=0.5,
                        help="how fast simulated Proxmox tasks run (1.0 = realistic)")
    args = parser.parse_args(argv)
    asyncio.run(run_demo(time_scale=args.time_scale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
