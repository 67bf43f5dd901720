"""tinydb repositories for the chat layer's state. No Telegram here."""

from .errors import StoreClosed, StoreError, StoreLocked, StoreUnreadable
from .models import APPROVAL_STATUSES, ROLES, Approval, AuditEntry, Ownership, Quota, User
from .shares import SHARE_ROLES, Share
from .storage import AtomicJSONStorage
from .store import Store

__all__ = [
    "APPROVAL_STATUSES",
    "ROLES",
    "SHARE_ROLES",
    "Approval",
    "AtomicJSONStorage",
    "AuditEntry",
    "Ownership",
    "Quota",
    "Share",
    "Store",
    "StoreClosed",
    "StoreError",
    "StoreLocked",
    "StoreUnreadable",
    "User",
]
