"""The HTTP API, one module per concern; importing this package registers every route."""

from . import access, cluster, lxc, nodes, storage, tasks, version  # noqa: F401  (registration)
from .registry import ROUTES, Ctx, Reply, find, implemented

__all__ = ["ROUTES", "Ctx", "Reply", "find", "implemented"]
