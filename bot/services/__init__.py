"""The use cases, free of Telegram and HTTP. `Services` is what each door is handed."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.proxmox import Proxmox
from bot.services.access import AccessService, Role
from bot.services.approvals import ApprovalService
from bot.services.backups import BackupService
from bot.services.containers import ContainerService
from bot.services.doctor import DoctorService
from bot.services.firewall import FirewallService
from bot.services.invites import InviteService
from bot.services.keys import KeyService
from bot.services.network import NetworkService
from bot.services.ratelimit import ApiLimiter, ChatLimiter
from bot.services.resizing import ResizeService
from bot.services.scaling import ScalingService
from bot.services.sharing import SharingService
from bot.services.tokens import ApiTokenService
from bot.store import Store

__all__ = ["Services", "Role"]


@dataclass
class Services:
    store: Store
    px: Proxmox
    access: AccessService
    containers: ContainerService
    approvals: ApprovalService
    backups: BackupService
    network: NetworkService
    doctor: DoctorService
    scaling: ScalingService
    tokens: ApiTokenService
    keys: KeyService
    approval_chat_id: int
    notify_chat_id: int | None = None
    limiter: ChatLimiter = field(default_factory=ChatLimiter)  # who may make the bot work now
    api_limiter: ApiLimiter = field(default_factory=ApiLimiter)  # each API token's bucket
    sharing: SharingService | None = None  # who else may see or act on a CT
    invites: InviteService | None = None  # links that register whoever opens them
    resizing: ResizeService | None = None  # cores, memory, disk of a CT
    firewall: FirewallService | None = None  # tenant isolation on the network
