"""API errors in the shapes real PVE answers (see ../shared/pve-api/README.md, item 3)."""

from __future__ import annotations


class ApiError(Exception):
    """An error answer: ``status`` with ``message`` as reason phrase (first line) and body.

    ``errors`` (per-parameter messages) is set for 400 parameter failures.
    """

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    @property
    def reason(self) -> str:
        return self.message.split("\n", 1)[0].strip() or "error"


def param_error(errors: dict[str, str]) -> ApiError:
    """400 ``Parameter verification failed.`` with per-parameter messages."""
    return ApiError(400, "Parameter verification failed.", errors)


def fail(message: str) -> ApiError:
    """500: a handler failure (``die`` in PVE's Perl)."""
    return ApiError(500, message)


def config_missing(node: str, vmid: int) -> ApiError:
    """What PVE says when a CT is not on the node the request names."""
    return fail(f"Configuration file 'nodes/{node}/lxc/{vmid}.conf' does not exist")
