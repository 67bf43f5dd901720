"""Wiring: from settings to the running parts. The one place that knows how they fit."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from bot.app import build_application
from bot.proxmox import Proxmox, ProxmoxSettings
from bot.proxmox.backups import FOLLOW_TIMEOUT_S
from bot.services import Services
from bot.services.access import AccessService
from bot.services.approvals import ApprovalService
from bot.services.backups import BackupService
from bot.services.containers import ContainerService, CreateDefaults
from bot.services.doctor import DoctorService
from bot.services.firewall import FirewallService, FirewallSettings
from bot.services.invites import InviteService
from bot.services.keys import KeyService
from bot.services.netcheck import Facts
from bot.services.network import NetworkService
from bot.services.quota import ApprovalThresholds, BackupLimits
from bot.services.ratelimit import ApiLimiter, ApiLimits, ChatLimiter, ChatLimits
from bot.services.resizing import ResizeService
from bot.services.scaling import ScalingService, ScalingSettings
from bot.services.sharing import SharingService
from bot.services.tokens import ApiTokenService
from bot.settings import Settings
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
    backup_storage: str = "local"  # where /backup and schedules write unless told
    backup_watch_s: float = 60.0  # how often finished scheduled backups are looked for
    backup_follow_timeout_s: float = FOLLOW_TIMEOUT_S  # a /backup's live message gives up then
    backup_limits: BackupLimits = BackupLimits()  # users' backup quota, retention, frequency
    network_facts: Facts = Facts()
    network_pools: tuple[tuple[str, str, str], ...] = ()
    scaling: ScalingSettings = ScalingSettings()
    limits: ChatLimits = ChatLimits()  # per-user flood limits (bot/services/ratelimit.py)
    api_limits: ApiLimits = ApiLimits()  # per-API-token limits (the same module)
    firewall: FirewallSettings = FirewallSettings()  # tenant isolation (services/firewall.py)


def build_services(px: Proxmox, store: Store, policy: ChatPolicy) -> Services:
    access = AccessService(store, policy.admin_ids, hide=px.hide_location)
    containers = ContainerService(px, store, access, policy.default_quota, policy.thresholds,
                                  policy.defaults)
    keys = KeyService(store, access)
    containers.keys = keys
    network = NetworkService(px, store, access, policy.network_facts, policy.network_pools)
    containers.addresses = network
    network.containers = containers
    firewall = FirewallService(px, store, containers, policy.firewall)
    containers.firewall = network.firewall = firewall
    doctor = DoctorService(px, access, lambda: network.facts)
    doctor.firewall = firewall
    approvals = ApprovalService(store, access, policy.approval_ttl_s)
    approvals.on_close.append(network.release_unrun)  # a closed create's addresses go back
    access.on_close = approvals.on_close
    return Services(
        store=store,
        px=px,
        access=access,
        containers=containers,
        scaling=ScalingService(px, store, access, containers, policy.scaling),
        approvals=approvals,
        backups=BackupService(px, store, access, containers, policy.backup_storage,
                              policy.backup_watch_s, policy.backup_follow_timeout_s,
                              policy.backup_limits),
        network=network,
        doctor=doctor,
        tokens=ApiTokenService(store, access),
        keys=keys,
        approval_chat_id=policy.approval_chat_id,
        notify_chat_id=policy.notify_chat_id,
        limiter=ChatLimiter(policy.limits),
        api_limiter=ApiLimiter(policy.api_limits),
        sharing=SharingService(store, access, containers),
        invites=InviteService(store, access, policy.default_quota),
        resizing=ResizeService(px, store, containers, policy.thresholds),
        firewall=firewall,
    )




def proxmox_settings(settings: Settings) -> ProxmoxSettings:
    return ProxmoxSettings(
        host=settings.proxmox_host, port=settings.proxmox_port,
        token_id=settings.proxmox_token_id, token_secret=settings.proxmox_token_secret,
        user=settings.proxmox_user, password=settings.proxmox_password,
        verify_tls=settings.proxmox_tls != "insecure", ca_file=settings.proxmox_ca_file,
        fingerprint=settings.proxmox_fingerprint if settings.proxmox_tls == "fingerprint" else None,
        task_timeout=settings.proxmox_task_timeout_s,
    )


def chat_policy(settings: Settings) -> ChatPolicy:
    defaults = CreateDefaults(bridge=settings.default_bridge)
    if settings.default_template:
        defaults = dataclasses.replace(defaults, template=settings.default_template)
    return ChatPolicy(
        admin_ids=settings.admin_ids, approval_chat_id=settings.approval_chat_id,
        notify_chat_id=settings.notify_chat_id, default_quota=settings.default_quota,
        thresholds=settings.approval_thresholds, backup_limits=settings.backup_limits,
        defaults=defaults, approval_ttl_s=float(settings.approval_ttl_s),
        network_facts=settings.network_facts, network_pools=settings.network_pools,
        scaling=ScalingSettings(
            sync_s=float(settings.scaler_sync_s), warmup_s=float(settings.scaler_warmup_s),
            auto_approve_s=float(settings.scaler_auto_approve_s),
            shutdown_timeout_s=settings.scaler_shutdown_timeout_s),
        limits=settings.chat_limits,
        api_limits=settings.api_limits,
        firewall=FirewallSettings(settings.firewall_host_ports, settings.firewall_user_ports),
    )


def secrets_of(settings: Settings) -> list[str]:
    """What must never reach a log line."""
    return [s for s in (settings.telegram_token, settings.proxmox_token_secret,
                        settings.proxmox_password) if s]


def open_store(settings: Settings) -> Store:
    """The store of the data folder (StoreError: damaged, or held by another process)."""
    return Store(Path(settings.data_dir) / "stratus.json",
                 audit_retention_days=settings.audit_retention_days or None)


def build_bot(settings: Settings, **app_options):
    """The Application with its services, as `python -m bot` and the demo run it."""
    store = open_store(settings)  # first: a damaged or busy data folder stops the start here
    px = Proxmox(proxmox_settings(settings))
    services = build_services(px, store, chat_policy(settings))
    return build_application(settings.telegram_token, services,
                             base_url=settings.telegram_base_url,
                             api_listen=settings.api_listen, **app_options)
