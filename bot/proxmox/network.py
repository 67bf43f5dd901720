"""Networking operations of `Proxmox`: node bridges with PVE's pending changes, SDN NAT networks,
container NICs, and the probes /doctor needs (version, permissions, TLS certificate).

A mixin: the methods use `Proxmox`'s primitives (`_request`, `wait_task`, `_on_ct`, `_resources`).
Node network edits are staged by PVE in ``interfaces.new`` and only take effect when applied
(``PUT /nodes/{node}/network``, a ``srvreload:networking`` task); SDN edits are pending until
``PUT /cluster/sdn``. proxmoxer keeps only ``data`` of a reply, so the listing that carries PVE's
top-level ``changes`` diff is read with a serializer that keeps the whole body.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import re
import ssl
from dataclasses import dataclass
from typing import Any

from proxmoxer.backends.https import JsonSerializer
from proxmoxer.core import ProxmoxResource

from . import errors
from .models import parse_property_string
from .tasks import decode_upid
from .transport import open_route, proxy_for

_NET_KEY = re.compile(r"net(\d+)")


@dataclass(frozen=True)
class BridgeInfo:
    """A Linux bridge of a node as the API lists it (the staged view when changes are pending)."""

    node: str
    name: str
    cidr: str | None = None  # the node's address on it, "10.10.20.1/24"
    gateway: str | None = None  # the node's default gateway when it is on this bridge
    ports: tuple[str, ...] = ()
    autostart: bool = False
    pending: bool = False  # named in PVE's pending diff (new, changed or deleted, not applied)
    active: bool = False  # exists on the node now
    comment: str | None = None


@dataclass(frozen=True)
class NodeNetwork:
    node: str
    bridges: tuple[BridgeInfo, ...]
    changes: str | None  # PVE's unified diff interfaces -> interfaces.new, None when none
    removed: tuple[str, ...] = ()  # bridges the pending changes delete


@dataclass(frozen=True)
class VNetInfo:
    """An SDN VNet with its first subnet, from the edited configuration plus what is applied."""

    name: str
    zone: str
    zone_type: str | None = None
    zone_nodes: tuple[str, ...] | None = None  # None: every node
    subnet: str | None = None  # "10.20.0.0/24"
    subnet_id: str | None = None  # "natz-10.20.0.0-24"
    gateway: str | None = None
    snat: bool = False
    dhcp: bool = False
    applied: bool = False  # the running SDN configuration has it exactly like this


@dataclass(frozen=True)
class CtNic:
    """One NIC of a container (``netN`` of its config)."""

    key: str  # net0
    bridge: str
    hwaddr: str | None = None
    ip: str | None = None  # "10.0.0.5/24"; None when DHCP or unset
    gw: str | None = None
    dhcp: bool = False
    link_up: bool = True
    tag: int | None = None
    raw: str = ""  # the property string as PVE stores it


@dataclass(frozen=True)
class CtNetwork:
    vmid: int
    node: str
    hostname: str
    running: bool
    nics: tuple[CtNic, ...]


@dataclass(frozen=True)
class TlsProbe:
    """What the server presented: its SHA-256 fingerprint and whether our CA policy accepts it."""

    fingerprint: str  # "AB:CD:..."
    subject: str
    verified_by_ca: bool | None  # None when no CA check was asked (fingerprint / insecure)
    error: str | None = None
    via: str | None = None  # the proxy the API connection (and so this probe) goes through


def nic_from_pve(key: str, value: str) -> CtNic:
    props = parse_property_string(value)
    ip = props.get("ip")
    tag = props.get("tag")
    return CtNic(
        key=key,
        bridge=props.get("bridge", ""),
        hwaddr=props.get("hwaddr"),
        ip=None if ip in (None, "dhcp", "manual") else ip,
        gw=props.get("gw"),
        dhcp=ip == "dhcp",
        link_up=props.get("link_down", "0") not in ("1", "on", "yes", "true"),
        tag=int(tag) if tag and tag.isdigit() else None,
        raw=value,
    )


def nics_of(config: dict[str, Any]) -> tuple[CtNic, ...]:
    keys = sorted((k for k in config if _NET_KEY.fullmatch(k)), key=lambda k: int(k[3:]))
    return tuple(nic_from_pve(k, str(config[k])) for k in keys)


def pending_ifaces(changes: str | None) -> tuple[set[str], set[str]]:
    """(ifaces touched by the diff, ifaces the diff removes), read stanza by stanza."""
    touched: set[str] = set()
    removed: set[str] = set()
    current: str | None = None
    for line in (changes or "").splitlines():
        if line.startswith(("---", "+++", "@@")):
            continue
        mark, body = line[:1], line[1:]
        words = body.split()
        if len(words) >= 2 and words[0] in ("iface", "auto"):
            current = words[1]
            if mark == "-" and words[0] == "iface":
                removed.add(current)
            if mark == "+" and words[0] == "iface":
                removed.discard(current)
        if mark in "+-" and mark and current:
            touched.add(current)
    return touched, removed


class _WholeBody(JsonSerializer):
    """Keeps the top-level keys of a reply (PVE puts `changes` next to `data`)."""

    def loads(self, response):
        try:
            return response.json()
        except ValueError:
            return {"data": None}


def subnet_id(zone: str, cidr: str) -> str:
    """PVE's id of an SDN subnet: ``<zone>-<network address>-<prefix length>``."""
    net = ipaddress.ip_network(cidr, strict=False)
    return f"{zone}-{net.network_address}-{net.prefixlen}"


def _bool(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "on", "yes")


class NetworkMixin:
    # -- node bridges ---------------------------------------------------------------------------

    async def _whole(self, path: str, *, action: str, **params: Any) -> dict:
        api = await self._client()
        store = dict(api(path)._store)
        store["serializer"] = _WholeBody()
        resource = ProxmoxResource(**store)
        try:
            return await self._in_thread(resource.get, **params)
        except Exception as exc:
            raise self._translate(exc, action) from None

    async def node_network(self, node: str) -> NodeNetwork:
        """The bridges of `node` (staged view) and PVE's pending diff."""
        body = await self._whole(f"nodes/{node}/network", action=f"read the network of {node}")
        changes = body.get("changes") or None
        touched, removed = pending_ifaces(changes)
        bridges = []
        for i in body.get("data") or []:
            if i.get("type") not in ("bridge", "OVSBridge"):
                continue
            bridges.append(BridgeInfo(
                node=node, name=i["iface"], cidr=i.get("cidr"), gateway=i.get("gateway"),
                ports=tuple(str(i.get("bridge_ports") or "").split()),
                autostart=_bool(i.get("autostart", 0)), pending=i["iface"] in touched,
                active=_bool(i.get("active", 0)), comment=i.get("comments"),
            ))
        return NodeNetwork(node, tuple(sorted(bridges, key=lambda b: b.name)), changes,
                           tuple(sorted(removed)))

    async def online_nodes(self) -> list[str]:
        return sorted(r["node"] for r in await self._resources("node")
                      if r.get("status") == "online")

    async def stage_bridge(self, node: str, name: str, *, cidr: str | None = None,
                           gateway: str | None = None, ports: tuple[str, ...] = (),
                           comment: str | None = None, autostart: bool = True) -> NodeNetwork:
        """Stage a Linux bridge (interfaces.new); returns the node's network with the diff."""
        await self._request(
            "POST", f"nodes/{node}/network", action=f"stage bridge {name} on {node}",
            iface=name, type="bridge", cidr=cidr, gateway=gateway,
            bridge_ports=" ".join(ports) or None, comments=comment, autostart=autostart,
        )
        return await self.node_network(node)

    async def stage_iface_delete(self, node: str, name: str) -> NodeNetwork:
        await self._request("DELETE", f"nodes/{node}/network/{name}",
                            action=f"stage the removal of {name} on {node}")
        return await self.node_network(node)

    async def apply_network(self, node: str) -> str:
        """Apply the staged changes (``ifreload -a``); waits for the srvreload task."""
        upid = await self._request("PUT", f"nodes/{node}/network",
                                   action=f"apply the network changes of {node}")
        return await self.wait_task(node, upid)

    async def revert_network(self, node: str) -> None:
        await self._request("DELETE", f"nodes/{node}/network",
                            action=f"discard the network changes of {node}")

    # -- SDN ------------------------------------------------------------------------------------

    async def list_vnets(self) -> list[VNetInfo]:
        """Every VNet of the edited SDN configuration with its zone and first subnet."""
        zones, vnets, running = await asyncio.gather(
            self._request("GET", "cluster/sdn/zones", action="list the SDN zones"),
            self._request("GET", "cluster/sdn/vnets", action="list the SDN VNets"),
            self._request("GET", "cluster/sdn/vnets", action="list the applied SDN VNets",
                          running=1),
        )
        zone_by_id = {z["zone"]: z for z in zones}
        subnets = await asyncio.gather(*(
            self._request("GET", f"cluster/sdn/vnets/{v['vnet']}/subnets",
                          action=f"list the subnets of VNet {v['vnet']}")
            for v in vnets))
        applied_subnets = await asyncio.gather(*(
            self._request("GET", f"cluster/sdn/vnets/{v['vnet']}/subnets", running=1,
                          action=f"list the applied subnets of VNet {v['vnet']}")
            for v in vnets))
        running_ids = {v["vnet"]: v for v in running}
        out = []
        for vnet, subs, applied_subs in zip(vnets, subnets, applied_subnets, strict=True):
            zone = zone_by_id.get(vnet.get("zone", ""), {})
            sub = subs[0] if subs else {}
            nodes = tuple(n for n in re.split(r"[,;\s]+", str(zone.get("nodes") or "")) if n)
            ran = running_ids.get(vnet["vnet"])
            same_subs = {s.get("subnet"): (s.get("gateway"), _bool(s.get("snat", 0)))
                         for s in applied_subs} == {
                s.get("subnet"): (s.get("gateway"), _bool(s.get("snat", 0))) for s in subs}
            out.append(VNetInfo(
                name=vnet["vnet"], zone=vnet.get("zone", ""), zone_type=zone.get("type"),
                zone_nodes=nodes or None, subnet=sub.get("cidr"), subnet_id=sub.get("subnet"),
                gateway=sub.get("gateway"), snat=_bool(sub.get("snat", 0)),
                dhcp=bool(zone.get("dhcp")) and bool(sub.get("dhcp-range")),
                applied=ran is not None and ran.get("zone") == vnet.get("zone") and same_subs,
            ))
        return sorted(out, key=lambda v: v.name)

    async def create_nat_network(self, zone: str, vnet: str, subnet: str, gateway: str,
                                 *, snat: bool = True) -> str:
        """A simple zone (unless it exists), a VNet and a subnet with SNAT, then the SDN apply
        (waited for).

        A step that fails deletes what this call made, newest first, and raises errors.Undone
        with the step's error and what could not be deleted: nothing is left pending for the
        next attempt to trip over or for a later apply to put live as half a network. An apply
        that outlasts the wait (StillRunning) goes on with the whole network: nothing is undone.
        """
        made: list[tuple[str, str]] = []  # (what, its path to DELETE), oldest first
        try:
            existing = {z["zone"] for z in await self._request(
                "GET", "cluster/sdn/zones", action="list the SDN zones")}
            if zone not in existing:
                await self._request("POST", "cluster/sdn/zones", action=f"create SDN zone {zone}",
                                    zone=zone, type="simple", ipam="pve")
                made.append((f"SDN zone {zone}", f"cluster/sdn/zones/{zone}"))
            await self._request("POST", "cluster/sdn/vnets", action=f"create VNet {vnet}",
                                vnet=vnet, zone=zone)
            made.append((f"VNet {vnet}", f"cluster/sdn/vnets/{vnet}"))
            await self._request("POST", f"cluster/sdn/vnets/{vnet}/subnets",
                                action=f"create subnet {subnet} of VNet {vnet}",
                                subnet=subnet, type="subnet", gateway=gateway, snat=snat)
            made.append((f"subnet {subnet} of VNet {vnet}",
                         f"cluster/sdn/vnets/{vnet}/subnets/{subnet_id(zone, subnet)}"))
            return await self.apply_sdn()
        except errors.StillRunning:
            raise
        except errors.ProxmoxError as exc:
            raise await self._undo(exc, made) from exc

    async def _undo(self, cause: errors.ProxmoxError,
                    made: list[tuple[str, str]]) -> errors.Undone:
        """Delete `made` newest first; the error that says what failed and what is left."""
        reason = str(cause).rstrip(".")
        if not made:
            return errors.Undone(f"{reason}. Nothing had been made yet, so nothing is left.",
                                 cause=cause)
        done: list[str] = []
        for i in range(len(made) - 1, -1, -1):
            what, path = made[i]
            try:
                await self._request("DELETE", path, action=f"delete {what}")
            except errors.ProxmoxError as undo_exc:
                left = tuple(w for w, _ in reversed(made[:i + 1]))
                commands = ", then ".join(f"pvesh delete /{p}" for _, p in reversed(made[:i + 1]))
                return errors.Undone(
                    f"{reason}. It could not be undone entirely ({str(undo_exc).rstrip('.')})"
                    + (f"; deleted: {', '.join(done)}" if done else "")
                    + f". Left pending in the SDN configuration: {', '.join(left)}. Delete them "
                    f"(Datacenter → SDN in the Proxmox GUI, or {commands}) before trying again, "
                    "and do not apply SDN until then.",
                    cause=cause, left=left)
            done.append(what)
        return errors.Undone(f"{reason}. What this attempt had made was undone (deleted: "
                             f"{', '.join(done)}): nothing of it is left pending, so you can try "
                             "again once the cause is fixed.", cause=cause)

    async def apply_sdn(self) -> str:
        upid = await self._request("PUT", "cluster/sdn", action="apply the SDN configuration")
        return await self.wait_task(decode_upid(upid)["node"], upid)

    # -- container NICs -------------------------------------------------------------------------

    async def container_network(self, vmid: int) -> CtNetwork:
        ct = await self.get_container(vmid)
        config = await self.get_config(vmid)
        return CtNetwork(vmid, ct.node, ct.hostname, ct.status == "running", nics_of(config))

    async def set_container_nic(self, vmid: int, key: str, value: str) -> None:
        await self.set_config(vmid, **{key: value})

    async def all_container_networks(self) -> list[CtNetwork]:
        """Every CT's NICs (one config read per CT): address pools and /netcheck need them."""
        cts = [c for c in await self.list_containers()]
        configs = await asyncio.gather(*(
            self._request("GET", f"nodes/{c.node}/lxc/{c.vmid}/config",
                          action=f"read CT {c.vmid}'s config") for c in cts),
            return_exceptions=True)
        out = []
        for ct, config in zip(cts, configs, strict=True):
            if isinstance(config, errors.NotFound):
                continue  # deleted meanwhile
            if isinstance(config, BaseException):
                raise config
            out.append(CtNetwork(ct.vmid, ct.node, ct.hostname, ct.status == "running",
                                 nics_of(config)))
        return out

    async def used_addresses(self) -> set[ipaddress.IPv4Address]:
        """Every static IPv4 address of a CT NIC, on any network."""
        used: set[ipaddress.IPv4Address] = set()
        for ct in await self.all_container_networks():
            for nic in ct.nics:
                if nic.ip:
                    used.add(ipaddress.IPv4Interface(nic.ip).ip)
        return used

    # -- what /doctor probes --------------------------------------------------------------------

    async def version(self) -> dict:
        return await self._request("GET", "version", action="read the Proxmox VE version")

    async def permissions(self, acl_path: str = "/") -> dict[str, dict[str, int]]:
        # Not through `_request`: its own `path` argument would shadow the API's `path`.
        api = await self._client()
        try:
            return await self._in_thread(api("access/permissions").get, path=acl_path)
        except Exception as exc:
            raise self._translate(exc, "read the token's permissions") from None

    async def storages(self) -> list[dict]:
        return [r for r in await self._resources("storage")]

    async def probe_tls(self) -> TlsProbe:
        """Connect to host:port the way the API connection does (through its proxy, if any)
        and read the certificate (a raw TLS handshake, no HTTP)."""
        s = self.settings
        return await self._in_thread(_probe_tls, s.host, s.port, s.timeout,
                                     s.ca_file if s.verify_tls and not s.fingerprint else None,
                                     s.verify_tls and not s.fingerprint, proxy_for(s))


def _probe_tls(host: str, port: int, timeout: float, ca_file: str | None,
               check_ca: bool, proxy: str | None = None) -> TlsProbe:
    plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    plain.check_hostname = False
    plain.verify_mode = ssl.CERT_NONE
    try:
        with open_route(host, port, timeout, proxy) as sock, \
                plain.wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except ValueError as exc:  # a proxy this probe cannot go through
        return TlsProbe("", "", None, str(exc), via=proxy)
    except OSError as exc:
        raise errors.Unreachable(f"Cannot reach {host}:{port} ({exc}); check the host, the port "
                                 "(8006, or the NAT port-forward) and that pveproxy runs.") from None
    digest = hashlib.sha256(der).hexdigest().upper()
    fingerprint = ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
    subject = ""
    verified: bool | None = None
    error = None
    if check_ca:
        ctx = ssl.create_default_context(cafile=ca_file)
        try:
            with open_route(host, port, timeout, proxy) as sock, \
                    ctx.wrap_socket(sock, server_hostname=host) as tls:
                cert = tls.getpeercert() or {}
                subject = ", ".join("=".join(x) for rdn in cert.get("subject", ()) for x in rdn)
            verified = True
        except ssl.SSLError as exc:
            verified, error = False, getattr(exc, "verify_message", None) or str(exc)
        except OSError as exc:
            verified, error = False, str(exc)
    return TlsProbe(fingerprint, subject, verified, error, via=proxy)
