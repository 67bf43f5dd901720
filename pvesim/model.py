"""The simulated cluster: nodes, storages, volumes, guests (LXC) and tasks.

Plain dataclasses that the API handlers read and change, and that tests read and poke through the
hooks on ``Cluster`` (``set_lock``, ``set_node_online``, ``fail_next_task``, ``fail_next_request``,
``cut_next_log``, ``hold_next_task``, ``add_guest``).
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass, field
from typing import Any

from .firewall import Firewall
from .load import LoadModel

GIB = 1 << 30
MIB = 1 << 20

DEFAULT_TEMPLATES = (
    "debian-12-standard_12.7-1_amd64.tar.zst",
    "ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
    "alpine-3.20-default_20240908_amd64.tar.xz",
)

# Simulated durations in seconds per task type (multiplied by the simulator's time_scale).
DEFAULT_DURATIONS = {
    "vzcreate": 2.0,
    "vzstart": 1.0,
    "vzstop": 1.0,
    "vzshutdown": 2.0,
    "vzreboot": 2.0,
    "vzclone": 3.0,
    "vzdestroy": 1.0,
    "vzsnapshot": 1.0,
    "vzdelsnapshot": 1.0,
    "vzmigrate": 4.0,
    # backups: seconds per GiB of the CT's disk (an 8 GiB CT: 60 s; an 80 GiB CT: 10 minutes)
    "vzdump": 7.5,
    "vzrestore": 5.0,
    "imgdel": 0.5,
    "srvreload": 1.0,
    "reloadnetworkall": 1.0,
}


@dataclass
class Volume:
    """A volume in a storage: a template, a backup or a guest disk."""

    volid: str  # "local:vztmpl/debian-12-...tar.zst", "local-lvm:vm-101-disk-0"
    content: str  # vztmpl, iso, backup, rootdir, images
    size: int
    format: str
    ctime: int = field(default_factory=lambda: int(time.time()))
    vmid: int | None = None
    notes: str | None = None
    protected: bool = False
    config: dict[str, Any] | None = None  # a backup: the CT config it holds (extractconfig)

    def as_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "volid": self.volid, "content": self.content, "size": self.size,
            "format": self.format, "ctime": self.ctime,
        }
        if self.vmid is not None:
            out["vmid"] = self.vmid
        if self.content == "backup":
            out["subtype"] = "qemu" if "vzdump-qemu-" in self.volid else "lxc"
            out["notes"] = self.notes or ""
            out["protected"] = int(self.protected)
        return out


@dataclass
class Storage:
    id: str
    type: str  # dir, lvmthin, ...
    content: set[str]
    total: int = 100 * GIB
    base_used: int = 4 * GIB  # what the OS and other files take
    shared: bool = False
    enabled: bool = True
    volumes: dict[str, Volume] = field(default_factory=dict)

    @property
    def used(self) -> int:
        return self.base_used + sum(v.size for v in self.volumes.values())

    def content_str(self) -> str:
        return ",".join(sorted(self.content))


@dataclass
class Node:
    name: str
    cpus: int = 8
    memory: int = 32 * GIB  # bytes
    online: bool = True
    storages: dict[str, Storage] = field(default_factory=dict)
    bridges: set[str] = field(default_factory=lambda: {"vmbr0"})
    # /etc/network/interfaces (running) and interfaces.new (staged, None when there is none);
    # iface -> its settings as the API lists them. Filled lazily by pvesim.api.network.
    interfaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    interfaces_new: dict[str, dict[str, Any]] | None = None
    boot_time: float = field(default_factory=lambda: time.time() - 86400)
    cpu_load: float = 0.03  # fraction of all cores in use by the host itself

    @property
    def uptime(self) -> int:
        return int(time.time() - self.boot_time)


@dataclass
class Guest:
    """An LXC container. ``config`` holds the values as PVE's config file does (ints for sizes)."""

    vmid: int
    node: str
    config: dict[str, Any]
    status: str = "stopped"  # running | stopped
    started_at: float | None = None
    cpu_usage: float = 0.02  # fraction of its cores in use while running
    # name -> {"config": the config then, "snaptime", "description"[, "parent"]}, as the
    # [snapshot] sections of PVE's config file (the current config's "parent" names the last)
    snapshots: dict[str, dict[str, Any]] = field(default_factory=dict)
    # /root/.ssh/authorized_keys in its root filesystem: written by a create's ssh-public-keys,
    # copied by a clone. The API cannot read it; tests can (as a person would, by logging in).
    authorized_keys: str | None = None

    @property
    def lock(self) -> str | None:
        return self.config.get("lock")

    @property
    def name(self) -> str:
        return str(self.config.get("hostname", f"CT{self.vmid}"))

    @property
    def uptime(self) -> int:
        return int(time.time() - self.started_at) if self.status == "running" and self.started_at else 0

    @property
    def maxmem(self) -> int:
        return int(self.config.get("memory", 512)) * MIB

    @property
    def maxswap(self) -> int:
        return int(self.config.get("swap", 512)) * MIB

    @property
    def maxdisk(self) -> int:
        from .formats import parse_size  # local: formats has no model dependency either way

        rootfs = str(self.config.get("rootfs", ""))
        for part in rootfs.split(","):
            if part.startswith("size="):
                return parse_size(part[5:])
        return 0

    @property
    def cpus(self) -> int:
        return int(self.config.get("cores", 1))

    @property
    def mem(self) -> int:
        return int(self.maxmem * 0.25) if self.status == "running" else 0

    @property
    def cpu(self) -> float:
        return round(self.cpu_usage, 4) if self.status == "running" else 0.0

    def digest(self) -> str:
        text = "".join(f"{k}: {v}\n" for k, v in sorted(self.config.items()))
        return hashlib.sha1(text.encode()).hexdigest()


@dataclass
class Task:
    """A worker task, identified by its UPID (../shared/pve-api/README.md, items 1 and 2)."""

    upid: str
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str  # as in the UPID: "root@pam!stratus" for a token
    status: str = "running"
    exitstatus: str | None = None
    endtime: int | None = None
    lines: list[str] = field(default_factory=list)

    def log(self, line: str) -> None:
        self.lines.append(line)

    def as_api(self) -> dict[str, Any]:
        user, _, tokenid = self.user.partition("!")
        out: dict[str, Any] = {
            "upid": self.upid, "node": self.node, "pid": self.pid, "pstart": self.pstart,
            "starttime": self.starttime, "type": self.type, "id": self.id, "user": user,
            "status": self.status,
        }
        if tokenid:
            out["tokenid"] = tokenid
        if self.status == "stopped":
            out["exitstatus"] = self.exitstatus
        return out


def make_upid(node: str, pid: int, pstart: int, starttime: int, wtype: str, wid: str, user: str) -> str:
    return f"UPID:{node}:{pid:08X}:{pstart:08X}:{starttime:08X}:{wtype}:{wid}:{user}:"


def default_storages() -> dict[str, Storage]:
    local = Storage("local", "dir", {"vztmpl", "backup", "iso"}, total=100 * GIB)
    for name in DEFAULT_TEMPLATES:
        add_template(local, name)
    lvm = Storage("local-lvm", "lvmthin", {"rootdir", "images"}, total=200 * GIB, base_used=0)
    return {"local": local, "local-lvm": lvm}


def template_format(name: str) -> str:
    """PVE lists a template's format as ``t`` + compression: tzst, txz, tgz."""
    for ext, fmt in ((".tar.zst", "tzst"), (".tar.xz", "txz"), (".tar.gz", "tgz")):
        if name.endswith(ext):
            return fmt
    return "raw"


def add_template(storage: Storage, name: str, size: int = 120 * MIB) -> Volume:
    volid = f"{storage.id}:vztmpl/{name}"
    vol = Volume(volid, "vztmpl", size, template_format(name))
    storage.volumes[volid] = vol
    return vol


class Cluster:
    """Nodes, guests and tasks, plus the hooks tests use to arrange situations."""

    def __init__(self, name: str = "stratus", nodes: list[Node] | None = None):
        self.name = name
        self.nodes: dict[str, Node] = {}
        for node in nodes or [Node("pve1", storages=default_storages()),
                              Node("pve2", storages=default_storages())]:
            self.nodes[node.name] = node
        self.guests: dict[int, Guest] = {}
        self.tasks: dict[str, Task] = {}
        self.durations: dict[str, float] = dict(DEFAULT_DURATIONS)
        self.failures: dict[str, str] = {}  # task type -> message for its next run
        # (method, path or route template, status, message) of the next requests to fail
        self.request_failures: list[tuple[str, str, int, str]] = []
        self.log_cuts: dict[str, int] = {}  # task type -> lines its next run's log loses
        self.holds: set[str] = set()  # task types whose next run does not end by itself
        self.held: set[str] = set()  # UPIDs of the tasks held now (until release_task)
        self.load = LoadModel()  # scaling groups' service load -> replica CPU (pvesim/load.py)
        # Backups (pvesim.api.backup, pvesim.scheduler): /cluster/backup jobs by id, injected
        # guest failures, and the simulated clock's offset from the real one (sim.advance).
        self.backup_jobs: dict[str, dict[str, Any]] = {}
        self.backup_failures: dict[int, str] = {}  # vmid -> reason of its next backup failure
        self.backup_job_failures: list[tuple[str, str | None]] = []  # (exit status, ERROR line)
        self.backup_job_end_failures: list[str] = []  # reasons: jobs failing after their guests
        self.clock_offset = 0.0
        self.pools: set[str] = set()  # resource pools (pveum pool add)
        # SDN: the edited configuration (/etc/pve/sdn/*.cfg) and the one last applied
        # (.running-config); each {"zones": {id: {...}}, "vnets": {...}, "subnets": {...}}.
        self.sdn: dict[str, dict[str, dict[str, Any]]] = {"zones": {}, "vnets": {}, "subnets": {}}
        self.sdn_running: dict[str, dict[str, dict[str, Any]]] = {
            "zones": {}, "vnets": {}, "subnets": {}}
        self.firewall = Firewall()  # cluster.fw and the guests' <vmid>.fw (pvesim.firewall)
        self._pid = random.randint(0x1000, 0x8000)

    # ---- hooks for tests and benches -------------------------------------------------------
    def now(self) -> float:
        """The cluster's clock: real time moved forward by ``Simulator.advance``."""
        return time.time() + self.clock_offset

    def fail_next_backup(self, vmid: int, reason: str) -> None:
        """The next vzdump of ``vmid`` logs ``ERROR: Backup of VM <vmid> failed - <reason>``."""
        self.backup_failures[vmid] = reason

    def fail_next_backup_job(self, reason: str, error: str | None = None) -> None:
        """The next vzdump task fails before it starts any guest (as when its global lock is
        held or its storage cannot be used): ``ERROR: <error>`` if given, then ``TASK ERROR:
        <reason>``, and no per-guest line."""
        self.backup_job_failures.append((reason, error))

    def fail_next_backup_job_end(self, reason: str) -> None:
        """The next vzdump task backs up its guests (each line says so), then fails as a whole,
        as when its job-end hook script fails: ``ERROR: Backup job failed - <reason>`` and
        ``TASK ERROR: <reason>``."""
        self.backup_job_end_failures.append(reason)

    def set_lock(self, vmid: int, lock: str | None) -> None:
        """Set (or with None clear) a guest's lock, e.g. ``backup`` as if vzdump ran."""
        guest = self.guests[vmid]
        if lock is None:
            guest.config.pop("lock", None)
        else:
            guest.config["lock"] = lock

    def set_node_online(self, node: str, online: bool) -> None:
        """An offline node answers requests proxied to it with 595 and shows offline."""
        self.nodes[node].online = online

    def fail_next_task(self, task_type: str, message: str) -> None:
        """The next task of ``task_type`` (e.g. ``vzcreate``) ends with ``TASK ERROR: message``."""
        self.failures[task_type] = message

    def fail_next_request(self, method: str, path: str, message: str,
                          status: int = 500) -> None:
        """The next ``method`` request to ``path`` (as sent, e.g. ``/cluster/sdn/vnets/n1/subnets``,
        or its route template, ``/cluster/sdn/vnets/{vnet}/subnets``) is answered ``status`` with
        ``message`` as PVE's reason, after its parameters pass and before it changes anything
        (as a ``cfs-lock`` timeout on /etc/pve does)."""
        self.request_failures.append((method.upper(), path, status, message))

    def take_request_failure(self, method: str, path: str, template: str) -> tuple[int, str] | None:
        """The failure injected for this request, if any (it is used up)."""
        for i, (m, p, status, message) in enumerate(self.request_failures):
            if m == method and p in (path, template):
                del self.request_failures[i]
                return status, message
        return None

    def cut_next_log(self, task_type: str, lines: int = 1) -> None:
        """The next task of ``task_type`` ends with the last ``lines`` lines of its log lost
        (its ``TASK OK``/``TASK ERROR`` line first), as a truncated log file on the node reads;
        its status still says ``stopped`` with the exit status."""
        self.log_cuts[task_type] = lines

    def hold_next_task(self, task_type: str) -> None:
        """The next task of ``task_type`` never ends by itself, as a ``pct create`` hung on a
        storage that stopped answering: its status says ``running`` (the guest keeps its lock)
        until ``release_task(upid)`` or the simulator stops."""
        self.holds.add(task_type)

    def release_task(self, upid: str) -> None:
        """A task held by ``hold_next_task`` goes on and ends as it would have."""
        self.held.discard(upid)

    def set_load(self, group: str, rps: float) -> None:
        """Group ``group`` (CTs tagged with it) now receives ``rps`` requests per second."""
        self.load.set_load(group, rps)

    def add_guest(self, vmid: int, node: str, status: str = "stopped", **config: Any) -> Guest:
        """A pre-existing CT (as a scenario file declares it). Config keys as in PVE's config."""
        cfg: dict[str, Any] = {
            "hostname": f"ct{vmid}", "cores": 1, "memory": 512, "swap": 512,
            "ostype": "debian", "arch": "amd64", "unprivileged": 1,
            "rootfs": f"local-lvm:vm-{vmid}-disk-0,size=8G",
            "net0": f"name=eth0,bridge=vmbr0,hwaddr={random_mac()},ip=dhcp,type=veth",
        }
        cfg.update(config)
        guest = Guest(vmid, node, cfg, status=status)
        if status == "running":
            guest.started_at = time.time() - 3600
        self.guests[vmid] = guest
        self.register_disks(guest)
        return guest

    # ---- helpers for the handlers -----------------------------------------------------------
    def register_disks(self, guest: Guest) -> None:
        """Record the guest's rootfs volume in its storage (so content and usage show it)."""
        volume = str(guest.config.get("rootfs", "")).split(",")[0]
        storage_id, sep, _ = volume.partition(":")
        storage = self.nodes[guest.node].storages.get(storage_id) if sep else None
        if storage is not None:
            storage.volumes[volume] = Volume(volume, "rootdir", guest.maxdisk, "raw", vmid=guest.vmid)

    def drop_disks(self, guest: Guest) -> list[str]:
        """Remove every volume of ``guest`` from its node's storages; returns their volids."""
        gone = []
        for storage in self.nodes[guest.node].storages.values():
            for volid in [v for v, vol in storage.volumes.items()
                          if vol.vmid == guest.vmid and vol.content in ("rootdir", "images")]:
                del storage.volumes[volid]
                gone.append(volid)
        return gone

    def next_free_vmid(self, start: int = 100) -> int:
        vmid = start
        while vmid in self.guests:
            vmid += 1
        return vmid

    def new_task(self, node: str, wtype: str, wid: str, user: str) -> Task:
        self._pid += 1
        now = int(self.now())
        pstart = int((time.time() - self.nodes[node].boot_time) * 100)
        upid = make_upid(node, self._pid, pstart, now, wtype, wid, user)
        task = Task(upid, node, self._pid, pstart, now, wtype, wid, user)
        self.tasks[upid] = task
        return task


def random_mac() -> str:
    """A MAC with Proxmox's OUI (BC:24:11), as PVE generates them."""
    return "BC:24:11:" + ":".join(f"{random.randint(0, 255):02X}" for _ in range(3))
