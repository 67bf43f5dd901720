"""Scaling groups: their configuration, members, policy state, pending approval and history.

Proxmox holds the other half of the truth (each replica carries the group's tag), so after a
restart the controller reconciles ``members`` with what Proxmox shows; the store keeps what
Proxmox cannot: the policy's memory, the owner, the notification chat, the samples for charts.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tinydb import Query
from tinydb.table import Table

from .journal import Journal

_q = Query()

#: Samples kept per group: 24 h at the default 15 s period.
MAX_SAMPLES = 5760


@dataclass(frozen=True)
class Member:
    vmid: int
    hostname: str
    node: str
    added_at: float
    #: The marker the bot gave this replica in its clone (None: recorded before markers):
    #: the CT at `vmid` is this member only while it carries it.
    identity: str | None = None


@dataclass(frozen=True)
class ScalingGroup:
    name: str
    owner_id: int
    template_vmid: int
    min_replicas: int
    max_replicas: int
    target_cpu: float  # the HPA policy's target, a fraction (0.6 = 60%)
    notify_chat_id: int
    bridge: str | None = None
    node_spread: bool = False
    approve_above: int | None = None  # scale-out beyond this many replicas waits for an admin
    warm_spares: int = 0  # replicas kept stopped on scale-in instead of destroyed
    paused: bool = False
    created_at: float = 0.0
    members: tuple[Member, ...] = ()
    spares: tuple[Member, ...] = ()  # stopped replicas kept for a fast scale-out
    #: Clones posted to Proxmox but not yet tagged (vmid known before the POST): after a
    #: restart they are waited for, then finished, never left as untagged orphans.
    cloning: tuple[Member, ...] = ()
    next_index: int = 1  # hostname <name>-<n> of the next replica
    policy_state: dict[str, Any] = field(default_factory=dict)
    #: Replica count an admin approved above ``approve_above`` (0: none).
    approved_max: int = 0
    pending_approval: str | None = None  # approval id of a scale-out waiting for an admin
    pending_since: float | None = None
    rejected_at: float | None = None
    last_failure: str | None = None  # the failure last reported (reported once)
    #: The template CT's marker: a vmid reused by someone else's CT is never cloned.
    template_identity: str | None = None
    #: The policy and its options as /scale_create or /scale_set gave them; None: the default
    #: (bot/scaler/group_policy.py keeps the defaults).
    policy: str | None = None
    slo_cpu: float | None = None  # fraction
    violation_cost: float | None = None
    season_s: float | None = None  # 0: none
    #: The replica delay (clone + start + warm-up) the controller measured, smoothed; None:
    #: none measured yet.
    ready_delay_s: float | None = None
    #: Clones ordered and not yet seen ready, for that measurement: (vmid, ordered at).
    booting: tuple[tuple[int, float], ...] = ()

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ScalingGroup:
        values = dict(doc)
        values["members"] = tuple(Member(**m) for m in values.get("members", ()))
        values["spares"] = tuple(Member(**m) for m in values.get("spares", ()))
        values["cloning"] = tuple(Member(**m) for m in values.get("cloning", ()))
        values["booting"] = tuple((int(v), float(t)) for v, t in values.get("booting", ()))
        return cls(**values)


@dataclass(frozen=True)
class Sample:
    """One controller period of a group, for charts and /scale_status."""

    at: float
    replicas: int
    ready: int
    utilization: float | None  # mean CPU fraction of the ready replicas
    load: float | None  # load in replica units (sum of ready CPU fractions)
    desired: int
    target: float


class ScalingGroupRepository:
    """One record per group; ``update`` is an atomic read-modify-write."""

    def __init__(self, table: Table, lock: threading.RLock) -> None:
        self._table = table
        self._lock = lock

    def get(self, name: str) -> ScalingGroup | None:
        with self._lock:
            doc = self._table.get(_q.name == name)
        return ScalingGroup.from_doc(doc) if doc else None

    def all(self) -> list[ScalingGroup]:
        with self._lock:
            docs = self._table.all()
        return sorted((ScalingGroup.from_doc(d) for d in docs), key=lambda g: g.name)

    def add(self, group: ScalingGroup) -> None:
        with self._lock:
            if self._table.contains(_q.name == group.name):
                raise ValueError(f"scaling group {group.name!r} already exists")
            self._table.insert(group.to_doc())

    def put(self, group: ScalingGroup) -> None:
        with self._lock:
            self._table.upsert(group.to_doc(), _q.name == group.name)

    def update(self, name: str, **changes: Any) -> ScalingGroup | None:
        """Apply ``changes`` to the stored group (None if it is gone) and return the result."""
        with self._lock:
            current = self.get(name)
            if current is None:
                return None
            updated = dataclasses.replace(current, **changes)
            self._table.update(updated.to_doc(), _q.name == name)
            return updated

    def remove(self, name: str) -> bool:
        with self._lock:
            return bool(self._table.remove(_q.name == name))


class NoticeBacklogRepository:
    """Scaling notices not delivered yet (held back by Telegram's limit of 20 a minute per
    chat, or refused by the chat), per chat, so that a restart does not lose them. One
    document, rewritten whole in one write."""

    def __init__(self, table: Table, lock: threading.RLock) -> None:
        self._table = table
        self._lock = lock

    def load(self) -> tuple[dict[int, list[str]], dict[int, int]]:
        """(texts waiting per chat, events that gave way in a full backlog per chat)."""
        with self._lock:
            doc = self._table.get(_q.kind == "backlog")
        if not doc:
            return {}, {}
        return ({int(c): list(t) for c, t in doc.get("queued", {}).items()},
                {int(c): int(n) for c, n in doc.get("overflowed", {}).items()})

    def save(self, queued: dict[int, list[str]], overflowed: dict[int, int]) -> None:
        doc = {"kind": "backlog", "queued": {str(c): list(t) for c, t in queued.items()},
               "overflowed": {str(c): n for c, n in overflowed.items()}}
        with self._lock:
            self._table.upsert(doc, _q.kind == "backlog")


class ScalingHistoryRepository:
    """Per-group samples, oldest first, at most ``max_samples`` per group: kept in memory and
    appended to a journal (bot/store/journal.py), compacted to what is kept when it grows, so a
    sample costs the same whatever the history holds (tinydb rewrote a day of samples per group
    for each one)."""

    def __init__(self, journal: Journal, lock: threading.RLock,
                 max_samples: int = MAX_SAMPLES) -> None:
        self._journal = journal
        self._lock = lock
        self._max = max_samples
        self._samples: dict[str, deque[dict[str, Any]]] = {}
        for entry in journal.loaded:  # replayed in order: a removal clears what came before
            if entry.get("removed"):
                self._samples.pop(entry["group"], None)
            else:
                self._group(entry["group"]).append(entry["sample"])
        journal.loaded = []
        journal.compact_with(self._state)

    def _group(self, group: str) -> deque[dict[str, Any]]:
        return self._samples.setdefault(group, deque(maxlen=self._max))

    def _state(self) -> list[dict[str, Any]]:
        """What a compacted journal holds: the samples kept, as entries."""
        return [{"group": group, "sample": sample}
                for group, samples in self._samples.items() for sample in samples]

    def add(self, group: str, sample: Sample) -> None:
        doc = dataclasses.asdict(sample)
        with self._lock:
            self._group(group).append(doc)
            self._journal.append({"group": group, "sample": doc})

    def since(self, group: str, t: float = 0.0) -> list[Sample]:
        with self._lock:
            samples = list(self._samples.get(group, ()))
        return [Sample(**s) for s in samples if s["at"] >= t]

    def remove(self, group: str) -> None:
        with self._lock:
            if self._samples.pop(group, None) is not None:
                self._journal.append({"group": group, "removed": True})
