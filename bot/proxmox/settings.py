"""Connection settings for one Proxmox VE cluster."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FINGERPRINT = re.compile(r"^(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{64}$")


@dataclass(frozen=True)
class ProxmoxSettings:
    """Where and how to reach PVE.

    Authentication: an API token (``token_id="user@realm!name"`` + ``token_secret``) or a
    ``user`` + ``password`` (ticket login). TLS: verified against the system CAs, or against
    ``ca_file``, or pinned to the certificate's SHA-256 ``fingerprint`` (as the PVE GUI shows
    it), or off with ``verify_tls=False``. ``task_timeout`` (seconds) bounds every wait for a
    task; None leaves a generous limit per kind of task (`bot.proxmox.tasks.TASK_TIMEOUTS_S`).
    """

    host: str
    port: int = 8006
    token_id: str | None = None
    token_secret: str | None = field(default=None, repr=False)
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    verify_tls: bool = True
    ca_file: str | None = None
    fingerprint: str | None = field(default=None, repr=False)
    timeout: float = 15.0
    max_workers: int = 16
    task_timeout: float | None = None

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("Invalid Proxmox settings: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """Every problem at once, so a configuration can be fixed in one go."""
        out = []
        if not self.host:
            out.append("host is empty")
        if not 0 < int(self.port) < 65536:
            out.append(f"port {self.port} is not in 1..65535")
        if self.token_id or self.token_secret:
            if not (self.token_id and self.token_secret):
                out.append("token_id and token_secret must be given together")
            elif not re.fullmatch(r"[^!@\s]+@[^!\s]+![A-Za-z][\w.-]*", self.token_id):
                out.append(f"token_id {self.token_id!r} must look like user@realm!tokenname")
        elif self.user or self.password:
            if not (self.user and self.password):
                out.append("user and password must be given together")
            elif "@" not in self.user:
                out.append(f"user {self.user!r} needs a realm, e.g. root@pam")
        else:
            out.append("no credentials: set token_id + token_secret, or user + password")
        if self.fingerprint and not _FINGERPRINT.match(self.fingerprint.strip()):
            out.append("fingerprint must be a SHA-256 fingerprint like AB:CD:... (32 bytes)")
        if self.fingerprint and self.ca_file:
            out.append("set either ca_file or fingerprint, not both")
        if self.timeout <= 0:
            out.append("timeout must be positive")
        if self.task_timeout is not None and self.task_timeout <= 0:
            out.append("task_timeout must be positive (or None: a limit per kind of task)")
        if self.max_workers < 1:
            out.append("max_workers must be at least 1")
        return out

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"https://{host}:{self.port}"
