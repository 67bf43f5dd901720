"""Why the store cannot be used. Each message is one line an operator can act on: which file,
what is wrong with it, and what to do (never a traceback, never a silent reset)."""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot be opened or written; ``str()`` is the one line to show."""


class StoreUnreadable(StoreError):
    """A store file is empty, cut short or not a store: the bot refuses to start on it rather
    than start empty (which would forget every user, grant and quota, for good at the first
    write)."""


class StoreLocked(StoreError):
    """Another process (or another Store in this one) holds the data folder."""


class StoreClosed(StoreError):
    """A write after `Store.close()`: it could never reach the disk."""
