"""Values exchanged with callers of `bot.proxmox`, and their translation to and from PVE.

PVE describes NICs and disks as property strings (``name=eth0,bridge=vmbr0,ip=dhcp``); the
functions here are the one place that writes and reads them.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class NicSpec:
    """One container NIC: `name` is the config key (net0..), the interface inside is eth<n>."""

    name: str = "net0"
    bridge: str = "vmbr0"
    ip: str | None = None  # "10.0.0.5/24"
    gw: str | None = None
    dhcp: bool = False
    firewall: bool = True

    def to_pve(self) -> str:
        index = self.name[3:] if self.name.startswith("net") else "0"
        parts = [f"name=eth{index}", f"bridge={self.bridge}"]
        if self.dhcp:
            parts.append("ip=dhcp")
        elif self.ip:
            parts.append(f"ip={self.ip}")
            if self.gw:
                parts.append(f"gw={self.gw}")
        parts.append(f"firewall={int(self.firewall)}")
        return ",".join(parts)

    @classmethod
    def from_pve(cls, key: str, value: str) -> NicSpec:
        props = parse_property_string(value)
        ip = props.get("ip")
        return cls(
            name=key,
            bridge=props.get("bridge", ""),
            ip=None if ip in (None, "dhcp", "manual") else ip,
            gw=props.get("gw"),
            dhcp=ip == "dhcp",
            firewall=props.get("firewall", "0") in ("1", "on", "yes", "true"),
        )


@dataclass(frozen=True)
class ContainerSpec:
    """What to create. `template` is a volid or a short name such as ``debian-12``."""

    hostname: str
    template: str
    cores: int = 1
    memory_mb: int = 512
    swap_mb: int = 512
    disk_gb: int = 8
    storage: str | None = None  # None: a storage of the node with content rootdir
    nics: tuple[NicSpec, ...] = (NicSpec(),)
    ssh_public_key: str | None = None
    password: str | None = field(default=None, repr=False)  # None and no key: generated
    unprivileged: bool = True
    node: str | None = None
    # With no `node`: the node to choose when it can take the CT (its owner's other CTs are
    # there), else placement's usual choice.
    prefer_node: str | None = None
    tags: tuple[str, ...] = ()
    description: str | None = None
    start: bool = False


@dataclass(frozen=True)
class Container:
    vmid: int
    node: str
    hostname: str
    status: str
    cores: int
    memory_mb: int
    swap_mb: int
    disk_gb: float
    uptime: int
    cpu: float  # 0..1 of its cores
    mem_used_mb: int
    nics: tuple[NicSpec, ...]
    ips: tuple[str, ...]
    tags: tuple[str, ...]
    lock: str | None
    template: bool
    ostype: str | None


    @property
    def identity(self) -> str | None:
        """The identity marker the bot gave this CT (see `identity_of`), or None."""
        return identity_of(self.tags)


# A CT the bot makes carries a tag ``stratus-<12 hex>`` set in the create/clone/restore call
# itself. Proxmox keeps it with the CT and drops it with the CT, while a vmid is handed out
# again: ownership, approvals and group membership name this marker, never the number alone.
IDENTITY_TAG = re.compile(r"^stratus-[0-9a-f]{12}$")


def new_identity() -> str:
    return f"stratus-{secrets.token_hex(6)}"


def identity_of(tags: tuple[str, ...] | list[str]) -> str | None:
    return next((t for t in tags if IDENTITY_TAG.match(t)), None)


@dataclass(frozen=True)
class NodeInfo:
    name: str
    online: bool
    cpus: int
    cpu_used: float
    mem_total_mb: int
    mem_free_mb: int


@dataclass(frozen=True)
class Template:
    volid: str
    name: str
    size: int


@dataclass(frozen=True)
class CreateResult:
    vmid: int
    node: str
    password: str | None = field(default=None, repr=False)  # only when generated


def parse_property_string(value: str, default_key: str | None = None) -> dict[str, str]:
    """``a=1,b=2`` -> dict; a bare leading item belongs to `default_key` (e.g. rootfs' volume)."""
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in value.split(","))):
        key, sep, val = item.partition("=")
        if sep:
            out[key] = val
        elif default_key:
            out[default_key] = key
    return out


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]?)$", re.I)
_SIZE_FACTOR = {"": 1 / GIB, "K": 1 / 1024**2, "M": 1 / 1024, "G": 1.0, "T": 1024.0}


def size_to_gb(size: str) -> float:
    """PVE disk sizes (``8G``, ``512M``, bare bytes) in GiB."""
    m = _SIZE.match(size.strip())
    if not m:
        return 0.0
    return float(m.group(1)) * _SIZE_FACTOR[m.group(2).upper()]


def split_tags(tags: str | None) -> tuple[str, ...]:
    """PVE stores tags as ``a;b`` (it also accepts commas and spaces on input)."""
    return tuple(t for t in re.split(r"[;, ]+", tags or "") if t)


def container_from(
    resource: dict, config: dict | None = None, status: dict | None = None
) -> Container:
    """Build a Container from a /cluster/resources entry, optionally enriched by config/status.

    Without `config`, NICs, IPs, swap and ostype are unknown and left empty/0: the listing
    (one request for the whole cluster) does not carry them; `get_container` does.
    """
    config = config or {}
    status = status or {}
    merged = {**resource, **status}
    nics = tuple(
        NicSpec.from_pve(key, config[key])
        for key in sorted(config, key=_net_index)
        if re.fullmatch(r"net\d+", key)
    )
    ips = tuple(n.ip.split("/")[0] for n in nics if n.ip)
    disk_gb = merged.get("maxdisk", 0) / GIB
    if "rootfs" in config:
        size = parse_property_string(config["rootfs"], "volume").get("size")
        if size:
            disk_gb = size_to_gb(size)
    return Container(
        vmid=int(merged["vmid"]),
        node=resource.get("node", ""),
        hostname=config.get("hostname") or merged.get("name") or f"CT{merged['vmid']}",
        status=merged.get("status", "unknown"),
        cores=int(config.get("cores") or merged.get("cpus") or merged.get("maxcpu") or 0),
        memory_mb=int(config.get("memory") or merged.get("maxmem", 0) // MIB),
        swap_mb=int(config.get("swap", merged.get("maxswap", 0) // MIB)),
        disk_gb=round(disk_gb, 2),
        uptime=int(merged.get("uptime") or 0),
        cpu=float(merged.get("cpu") or 0.0),
        mem_used_mb=int((merged.get("mem") or 0) // MIB),
        nics=nics,
        ips=ips,
        tags=split_tags(config.get("tags", merged.get("tags"))),
        lock=config.get("lock") or merged.get("lock") or None,
        template=str(config.get("template", merged.get("template", 0))) in ("1", "True", "true"),
        ostype=config.get("ostype"),
    )


def _net_index(key: str) -> int:
    return int(key[3:]) if re.fullmatch(r"net\d+", key) else -1
