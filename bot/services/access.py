"""Who is who: roles come from the settings (admins) and from grants in the store (users)."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.services.errors import Forbidden, ServiceError
from bot.services.policy import Policy, Role, ShareRole
from bot.store import Approval, AuditEntry, Store, User


class AccessService:
    def __init__(self, store: Store, admin_ids: tuple[int, ...],
                 hide: Callable[[str], str] = lambda text: text) -> None:
        """`hide`: removes from a text what only admins may read (where Proxmox is, the
        identity the bot has there); see `shown_to`."""
        self._store = store
        self._admin_ids = frozenset(admin_ids)
        # the one policy point, shared by every service
        self.policy = Policy(self.role_of, self.share_role)
        # Called with the requests a revocation cancels (ApprovalService.on_close, wired by
        # build_services): what they hold goes back.
        self.on_close: list[Callable[[Approval], None]] = []
        self._hide = hide

    def role_of(self, user_id: int) -> Role:
        if user_id in self._admin_ids:
            return Role.ADMIN
        user = self._store.users.get(user_id)
        if user is None:
            return Role.NONE
        return Role.ADMIN if user.role == "admin" else Role.USER

    def share_role(self, user_id: int, identity: str) -> ShareRole | None:
        """How far the CT carrying `identity` is shared with `user_id` (None: not at all)."""
        share = self._store.shares.get(identity, user_id)
        return ShareRole[share.role.upper()] if share else None

    def is_admin(self, user_id: int) -> bool:
        return self.role_of(user_id) is Role.ADMIN

    def _authorize(self, actor_id: int, use_case: str) -> None:
        self.policy.authorize(actor_id, use_case)

    def grant(self, actor_id: int, user_id: int, role: str, name: str = "") -> User:
        self._authorize(actor_id, "user.grant")
        if role not in ("user", "admin"):
            raise ServiceError(f"Unknown role {role!r}: use user or admin.")
        if user_id in self._admin_ids:
            raise ServiceError(f"{user_id} is an admin by the settings; grants do not change that.")
        user = User(id=user_id, role=role, name=name, granted_by=actor_id, granted_at=time.time())
        self._store.users.put(user)
        self._store.audit.record(actor_id, "grant", f"user:{user_id}", "ok", role)
        return user

    def revoke(self, actor_id: int, user_id: int) -> list[Approval]:
        """Take the grant away, and cancel what the user still waits for (an admin must not
        carry out, later, a request of someone who no longer has access). Returns the
        cancelled requests, for their cards and their requester to be told."""
        self._authorize(actor_id, "user.revoke")
        if user_id in self._admin_ids:
            raise Forbidden(f"{user_id} is an admin by the settings; change the settings to remove them.")
        if not self._store.users.remove(user_id):
            raise ServiceError(f"{user_id} has no grant to revoke. /users lists who has one.")
        self._store.audit.record(actor_id, "revoke", f"user:{user_id}", "ok")
        # What was shared with them goes too: a later grant must not bring it back unasked.
        for share in self._store.shares.drop_user(user_id):
            self._store.audit.record(actor_id, "unshare", f"ct:{share.vmid}", "ok",
                                     f"with {user_id} (access revoked), owner {share.owner_id}")
        cancelled = self._store.approvals.cancel_pending_of(user_id, time.time())
        for approval in cancelled:
            for hook in self.on_close:
                hook(approval)
            self._store.audit.record(actor_id, "cancel", f"approval:{approval.id}", "cancelled",
                                     f"access of {user_id} revoked: {approval.summary}")
        return cancelled

    def shown_to(self, reader_id: int | None, text: str) -> str:
        """`text` as `reader_id` may read it: an admin whole; anyone else without where
        Proxmox is (URL, host, port) or the identity the bot has there (token id). A group
        chat's id is negative, never an admin's: a group reads what a user reads."""
        if reader_id is not None and self.is_admin(reader_id):
            return text
        return self._hide(text)

    def first_refusal(self, user_id: int, tried: str) -> bool:
        """Record that a stranger was refused; True the first time (the admins are told once,
        not on every message)."""
        if not self._store.notices.first_time(f"unknown-user:{user_id}"):
            return False
        self._store.audit.record(user_id, "refused", "bot", "unknown user", tried[:60])
        return True

    def saw(self, user_id: int, name: str, username: str | None = None) -> None:
        """The name `user_id` goes by in the chat now (for `display`)."""
        self._store.people.saw(user_id, name, username)

    def display(self, user_id: int | None) -> str:
        """"Ada (1001)": how a person is named in what the bot shows; None is the bot's own
        doing (its scaler, expiries)."""
        if user_id is None:
            return "Stratus (automatic)"
        user = self._store.users.get(user_id)
        name = (user.name if user and user.name else None) or self._store.people.name(user_id)
        return f"{name} ({user_id})" if name else str(user_id)

    def admins(self) -> list[int]:
        """Every admin's id (for the bot's own set-up, e.g. their command menu)."""
        granted = [u.id for u in self._store.users.all() if u.is_admin]
        return sorted(self._admin_ids | set(granted))

    def audit_trail(self, actor_id: int, n: int) -> list[AuditEntry]:
        """The `n` newest entries of the audit trail, newest first."""
        self._authorize(actor_id, "audit.read")
        return self._store.audit.recent(n)

    def users(self, actor_id: int) -> list[tuple[int, Role, str]]:
        """Admins from the settings first, then granted users, as (id, role, name)."""
        self._authorize(actor_id, "user.list")
        rows = [(uid, Role.ADMIN, "(settings)") for uid in sorted(self._admin_ids)]
        for user in sorted(self._store.users.all(), key=lambda u: u.id):
            if user.id not in self._admin_ids:
                rows.append((user.id, self.role_of(user.id), user.name))
        return rows
