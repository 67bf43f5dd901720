"""/doctor: is Stratus's Proxmox set up right? Each check is one line, OK or what to fix.

The checks run in the order a person would fix things: the address answers, the certificate is
the one we trust, the credentials work, the token holds the privileges Stratus uses, nodes are
online, a storage takes container disks and one takes backups, a template exists. A failure
early on (nothing answers) makes the later checks pointless, so they are skipped with a note.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from bot.proxmox import Proxmox, errors
from bot.proxmox import privileges as needed
from bot.services.access import AccessService
from bot.services.netcheck import Facts

# Where Stratus reaches Proxmox through a NAT port forward of the machine it runs on (the lab:
# Proxmox in a VirtualBox VM behind NAT, its port 8006 forwarded to the PC).
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
PVE_API_PORT = 8006


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
        route = f" through proxy {probe.via}" if probe.via else ""
        out.append(Check(True, f"API reachable at {where}{route}"))
        tls = self._tls(probe)
        out.append(tls)
        if not tls.ok and s.fingerprint and probe.fingerprint:  # the API would refuse it too
            out.append(Check(False, "other checks skipped", "fix the TLS pin first"))
            return out
        try:
            version = await self._px.version()
        except errors.TLSError as exc:
            out.append(Check(False, "the API connection's TLS check failed", str(exc)))
            return out
        except errors.ProxmoxError as exc:
            out.append(Check(False, "the API refused Stratus's credentials", str(exc)))
            return out
        if s.fingerprint and not probe.fingerprint:  # the probe could not take the route
            out[-1] = Check(True, f"TLS pin verified on the API connection itself{route} "
                                  f"(the probe could not: {probe.error})")
        out.append(Check(True, f"Proxmox VE {version.get('version', '?')} "
                               f"(release {version.get('release', '?')})"))
        out += await self._permissions()
        out += await self._cluster()
        if s.host in _LOOPBACK:
            nat = await self._nat_forward(s.port)
            out += [nat] if nat else []
        if self.firewall is not None:
            out.append(await self._firewall())
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
        """What was verified, on the route the API connection takes (through its proxy: an
        intercepting proxy shows its own certificate here, as it would to the API). In pin
        mode the API connection checks the pin on its own TLS session too, proxy or not."""
        s = self._px.settings
        fp = probe.fingerprint
        route = f" through proxy {probe.via}" if probe.via else ""
        if s.fingerprint:
            if not fp:
                return Check(False, f"TLS pin not checked yet{route}", probe.error or "")
            pinned = s.fingerprint.replace(":", "").upper()
            if fp.replace(":", "") == pinned:
                return Check(True, f"TLS certificate{route} matches the pinned fingerprint {fp} "
                                   "(checked on every API connection)")
            return Check(False, f"TLS certificate{route} fingerprint is {fp}, not the pinned one",
                         "compare with the Proxmox GUI (Node > System > Certificates) and update "
                         "proxmox.fingerprint, or find who intercepts the connection"
                         + (" (the proxy?)" if probe.via else ""))
        if not s.verify_tls:
            return Check(False, f"TLS is not verified (certificate {fp})",
                         f"pin it: proxmox.tls = \"fingerprint\", proxmox.fingerprint = \"{fp}\"")
        if probe.verified_by_ca:
            return Check(True, f"TLS certificate verified by the CA (fingerprint {fp})")
        return Check(False, f"TLS certificate not trusted ({probe.error})",
                     f"set proxmox.ca_file to PVE's CA (/etc/pve/pve-root-ca.pem) or pin "
                     f"proxmox.fingerprint = \"{fp}\"")

    async def _permissions(self) -> list[Check]:
        """What Proxmox says the token may do on each path Stratus works on (GET
        /access/permissions?path=...: a privilege-separated token holds only its own ACL
        entries), against `bot.proxmox.privileges`: one line per feature that lacks some."""
        paths = needed.paths()
        try:
            answers = await asyncio.gather(*(self._px.permissions(path) for path in paths))
        except errors.ProxmoxError as exc:
            return [Check(False, "cannot read the token's permissions", str(exc))]
        granted = {path: set(answer.get(path, {}))
                   for path, answer in zip(paths, answers, strict=True)}
        lacking = needed.missing(granted)
        if not lacking:
            return [Check(True, f"the token has the {len(needed.PRIVILEGES)} privileges "
                                "Stratus uses")]
        who = self._px.settings.token_id or self._px.settings.user or "user@realm!token"
        out = []
        for feature, needs in lacking.items():
            what = ", ".join(f"{n.privilege} on {n.path}" for n in needs)
            why = "; ".join(f"{n.privilege}: {n.why}" for n in needs)
            out.append(Check(False, f"{feature}: missing {what}", why))
        out.append(Check(False, f"{who} lacks privileges Stratus uses",
                         "python -m bot.setup proxmox-role prints the pveum commands of a role "
                         f"with all {len(needed.PRIVILEGES)}; grant it on /, e.g. pveum acl "
                         f"modify / --tokens '{who}' --roles Stratus"))
        return out

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
