"""The HTTP API, one module per concern; importing this package registers every route."""

from . import (  # noqa: F401  (registration)
    access,
    backup,
    cluster,
    firewall,
    lxc,
    migrate,
    network,
    nodes,
    resize,
    sdn,
    snapshot,
    storage,
    tasks,
    version,
)
from .registry import ROUTES, Ctx, Reply, find, implemented

__all__ = ["ROUTES", "Ctx", "Reply", "find", "implemented"]
