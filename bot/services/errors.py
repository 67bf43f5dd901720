"""Errors the services raise: each carries a message a person can act on.

Handlers show `str(error)` as it is; nothing here knows about Telegram.
"""


class ServiceError(Exception):
    """A request that cannot be done as asked; the message says why and what to do."""


class Forbidden(ServiceError):
    """The asker may not do this (role or ownership)."""


class NotFound(ServiceError):
    """The named thing does not exist, or the asker may not see it."""


class QuotaExceeded(ServiceError):
    """The request would take the asker beyond their quota; the message has the numbers."""


class Conflict(ServiceError):
    """The thing is in a state that does not allow this now (already decided, expired, ...)."""


class Unauthenticated(ServiceError):
    """The credentials (an API token) are missing, unknown or revoked."""
class NothingToDo(ServiceError):
    """What was asked is already so (a running CT asked to start): not a failure, and shown
    as information rather than as an error."""
