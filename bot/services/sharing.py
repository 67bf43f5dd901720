"""Sharing a container with other users: as a viewer, an operator or a manager.

The owner (or an admin) decides; what a share lets its holder do is the policy's
(`bot/services/policy.py`, `Rule.shared`), checked for every door by the services' own
`authorize` calls, which pass the CT's identity. A share is bound to that identity
(`bot/store/shares.py`): it dies with the CT.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.proxmox import Container
from bot.services.access import AccessService
from bot.services.containers import ContainerService
from bot.services.errors import NotFound, ServiceError
from bot.services.policy import Role, ShareRole
from bot.store import Share, Store


@dataclass(frozen=True)
class Shared:
    """A share and the CT it is of, as the asker may be told about it."""

    share: Share
    ct: Container

    @property
    def role(self) -> ShareRole:
        return ShareRole[self.share.role.upper()]


class SharingService:
    def __init__(self, store: Store, access: AccessService,
                 containers: ContainerService) -> None:
        self._store = store
        self._access = access
        self._containers = containers
        self.policy = access.policy

    def person(self, ref: int | str) -> int:
        """A registered user by Telegram id, or by the name they were registered under."""
        if isinstance(ref, int):
            return ref
        wanted = ref.lstrip("@").casefold()
        found = [u.id for u in self._store.users.all() if u.name.lstrip("@").casefold() == wanted]
        if len(found) != 1:
            how = "No registered user is" if not found else "Several users are"
            raise NotFound(f"{how} named {ref!r}: give their Telegram id instead (they see it "
                           "in the bot's answer to a stranger, or an admin's /users).")
        return found[0]

    async def share(self, actor_id: int, ref: int | str, user: int | str,
                    role: ShareRole) -> Shared:
        """Let `user` act on the CT as `role` allows (sharing again changes the role)."""
        ct = await self._containers.resolve(actor_id, ref, "ct.share")
        owner = self._containers.owner_of(ct.vmid)
        if ct.identity is None or owner is None:
            raise ServiceError(f"CT {ct.vmid} belongs to no one in Stratus, so it cannot be "
                               "shared: only containers the bot made for someone can.")
        user_id = self.person(user)
        if user_id == owner:
            raise ServiceError(f"{user_id} owns CT {ct.vmid} already.")
        held = self._access.role_of(user_id)
        if held is Role.NONE:
            raise ServiceError(f"{user_id} is not registered with this bot: an admin must let "
                               "them in first (/grant, or an /invite link).")
        if held is Role.ADMIN:
            raise ServiceError(f"{user_id} is an admin, who may act on every container "
                               "already.")
        share = Share(ct.identity, ct.vmid, user_id, role.label, owner, ct.hostname,
                      granted_by=actor_id, granted_at=time.time())
        self._store.shares.put(share)
        self._store.audit.record(actor_id, "share", f"ct:{ct.vmid}", "ok",
                                 f"with {user_id} as {role.label}, owner {owner}")
        return Shared(share, ct)

    async def unshare(self, actor_id: int, ref: int | str, user: int | str) -> Shared:
        ct = await self._containers.resolve(actor_id, ref, "ct.share")
        user_id = self.person(user)
        share = self._store.shares.get(ct.identity, user_id) if ct.identity else None
        if share is None or not self._store.shares.remove(ct.identity, user_id):
            raise NotFound(f"CT {ct.vmid} is not shared with {user_id}. /shares lists what "
                           "you shared.")
        self._store.audit.record(actor_id, "unshare", f"ct:{ct.vmid}", "ok",
                                 f"with {user_id} (was {share.role}), owner {share.owner_id}")
        return Shared(share, ct)

    async def shares(self, actor_id: int) -> tuple[list[Shared], list[Shared]]:
        """(what the asker shared, what is shared with them), of CTs that still exist."""
        self.policy.authorize(actor_id, "share.list")
        given = self._store.shares.of_owner(actor_id)
        cts = {}
        if given:
            cts = {ct.vmid: ct for ct in await self._containers.owned_containers(actor_id)}
        mine = [Shared(s, cts[s.vmid]) for s in given
                if s.vmid in cts and cts[s.vmid].identity == s.identity]
        received = [Shared(share, ct) for ct, share in
                    await self._containers.shared_with(actor_id)]
        return mine, received
