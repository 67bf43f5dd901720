"""Invite links: an admin makes one (`create`), whoever opens it is registered (`redeem`).

The link is Telegram's deep link to the bot (``https://t.me/<bot>?start=<token>``): opening it
sends ``/start <token>``, so nobody types numeric ids. Tokens are single- or N-use, expire, are
kept only as hashes (bot/store/invites.py), and are listed and revocable by id.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.services.access import AccessService, Role
from bot.services.errors import Conflict, NotFound, ServiceError
from bot.store import Quota, Store, User
from bot.store.invites import Invite, token_hash

WHY_NOT = {
    "unknown": "This invite link is not valid (cut short, or never made).",
    "revoked": "This invite link was revoked by an admin.",
    "used up": "This invite link has been used as many times as it allows.",
    "expired": "This invite link has expired.",
    "used by you": "You joined with this invite link before, and your access was taken "
                   "away since.",
}


@dataclass(frozen=True)
class NewInvite:
    invite: Invite
    token: str  # shown once, to the admin who made it; never stored, logged or audited


class InviteService:
    def __init__(self, store: Store, access: AccessService, default_quota: Quota,
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._access = access
        self.policy = access.policy
        self.default_quota = default_quota
        self._clock = clock

    def create(self, actor_id: int, quota: dict[str, int] | None, expires_s: int,
               uses: int) -> NewInvite:
        """An invite registering up to `uses` people within `expires_s`, each with the
        default quota changed by `quota` (Quota fields)."""
        self.policy.authorize(actor_id, "invite.create")
        full = dataclasses.asdict(dataclasses.replace(self.default_quota, **quota)) \
            if quota else None
        token = secrets.token_urlsafe(24)  # 32 characters of Telegram's start alphabet
        now = self._clock()
        invite = Invite(id=secrets.token_hex(4), hash=token_hash(token), created_by=actor_id,
                        created_at=now, expires_at=now + expires_s, uses=uses, quota=full)
        self._store.invites.add(invite)
        self._store.audit.record(actor_id, "invite", f"invite:{invite.id}", "ok",
                                 f"{uses} use(s), {expires_s} s, quota "
                                 f"{quota_text(self.quota_of(invite))}")
        return NewInvite(invite, token)

    def quota_of(self, invite: Invite) -> Quota:
        return Quota(**invite.quota) if invite.quota else self.default_quota

    def invites(self, actor_id: int) -> list[tuple[Invite, str]]:
        """Every invite with its state now ("active", or why it registers nobody)."""
        self.policy.authorize(actor_id, "invite.list")
        now = self._clock()
        return [(i, i.state(now)) for i in self._store.invites.all()]

    def revoke(self, actor_id: int, invite_id: str) -> Invite:
        self.policy.authorize(actor_id, "invite.revoke")
        invite = self._store.invites.get(invite_id)
        if invite is None:
            raise NotFound(f"There is no invite {invite_id}. /invites lists them.")
        if invite.revoked:
            raise Conflict(f"Invite {invite_id} is revoked already.")
        self._store.invites.revoke(invite_id)
        self._store.audit.record(actor_id, "invite_revoke", f"invite:{invite_id}", "ok",
                                 f"{len(invite.used_by)} of {invite.uses} use(s) taken")
        return invite

    def redeem(self, user_id: int, name: str, token: str) -> tuple[User, Quota, Invite]:
        """Register `user_id` with the invite of `token`, taking one of its uses: once per
        person, and only while it is active. The token is the authority here: the opener
        has no role yet, so no rule of the policy applies."""
        if self._access.role_of(user_id) is not Role.NONE:
            raise Conflict("You are registered already: this link was not used. /help lists "
                           "what you can do.")
        invite, state = self._store.invites.take(token, user_id, self._clock())
        if state != "active":
            raise ServiceError(f"{WHY_NOT[state]} Ask an admin for a new one.")
        quota = self.quota_of(invite)
        try:
            user = User(id=user_id, role="user", name=name, granted_by=invite.created_by,
                        granted_at=self._clock())
            self._store.users.put(user)
            if invite.quota:
                self._store.quotas.put(user_id, quota)
        except BaseException:
            self._store.invites.give_back(invite.id, user_id)
            raise
        self._store.audit.record(user_id, "grant", f"user:{user_id}", "ok",
                                 f"user, by invite {invite.id} of {invite.created_by}")
        return user, quota, invite


def quota_text(quota: Quota) -> str:
    return (f"{quota.containers} containers, {quota.cores} cores, {quota.memory_mb} MiB "
            f"memory, {quota.disk_gb} GiB disk")
