"""Settings, read once at start from ``STRATUS_*`` environment variables and/or a TOML file.

Environment variables override the file. Every value is checked before the bot starts, and all
problems are reported together (``SettingsError``), so a person fixes their configuration in one
go instead of one restart per mistake. Secrets never appear in ``repr`` or in error messages.

The file uses sections whose keys join with the section name, so these two are the same setting::

    [proxmox]                     # config file
    host = "pve.example.com"
    STRATUS_PROXMOX_HOST=pve.example.com        # environment

Settings and their keys: ``telegram.token`` / ``STRATUS_TELEGRAM_TOKEN``, ``telegram.base_url``,
``proxmox.{host,port,token_id,token_secret,user,password,tls,ca_file,fingerprint}``,
``proxmox.task_timeout_s`` (how long to wait for any Proxmox task; unset: a generous limit per
kind of task),
``admin_ids`` (list, or "1,2" in the environment), ``approval.chat_id``, ``notify_chat_id``,
``data_dir``, ``audit.retention_days`` (archived audit files older than this many days are
deleted, default 400; 0 keeps them forever), ``default_quota.{containers,cores,memory_mb,disk_gb}``,
``approval.{cores_above,memory_mb_above,disk_gb_above,ttl_s}``, ``default.{template,bridge}``,
the users' backup limits ``default_quota.{backups,backup_gb}`` (how many backups and GiB, what
their schedules will keep included), ``approval.backup_keep_above`` (a user's schedule keeping
more backups of each CT waits for an admin) and ``backup.schedule_min_interval_s`` (how often a
user's schedule may run at most; 0: no limit),
``scaler.{sync_s,warmup_s,auto_approve_s,shutdown_timeout_s}`` (scaling groups; auto_approve_s 0:
scale-out approvals never granted automatically), and the network facts the API cannot show
(for /netcheck) with address pools: ``network.pools`` ("vmbr1=10.10.20.10-10.10.20.200"),
``network.forwarding`` ("pve1"), ``network.masquerade`` ("pve1:vmbr1:vmbr0"),
``network.pc_via`` ("pve1:vmbr0"), ``network.port_forwards`` ("pve1:8006->8006"),
``network.dhcp`` ("pve1:vmbr0": a DHCP server Proxmox does not run serves it),
``network.vbox_vm``: the initial values of the facts an admin sees and changes with /netfacts
under the same names (bot/services/netfacts.py).

Tenant isolation on the network (bot/services/firewall.py): ``firewall.host_ports`` (the
hosts' ports tenants' containers may not reach, default "22,8006"; "none" closes none) and
``firewall.user_ports`` (the ports users may open on their containers with /fw_allow, default
"1-65535"). The datacenter firewall must be on in Proxmox for any of it to filter (/doctor).

Flood limits per person (bot/services/ratelimit.py): ``limits.stranger_answer_every_s`` (an
unregistered sender is answered once per this many seconds, default 300, then ignored),
``limits.{user_rate_per_min,user_burst}`` (a user's token bucket, default 60 a minute and 30 at
once) and ``limits.{admin_rate_per_min,admin_burst}`` (an admin's, default 300 and 100).

The REST API (bot/api) is off unless ``api.listen`` / ``STRATUS_API_LISTEN`` says where it
listens, as HOST:PORT (``127.0.0.1:8080``; put a TLS reverse proxy in front of it, README);
each API token's bucket is ``limits.{api_rate_per_min,api_burst}`` (default 600 and 100).
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.parsing import UsageError, parse_bridge, parse_disk_gb, parse_size_mb, parse_template
from bot.parsing_backups import KEEP_MAX
from bot.parsing_network import (
    parse_node_bridges_setting,
    parse_nodes_setting,
    parse_pools_setting,
    parse_port_forwards_setting,
)
from bot.parsing_tenants import parse_port_ranges, ports_setting_text
from bot.services.netcheck import Facts, PortForward
from bot.services.quota import ApprovalThresholds, BackupLimits
from bot.services.ratelimit import ApiLimits, ChatLimits
from bot.store.models import Quota

ENV_PREFIX = "STRATUS_"
CONFIG_ENV = "STRATUS_CONFIG"
TLS_MODES = ("verify", "fingerprint", "insecure")
SECRET_FIELDS = frozenset({"telegram_token", "proxmox_token_secret", "proxmox_password"})

_FINGERPRINT = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){31}")
_TOKEN_ID = re.compile(r"[^\s@!]+@[^\s@!]+![A-Za-z][A-Za-z0-9._-]*")
_USER = re.compile(r"[^\s@!]+@[^\s@!]+")
_HOST = re.compile(r"[A-Za-z0-9.\-]+|\[?[0-9A-Fa-f:.]+\]?")
_INT = re.compile(r"[+-]?[0-9]{1,20}")


class SettingsError(Exception):
    """The settings are incomplete or invalid; ``problems`` has one entry per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems)
        self.problems = list(problems)

    def __str__(self) -> str:
        count = len(self.problems)
        header = f"Stratus cannot start: {count} problem{'s' if count != 1 else ''} in the settings"
        return "\n".join([header] + [f"- {problem}" for problem in self.problems])


DEFAULT_QUOTA = Quota(containers=3, cores=4, memory_mb=4096, disk_gb=32)


@dataclass(frozen=True, repr=False)
class Settings:
    telegram_token: str
    proxmox_host: str
    admin_ids: tuple[int, ...]
    approval_chat_id: int
    telegram_base_url: str | None = None  # a Bot API stand-in, e.g. "http://127.0.0.1:8081/bot"
    proxmox_port: int = 8006
    proxmox_token_id: str | None = None  # "user@realm!tokenid"
    proxmox_token_secret: str | None = None
    proxmox_user: str | None = None  # "user@realm"
    proxmox_password: str | None = None
    proxmox_tls: str = "verify"  # verify | fingerprint | insecure
    proxmox_ca_file: str | None = None
    proxmox_fingerprint: str | None = None  # "AB:CD:..." (SHA-256, 32 bytes), upper case
    proxmox_task_timeout_s: int | None = None  # None: bot.proxmox.tasks.TASK_TIMEOUTS_S
    notify_chat_id: int | None = None
    data_dir: Path = Path("data")
    audit_retention_days: int = 400  # archived audit files older than this go; 0: kept forever
    default_quota: Quota = DEFAULT_QUOTA
    approval_thresholds: ApprovalThresholds = field(default_factory=ApprovalThresholds)
    approval_ttl_s: int = 3600
    backup_limits: BackupLimits = field(default_factory=BackupLimits)
    default_template: str | None = None
    default_bridge: str = "vmbr0"
    # Networking: address pools (network, first, last) and what the API cannot show (/netcheck).
    network_pools: tuple[tuple[str, str, str], ...] = ()
    network_facts: Facts = field(default_factory=Facts)
    scaler_sync_s: int = 15
    scaler_warmup_s: int = 30
    scaler_auto_approve_s: int = 0
    scaler_shutdown_timeout_s: int = 30
    chat_limits: ChatLimits = field(default_factory=ChatLimits)
    api_listen: tuple[str, int] | None = None  # (host, port) of the REST API; None: off
    api_limits: ApiLimits = field(default_factory=ApiLimits)
    firewall_host_ports: str = "22,8006"  # closed to tenants' CTs on the hosts ("": none)
    firewall_user_ports: tuple[tuple[int, int], ...] = ((1, 65535),)  # users may open these

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS and value is not None:
                parts.append(f"{f.name}='***'")
            else:
                parts.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(parts)})"

    __str__ = __repr__

    @property
    def uses_token(self) -> bool:
        """True when Proxmox is reached with an API token, False for user + password."""
        return self.proxmox_token_id is not None

    @classmethod
    def load(cls, environ: Mapping[str, str], config_file: str | None = None) -> Settings:
        """Read the file (``config_file``, else ``$STRATUS_CONFIG``, else none) and the
        environment; raise SettingsError listing every problem found."""
        return _Loader(environ, config_file or environ.get(CONFIG_ENV) or None).load()


# --- loading -------------------------------------------------------------------------------


@dataclass
class _Value:
    raw: Any
    source: (
        str  # where it came from, for messages: "STRATUS_PROXMOX_PORT" or "cfg.toml: proxmox.port"
    )


class _Loader:
    def __init__(self, environ: Mapping[str, str], config_file: str | None) -> None:
        self.problems: list[str] = []
        self.values: dict[str, _Value] = {}
        self.config_file = config_file
        if config_file:
            self._read_file(config_file)
        for name, raw in environ.items():
            if name.startswith(ENV_PREFIX) and name != CONFIG_ENV and raw.strip() != "":
                key = name[len(ENV_PREFIX) :].lower()
                if key in _KEYS:  # other STRATUS_* variables may belong to tools around the bot
                    self.values[key] = _Value(raw, name)

    def _read_file(self, path: str) -> None:
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            self.problems.append(f"config file {path}: not found")
            return
        except OSError as error:
            self.problems.append(f"config file {path}: cannot read it ({error.strerror})")
            return
        except tomllib.TOMLDecodeError as error:
            self.problems.append(f"config file {path}: not valid TOML ({error})")
            return
        for dotted, raw in _flatten(data):
            key = dotted.replace(".", "_")
            if key not in _KEYS:
                self.problems.append(f"config file {path}: unknown setting {dotted!r}")
            else:
                self.values[key] = _Value(raw, f"{path}: {dotted}")

    # Each getter returns None (and records a problem) when the value is unusable.

    def _label(self, key: str) -> str:
        value = self.values.get(key)
        return f"{key} ({value.source})" if value else key

    def _missing(self, key: str, hint: str = "") -> None:
        self.problems.append(
            f"{key} is missing{hint}: set STRATUS_{key.upper()} or {key} in the config file"
        )

    def _problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self._label(key)}: {message}")

    def text(self, key: str, required: bool = False) -> str | None:
        value = self.values.get(key)
        if value is None:
            if required:
                self._missing(key)
            return None
        if not isinstance(value.raw, str):
            self._problem(key, f"must be a string, not {type(value.raw).__name__}")
            return None
        text = value.raw.strip()
        if not text:
            if required:
                self._problem(key, "is empty")
            return None
        return text

    def secret(self, key: str, required: bool = False) -> str | None:
        text = self.text(key, required)
        if text is not None and any(c.isspace() for c in text):
            # Reported, but still returned: it is set, so "missing" would be a second, wrong problem.
            self._problem(key, "contains whitespace (value not shown: it is a secret)")
        return text

    def integer(self, key: str, default: int | None, lo: int | None = None, hi: int | None = None):
        value = self.values.get(key)
        if value is None:
            return default
        raw = value.raw
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            self._problem(key, f"must be a whole number, not {type(raw).__name__}")
            return None
        if isinstance(raw, str):
            if not _INT.fullmatch(raw.strip()):
                self._problem(key, f"{raw.strip()!r} is not a whole number")
                return None
            raw = int(raw)
        if (lo is not None and raw < lo) or (hi is not None and raw > hi):
            bounds = f"from {lo} to {hi}" if hi is not None else f"at least {lo}"
            self._problem(key, f"must be {bounds}, not {raw}")
            return None
        return raw

    def converted(self, key: str, default: Any, convert: Callable[[str], Any]) -> Any:
        """A value checked by one of bot.parsing's parsers (sizes, bridge, template)."""
        value = self.values.get(key)
        if value is None:
            return default
        raw = value.raw
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str):
            self._problem(key, f"must be a string, not {type(raw).__name__}")
            return None
        try:
            return convert(raw)
        except UsageError as error:
            self._problem(key, f"{error.problem} (expected {error.usage})")
            return None

    def id_list(self, key: str) -> tuple[int, ...] | None:
        value = self.values.get(key)
        if value is None:
            self._missing(key, " (Telegram user ids, e.g. 123456789,987654321)")
            return None
        raw = value.raw
        if isinstance(raw, str):
            items: list[Any] = [item for item in re.split(r"[,\s]+", raw.strip()) if item]
        elif isinstance(raw, list):
            items = raw
        else:
            items = [raw]
        ids: list[int] = []
        for item in items:
            if isinstance(item, str) and re.fullmatch(r"[0-9]{1,20}", item.strip()):
                item = int(item)
            if isinstance(item, bool) or not isinstance(item, int) or item <= 0:
                self._problem(key, f"{item!r} is not a Telegram user id (a positive whole number)")
                return None
            if item not in ids:
                ids.append(item)
        if not ids:
            self._problem(key, "needs at least one admin's Telegram user id")
            return None
        return tuple(ids)

    def load(self) -> Settings:
        telegram_token = self.secret("telegram_token", required=True)
        base_url = self.text("telegram_base_url")
        if base_url is not None and not re.match(r"https?://[^\s/]+", base_url):
            self._problem("telegram_base_url", f"{base_url!r} is not an http(s):// URL")

        host = self.text("proxmox_host", required=True)
        if host is not None and not _HOST.fullmatch(host):
            hint = " (give the host name only, without https:// or a port)"
            self._problem("proxmox_host", f"{host!r} is not a host name or IP address{hint}")
        port = self.integer("proxmox_port", 8006, 1, 65535)

        token_id = self.text("proxmox_token_id")
        token_secret = self.secret("proxmox_token_secret")
        user = self.text("proxmox_user")
        password = self.secret("proxmox_password")
        self._check_credentials(token_id, token_secret, user, password)

        tls = self.text("proxmox_tls") or "verify"
        if tls.lower() not in TLS_MODES:
            self._problem(
                "proxmox_tls", f"unknown TLS mode {tls!r}; use one of {', '.join(TLS_MODES)}"
            )
        tls = tls.lower()
        ca_file = self.text("proxmox_ca_file")
        if ca_file is not None and not Path(ca_file).is_file():
            self._problem("proxmox_ca_file", f"{ca_file} is not a file")
        fingerprint = self.text("proxmox_fingerprint")
        if fingerprint is not None:
            if _FINGERPRINT.fullmatch(fingerprint):
                fingerprint = fingerprint.upper()
            else:
                self._problem(
                    "proxmox_fingerprint",
                    "must be a SHA-256 fingerprint: 32 hex bytes separated by colons "
                    "(AB:CD:...), as Proxmox shows it under Certificates",
                )
        elif tls == "fingerprint":
            self._missing("proxmox_fingerprint", " (required when proxmox_tls is fingerprint)")

        task_timeout = self.integer("proxmox_task_timeout_s", None, 1, 7 * 86400)

        admin_ids = self.id_list("admin_ids")
        approval_chat_id = self.integer("approval_chat_id", None)
        if approval_chat_id is None and "approval_chat_id" not in self.values:
            self._missing("approval_chat_id", " (the admins' chat for approval cards)")
        notify_chat_id = self.integer("notify_chat_id", None)
        data_dir = self.text("data_dir") or "data"
        audit_retention_days = self.integer("audit_retention_days", 400, 0, 100_000)

        quota = Quota(
            containers=self.integer("default_quota_containers", DEFAULT_QUOTA.containers, 0),
            cores=self.integer("default_quota_cores", DEFAULT_QUOTA.cores, 0),
            memory_mb=self.converted(
                "default_quota_memory_mb", DEFAULT_QUOTA.memory_mb, _size_mb_or_zero
            ),
            disk_gb=self.converted(
                "default_quota_disk_gb", DEFAULT_QUOTA.disk_gb, _disk_gb_or_zero
            ),
        )
        defaults = ApprovalThresholds()
        thresholds = ApprovalThresholds(
            cores=self.integer("approval_cores_above", defaults.cores, 0),
            memory_mb=self.converted(
                "approval_memory_mb_above", defaults.memory_mb, _size_mb_or_zero
            ),
            disk_gb=self.converted("approval_disk_gb_above", defaults.disk_gb, _disk_gb_or_zero),
        )
        ttl = self.integer("approval_ttl_s", 3600, 1)
        backup_defaults = BackupLimits()
        backup_limits = BackupLimits(
            backups=self.integer("default_quota_backups", backup_defaults.backups, 0,
                                 1_000_000),
            gb=self.converted("default_quota_backup_gb", backup_defaults.gb, _disk_gb_or_zero),
            keep_above=self.integer("approval_backup_keep_above", backup_defaults.keep_above,
                                    0, KEEP_MAX),
            min_interval_s=self.integer("backup_schedule_min_interval_s",
                                        backup_defaults.min_interval_s, 0, 31 * 86400),
        )
        template = self.converted("default_template", None, parse_template)
        bridge = self.converted("default_bridge", "vmbr0", parse_bridge)
        pools = self.converted("network_pools", (), parse_pools_setting)
        facts = Facts(
            forwarding_nodes=self.converted("network_forwarding", frozenset(), parse_nodes_setting),
            masquerade=self.converted("network_masquerade", (),
                                      lambda t: parse_node_bridges_setting(t, 3)),
            pc_reachable_via=self.converted("network_pc_via", (),
                                            lambda t: parse_node_bridges_setting(t, 2)),
            nat_port_forwards=tuple(
                PortForward(node, pc, port, ip, proto) for node, pc, port, ip, proto in
                self.converted("network_port_forwards", (), parse_port_forwards_setting) or ()),
            dhcp_bridges=self.converted("network_dhcp", (),
                                        lambda t: parse_node_bridges_setting(t, 2)),
            vbox_vm=self.text("network_vbox_vm") or "pve",
        )
        scaler = {key: self.integer(f"scaler_{key}", default, lo, 86400) for key, default, lo in (
            ("sync_s", 15, 1), ("warmup_s", 30, 0), ("auto_approve_s", 0, 0),
            ("shutdown_timeout_s", 30, 0))}
        limits = self._chat_limits()
        api_listen = self.converted("api_listen", None, parse_listen)
        d_api = ApiLimits()
        api_limits = ApiLimits(
            rate_per_min=self.integer("limits_api_rate_per_min", int(d_api.rate_per_min), 1,
                                      600_000),
            burst=self.integer("limits_api_burst", d_api.burst, 1, 100_000),
        )
        host_ports = self.converted("firewall_host_ports", "22,8006", ports_setting_text)
        user_ports = self.converted("firewall_user_ports", ((1, 65535),), parse_port_ranges)

        if self.problems:
            raise SettingsError(self.problems)
        return Settings(
            telegram_token=telegram_token,
            telegram_base_url=base_url,
            proxmox_host=host,
            proxmox_port=port,
            proxmox_token_id=token_id,
            proxmox_token_secret=token_secret,
            proxmox_user=user,
            proxmox_password=password,
            proxmox_tls=tls,
            proxmox_ca_file=ca_file,
            proxmox_fingerprint=fingerprint,
            proxmox_task_timeout_s=task_timeout,
            admin_ids=admin_ids,
            approval_chat_id=approval_chat_id,
            notify_chat_id=notify_chat_id,
            data_dir=Path(data_dir),
            audit_retention_days=audit_retention_days,
            default_quota=quota,
            approval_thresholds=thresholds,
            approval_ttl_s=ttl,
            backup_limits=backup_limits,
            default_template=template,
            default_bridge=bridge,
            network_pools=pools,
            network_facts=facts,
            **{f"scaler_{key}": value for key, value in scaler.items()},
            chat_limits=limits,
            api_listen=api_listen,
            api_limits=api_limits,
            firewall_host_ports=host_ports,
            firewall_user_ports=user_ports,
        )

    def _chat_limits(self) -> ChatLimits:
        # At least one answer a day to a stranger; a bucket needs a token to serve anyone.
        d = ChatLimits()
        return ChatLimits(
            stranger_answer_every_s=self.integer(
                "limits_stranger_answer_every_s", int(d.stranger_answer_every_s), 1, 86400),
            user_rate_per_min=self.integer(
                "limits_user_rate_per_min", int(d.user_rate_per_min), 1, 6000),
            user_burst=self.integer("limits_user_burst", d.user_burst, 1, 10000),
            admin_rate_per_min=self.integer(
                "limits_admin_rate_per_min", int(d.admin_rate_per_min), 1, 6000),
            admin_burst=self.integer("limits_admin_burst", d.admin_burst, 1, 10000),
        )

    def _check_credentials(self, token_id, token_secret, user, password) -> None:
        if token_id is not None and not _TOKEN_ID.fullmatch(token_id):
            self._problem(
                "proxmox_token_id", f"{token_id!r} is not a token id like root@pam!stratus"
            )
        if user is not None and not _USER.fullmatch(user):
            self._problem("proxmox_user", f"{user!r} is not a user like root@pam")
        if token_id is not None or token_secret is not None:
            if token_id is None:
                self._missing("proxmox_token_id", " (proxmox_token_secret is set)")
            if token_secret is None:
                self._missing("proxmox_token_secret", " (proxmox_token_id is set)")
        elif user is not None or password is not None:
            if user is None:
                self._missing("proxmox_user", " (proxmox_password is set)")
            if password is None:
                self._missing("proxmox_password", " (proxmox_user is set)")
        else:
            self.problems.append(
                "Proxmox credentials are missing: set proxmox_token_id and proxmox_token_secret "
                "(STRATUS_PROXMOX_TOKEN_ID, STRATUS_PROXMOX_TOKEN_SECRET), "
                "or proxmox_user and proxmox_password"
            )


_LISTEN = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):([0-9]{1,5})")
LISTEN_USAGE = "HOST:PORT, e.g. 127.0.0.1:8080 ([::1]:8080 for IPv6; port 0: any free one)"


def parse_listen(text: str) -> tuple[str, int]:
    """Where the REST API listens: ``127.0.0.1:8080``, ``[::1]:8080``."""
    match = _LISTEN.fullmatch(text.strip())
    if not match or int(match.group(2)) > 65535:
        raise UsageError(f"{text.strip()[:60]!r} is not HOST:PORT", LISTEN_USAGE)
    return match.group(1).strip("[]"), int(match.group(2))


def _size_mb_or_zero(text: str) -> int:
    return parse_size_mb(text, 0, 64 * 1024 * 1024)


def _disk_gb_or_zero(text: str) -> int:
    return parse_disk_gb(text, 0, 1024 * 1024)


def _flatten(data: Mapping[str, Any], prefix: str = ""):
    """Yield (dotted key, value) for every leaf of a TOML document."""
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, dotted + ".")
        else:
            yield dotted, value


# Flat keys a file or the environment may set (a section joins its keys with "_").
_KEYS = frozenset(
    {
        "telegram_token",
        "telegram_base_url",
        "proxmox_host",
        "proxmox_port",
        "proxmox_token_id",
        "proxmox_token_secret",
        "proxmox_user",
        "proxmox_password",
        "proxmox_tls",
        "proxmox_ca_file",
        "proxmox_fingerprint",
        "proxmox_task_timeout_s",
        "admin_ids",
        "approval_chat_id",
        "notify_chat_id",
        "data_dir",
        "audit_retention_days",
        "default_quota_containers",
        "default_quota_cores",
        "default_quota_memory_mb",
        "default_quota_disk_gb",
        "approval_cores_above",
        "approval_memory_mb_above",
        "approval_disk_gb_above",
        "approval_ttl_s",
        "default_quota_backups",
        "default_quota_backup_gb",
        "approval_backup_keep_above",
        "backup_schedule_min_interval_s",
        "default_template",
        "default_bridge",
        "network_pools",
        "network_forwarding",
        "network_masquerade",
        "network_pc_via",
        "network_port_forwards",
        "network_vbox_vm",
        "network_dhcp",
        "scaler_sync_s",
        "scaler_warmup_s",
        "scaler_auto_approve_s",
        "scaler_shutdown_timeout_s",
        "limits_stranger_answer_every_s",
        "limits_user_rate_per_min",
        "limits_user_burst",
        "limits_admin_rate_per_min",
        "limits_admin_burst",
        "api_listen",
        "limits_api_rate_per_min",
        "limits_api_burst",
        "firewall_host_ports",
        "firewall_user_ports",
    }
)
