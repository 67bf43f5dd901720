"""Authentication like PVE (../shared/pve-api/README.md, item 13): API tokens and tickets + CSRF,
and authorization: ACL entries (path, user or token, privileges, propagate) evaluated as
pve-access-control's ``PVE::RPCEnvironment::permissions`` does. root@pam may do anything; a
token without privilege separation has its user's privileges; a privilege-separated token has
those of its own ACL entries that its user also has.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from .privileges import ALL_PRIVILEGES

TICKET_LIFETIME = 7200  # seconds, as PVE


@dataclass(frozen=True)
class Identity:
    """Who a request is from. ``userid`` is ``root@pam`` or ``root@pam!stratus`` for a token."""

    userid: str
    via_ticket: bool

    @property
    def user(self) -> str:
        return self.userid.split("!", 1)[0]


@dataclass
class Token:
    secret: str
    privsep: bool = False  # privilege separation: only its own ACL entries count


@dataclass(frozen=True)
class Acl:
    """One ACL entry: ``principal`` (a user id or a token id) holds ``privileges`` on ``path``
    (and below it when ``propagate``), as ``pveum acl modify`` writes them (a role's
    privileges)."""

    path: str
    principal: str
    privileges: frozenset[str]
    propagate: bool = True


class Authenticator:
    def __init__(self, user: str, password: str):
        self.user = user
        self.password = password
        self.tokens: dict[str, Token] = {}
        self.acl: list[Acl] = []
        self._key = secrets.token_bytes(32)

    def add_token(self, token_id: str, privileges: frozenset[str] | None = None) -> str:
        """A token; with ``privileges`` it is privilege-separated and holds them on ``/``
        (propagated), as ``pveum user token add --privsep 1`` + ``pveum acl modify /``."""
        secret = secrets.token_hex(16)
        secret = f"{secret[:8]}-{secret[8:12]}-{secret[12:16]}-{secret[16:20]}-{secret[20:]}"
        self.tokens[token_id] = Token(secret, privsep=privileges is not None)
        if privileges is not None:
            self.grant("/", token_id, privileges)
        return secret

    def grant(self, path: str, principal: str, privileges, propagate: bool = True) -> None:
        """An ACL entry (``pveum acl modify <path> --users/--tokens ... --roles ...``)."""
        self.acl.append(Acl(path, principal, frozenset(privileges), propagate))

    # ---- authorization -------------------------------------------------------------------
    def permissions(self, authid: str, path: str) -> dict[str, int]:
        """Privilege -> 1 (propagated) or 0 of ``authid`` on ``path``
        (PVE::RPCEnvironment::permissions)."""
        if authid == "root@pam":
            return dict.fromkeys(ALL_PRIVILEGES, 1)
        user, bang, _name = authid.partition("!")
        if bang:
            token = self.tokens.get(authid)
            if token is None:
                return {}
            own = self.permissions(user, path)
            if not token.privsep:
                return own
            return {p: v for p, v in self._compile(authid, path).items() if p in own}
        return self._compile(authid, path)

    def _compile(self, principal: str, path: str) -> dict[str, int]:
        """pve-access-control PVE::AccessControl::roles: from ``/`` down to ``path``, the
        deepest level with entries for ``principal`` (propagated ones, or any at ``path``
        itself) replaces what the levels above gave."""
        levels = ["/"] + ["/" + "/".join(path.strip("/").split("/")[:i + 1])
                          for i in range(len(path.strip("/").split("/"))) if path.strip("/")]
        granted: dict[str, int] = {}
        for level in levels:
            final = level == levels[-1]
            entries = [a for a in self.acl if a.principal == principal
                       and a.path.rstrip("/") == level.rstrip("/") and (final or a.propagate)]
            if entries:
                granted = {}
                for entry in entries:
                    for priv in entry.privileges:
                        granted[priv] = max(granted.get(priv, 0), int(entry.propagate))
        return granted

    def allowed(self, authid: str, path: str, privileges: tuple[str, ...],
                any_of: bool = False) -> bool:
        """PVE::RPCEnvironment::check (all of ``privileges``) or check_any (``any_of``)."""
        have = self.permissions(authid, path)
        return (any if any_of else all)(p in have for p in privileges)

    def _sign(self, text: str) -> str:
        return base64.b64encode(hmac.new(self._key, text.encode(), hashlib.sha256).digest()).decode()

    # ---- tickets ----
    def make_ticket(self, user: str) -> str:
        plain = f"PVE:{user}:{int(time.time()):08X}"
        return f"{plain}::{self._sign(plain)}"

    def check_ticket(self, ticket: str) -> str | None:
        plain, sep, sig = ticket.partition("::")
        parts = plain.split(":")
        if not sep or len(parts) != 3 or parts[0] != "PVE":
            return None
        if not hmac.compare_digest(sig, self._sign(plain)):
            return None
        try:
            age = time.time() - int(parts[2], 16)
        except ValueError:
            return None
        return parts[1] if -300 < age < TICKET_LIFETIME else None

    def make_csrf(self, user: str) -> str:
        stamp = f"{int(time.time()):08X}"
        return f"{stamp}:{self._sign(stamp + ':' + user)}"

    def check_csrf(self, user: str, token: str | None) -> bool:
        if not token:
            return False
        stamp, _, sig = token.partition(":")
        return hmac.compare_digest(sig, self._sign(stamp + ":" + user))

    def login(self, username: str, password: str, realm: str | None) -> str | None:
        """The user id when ``password`` (or a valid ticket of that user) is right."""
        if realm and "@" not in username:
            username = f"{username}@{realm}"
        if username != self.user:
            return None
        if hmac.compare_digest(password, self.password):
            return username
        return username if self.check_ticket(password) == username else None

    # ---- request ----
    def identify(self, authorization: str | None, cookie: str | None) -> Identity | None:
        if authorization and authorization.startswith("PVEAPIToken="):
            token_id, sep, secret = authorization[len("PVEAPIToken="):].partition("=")
            token = self.tokens.get(token_id.strip())
            if sep and token and hmac.compare_digest(secret.strip(), token.secret):
                return Identity(token_id.strip(), False)
            return None
        if cookie:
            user = self.check_ticket(cookie)
            if user:
                return Identity(user, True)
        return None
