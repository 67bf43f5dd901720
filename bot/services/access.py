"""Who is who: roles come from the settings (admins) and from grants in the store (users)."""

from __future__ import annotations

import time
from enum import IntEnum

from bot.services.errors import Forbidden, ServiceError
from bot.store import Store, User


class Role(IntEnum):
    """Ordered so that `role >= Role.USER` reads as "at least a user"."""

    NONE = 0
    USER = 1
    ADMIN = 2


class AccessService:
    def __init__(self, store: Store, admin_ids: tuple[int, ...]) -> None:
        self._store = store
        self._admin_ids = frozenset(admin_ids)

    def role_of(self, user_id: int) -> Role:
        if user_id in self._admin_ids:
            return Role.ADMIN
        user = self._store.users.get(user_id)
        if user is None:
            return Role.NONE
        return Role.ADMIN if user.role == "admin" else Role.USER

    def is_admin(self, user_id: int) -> bool:
        return self.role_of(user_id) is Role.ADMIN

    def grant(self, actor_id: int, user_id: int, role: str, name: str = "") -> User:
        if role not in ("user", "admin"):
            raise ServiceError(f"Unknown role {role!r}: use user or admin.")
        if user_id in self._admin_ids:
            raise ServiceError(f"{user_id} is an admin by the settings; grants do not change that.")
        user = User(id=user_id, role=role, name=name, granted_by=actor_id, granted_at=time.time())
        self._store.users.put(user)
        self._store.audit.record(actor_id, "grant", f"user:{user_id}", "ok", role)
        return user

    def revoke(self, actor_id: int, user_id: int) -> None:
        if user_id in self._admin_ids:
            raise Forbidden(f"{user_id} is an admin by the settings; change the settings to remove them.")
        if not self._store.users.remove(user_id):
            raise ServiceError(f"{user_id} has no grant to revoke. /users lists who has one.")
        self._store.audit.record(actor_id, "revoke", f"user:{user_id}", "ok")

    def users(self) -> list[tuple[int, Role, str]]:
        """Admins from the settings first, then granted users, as (id, role, name)."""
        rows = [(uid, Role.ADMIN, "(settings)") for uid in sorted(self._admin_ids)]
        for user in sorted(self._store.users.all(), key=lambda u: u.id):
            if user.id not in self._admin_ids:
                rows.append((user.id, self.role_of(user.id), user.name))
        return rows
