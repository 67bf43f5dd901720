"""Authentication like PVE (../shared/pve-api/README.md, item 13): API tokens and tickets + CSRF."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

TICKET_LIFETIME = 7200  # seconds, as PVE


@dataclass(frozen=True)
class Identity:
    """Who a request is from. ``userid`` is ``root@pam`` or ``root@pam!stratus`` for a token."""

    userid: str
    via_ticket: bool
    privileges: frozenset[str] | None  # None: all (root)

    @property
    def user(self) -> str:
        return self.userid.split("!", 1)[0]


@dataclass
class Token:
    secret: str
    privileges: frozenset[str] | None = None


class Authenticator:
    def __init__(self, user: str, password: str):
        self.user = user
        self.password = password
        self.tokens: dict[str, Token] = {}
        self._key = secrets.token_bytes(32)

    def add_token(self, token_id: str, privileges: frozenset[str] | None = None) -> str:
        secret = secrets.token_hex(16)
        secret = f"{secret[:8]}-{secret[8:12]}-{secret[12:16]}-{secret[16:20]}-{secret[20:]}"
        self.tokens[token_id] = Token(secret, privileges)
        return secret

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
                return Identity(token_id.strip(), False, token.privileges)
            return None
        if cookie:
            user = self.check_ticket(cookie)
            if user:
                return Identity(user, True, None)
        return None
