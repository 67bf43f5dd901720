"""The scaling loop: every sync period, for each group, metrics -> policy -> actions -> notices.

Like Kubernetes' ``horizontal.go`` around ``replica_calculator.go``: the arithmetic is
`bot.scaler.policy.decide` (pure); this module reads the replicas' CPU through the scaling
service, stores the policy's state, acts (clone / retire through the service), asks an admin
before growing past ``approve_above``, records a sample for charts and tells the group's chat.

`Controller.tick(now)` is one period for every group; PTB's JobQueue calls it every
``sync_s`` seconds (`install`), tests call it directly. Ticks never overlap (a lock).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from bot.handlers import render
from bot.proxmox.tasks import duration_text
from bot.scaler import group_policy
from bot.scaler.notify import Notifier, failure_text, percent, scaled_text
from bot.scaler.policy import Decision, Observation, PolicyConfig, PolicyState, decide
from bot.services import Services
from bot.services.scaling import Added, Failed, GroupView, StillCloning
from bot.store.scaling import Sample, ScalingGroup

log = logging.getLogger(__name__)

#: Weight of each new replica delay in the group's average; delays are taken as at most this.
DELAY_WEIGHT = 0.3
MAX_DELAY_S = 3600.0


class Controller:
    def __init__(self, services: Services, bot, notifier: Notifier | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.services = services
        self.scaling = services.scaling
        self.bot = bot
        self.notifier = notifier or Notifier(bot, backlog=services.store.scaling_notices)
        self.clock = clock
        self._lock = asyncio.Lock()

    def between_ticks(self) -> asyncio.Lock:
        """Held during each tick: hold it to change a group with no scale-out half done
        (e.g. deleting it while its clones are still in flight would orphan them)."""
        return self._lock

    async def tick(self, now: float | None = None) -> None:
        """One sync period for every group; one group's failure does not stop the others."""
        async with self._lock:
            now = self.clock() if now is None else now
            for group in self.scaling.all_groups():
                try:
                    await self._run_group(group, now)
                except Exception:  # noqa: BLE001 - the loop must go on for the other groups
                    log.exception("scaling group %s: period failed", group.name)
            await self.notifier.flush()

    def _tell(self, group: ScalingGroup, text: str) -> None:
        # Failures quote Proxmox's errors: the group's chat reads them as its reader may.
        self.notifier.notify(group.notify_chat_id,
                             self.services.access.shown_to(group.notify_chat_id, text))

    async def _run_group(self, group: ScalingGroup, now: float) -> None:
        view = await self.scaling.observe(group)
        group = view.group
        for m in view.vanished:
            self._tell(group, f"{group.name}: {m.hostname} (CT {m.vmid}) is gone from Proxmox "
                              "(deleted outside the bot); no longer a member")
        joined = {m.vmid for m in view.joined}
        for m in view.adopted:
            if m.vmid in joined:
                self._tell(group, f"{group.name}: {m.hostname} (CT {m.vmid}): Proxmox finished "
                                  "its clone; now a member")
            else:
                self._tell(group, f"{group.name}: {m.hostname} (CT {m.vmid}) carries the "
                                  "group's tag in Proxmox; counted as a member")
        if group.paused:
            await self._sample(group, view, None, len(view.replicas), now)
            return
        for replica, error in await self.scaling.start_stopped(view):
            if error is None and replica.vmid in joined:
                continue  # a clone that just joined starts for the first time: nothing to tell
            self._tell(group, f"{group.name}: {replica.hostname} was stopped; "
                              + (f"starting it failed: {error}" if error else "started it again"))

        group = self._measure_delays(group, view, now)
        cfg = self.config(group)
        current = len(view.replicas) + len(view.cloning)  # a clone in flight counts as booting
        obs = Observation(now=now, replicas=current, ready=len(view.ready),
                          utilizations=view.utilizations)
        decision = decide(obs, PolicyState.from_dict(group.policy_state), cfg)
        group = self.scaling.record(group.name, policy_state=decision.state.to_dict()) or group
        desired = await self._approval_cap(group, current, decision, now)
        group = self.scaling.record(group.name) or group
        if desired > current:
            await self._scale_out(group, current, desired, decision, cfg, now)
        elif desired < current:
            await self._scale_in(group, view, current, desired, decision, cfg)
        await self._sample(group, view, decision, desired, now, cfg)

    def config(self, group: ScalingGroup) -> PolicyConfig:
        """The policy configuration of ``group`` this period (bot/scaler/group_policy.py, the
        builder the bench runs too), with the replica delay the group measured."""
        settings = self.scaling.settings
        delay = settings.ready_delay_s if group.ready_delay_s is None else group.ready_delay_s
        return group_policy.policy_config(group, sync_s=settings.sync_s, ready_delay_s=delay)

    def _measure_delays(self, group: ScalingGroup, view: GroupView, now: float) -> ScalingGroup:
        """Each clone ordered is timed until it is ready (clone + start + warm-up, from its own
        start time: now - uptime + warm-up), and the group's delay follows those times as an
        exponential average; clones that never became members are dropped."""
        if not group.booting:
            return group
        ready = {r.vmid: r for r in view.ready}
        alive = {r.vmid for r in view.replicas} | {c.vmid for c in view.cloning}
        delay, waiting = group.ready_delay_s, []
        for vmid, ordered in group.booting:
            replica = ready.get(vmid)
            if replica is not None:
                took = now - replica.uptime + self.scaling.settings.warmup_s - ordered
                took = min(max(took, 0.0), MAX_DELAY_S)
                delay = took if delay is None else delay + DELAY_WEIGHT * (took - delay)
            elif vmid in alive and now - ordered < MAX_DELAY_S:
                waiting.append((vmid, ordered))
        return self.scaling.record(group.name, ready_delay_s=delay,
                                   booting=tuple(waiting)) or group

    # ---- acting -------------------------------------------------------------------------------

    async def _scale_out(self, group: ScalingGroup, current: int, desired: int,
                         decision: Decision, cfg: PolicyConfig, now: float) -> None:
        spares = {s.vmid for s in group.spares}
        results = await self.scaling.add_replicas(group, desired - current)
        added = [r for r in results if isinstance(r, Added)]
        failed = [r for r in results if isinstance(r, Failed)]
        # Clones are timed until ready (a woken spare only starts: not a replica delay).
        timed = [(r.vmid, now) for r in results
                 if isinstance(r, Added | StillCloning) and r.vmid not in spares]
        if timed:
            latest = self.scaling.record(group.name) or group
            self.scaling.record(group.name, booting=latest.booting + tuple(timed))
        if added:
            self._tell(group, scaled_text(
                group.name, current, current + len(added), decision.metric,
                cfg.target_utilization,
                [f"{a.hostname} on {a.node}" + (f" ({a.note})" if a.note else "")
                 for a in added]))
        for c in (r for r in results if isinstance(r, StillCloning)):
            self._tell(group, f"{group.name}: {c.hostname} (CT {c.vmid}) is still being cloned "
                              f"by Proxmox after {duration_text(c.waited_s)}; I stopped waiting. "
                              "It counts as booting and joins the group when the clone ends")
        self._report_failures(group, [(f"could not add {f.hostname}", f.reason) for f in failed])

    async def _scale_in(self, group: ScalingGroup, view: GroupView, current: int, desired: int,
                        decision: Decision, cfg: PolicyConfig) -> None:
        # A clone still in flight counts in `current` but cannot be retired yet: running
        # replicas do not go in its place (the group would serve with fewer than `desired`);
        # once it joins, it is the newest member and the first a later scale-in takes.
        count = current - desired - len(view.cloning)
        if count <= 0:
            return
        results = await self.scaling.remove_replicas(group, view, count)
        done = [r for r, error in results if error is None]
        failed = [(r, error) for r, error in results if error is not None]
        if done:
            kept = self.scaling.record(group.name) or group
            spare_ids = {s.vmid for s in kept.spares}
            self._tell(group, scaled_text(
                group.name, current, current - len(done), decision.metric,
                cfg.target_utilization, [f"{r.hostname} on {r.node}" + (" (kept stopped as a spare)"
                                                  if r.vmid in spare_ids else "")
                 for r in done]))
        self._report_failures(group, [(f"could not remove {r.hostname}", e) for r, e in failed])

    def _report_failures(self, group: ScalingGroup, problems: list[tuple[str, str]]) -> None:
        """A failure is told once: again only when its reason changes, or after a success.

        ``problems`` are (what, reason) pairs; the reasons alone are the key, so the same error
        on the next retry (with the next replica's name) is not told again."""
        key = "; ".join(sorted({reason for _, reason in problems})) or None
        if key is not None and key != group.last_failure:
            self._tell(group, failure_text(group.name, "; ".join(f"{what}: {reason}"
                                                                 for what, reason in problems)))
        if key != group.last_failure:
            self.scaling.record(group.name, last_failure=key)

    async def _sample(self, group: ScalingGroup, view: GroupView, decision: Decision | None,
                      desired: int, now: float, cfg: PolicyConfig | None = None) -> None:
        utils = view.utilizations
        # In a worker thread: the history file (a day of samples per group) is rewritten whole.
        await asyncio.to_thread(self.services.store.scaling_history.add, group.name, Sample(
            at=now, replicas=len(view.replicas), ready=len(view.ready),
            utilization=(sum(utils) / len(utils)) if utils else None,
            load=(sum(utils) / len(utils) * len(view.ready)) if utils else None,
            desired=desired, target=(cfg or self.config(group)).target_utilization))

    # ---- approval above approve_above ---------------------------------------------------------

    async def _approval_cap(self, group: ScalingGroup, current: int, decision: Decision,
                            now: float) -> int:
        """The count we may go to now: above ``approve_above`` only what an admin approved
        (or the auto-approval granted). Never lower than ``current`` because of the cap."""
        desired, limit = decision.desired, group.approve_above
        if limit is None or desired <= max(limit, current):
            if limit is not None and group.approved_max and max(current, desired) <= limit:
                self.scaling.record(group.name, approved_max=0)  # back under: approval used up
            return desired
        allowed = max(limit, group.approved_max)
        if desired <= allowed:
            return desired
        capped = max(current, allowed)
        svc = self.services
        if group.pending_approval:
            approval = svc.approvals.find(group.pending_approval)
            status = approval.status if approval else "expired"
            if status == "pending" and self.scaling.settings.auto_approve_s and \
                    now - (group.pending_since or now) >= self.scaling.settings.auto_approve_s:
                decided = svc.approvals.auto_approve(approval.id)
                if decided is not None:
                    status = "approved"
                    await self._close_cards(decided, "✅ Approved automatically (no admin "
                                                     "answered in time)")
            if status in ("approved", "done"):
                if status == "approved":  # carried out now: a restart must not call it cut short
                    svc.approvals.finish(approval.id, True)
                granted = int(approval.payload.get("desired", desired))
                self.scaling.record(group.name, approved_max=granted, pending_approval=None,
                                    pending_since=None)
                return max(current, min(desired, granted))
            if status == "pending":
                return capped
            self.scaling.record(group.name, pending_approval=None, pending_since=None,
                                rejected_at=now)
            self._tell(group, f"{group.name}: growing to {desired} replicas was {status}; "
                              f"staying at {capped}")
            return capped
        if group.rejected_at is not None and \
                now - group.rejected_at < self.scaling.settings.approval_cooldown_s:
            return capped
        await self._ask_approval(group, current, desired, decision, now)
        return capped

    async def _ask_approval(self, group: ScalingGroup, current: int, desired: int,
                            decision: Decision, now: float) -> None:
        svc = self.services
        summary = (f"scale {group.name} from {current} to {desired} replicas (CPU "
                   f"{percent(decision.metric)} vs target "
                   f"{percent(self.config(group).target_utilization)}; "
                   f"above {group.approve_above} needs approval)")
        approval = svc.approvals.request("scale_out", {"group": group.name, "desired": desired},
                                         group.owner_id, group.notify_chat_id, summary)
        self.scaling.record(group.name, pending_approval=approval.id, pending_since=now,
                            rejected_at=None)
        try:
            card = await self.bot.send_message(svc.approval_chat_id,
                                               render.approval_card(approval),
                                               reply_markup=render.approval_buttons(approval))
            svc.approvals.add_card(approval.id, card.chat_id, card.message_id)
        except TelegramError as exc:
            log.warning("could not post the scale-out approval card: %s", exc)
        self._tell(group, f"⏳ {group.name}: {current} -> {desired} replicas waits for an "
                          f"admin's approval (above {group.approve_above}); request {approval.id}")

    async def _close_cards(self, approval, outcome: str) -> None:
        for chat_id, message_id in approval.message_refs:
            try:
                await self.bot.edit_message_text(f"{render.approval_card(approval)}\n{outcome}",
                                                 chat_id=chat_id, message_id=message_id)
            except TelegramError as exc:
                log.warning("could not update approval card %s: %s", approval.id, exc)


async def scaler_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await context.application.bot_data["scaler"].tick()


def install(app: Application, services: Services) -> Controller:
    """Create the controller for ``app`` and, unless disabled, run it every ``sync_s``."""
    controller = Controller(services, app.bot)
    app.bot_data["scaler"] = controller
    settings = services.scaling.settings
    if settings.run_job:
        app.job_queue.run_repeating(scaler_job, interval=settings.sync_s, first=settings.sync_s,
                                    name="scaler",
                                    job_kwargs={"max_instances": 1, "coalesce": True})
    return controller
