"""Wiring: from settings to the running parts. The one place that knows how they fit."""

from __future__ import annotations

from dataclasses import dataclass

from bot.proxmox import Proxmox, ProxmoxSettings
from bot.services import Services
from bot.services.access import AccessService
from bot.services.approvals import ApprovalService
from bot.services.containers import ContainerService, CreateDefaults
from bot.services.quota import ApprovalThresholds
from bot.store import Quota, Store


@dataclass(frozen=True)
class ChatPolicy:
    """The chat layer's knobs, whatever they were read from."""

    admin_ids: tuple[int, ...]
    approval_chat_id: int
    notify_chat_id: int | None = None
    default_quota: Quota = Quota(containers=3, cores=4, memory_mb=4096, disk_gb=32)
    thresholds: ApprovalThresholds = ApprovalThresholds()
    defaults: CreateDefaults = CreateDefaults()
    approval_ttl_s: float = 3600.0


def build_services(px: Proxmox, store: Store, policy: ChatPolicy) -> Services:
    access = AccessService(store, policy.admin_ids)
    return Services(
        store=store,
        px=px,
        access=access,
        containers=ContainerService(px, store, access, policy.default_quota, policy.thresholds,
                                    policy.defaults),
        approvals=ApprovalService(store, access, policy.approval_ttl_s),
        approval_chat_id=policy.approval_chat_id,
        notify_chat_id=policy.notify_chat_id,
    )


__all__ = ["ChatPolicy", "build_services", "Proxmox", "ProxmoxSettings", "Store"]
