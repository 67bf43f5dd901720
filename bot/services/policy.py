"""Who may do what on which object, and what waits for an admin: one table, for every door.

Each use case names the least role that may ask for it, whose objects it may touch, and when
it waits for an admin's approval. Every service method asks here first (`Policy.authorize`),
and again once it knows the object's owner, so the chat door, the buttons, the background
jobs and a REST door refuse alike; no handler decides. The ownership of an object is found by
its identity (a marker Proxmox keeps), never by its number: that is the services' job; this
module only compares the owner they found with the actor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, IntEnum

from bot.services.errors import Forbidden


class Role(IntEnum):
    """Ordered so that `role >= Role.USER` reads as "at least a user"."""

    NONE = 0
    USER = 1
    ADMIN = 2


class Scope(Enum):
    """Whose objects a use case may touch."""

    NONE = "no one's object"  # it acts on no existing object (list one's own, create)
    OWN = "the asker's own"  # users: their own objects only; admins: anyone's
    ANY = "anyone's"  # admin use cases, where the role is the whole check


class Approve(Enum):
    """When a request waits for an admin's approval."""

    NEVER = "never"
    USERS = "asked by a non-admin"
    SIZE = "above the size thresholds, asked by a non-admin"  # creates: the service measures
    KEEPS = "kept long (protected, or retention above the limit), asked by a non-admin"
    LIMIT = "beyond the object's own approval limit"  # a group's --approve-above
    ALWAYS = "always, even asked by an admin"  # destructive admin actions


@dataclass(frozen=True)
class Rule:
    role: Role
    scope: Scope
    approve: Approve = Approve.NEVER


U, A = Role.USER, Role.ADMIN
OWN, NONE, ANY = Scope.OWN, Scope.NONE, Scope.ANY

#: use case -> who may ask, on whose objects, when an admin must approve.
RULES: dict[str, Rule] = {
    # containers
    "ct.list": Rule(U, NONE),  # one's own; an admin's filters may name any owner
    "ct.see": Rule(U, OWN),
    "ct.create": Rule(U, NONE, Approve.SIZE),
    "ct.power": Rule(U, OWN),
    "ct.delete": Rule(U, OWN, Approve.USERS),
    # network
    "net.see": Rule(U, OWN),
    "net.set": Rule(U, OWN),
    "net.check": Rule(U, OWN),
    "bridge.see": Rule(U, NONE),  # users: only the networks they may use
    "bridge.add": Rule(A, ANY),
    "bridge.apply": Rule(A, ANY),
    "bridge.delete": Rule(A, ANY, Approve.ALWAYS),
    "natnet.add": Rule(A, ANY),
    "doctor": Rule(A, ANY),
    "netfacts": Rule(A, ANY),  # what the API cannot show: see them, change them
    # backups
    "backup.create": Rule(U, OWN, Approve.KEEPS),
    "backup.list": Rule(U, OWN),
    "backup.delete": Rule(U, OWN, Approve.USERS),
    "backup.restore_new": Rule(U, OWN),
    "backup.restore_into": Rule(U, OWN, Approve.USERS),
    "schedule.create": Rule(U, OWN, Approve.KEEPS),
    "schedule.list": Rule(U, OWN),
    "schedule.delete": Rule(U, OWN, Approve.USERS),
    # scaling groups
    "group.create": Rule(U, OWN),  # the template must be the asker's
    "group.see": Rule(U, OWN),
    "group.change": Rule(U, OWN),
    "group.delete": Rule(U, OWN, Approve.USERS),
    "group.scale_out": Rule(U, OWN, Approve.LIMIT),  # the controller, for the group's owner
    # people and the trail
    "key.manage": Rule(U, NONE),  # one's own SSH key, for one's new containers
    "user.grant": Rule(A, ANY),
    "user.revoke": Rule(A, ANY),
    "user.list": Rule(A, ANY),
    "quota.manage": Rule(A, ANY),
    "approval.list": Rule(A, ANY),
    "approval.decide": Rule(A, ANY),
    "audit.read": Rule(A, ANY),
}

_UNSET = object()


class Policy:
    """The policy point: `authorize` raises Forbidden with a message a person can act on."""

    def __init__(self, role_of: Callable[[int], Role]) -> None:
        self.role_of = role_of

    def authorize(self, actor_id: int, use_case: str, owner_id: int | None | object = _UNSET,
                  what: str = "This") -> Role:
        """May `actor_id` do `use_case` (and, given `owner_id`, on an object of that owner;
        None: nobody's)? Returns the actor's role; `what` names the object in a refusal."""
        rule = RULES[use_case]
        role = self.role_of(actor_id)
        if role < rule.role:
            raise Forbidden("This is for admins only." if rule.role is Role.ADMIN
                            else "You are not registered to use this bot.")
        if owner_id is not _UNSET and rule.scope is Scope.OWN and role < Role.ADMIN \
                and owner_id != actor_id:
            raise Forbidden(f"{what} is not yours: you can act only on your own.")
        return role

    def needs_approval(self, actor_id: int, use_case: str) -> bool:
        """Whether the request waits for an admin by the rule alone (SIZE, KEEPS and LIMIT are
        measured by the service that knows the size, the retention or the limit)."""
        approve = RULES[use_case].approve
        if approve is Approve.ALWAYS:
            return True
        admin = self.role_of(actor_id) is Role.ADMIN
        return approve is Approve.USERS and not admin

    def is_admin(self, actor_id: int) -> bool:
        return self.role_of(actor_id) is Role.ADMIN
