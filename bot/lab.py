"""`make lab`: the university lab (../shared/LAB.md), played end to end on the embedded default,
and the report a student could hand in.

The same parts as `make demo` (pvesim as the lab's Proxmox VM behind VirtualBox NAT, the
Telegram stand-in, the real bot), driven through the terminal chat by a script that reads the
bot's answers as a person would: Ada the admin, Bob a student, Carol a new student. Each step's
outcome is checked; the report (``report.md``) holds the chat transcript of every step, the
connectivity table of all the lab's pairs, the backup and its restored twin side by side, the
users/quota/approval exchange and the elasticity chart (``elasticity.png``, the very picture
/scale_chart sends).

Elasticity is shown on a day of load plus a flash crowd. The scaling controller is the
product's (`bot.scaler.controller.Controller.tick`), run on a simulated clock that advances one
sync period per step, which pvesim's load model reads too: a day in about a minute, with the
controller's windows and periods as they are in a real day.

    python -m bot.lab [--out lab-report]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import logging
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.app import build_application, serving
from bot.demo import ADMIN, GROUP, USER, demo_settings, turn_on_the_firewall
from bot.proxmox import Proxmox
from bot.runtime import build_services, chat_policy, proxmox_settings, secrets_of
from bot.services.scaling import ScalingSettings
from bot.store import Store, User
from bot.telegram_io import configure_logging
from pvesim import SimulatorThread
from pvesim.load import Trace, read_trace
from tgsim import TelegramStandIn
from tgsim.model import Message
from tgsim.terminal import TerminalChat

log = logging.getLogger(__name__)

STUDENT = (1003, "Carol", "carol")  # a new student, granted during the lab
TEMPLATE = 900  # the demo's web-template CT, for the scaling group
SCENARIO = {
    "guests": [{"vmid": TEMPLATE, "node": "pve1", "hostname": "web-template", "template": 1}],
    "loads": [{"group": "web", "rps": 0, "capacity_rps": 100, "warmup_s": 0}],
}
DAY_TRACE = Path(__file__).parent / "demo_data" / "web_load.csv"
# The controller's period on the simulated clock: a day is 576 periods. (Shorter than the
# policy's 300 s scale-down window, as in production: with a period as long as the window, the
# window always holds the last period's recommendation and the group never scales in.)
SYNC_S = 150.0
FLASH = (22 * 3600.0, 40 * 60.0, 400.0)  # at 22:00, for 40 minutes, 400 requests/s more
ENDPOINTS = ("c1", "c2", "host", "pc")


@dataclass(frozen=True)
class DayWithFlashCrowd:
    """A day of load as recorded (pvesim Trace) with a flash crowd added on top of it."""

    day: Trace
    at_s: float
    for_s: float
    extra_rps: float

    def rps(self, elapsed: float) -> float:
        flash = self.at_s <= elapsed < self.at_s + self.for_s
        return self.day.rps(elapsed) + (self.extra_rps if flash else 0.0)


class SimulatedClock:
    """The time the scaling controller and pvesim's load model read: from the next midnight,
    advanced a period at a time. (Later than the wall clock, so replicas started now count
    as running for as long as the simulated day says.)"""

    def __init__(self) -> None:
        today = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
        self.start = today.timestamp() + 86400
        self.now = self.start

    def __call__(self) -> float:
        return self.now


@dataclass
class Check:
    step: str
    what: str
    ok: bool


@dataclass
class Section:
    title: str
    intro: str
    transcript: str = ""
    extra: str = ""  # tables, figures


@dataclass
class LabResult:
    out_dir: Path
    checks: list[Check] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    connectivity: list[tuple[str, str, bool, str]] = field(default_factory=list)
    samples: list[tuple[float, float, int]] = field(default_factory=list)  # (h, rps, replicas)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def report(self) -> Path:
        return self.out_dir / "report.md"

    @property
    def chart(self) -> Path:
        return self.out_dir / "elasticity.png"


class Lab:
    """The script: each step says lines as Ada, Bob or Carol, reads the answers, checks."""

    def __init__(self, tg: TelegramStandIn, sim: SimulatorThread, app, out_dir: Path,
                 media_dir: Path) -> None:
        self.tg, self.sim, self.app = tg, sim, app
        self.services = app.bot_data["services"]
        self.out = io.StringIO()
        self.users = {"ada": tg.user(*ADMIN), "bob": tg.user(*USER),
                      "carol": tg.user(*STUDENT)}
        self.chat = TerminalChat(tg, list(self.users.values()), stdout=self.out,
                                 interactive=False, settle=0.15, reply_timeout=30,
                                 media_dir=media_dir)
        self.result = LabResult(out_dir)
        self.section: Section | None = None
        self.step = ""
        self.who = ""
        self.clock = SimulatedClock()

    # ---- driving the chat ---------------------------------------------------------------------

    def begin(self, title: str, intro: str) -> None:
        self.end_section()
        self.section = Section(title, intro)
        self.step = title
        self._mark = self.out.tell()

    def end_section(self) -> None:
        if self.section is not None:
            self.chat.flush()
            self.section.transcript = self.out.getvalue()[self._mark:]
            self.result.sections.append(self.section)
            self.section = None

    async def be(self, who: str, group: bool = False) -> None:
        """Switch the terminal to `who`, in their private chat or in the group."""
        if who != self.who or (not group and self.chat.chat_id != self.users[who].id):
            await self.chat.play(f":user {who}")
            self.who = who
        if group and self.chat.chat_id != GROUP[0]:
            await self.chat.play(f":group {GROUP[0]}")

    async def say(self, who: str, line: str, until: str | Callable[[Message], bool] | None = None,
                  group: bool = False, timeout: float = 30.0) -> Message | None:
        """`line` as `who` (in the group chat with `group`); with `until`, wait for the bot's
        message there that shows it (text, or a test of the message) and return it."""
        await self.be(who, group)
        chat_id = GROUP[0] if group else self.users[who].id
        seen = {(m.message_id, m.content) for m in self._messages(chat_id)}
        await self.chat.play(line)
        if until is None:
            return None
        test = until if callable(until) else (lambda m: until in m.content)

        def found() -> Message | None:  # a new message, or one edited since
            return next((m for m in reversed(self._messages(chat_id))
                         if (m.message_id, m.content) not in seen and test(m)), None)

        try:
            await self.tg.wait_until(found, timeout)
        except TimeoutError:
            self.check(f"the bot answers {line!r}", False)
            return None
        self.chat.flush()
        return found()

    def _messages(self, chat_id: int) -> list[Message]:
        return list(self.tg.chats[chat_id].messages) if chat_id in self.tg.chats else []

    def check(self, what: str, ok: bool) -> bool:
        self.result.checks.append(Check(self.step, what, bool(ok)))
        if not ok:
            log.warning("lab check failed: %s: %s", self.step, what)
        return bool(ok)

    # ---- the lab ------------------------------------------------------------------------------

    async def run(self) -> LabResult:
        await self.server_behind_nat()
        await self.containers()
        self.result.connectivity = await self.connectivity()
        await self.backup_and_restore()
        await self.as_a_service()
        await self.elasticity()
        self.end_section()
        return self.result

    async def server_behind_nat(self) -> None:
        self.begin("Steps 1-2: a Proxmox server in a VM, networking both ways",
                   "pve1 is the Proxmox VM (ServPM) in VirtualBox's default NAT: 10.0.2.15 on "
                   "vmbr0, VirtualBox's router 10.0.2.2 leads to the PC, and the PC reaches the "
                   "VM only through port forwards. Stratus talks to the API through the one for "
                   "8006, as a browser on the PC would open the admin console. What the API "
                   "cannot show is declared (/netfacts).")
        port = self.sim.port
        doctor = await self.say("ada", "/doctor", "Doctor:")
        self.check("/doctor: the API answers through the NAT port forward to 8006",
                   doctor is not None and f"NAT port forward {port}->8006" in doctor.content
                   and "❌" not in doctor.content)
        await self.say("ada", "/netfacts", "Network facts")
        out = await self.say("ada", "/netcheck host pc", "host -> pc")
        self.check("ServPM reaches the PC (post-routing through 10.0.2.2)",
                   out is not None and "host -> pc: reachable" in out.content)
        inbound = await self.say("ada", "/netcheck pc host", "pc -> host")
        self.check("the PC reaches ServPM on 8006 (pre-routing: the port forward)",
                   inbound is not None and "pc -> host: reachable" in inbound.content
                   and "->8006" in inbound.content)

    async def containers(self) -> None:
        self.begin("Step 3: containers with working connectivity",
                   "C1 on vmbr0 (bridged to the NAT NIC), C2 on a second bridge vmbr1 that has "
                   "no uplink: ServPM routes it and masquerades it out of vmbr0.")
        await self.say("bob", "/bridges", "Networks you may use")
        c1 = await self.say("bob", "/create c1", "is running")
        ip1 = _ip(c1)
        self.check("C1 created with no options: on vmbr0, an address of its pool and the NAT "
                   "router as gateway", c1 is not None and ip1 is not None
                   and "on pve1" in c1.content)
        for end in ("host", "pc"):
            v = await self.say("bob", f"/netcheck c1 {end}", f"c1 -> {end}")
            self.check(f"C1 reaches {end}", v is not None and "reachable" in v.content
                       and "NOT" not in v.content)
        staged = await self.say("ada", "/bridge_add vmbr1 10.10.20.1/24 --node pve1 --pool "
                                       "10.10.20.10-10.10.20.200", "Staged vmbr1")
        self.check("vmbr1 staged", staged is not None)
        applied = await self.say("ada", ":1", lambda m: "applied" in m.content)
        self.check("vmbr1 applied", applied is not None)
        c2 = await self.say("bob", "/create c2 --bridge vmbr1", "is running")
        ip2 = _ip(c2)
        self.check("C2 created on vmbr1, next to C1 (pve1)",
                   c2 is not None and ip2 is not None and "on pve1" in c2.content)
        missing = await self.say("bob", "/netcheck c2 pc", "c2 -> pc")
        fix = re.search(r"/netfacts add masquerade \S+", missing.content) if missing else None
        self.check("/netcheck names the missing masquerade and the command that declares it",
                   fix is not None)
        await self.say("ada", fix.group() if fix else "/netfacts add masquerade "
                                                      "pve1:vmbr1:vmbr0", "masquerade =")
        await self.say("ada", "/netfacts add forwarding pve1", "forwarding =")
        for a, b in (("c2", "pc"), ("c2", "c1")):
            v = await self.say("bob", f"/netcheck {a} {b}", f"{a} -> {b}")
            self.check(f"{a.upper()} reaches {b}", v is not None and ": reachable" in v.content)
        back = await self.say("bob", "/netcheck c1 c2", "c1 -> c2")
        gw = re.search(r"/net_set \S+ net0 --gw \S+", back.content) if back else None
        self.check("C1 -> C2 needs C1's routing table (gateway): /netcheck says which",
                   gw is not None)
        await self.say("bob", gw.group() if gw else "/net_set c1 net0 --gw 10.0.2.15", "✅")
        for a, b in (("c1", "c2"), ("c1", "pc")):
            v = await self.say("bob", f"/netcheck {a} {b}", f"{a} -> {b}")
            self.check(f"{a.upper()} reaches {b} through ServPM",
                       v is not None and ": reachable" in v.content)
        shut = await self.say("ada", "/netcheck pc c1", "pc -> c1")
        self.check("the PC reaches a container only through a port forward (NAT)",
                   shut is not None and "NOT reachable" in shut.content)
        await self.say("ada", f"/netfacts add port_forwards pve1:2201->{ip1}:22 "
                              f"pve1:2202->{ip2}:22", "port_forwards =")
        # Tenant isolation (Proxmox's firewall) lets in only Bob's own containers: he opens
        # ssh, and ping for /netcheck, to whoever comes through the forward.
        for end in ("c1", "c2"):
            for what in ("tcp/22", "icmp"):
                await self.say("bob", f"/fw_allow {end} {what}", "✅")
        for end in ("c1", "c2"):
            v = await self.say("ada", f"/netcheck pc {end}", f"pc -> {end}")
            self.check(f"the PC reaches {end.upper()} on its forwarded ssh port",
                       v is not None and ": reachable" in v.content)

    async def connectivity(self) -> list[tuple[str, str, bool, str]]:
        """Every ordered pair of the lab's ends, as /netcheck (the same service) judges it."""
        rows = []
        for a in ENDPOINTS:
            for b in ENDPOINTS:
                if a == b:
                    continue
                verdict = await self.services.network.netcheck(ADMIN[0], a, b)
                how = "; ".join(verdict.path) if verdict.reachable else "; ".join(
                    p.what for p in verdict.problems)
                rows.append((a, b, verdict.reachable, how))
        self.check("every lab pair is reachable", all(ok for _, _, ok, _ in rows))
        return rows

    async def backup_and_restore(self) -> None:
        self.begin("Step 4: backup and restore",
                   "A backup of C1 to the server's disk, a new container with the same "
                   "characteristics holding C1's state (a restored twin), and a nightly backup "
                   "schedule (a PVE backup job: the cron of the course, kept by Proxmox).")
        done = await self.say("bob", "/backup c1 --note 'lab step 4'",
                              lambda m: m.content.startswith(("✅", "❌")))
        volid = re.search(r"local:backup/\S+", done.content).group() if done and \
            done.content.startswith("✅") else None
        self.check("C1 backed up", volid is not None)
        await self.say("bob", "/backups c1", "backup(s)")
        twin = await self.say("bob", f"/restore {volid} --new --hostname c1-twin",
                              lambda m: m.content.startswith(("✅", "❌")) and "c1-twin" in
                              m.content, timeout=60)
        self.check("a new container restored from the backup (C1's state)",
                   twin is not None and twin.content.startswith("✅"))
        await self.say("bob", "/list", "container(s)")
        same = await self._compare_twin()
        self.check("the twin has C1's characteristics (OS, cores, memory, swap, disk)", same)
        sched = await self.say("bob", "/schedule_backup c1 02:00 --keep-last 7",
                               lambda m: m.content.startswith(("🗓", "❌", "⏳")))
        self.check("a nightly backup schedule (02:00, keeping the last 7)",
                   sched is not None and sched.content.startswith("🗓")
                   and "Next runs:" in sched.content)
        await self.say("bob", "/schedules", "next")

    async def _compare_twin(self) -> bool:
        px = self.services.px
        cts = {ct.hostname: ct for ct in await px.list_containers()}
        if "c1" not in cts or "c1-twin" not in cts:
            return False
        a = await px.get_container(cts["c1"].vmid)
        b = await px.get_container(cts["c1-twin"].vmid)
        keys = ("ostype", "cores", "memory_mb", "swap_mb", "disk_gb")
        rows = [(k, getattr(a, k), getattr(b, k)) for k in keys]
        rows += [("hostname", a.hostname, b.hostname), ("address", ", ".join(a.ips) or "-",
                                                        ", ".join(b.ips) or "-")]
        table = ["| | C1 | restored twin |", "|---|---|---|"]
        table += [f"| {k} | {x} | {y} |" for k, x, y in rows]
        self.section.extra = ("The backup restored as a new container, side by side (the twin "
                              "takes its own hostname, MAC and address):\n\n" + "\n".join(table))
        return all(x == y for _, x, y in rows[:len(keys)])

    async def as_a_service(self) -> None:
        self.begin("Step 5: the IaaS service: users, quotas, approvals",
                   "Requests are run by software through the chat (or its API), not by the "
                   "teacher's hand: a new student asks, an admin lets her in with a quota, a "
                   "large request waits for an admin, one over the quota is refused.")
        refused = await self.say("carol", "/list", "not registered")
        self.check("a stranger is refused with her id", refused is not None)
        granted = await self.say("ada", f"/grant {STUDENT[0]}", "is now a user")
        self.check("the admin grants her access", granted is not None)
        await self.say("ada", f"/quota {STUDENT[0]} --containers 2 --cores 4 --memory 4G "
                              "--disk 40G", "Quota of")
        small = await self.say("carol", "/create s1", lambda m: m.content.startswith(("✅", "❌")))
        self.check("within her quota: created at once",
                   small is not None and small.content.startswith("✅"))
        waits = await self.say("carol", "/create big --cores 3 --memory 2G",
                               "Waiting for an admin's approval")
        self.check("a large request waits for an admin, saying why",
                   waits is not None and "cores" in waits.content)
        card = await self.say("ada", ":1", "Approved by", group=True)
        self.check("the admin approves it from the group's card", card is not None)
        big = await self._final(STUDENT[0], " big ")
        self.check("the approved request is carried out",
                   big is not None and big.content.startswith("✅"))
        over = await self.say("carol", "/create s3", "quota")
        self.check("a request over her quota is refused, with the numbers",
                   over is not None and "Over your quota" in over.content)
        await self.say("ada", "/audit 12", "·")

    async def _final(self, chat_id: int, text: str) -> Message | None:
        def done() -> Message | None:
            return next((m for m in self._messages(chat_id)
                         if text in m.content and m.content.startswith(("✅", "❌"))), None)
        try:
            await self.tg.wait_until(done, 30)
        except TimeoutError:
            return None
        self.chat.flush()
        return done()

    async def elasticity(self) -> None:
        self.begin("Step 6: elasticity",
                   "Resources follow demand, out and back in, with no person acting. A group of "
                   "web containers over a day of load (a quiet night, a morning rise, a midday "
                   "peak, an afternoon trough, an evening peak) and a flash crowd at 22:00. The "
                   f"product's scaling controller runs one period every {SYNC_S:g} simulated "
                   "seconds (a day in about a minute); each change is posted in the group "
                   "chat.")
        await self.say("bob", "/help elasticity", "lasticity")
        made = await self.say("ada", f"/scale_create web --template {TEMPLATE} --min 1 --max 6 "
                                     "--target-cpu 60", "web", group=True)
        self.check("the scaling group is created", made is not None and "created" in made.content)
        load = DayWithFlashCrowd(read_trace(DAY_TRACE), *FLASH)
        cluster = self.sim.cluster
        self.sim.call(lambda: setattr(cluster.load, "clock", self.clock))
        self.sim.call(lambda: cluster.load.set_source("web", load))
        await asyncio.sleep(0.1)
        controller = self.app.bot_data["scaler"]
        replicas: list[int] = []
        for step in range(int(86400 / SYNC_S) + 1):
            self.clock.now = self.clock.start + step * SYNC_S
            await controller.tick(self.clock.now)
            count = len(self.services.store.scaling.get("web").members)
            replicas.append(count)
            self.result.samples.append((step * SYNC_S / 3600, load.rps(step * SYNC_S), count))
            if step % 24 == 0:
                self.chat.flush()
        self.chat.flush()
        by_hour = {round(h, 2): n for h, _, n in self.result.samples}
        night, peak, trough = by_hour.get(5.0, 0), max(by_hour.get(11.0 + d, 0) for d in
                                                        (0, 0.5, 1)), by_hour.get(16.0, 0)
        flash = max(n for h, _, n in self.result.samples if 22 <= h < 23)
        self.check("a quiet night runs on the minimum", night == 1)
        self.check("the group grows to the midday peak", peak >= 4)
        self.check("and shrinks back in the afternoon trough", 0 < trough < peak)
        self.check("a flash crowd takes it to its maximum", flash == 6)
        self.check("the night after, back to the minimum", replicas[-1] <= 2)
        await self.say("ada", "/scale_status web", "web", group=True)
        chart = await self.say("ada", "/scale_chart web 24h", lambda m: m.photo is not None,
                               group=True)
        saved = re.findall(r"saved to (\S+)\]", self.out.getvalue())
        if chart is not None and saved:
            shutil.copyfile(saved[-1], self.result.chart)
        self.check("/scale_chart's picture is in the report", self.result.chart.exists())
        self.section.extra = _load_table(self.result.samples)


def _ip(message: Message | None) -> str | None:
    found = re.search(r"IP (\d+\.\d+\.\d+\.\d+)", message.content) if message else None
    return found.group(1) if found else None


def _load_table(samples: list[tuple[float, float, int]]) -> str:
    rows = ["| time | load (requests/s) | replicas |", "|---|---|---|"]
    rows += [f"| {int(h):02d}:{int(h * 60) % 60:02d} | {rps:.0f} | {n} |" for h, rps, n in samples
             if (h * 60) % 60 == 0 or (22 <= h < 23 and (h * 60) % 5 == 0)]
    return ("![load, target and replicas over the day](elasticity.png)\n\n"
            "Replicas at each hour (and every 5 minutes around the flash crowd):\n\n"
            + "\n".join(rows))


def write_report(result: LabResult, started: float) -> None:
    lines = ["# Stratus: the IaaS lab, played end to end", "",
             f"Played by `make lab` on {time.strftime('%Y-%m-%d %H:%M', time.localtime(started))} "
             f"in {time.time() - started:.0f} s, on the embedded default (pvesim as the lab's "
             "Proxmox VM behind VirtualBox NAT, the Telegram stand-in, the real bot). "
             f"Checks: {sum(c.ok for c in result.checks)} of {len(result.checks)} passed.", "",
             "## Connectivity of the lab's pairs", "",
             "As `/netcheck` sees them at the end of step 3 (host is ServPM, pve1; pc the "
             "machine VirtualBox runs on).", "", "| from | to | | how |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {'✅' if ok else '❌'} | {how} |"
              for a, b, ok, how in result.connectivity]
    lines += ["", "## Checks", ""]
    lines += [f"- {'✅' if c.ok else '❌'} {c.step.split(':')[0]}: {c.what}" for c in result.checks]
    for s in result.sections:
        lines += ["", f"## {s.title}", "", s.intro, ""]
        if s.extra:
            lines += [s.extra, ""]
        lines += ["```text", s.transcript.rstrip(), "```"]
    result.report.write_text("\n".join(lines) + "\n")


async def run_lab(out_dir: Path) -> LabResult:
    started = time.time()
    await asyncio.to_thread(out_dir.mkdir, parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="stratus-lab-"))
    with SimulatorThread(scenario=SCENARIO, time_scale=0.0) as sim:
        turn_on_the_firewall(sim)
        async with TelegramStandIn() as tg:
            settings = demo_settings(tg, sim, data_dir)
            handler = configure_logging(secrets_of(settings), path=str(data_dir / "bot.log"))
            store = Store(Path(settings.data_dir) / "stratus.json")
            store.users.put(User(id=USER[0], role="user", name=USER[1], granted_by=ADMIN[0]))
            tg.user(*ADMIN).open_chat()
            tg.group(*GROUP)
            policy = dataclasses.replace(chat_policy(settings), scaling=ScalingSettings(
                sync_s=SYNC_S, warmup_s=0, ready_delay_s=60, run_job=False))
            px = Proxmox(proxmox_settings(settings))
            app = build_application(settings.telegram_token, build_services(px, store, policy),
                                    base_url=settings.telegram_base_url)
            try:
                async with serving(app):
                    lab = Lab(tg, sim, app, out_dir, out_dir / "media")
                    result = await lab.run()
            finally:
                await px.aclose()
                store.close()
                logging.getLogger().removeHandler(handler)
                handler.close()
    write_report(result, started)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.lab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="lab-report", help="the report's folder")
    args = parser.parse_args(argv)
    result = asyncio.run(run_lab(Path(args.out)))
    for c in result.checks:
        print(f"{'✅' if c.ok else '❌'} {c.step.split(':')[0]}: {c.what}")
    print(f"\nReport: {result.report}\nChart:  {result.chart}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
