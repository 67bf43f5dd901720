"""/doctor: is Stratus's Proxmox set up right? Each check is one line, OK or what to fix.

The checks run in the order a person would fix things: the address answers, the certificate is
the one we trust, the credentials work, the token holds the privileges Stratus uses, nodes are
online, a storage takes container disks and one takes backups, a template exists. A failure
early on (nothing answers) makes the later checks pointless, so they are skipped with a note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.proxmox import Proxmox, errors
from bot.services.access import AccessService
from bot.services.netcheck import Facts

# Where Stratus reaches Proxmox through a NAT port forward of the machine it runs on (the lab:
# Proxmox in a VirtualBox VM behind NAT, its port 8006 forwarded to the PC).
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
PVE_API_PORT = 8006

# Privileges Stratus uses, and why (on "/", i.e. everywhere).
NEEDED_PRIVILEGES: dict[str, str] = {
    "VM.Allocate": "create and delete containers",
    "VM.Audit": "read container configs",
    "VM.PowerMgmt": "start and stop containers",
    "VM.Config.Options": "change container settings",
    "VM.Config.Network": "change container NICs",
    "VM.Clone": "clone containers",
    "VM.Backup": "back up containers",
    "Datastore.AllocateSpace": "allocate container disks",
    "Datastore.Audit": "list templates and storages",
    "Sys.Audit": "read nodes and the network",
    "Sys.Modify": "create and apply bridges",
    "SDN.Audit": "read SDN networks",
    "SDN.Allocate": "create NAT networks",
    "SDN.Use": "attach containers to SDN networks",
}


@dataclass(frozen=True)
class Check:
    ok: bool
    what: str
    fix: str = ""

    def __str__(self) -> str:
        return f"✅ {self.what}" if self.ok else f"❌ {self.what}" + (f": {self.fix}" if self.fix else "")


class DoctorService:
    def __init__(self, px: Proxmox, access: AccessService,
                 facts: Callable[[], Facts] = Facts) -> None:
        self._px = px
        self._access = access
        self._facts = facts  # the network facts of the moment (settings, then /netfacts)

    async def run(self, actor_id: int) -> list[Check]:
        self._access.policy.authorize(actor_id, "doctor")
        s = self._px.settings
        where = f"{s.host}:{s.port}"
        out: list[Check] = []
        try:
            probe = await self._px.probe_tls()
        except errors.ProxmoxError as exc:
            return [Check(False, f"API at {where} does not answer", str(exc)),
                    Check(False, "other checks skipped", "fix the connection first")]
        out.append(Check(True, f"API reachable at {where}"))
        out.append(self._tls(probe))
        try:
            version = await self._px.version()
        except errors.ProxmoxError as exc:
            out.append(Check(False, "the API refused Stratus's credentials", str(exc)))
            return out
        out.append(Check(True, f"Proxmox VE {version.get('version', '?')} "
                               f"(release {version.get('release', '?')})"))
        out.append(await self._permissions())
        out += await self._cluster()
        if s.host in _LOOPBACK:
            nat = await self._nat_forward(s.port)
            out += [nat] if nat else []
        return out

    async def _nat_forward(self, port: int) -> Check | None:
        """Proxmox answers on the PC's own address: behind NAT (a bridge is declared to lead to
        the PC), through a port forward, which the API cannot show; /netcheck pc host reasons
        from the declared one, so it must be there. (Stratus may also run on the node itself:
        with no NAT declared, nothing is said.)"""
        facts = self._facts()
        forwards = [f for f in facts.nat_port_forwards
                    if f.pc_port == port and f.target_ip is None and f.proto == "tcp"]
        if forwards:
            f = forwards[0]
            return Check(True, f"the PC reaches {f.node}'s API through the NAT port forward "
                               f"{port}->{f.target_port} (declared: /netfacts)")
        if not facts.pc_reachable_via:
            return None
        try:
            node = next((n.name for n in await self._px.overview() if n.online), "pve1")
        except errors.ProxmoxError:
            node = "pve1"
        return Check(False, f"Proxmox answers at 127.0.0.1:{port}, the PC's end of a NAT port "
                            "forward, but no such forward is declared",
                     f"declare it: /netfacts add port_forwards {node}:{port}->{PVE_API_PORT} "
                     f"(on VirtualBox: VBoxManage controlvm {facts.vbox_vm} natpf1 "
                     f"\"pve-api,tcp,127.0.0.1,{port},,{PVE_API_PORT}\")")

    def _tls(self, probe) -> Check:
        s = self._px.settings
        fp = probe.fingerprint
        if s.fingerprint:
            pinned = s.fingerprint.replace(":", "").upper()
            if fp.replace(":", "") == pinned:
                return Check(True, f"TLS certificate matches the pinned fingerprint {fp}")
            return Check(False, f"TLS certificate fingerprint is {fp}, not the pinned one",
                         "compare with the Proxmox GUI (Node > System > Certificates) and update "
                         "proxmox.fingerprint, or find who intercepts the connection")
        if not s.verify_tls:
            return Check(False, f"TLS is not verified (certificate {fp})",
                         f"pin it: proxmox.tls = \"fingerprint\", proxmox.fingerprint = \"{fp}\"")
        if probe.verified_by_ca:
            return Check(True, f"TLS certificate verified by the CA (fingerprint {fp})")
        return Check(False, f"TLS certificate not trusted ({probe.error})",
                     f"set proxmox.ca_file to PVE's CA (/etc/pve/pve-root-ca.pem) or pin "
                     f"proxmox.fingerprint = \"{fp}\"")

    async def _permissions(self) -> Check:
        try:
            perms = await self._px.permissions("/")
        except errors.ProxmoxError as exc:
            return Check(False, "cannot read the token's permissions", str(exc))
        granted = {p for privs in perms.values() for p, v in privs.items() if v}
        missing = [p for p in NEEDED_PRIVILEGES if p not in granted]
        if not missing:
            return Check(True, f"the token has the {len(NEEDED_PRIVILEGES)} privileges Stratus uses")
        why = "; ".join(f"{p} ({NEEDED_PRIVILEGES[p]})" for p in missing)
        return Check(False, f"the token lacks {', '.join(missing)}",
                     f"grant them on / (needed to {why}), e.g. pveum acl modify / --tokens "
                     f"'{self._px.settings.token_id or 'user@realm!token'}' --roles "
                     "PVEAdmin, or disable privilege separation")

    async def _cluster(self) -> list[Check]:
        out = []
        try:
            nodes = await self._px.overview()
            storages = await self._px.storages()
            templates = await self._px.templates()
        except errors.ProxmoxError as exc:
            return [Check(False, "cannot read the cluster", str(exc))]
        online = [n.name for n in nodes if n.online]
        offline = [n.name for n in nodes if not n.online]
        if online and not offline:
            out.append(Check(True, f"nodes online: {', '.join(online)}"))
        elif online:
            out.append(Check(False, f"nodes online: {', '.join(online)}; offline: "
                                    f"{', '.join(offline)}", "bring the offline nodes back"))
        else:
            out.append(Check(False, "no node is online", "start the Proxmox node(s)"))

        def having(content: str) -> list[str]:
            return sorted({f"{s['storage']}" for s in storages if s.get("node") in online
                           and content in str(s.get("content", "")).split(",")})

        for content, label, fix in (
            ("rootdir", "container disks", "enable content 'Container' on a storage "
                                           "(Datacenter > Storage), e.g. local-lvm"),
            ("backup", "backups", "enable content 'VZDump backup file' on a storage, e.g. local"),
        ):
            names = having(content)
            out.append(Check(True, f"storage for {label}: {', '.join(names)}") if names else
                       Check(False, f"no storage for {label}", fix))
        if templates:
            out.append(Check(True, f"{len(templates)} container template(s), e.g. "
                                   f"{templates[0].name}"))
        else:
            out.append(Check(False, "no container template",
                             "download one: pveam update && pveam download local "
                             "debian-12-standard_12.7-1_amd64.tar.zst"))
        return out
