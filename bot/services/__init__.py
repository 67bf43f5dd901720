"""The use cases, free of Telegram. `Services` is what the chat layer is handed."""

from __future__ import annotations

from dataclasses import dataclass

from bot.proxmox import Proxmox
from bot.services.access import AccessService, Role
from bot.services.approvals import ApprovalService
from bot.services.containers import ContainerService
from bot.services.scaling import ScalingService
from bot.store import Store

__all__ = ["Services", "Role"]


@dataclass
class Services:
    store: Store
    px: Proxmox
    access: AccessService
    containers: ContainerService
    approvals: ApprovalService
    scaling: ScalingService
    approval_chat_id: int
    notify_chat_id: int | None = None
