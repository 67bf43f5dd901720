"""The provisioning layer: the only code in `bot/` that speaks to Proxmox VE.

    async with Proxmox(ProxmoxSettings(host=..., token_id=..., token_secret=...)) as px:
        result = await px.create_container(ContainerSpec(hostname="web1", template="debian-12"))

Every failure is an `errors.ProxmoxError` subclass with a message a person can act on.
"""

from . import errors
from .client import Proxmox
from .models import Container, ContainerSpec, CreateResult, NicSpec, NodeInfo, Template
from .settings import ProxmoxSettings

__all__ = [
    "Container",
    "ContainerSpec",
    "CreateResult",
    "NicSpec",
    "NodeInfo",
    "Proxmox",
    "ProxmoxSettings",
    "Template",
    "errors",
]
