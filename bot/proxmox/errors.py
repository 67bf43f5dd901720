"""The exceptions callers of `bot.proxmox` see, and the one place that produces them.

Every failure of proxmoxer or requests is turned into one of these by `translate`, so the
rest of the bot never handles a raw `ResourceException` or a `requests` error. Each message
says what went wrong in terms a person can act on (which host, which field, which lock).
"""

from __future__ import annotations

import re

import requests
from proxmoxer import AuthenticationError, ResourceException


class ProxmoxError(Exception):
    """Base of every error raised by `bot.proxmox`; `str(e)` is meant for a person."""


class Unreachable(ProxmoxError):
    """The Proxmox API could not be reached (refused, timed out, name not resolved)."""


class AuthenticationFailed(ProxmoxError):
    """Proxmox rejected the credentials (API token or user/password)."""


class PermissionDenied(ProxmoxError):
    """The credentials work but lack a privilege for this call."""


class NotFound(ProxmoxError):
    """The container, node, storage or template does not exist."""


class Locked(ProxmoxError):
    """The container is locked by another operation (backup, clone, create, ...)."""


class AlreadyExists(ProxmoxError):
    """The object (usually a vmid) already exists."""


class AlreadyInState(ProxmoxError):
    """A start of a running CT, or a stop of a stopped one (PVE: "CT 100 already running",
    "CT 100 not running" from vm_start / vm_stop in PVE::API2::LXC::Status)."""


class InvalidRequest(ProxmoxError):
    """Proxmox refused parameters; `fields` maps each bad parameter to PVE's reason."""

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.fields: dict[str, str] = dict(fields or {})


class TaskFailed(ProxmoxError):
    """A PVE task ended with an exit status other than OK / WARNINGS."""

    def __init__(self, message: str, *, upid: str, exitstatus: str, log_line: str):
        super().__init__(message)
        self.upid = upid
        self.exitstatus = exitstatus
        self.log_line = log_line


class StillRunning(ProxmoxError):
    """A task had not ended when the caller stopped waiting for it; it may still end well."""

    def __init__(self, message: str, *, upid: str, waited_s: float):
        super().__init__(message)
        self.upid = upid
        self.waited_s = waited_s
        #: For a create: the root password it generated, which the CT has once created (the
        #: only copy: the caller must still hand it to the owner).
        self.password: str | None = None


class StartFailed(ProxmoxError):
    """A create made the CT but could not start it: the CT exists, stopped, on `node`. It
    carries `vmid` (the caller records whose it is: it counts against a quota all the same),
    the root `password` generated for it (the CT has it; this is the only copy) and `cause`,
    the start's own error."""

    def __init__(self, message: str, *, vmid: int, node: str, password: str | None,
                 cause: ProxmoxError):
        super().__init__(message)
        self.vmid = vmid
        self.node = node
        self.password = password
        self.cause = cause


class Undone(ProxmoxError):
    """A change of several steps failed part-way; what it had made was deleted again, newest
    first. ``cause`` is the step's error; ``left`` names what could not be deleted (empty when
    the undo went through), for an admin to clean up."""

    def __init__(self, message: str, *, cause: ProxmoxError, left: tuple[str, ...] = ()):
        super().__init__(message)
        self.cause = cause
        self.left = left


class NodeUnavailable(ProxmoxError):
    """A node is offline, unreachable from the cluster, or no node can take the guest."""


class TLSError(ProxmoxError):
    """The server's certificate failed verification (CA or pinned fingerprint)."""


# PVE reports most handler failures as a 500 whose reason phrase is the message; these
# patterns recognise the ones callers act on differently.
_LOCKED = re.compile(r"\bis locked\b|\block(?:ed)? \(|can't lock file", re.I)
_EXISTS = re.compile(r"already exists", re.I)
_MISSING = re.compile(
    r"does not exist|no such (?:vm|ct|container|node|storage|volume|task|file)|not found", re.I
)
_IN_STATE = re.compile(r"\bCT \d+ (?:already running|not running)\b", re.I)
_NODE_DOWN = re.compile(
    r"hostname lookup .* failed|node .* seems to be offline|no route to host", re.I
)


def _describe_fields(fields: dict[str, str]) -> str:
    return "; ".join(f"{name}: {reason.strip()}" for name, reason in sorted(fields.items()))


def translate(exc: BaseException, *, target: str, action: str) -> ProxmoxError:
    """Map a proxmoxer / requests exception to our hierarchy.

    `target` names the server (``https://host:port``) for connection problems; `action`
    says what we were doing (``"create CT 101 on pve1"``) so the message stands alone.
    Anything already a ProxmoxError is returned unchanged.
    """
    if isinstance(exc, ProxmoxError):
        return exc
    if isinstance(exc, AuthenticationError):
        return AuthenticationFailed(
            f"Proxmox at {target} rejected the user name or password; check the credentials "
            "and the realm (e.g. root@pam)."
        )
    if isinstance(exc, requests.exceptions.SSLError):
        detail = str(exc)
        if "ingerprint" in detail:
            return TLSError(
                f"The TLS certificate of {target} does not match the pinned SHA-256 fingerprint; "
                "someone may be intercepting the connection, or the certificate was renewed "
                "(compare with the fingerprint shown in the Proxmox GUI)."
            )
        return TLSError(
            f"The TLS certificate of {target} could not be verified ({_short(detail)}); "
            "configure the CA file or pin the certificate fingerprint."
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Unreachable(
            f"Connecting to Proxmox at {target} timed out; check the host, the port "
            "(8006, or the NAT port-forward) and any firewall."
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return Unreachable(
            f"Proxmox at {target} did not answer in time while trying to {action}; the request "
            "may still have taken effect, check before retrying."
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        return Unreachable(
            f"Cannot reach Proxmox at {target} ({_connection_reason(exc)}); check the host, the "
            "port (8006, or the NAT port-forward) and that pveproxy is running."
        )
    if isinstance(exc, requests.exceptions.RequestException):
        return Unreachable(f"HTTP error talking to Proxmox at {target}: "
                           f"{_connection_reason(exc)}")
    if isinstance(exc, ResourceException):
        return _from_resource(exc, target=target, action=action)
    return ProxmoxError(f"Unexpected error while trying to {action}: {exc!r}")


def _from_resource(exc: ResourceException, *, target: str, action: str) -> ProxmoxError:
    code = exc.status_code
    # proxmoxer puts PVE's reason phrase (the real message) in `content`.
    reason = str(exc.content or exc.status_message or "").strip()
    fields = exc.errors if isinstance(exc.errors, dict) else {}
    fields = {str(k): str(v) for k, v in fields.items() if k != "errors"}
    if code == 401:
        return AuthenticationFailed(
            f"Proxmox at {target} rejected the credentials (HTTP 401); check the API token "
            "id and secret (or user and password) and that the token is not expired."
        )
    if code == 403:
        return PermissionDenied(
            f"Not allowed to {action}: {reason}. Grant the token or user the missing privilege "
            "(and disable privilege separation or give the token its own ACL)."
        )
    if code == 400:
        if fields:
            return InvalidRequest(
                f"Proxmox refused to {action}: {_describe_fields(fields)}", fields
            )
        return InvalidRequest(f"Proxmox refused to {action}: {reason}")
    if code in (595, 596):
        return NodeUnavailable(
            f"Could not {action}: the node is not reachable from the cluster ({reason})."
        )
    if code == 404 or (code == 500 and _MISSING.search(reason)):
        return NotFound(f"Could not {action}: {reason}")
    if code == 501:
        return InvalidRequest(f"Proxmox does not implement the call to {action}: {reason}")
    if _LOCKED.search(reason):
        return Locked(f"Could not {action}: {reason}; wait for that operation to finish.")
    if _EXISTS.search(reason):
        return AlreadyExists(f"Could not {action}: {reason}")
    if _IN_STATE.search(reason):
        return AlreadyInState(f"Nothing to {action}: {reason}.")
    if _NODE_DOWN.search(reason):
        return NodeUnavailable(f"Could not {action}: {reason}")
    return ProxmoxError(f"Could not {action}: {reason} (HTTP {code})")


# What only admins read in our messages (AccessService.shown_to): where Proxmox is and the
# identity the bot has there. A task id carries that identity as its user field:
# UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>: (PVE::Tools::upid_encode).
HIDDEN = "(hidden)"
_UPID_USER = re.compile(r"(UPID:(?:[^:\s]*:){6})[^:\s]+:")
_POOL_ADDRESS = re.compile(r"\(host=[^)]*\)")  # urllib3's "HTTPSConnectionPool(host='h', port=p)"


def hide_location(text: str, *, base_url: str, host: str, port: int,
                  identities: tuple[str | None, ...] = ()) -> str:
    """`text` without the Proxmox URL, host and port (they read "Proxmox") nor the bot's
    identities there, token id and user, also inside task ids (they read "(hidden)")."""
    text = _UPID_USER.sub(rf"\1{HIDDEN}:", text)
    text = _POOL_ADDRESS.sub("", text)
    for where in (f"Proxmox at {base_url}", base_url, f"{host}:{port}"):
        text = text.replace(where, "Proxmox")
    for name in sorted({host, *identities} - {None, ""}, key=len, reverse=True):
        # Whole names only: a host "pve" must not turn "pveproxy" or "pve1" into noise.
        text = re.sub(rf"(?<![\w.@!-]){re.escape(name)}(?![\w@!-]|\.\w)", HIDDEN, text)
    return text


# What a person can act on, out of urllib3's "HTTPSConnectionPool(...): Max retries exceeded
# with url: ... (Caused by NewConnectionError('<urllib3.connection... object at 0x...>: ...'))".
_CONNECTION_REASONS = (
    (re.compile(r"refused", re.I), "connection refused: nothing answers on that port"),
    (re.compile(r"not known|nodename nor servname|name resolution|getaddrinfo|resolve", re.I),
     "the host name does not resolve"),
    (re.compile(r"network is unreachable", re.I), "the network is unreachable"),
    (re.compile(r"no route to host", re.I), "no route to the host"),
    (re.compile(r"timed out|timeout", re.I), "the connection timed out"),
    (re.compile(r"reset by peer|connection aborted|remotedisconnected|broken pipe", re.I),
     "the connection was cut"),
)


def _connection_reason(exc: BaseException) -> str:
    text = str(exc)
    for pattern, reason in _CONNECTION_REASONS:
        if pattern.search(text):
            return reason
    return "the connection failed"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
