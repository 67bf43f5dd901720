"""Who may do what on which object, and what waits for an admin: one table, for every door.

Each use case names the least role that may ask for it, whose objects it may touch, and when
it waits for an admin's approval. Every service method asks here first (`Policy.authorize`),
and again once it knows the object's owner, so the chat door, the buttons, the background
jobs and a REST door refuse alike; no handler decides. The ownership of an object is found by
its identity (a marker Proxmox keeps), never by its number: that is the services' job; this
module only compares the owner they found with the actor.

An owner may share a CT with other users (`ShareRole`): the services pass the CT's identity
with its owner, and the policy asks `share_of` how far the actor may act on that identity;
each rule says the least share that lets a use case through (`Rule.shared`; None: the owner
only). A share is bound to the identity, so it dies with the CT, never passing to whatever
takes its vmid.
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


class ShareRole(IntEnum):
    """How far a user an owner shared a CT with may act on it; each includes the ones below."""

    VIEWER = 1  # sees it: its card, its network, whether it reaches something
    OPERATOR = 2  # also starts, stops and reboots it
    MANAGER = 3  # also backs it up, restores into it and changes its network and firewall

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def a(self) -> str:
        """``a viewer``, ``an operator``, ``a manager``."""
        return ("an " if self.label[0] in "aeiou" else "a ") + self.label

    @property
    def allows(self) -> str:
        return SHARE_ALLOWS[self]


SHARE_ALLOWS = {
    ShareRole.VIEWER: "may see it",
    ShareRole.OPERATOR: "may see it, start, stop and reboot it",
    ShareRole.MANAGER: "may see and power it, back it up, restore into it and change its "
                       "network and firewall",
}


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
    # On a CT shared with the actor: the least share that lets this through (None: owner only).
    shared: ShareRole | None = None


U, A = Role.USER, Role.ADMIN
OWN, NONE, ANY = Scope.OWN, Scope.NONE, Scope.ANY
VIEWER, OPERATOR, MANAGER = ShareRole.VIEWER, ShareRole.OPERATOR, ShareRole.MANAGER

#: use case -> who may ask, on whose objects, when an admin must approve.
RULES: dict[str, Rule] = {
    # containers
    "ct.list": Rule(U, NONE),  # one's own; an admin's filters may name any owner
    "ct.see": Rule(U, OWN, shared=VIEWER),
    "ct.create": Rule(U, NONE, Approve.SIZE),
    "ct.power": Rule(U, OWN, shared=OPERATOR),
    "ct.delete": Rule(U, OWN, Approve.USERS),  # the owner only, never a share
    "ct.resize": Rule(U, OWN, Approve.SIZE),  # the owner: it grows their quota's use
    "ct.share": Rule(U, OWN),  # share and unshare: the owner's decision
    "share.list": Rule(U, NONE),  # what one shared, and what is shared with one
    # network
    "net.see": Rule(U, OWN, shared=VIEWER),
    "net.set": Rule(U, OWN, shared=MANAGER),
    "net.check": Rule(U, OWN, shared=VIEWER),
    "fw.see": Rule(U, OWN, shared=VIEWER),
    "fw.change": Rule(U, OWN, shared=MANAGER),  # within the ports admins let users open
    "bridge.see": Rule(U, NONE),  # users: only the networks they may use
    "bridge.add": Rule(A, ANY),
    "bridge.apply": Rule(A, ANY),
    "bridge.delete": Rule(A, ANY, Approve.ALWAYS),
    "natnet.add": Rule(A, ANY),
    "doctor": Rule(A, ANY),
    "netfacts": Rule(A, ANY),  # what the API cannot show: see them, change them
    # backups
    "backup.create": Rule(U, OWN, Approve.KEEPS, shared=MANAGER),
    "backup.list": Rule(U, OWN, shared=MANAGER),
    "backup.delete": Rule(U, OWN, Approve.USERS),
    "backup.restore_new": Rule(U, OWN),
    "backup.restore_into": Rule(U, OWN, Approve.USERS, shared=MANAGER),
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
    "invite.create": Rule(A, ANY),
    "invite.list": Rule(A, ANY),
    "invite.revoke": Rule(A, ANY),
    "quota.manage": Rule(A, ANY),
    "approval.list": Rule(A, ANY),
    "approval.mine": Rule(U, OWN),  # one's own requests and how they ended
    "approval.decide": Rule(A, ANY),
    "audit.read": Rule(A, ANY),
    # API tokens (issued in the chat; each acts as its owner through the API)
    "token.issue": Rule(U, NONE),
    "token.list": Rule(U, NONE),  # one's own
    "token.revoke": Rule(U, OWN),
}

_UNSET = object()


class Policy:
    """The policy point: `authorize` raises Forbidden with a message a person can act on."""

    def __init__(self, role_of: Callable[[int], Role],
                 share_of: Callable[[int, str], ShareRole | None] = lambda _a, _i: None,
                 ) -> None:
        """`share_of(actor_id, identity)`: how far the CT carrying `identity` is shared with
        the actor (None: not at all)."""
        self.role_of = role_of
        self.share_of = share_of

    def authorize(self, actor_id: int, use_case: str, owner_id: int | None | object = _UNSET,
                  what: str = "This", identity: str | None = None) -> Role:
        """May `actor_id` do `use_case` (and, given `owner_id`, on an object of that owner;
        None: nobody's; `identity`: the CT's marker, for its shares)? Returns the actor's
        role; `what` names the object in a refusal."""
        rule = RULES[use_case]
        role = self.role_of(actor_id)
        if role < rule.role:
            raise Forbidden("This is for admins only." if rule.role is Role.ADMIN
                            else "You are not registered to use this bot.")
        if owner_id is not _UNSET and rule.scope is Scope.OWN and role < Role.ADMIN \
                and owner_id != actor_id:
            share = self.share_of(actor_id, identity) if identity and owner_id else None
            if share is None:
                raise Forbidden(f"{what} is not yours: you can act only on your own.")
            if rule.shared is None or share < rule.shared:
                needs = ("only its owner (or an admin) may do this" if rule.shared is None
                         else f"this needs {rule.shared.a}'s share; ask its owner")
                raise Forbidden(f"{what} is shared with you as {share.a}: you "
                                f"{share.allows}; {needs}.")
        return role

    def share_allows(self, actor_id: int, use_case: str, identity: str | None) -> bool:
        """Whether a share of the CT carrying `identity` lets the actor do `use_case` (for
        objects of a CT the services find by identity alone, such as its backups)."""
        rule = RULES[use_case]
        share = self.share_of(actor_id, identity) if identity else None
        return (share is not None and rule.shared is not None and share >= rule.shared
                and self.role_of(actor_id) >= rule.role)

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
