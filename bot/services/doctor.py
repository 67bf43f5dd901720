"""/doctor: is Stratus's Proxmox set up right? Each check is one line, OK or what to fix.

The checks run in the order a person would fix things: the address answers, the certificate is
the one we trust, the credentials work, the token holds the privileges Stratus uses, nodes are
online, a storage takes container disks and one takes backups, a template exists. A failure
early on (nothing answers) makes the later checks pointless, so they are skipped with a note.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.proxmox import Proxmox, errors
from bot.services.access import AccessService

# Privileges Stratus uses, and why (on "/", i.e. everywhere).
NEEDED_PRIVILEGES: dict[str, str] = {
    "VM.Allocate": "create and delete containers",
    "VM.Audit": "read container configs",
    "VM.PowerMgmt": "start and stop containers",
    "VM.Config.Options": "change container settings",
    "VM.Config.CPU": "change a container's cores (/resize)",
    "VM.Config.Memory": "change a container's memory (/resize)",
    "VM.Config.Disk": "grow a container's disk (/resize)",
    "VM.Config.Network": "change container NICs and their firewall",
    "VM.Clone": "clone containers",
    "VM.Backup": "back up containers",
    "Datastore.AllocateSpace": "allocate container disks",
    "Datastore.Audit": "list templates and storages",
    "Sys.Audit": "read nodes and the network",
    "Sys.Modify": "create and apply bridges, set up the firewall's ipsets and group",
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
    def __init__(self, px: Proxmox, access: AccessService) -> None:
        self._px = px
        self._access = access
        self.firewall = None  # bot.services.firewall.FirewallService, wired by build_services

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
        if self.firewall is not None:
            out.append(await self._firewall())
        return out

    async def _firewall(self) -> Check:
        """Tenants' CTs are kept apart by Proxmox's firewall, which filters nothing at all
        until the datacenter firewall is on."""
        try:
            on = await self.firewall.datacenter_enabled()
        except errors.ProxmoxError as exc:
            return Check(False, "cannot read the datacenter firewall's options", str(exc))
        if on:
            return Check(True, "the datacenter firewall is on: each tenant's containers are "
                               "isolated from other tenants' and from the hosts' management "
                               "ports")
        return Check(False, "the datacenter firewall is off, so the rules Stratus gives every "
                            "container filter nothing: any container reaches any other "
                            "tenant's and the hosts' management ports",
                     "turn it on in Datacenter > Firewall > Options > Firewall: Yes (or "
                     "pvesh set /cluster/firewall/options --enable 1); first make sure the "
                     "host firewall lets you in (it accepts ports 8006 and 22 from the "
                     "cluster's local network only)")

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
