"""Requests that wait for an admin: stored, decided exactly once, expiring."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable

from bot.services.access import AccessService
from bot.services.errors import Conflict, NotFound
from bot.store import Approval, Store

# Payload fields that do not make a request another one: the same person under a new name.
VOLATILE_PAYLOAD_KEYS = frozenset({"requester_name", "why"})


class AlreadyPending(Conflict):
    """The same person asked for the same action on the same object, and that request still
    waits for an admin: nothing new is filed (no second card); ``approval`` is the waiting one."""

    def __init__(self, approval: Approval) -> None:
        super().__init__(
            f"⏳ You asked for this already: request {approval.id} ({approval.summary}) is "
            f"waiting for an admin's approval. I will tell you the outcome.")
        self.approval = approval


class ApprovalService:
    def __init__(
        self, store: Store, access: AccessService, ttl_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._access = access
        self._policy = access.policy
        self._ttl_s = ttl_s
        self._clock = clock
        # Called with each request closed without being carried out (rejected, expired,
        # cancelled): what it holds (a create's leased addresses) goes back at once.
        self.on_close: list[Callable[[Approval], None]] = []

    def request(
        self, action: str, payload: dict, requester_id: int, requester_chat_id: int, summary: str,
    ) -> Approval:
        """File a request for an admin; AlreadyPending if an identical one waits already
        (200 identical asks made 200 cards)."""
        identical = self.pending_identical(action, payload, requester_id)
        if identical is not None:
            raise AlreadyPending(identical)
        now = self._clock()
        approval = Approval(
            id=secrets.token_hex(4), action=action, payload=payload, requester_id=requester_id,
            requester_chat_id=requester_chat_id, summary=summary, created_at=now,
            expires_at=now + self._ttl_s,
        )
        self._store.approvals.add(approval)
        self._store.audit.record(requester_id, f"request:{action}", f"approval:{approval.id}",
                                 "pending", summary)
        return approval

    def pending_identical(self, action: str, payload: dict, requester_id: int) -> Approval | None:
        """The waiting request by the same requester, for the same action on the same object
        (its payload, volatile fields aside), if there is one."""
        wanted = _object_of(payload)
        for approval in self.pending():
            if (approval.requester_id, approval.action) == (requester_id, action) and \
                    _object_of(approval.payload) == wanted:
                return approval
        return None

    def get(self, approval_id: str) -> Approval:
        approval = self._store.approvals.get(approval_id)
        if approval is None:
            raise NotFound(f"No approval request {approval_id!r}.")
        return approval

    def find(self, approval_id: str) -> Approval | None:
        return self._store.approvals.get(approval_id)

    def decide(self, approval_id: str, approve: bool, admin_id: int) -> Approval:
        """Decide once. Whoever comes second (click, admin, re-delivered update) gets Conflict."""
        self._policy.authorize(admin_id, "approval.decide")
        self.get(approval_id)
        status = "approved" if approve else "rejected"
        decided = self._store.approvals.decide(approval_id, status, by=admin_id, now=self._clock())
        if decided is None:
            current = self.get(approval_id)
            if current.status == "pending":  # past its deadline; the expiry job will close it
                raise Conflict("This request has already expired.")
            raise Conflict(f"This request is already "
                           f"{describe_status(current, self._access.display)}.")
        self._store.audit.record(admin_id, "approve" if approve else "reject",
                                 f"approval:{approval_id}", status, decided.summary)
        if not approve:
            self.closed([decided])
        return decided

    def auto_approve(self, approval_id: str) -> Approval | None:
        """Grant a request nobody decided in time (a group's scale-out, by its setting);
        None if it was decided meanwhile. Audited as decided by no one."""
        decided = self._store.approvals.decide(approval_id, "approved", None, self._clock())
        if decided is not None:
            self._store.audit.record(None, "auto-approve", f"approval:{approval_id}",
                                     "approved", decided.summary)
        return decided

    def closed(self, approvals: list[Approval]) -> None:
        for approval in approvals:
            for hook in self.on_close:
                hook(approval)

    def finish(self, approval_id: str, ok: bool) -> None:
        self._store.approvals.set_status(approval_id, "done" if ok else "failed")

    def interrupt_unfinished(self) -> list[Approval]:
        """At start: approved actions whose end was never recorded were cut short by a stop.
        They are closed as "interrupted" (and audited) so nothing runs them twice unasked."""
        interrupted = self._store.approvals.interrupt_approved()
        for approval in interrupted:
            self._store.audit.record(None, "interrupt", f"approval:{approval.id}",
                                     "interrupted", approval.summary)
        return interrupted

    def pending(self, actor_id: int | None = None) -> list[Approval]:
        """Open requests; with `actor_id`, for an admin asking (the policy checks)."""
        if actor_id is not None:
            self._policy.authorize(actor_id, "approval.list")
        now = self._clock()
        return [a for a in self._store.approvals.pending() if a.expires_at > now]

    def mine(self, actor_id: int) -> list[Approval]:
        """The requests `actor_id` made, newest first, whatever became of them."""
        self._policy.authorize(actor_id, "approval.mine")
        return self._store.approvals.of_requester(actor_id)

    def seen_by(self, actor_id: int, approval_id: str) -> Approval:
        """A request its requester (or an admin) may read; someone else's and a missing one
        get the same answer."""
        self._policy.authorize(actor_id, "approval.mine")
        approval = self._store.approvals.get(approval_id)
        if approval is None or (approval.requester_id != actor_id
                                and not self._policy.is_admin(actor_id)):
            raise NotFound(f"You have no request {approval_id!r}.")
        self._policy.authorize(actor_id, "approval.mine", owner_id=approval.requester_id,
                               what=f"Request {approval_id}")
        return approval

    def expire_due(self) -> list[Approval]:
        expired = self._store.approvals.expire_due(self._clock())
        for approval in expired:
            self._store.audit.record(None, "expire", f"approval:{approval.id}", "expired",
                                     approval.summary)
        self.closed(expired)
        return expired

    def add_card(self, approval_id: str, chat_id: int, message_id: int) -> None:
        self._store.approvals.add_message_ref(approval_id, chat_id, message_id)


def _object_of(payload: dict) -> str:
    """A payload as comparable text: what the store gives back has been through JSON."""
    stable = {key: value for key, value in payload.items() if key not in VOLATILE_PAYLOAD_KEYS}
    return json.dumps(stable, sort_keys=True, default=str)


def describe_status(approval: Approval, name=str) -> str:
    """`name`: how a person is shown (AccessService.display), else their id."""
    who = f" by {name(approval.decided_by)}" if approval.decided_by else ""
    return {
        "approved": f"approved{who}",
        "rejected": f"rejected{who}",
        "expired": "expired",
        "done": f"approved{who} and carried out",
        "failed": f"approved{who}, but it failed",
        "interrupted": f"approved{who}, but not carried out (the bot restarted)",
        "cancelled": "cancelled (the requester's access was revoked)",
    }.get(approval.status, approval.status)
