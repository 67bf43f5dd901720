"""API tokens: issued from the chat to a person, each acting as that person through the API.

A token is 32 random bytes, shown once when issued; the store keeps its SHA-256 only, so a
copy of the store lets nobody in. A token carries no role of its own: every request made with
it is its owner's, with the owner's role as it is at that moment (a revoked user's tokens let
nobody in), quota and limits, through the same use cases and the same policy point.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable

from bot.services.access import AccessService
from bot.services.errors import Forbidden, NotFound, ServiceError, Unauthenticated
from bot.services.policy import Role
from bot.store import Store
from bot.store.api_tokens import ApiToken

TOKEN_PREFIX = "stratus_"  # tells a reader (or a secret scanner) what the string is
NAME_MAX = 32
TOKENS_MAX = 20  # active tokens per person: enough for every script, few enough to review
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
DEFAULT_NAME = "api"

NOT_VALID = ("This API token is not valid (unknown, or revoked). Ask for a new one with "
             "/api_token in the chat with the bot.")


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class ApiTokenService:
    def __init__(self, store: Store, access: AccessService,
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._access = access
        self._policy = access.policy
        self._clock = clock

    def issue(self, actor_id: int, name: str | None = None) -> tuple[str, ApiToken]:
        """A new token for the asker: (the token, shown only now; its record)."""
        self._policy.authorize(actor_id, "token.issue")
        name = check_name(name or DEFAULT_NAME)
        active = [t for t in self._store.api_tokens.of_user(actor_id) if t.active]
        if len(active) >= TOKENS_MAX:
            raise ServiceError(f"You have {len(active)} API tokens already, the most one may "
                               "have. Revoke one you no longer use (/api_tokens lists them, "
                               "/api_token_revoke <id> revokes one).")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        record = ApiToken(id=secrets.token_hex(4), user_id=actor_id, name=name,
                          digest=digest_of(secret), created_at=self._clock())
        self._store.api_tokens.add(record)
        self._store.audit.record(actor_id, "api_token", f"token:{record.id}", "issued", name)
        return secret, record

    def tokens(self, actor_id: int) -> list[ApiToken]:
        """The asker's active tokens (never the tokens themselves: only their ids and names)."""
        self._policy.authorize(actor_id, "token.list")
        return [t for t in self._store.api_tokens.of_user(actor_id) if t.active]

    def revoke(self, actor_id: int, token_id: str) -> ApiToken:
        self._policy.authorize(actor_id, "token.revoke")
        record = self._store.api_tokens.get(token_id)
        # The same answer for someone else's token and a missing one: ids cannot be probed.
        if record is None or not record.active or (
                record.user_id != actor_id and not self._policy.is_admin(actor_id)):
            raise NotFound(f"You have no API token {token_id!r}. /api_tokens lists yours.")
        self._policy.authorize(actor_id, "token.revoke", owner_id=record.user_id,
                               what=f"API token {token_id}")
        revoked = self._store.api_tokens.revoke(token_id, self._clock())
        if revoked is None:  # revoked meanwhile
            raise NotFound(f"You have no API token {token_id!r}. /api_tokens lists yours.")
        self._store.audit.record(actor_id, "api_token_revoke", f"token:{token_id}", "ok",
                                 f"of {record.user_id}")
        return revoked

    def authenticate(self, secret: str) -> ApiToken:
        """The active token `secret` is, if its owner still has access; else Unauthenticated
        (no such token, or revoked) or Forbidden (its owner's access was taken away)."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            raise Unauthenticated(NOT_VALID)
        record = self._store.api_tokens.by_digest(digest_of(secret))
        if record is None or not record.active:
            raise Unauthenticated(NOT_VALID)
        if self._access.role_of(record.user_id) is Role.NONE:
            raise Forbidden("You are not registered to use this bot. Ask an admin to grant you "
                            f"access; your Telegram id is {record.user_id}.")
        return record


def check_name(name: str) -> str:
    name = name.strip()
    if len(name) > NAME_MAX or not name.isascii() or not _NAME.fullmatch(name):
        raise ServiceError(f"{name[:40]!r} is not a token name: up to {NAME_MAX} letters, "
                           "digits, '.', '_' or '-', starting with a letter or digit, e.g. ci.")
    return name


__all__ = ["ApiTokenService", "TOKEN_PREFIX", "digest_of"]
