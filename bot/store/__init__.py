"""tinydb repositories for the chat layer's state. No Telegram here."""

from .models import APPROVAL_STATUSES, ROLES, Approval, AuditEntry, Quota, User
from .storage import AtomicJSONStorage
from .store import Store

__all__ = [
    "APPROVAL_STATUSES",
    "ROLES",
    "Approval",
    "AtomicJSONStorage",
    "AuditEntry",
    "Quota",
    "Store",
    "User",
]
