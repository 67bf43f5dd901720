"""`make demo`: Stratus on its embedded default, with nothing to set up.

It starts pvesim (a simulated two-node Proxmox cluster, over HTTPS, in its own thread), a local
stand-in of the Telegram Bot API, and the real bot (the same PTB Application as `python -m bot`),
then lets a person chat with it in the terminal as one of the demo users: Ada (admin, id 1001)
and Bob (user, id 1002), or anyone added with ":user ID NAME". Approval cards, scaling notices
and backup reports go to the group chat "Stratus lab" (":group"), as a phone would show them;
photos (charts) are saved to files whose path is printed.
The REST API listens on 127.0.0.1 too; the demo issues Bob a token and prints a curl line.
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
GROUP = (-100500, "Stratus lab")  # where approval cards and notices land
# A template CT for scaling groups, and a day of load for the group "web" replayed 180x fast.
DEMO_SCENARIO = {
    "guests": [{"vmid": 900, "node": "pve1", "hostname": "web-template", "template": 1}],
    "loads": [{"group": "web", "trace": str(Path(__file__).parent / "demo_data" / "web_load.csv"),
               "speed": 180, "capacity_rps": 100, "warmup_s": 5}],
}
USER = (1002, "Bob", "bob")

INTRO = """\
Stratus demo: a simulated Proxmox cluster (pve1 is the lab's VM behind VirtualBox NAT, 10.0.2.15)
and a chat with the bot. You are Bob (a user). Try:  /help   /create c1   /netcheck c1 pc
/bridges   /info c1   /ct_delete c1
Bob's delete waits for an admin: ":user ada", then ":group" (the admins' group chat, where
approval cards and scaling notices land) and ":1" presses Approve.
Elasticity: in the group, as Ada, /scale_create web --template 900 --min 1 --max 6,
then watch the replicas follow a day's load replayed in 8 minutes (/help elasticity).
":user 1003 Carol" adds someone, ":help" shows the terminal's commands, ":quit" leaves.
"""


def lab_network(api_port: int) -> dict[str, str]:
    """Where the lab puts Proxmox: a VirtualBox VM behind NAT. pve1 is the VM ("ServPM",
    10.0.2.15 on vmbr0, bridged to the NAT NIC), VirtualBox's router 10.0.2.2 leads to the PC,
    and the PC reaches the VM only through port forwards: here the port Stratus uses on
    127.0.0.1 leads to pve1's 8006. Containers on vmbr0 take addresses from a pool of that
    network. These are settings, so an admin sees and changes them with /netfacts."""
    return {
        "STRATUS_NETWORK_PC_VIA": "pve1:vmbr0,pve2:vmbr0",
        "STRATUS_NETWORK_PORT_FORWARDS": f"pve1:{api_port}->8006",
        "STRATUS_NETWORK_POOLS": "vmbr0=10.0.2.100-10.0.2.199",
        "STRATUS_NETWORK_VBOX_VM": "pve",
    }


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
        "STRATUS_APPROVAL_CHAT_ID": str(GROUP[0]),
        "STRATUS_NOTIFY_CHAT_ID": str(GROUP[0]),
        "STRATUS_DATA_DIR": str(data_dir),
        "STRATUS_API_LISTEN": "127.0.0.1:0",  # any free port: printed with a curl line
        **lab_network(sim.port),
    }
    return Settings.load(env)


async def run_demo(stdin=None, stdout=None, time_scale: float = 0.5) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="stratus-demo-"))
    with SimulatorThread(scenario=DEMO_SCENARIO, time_scale=time_scale) as sim:
        turn_on_the_firewall(sim)
        async with TelegramStandIn() as tg:
            settings = demo_settings(tg, sim, data_dir)
            log_handler = configure_logging(secrets_of(settings), path=str(data_dir / "bot.log"))
            with Store(Path(settings.data_dir) / "stratus.json") as store:  # one per folder
                store.users.put(User(id=USER[0], role="user", name=USER[1],
                                     granted_by=ADMIN[0]))
            bob, ada = tg.user(*USER), tg.user(*ADMIN)
            ada.open_chat()
            tg.group(*GROUP)
            app = build_bot(settings)
            out = stdout or sys.stdout
            async with serving(app):
                out.write(INTRO)
                out.write(api_hint(app))
                await TerminalChat(tg, [bob, ada], stdin=stdin, stdout=out,
                                   media_dir=data_dir / "media").run()
            logging.getLogger().removeHandler(log_handler)
            log_handler.close()
            out.write(f"bye. The bot's log and state are in {data_dir}\n")


def turn_on_the_firewall(sim: SimulatorThread) -> None:
    """The one setting the README asks an operator to turn on in Proxmox (Datacenter >
    Firewall > Options): the demo's cluster is set up as a real one should be."""
    sim.cluster.firewall.options["enable"] = 1


def api_hint(app) -> str:
    """A token issued to Bob (as /api_token would) and a curl line that uses it."""
    token, _record = app.bot_data["services"].tokens.issue(USER[0], "demo")
    url = app.bot_data["api"].url
    return (f"REST API (as Bob, {url}/openapi.json describes it):\n"
            f"  curl -H 'Authorization: Bearer {token}' {url}/containers\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.demo", description=__doc__)
    parser.add_argument("--time-scale", type=float, default=0.5,
                        help="how fast simulated Proxmox tasks run (1.0 = realistic)")
    args = parser.parse_args(argv)
    asyncio.run(run_demo(time_scale=args.time_scale))
    return 0


if __name__ == "__main__":
    sys.exit(main())
