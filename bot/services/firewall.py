"""Tenant isolation on the network, through Proxmox's own firewall.

Every CT the bot makes (create, clone, restore) gets its firewall on, with ``firewall=1`` on its
NICs, incoming traffic dropped unless a rule accepts it, and two rules of the bot's (comments
``stratus: ...``):

- the security group ``stratus-guest``: outgoing to the hosts' own addresses (ipset
  ``stratus-hosts``) on the management ports (``firewall.host_ports``, 22 and 8006 unless an
  admin says otherwise) is dropped;
- incoming from the owner's own CTs (ipset ``stratus-u<owner id>``, their fixed addresses) is
  accepted.

So a tenant's CTs reach each other, the gateway, the host (but for its management ports), the
PC and the internet, and no other tenant's CT reaches them, unless their owner opens a port
(``/fw_allow``: rules with comments ``stratus-user: ...``, within ``firewall.user_ports``). None
of it filters anything until the datacenter firewall is on (Datacenter > Firewall > Options):
/doctor says so. An address the bot cannot know (DHCP) is in no ipset: such a CT is reached by
its owner's other CTs only through a rule of its own.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass

from bot.proxmox import Container, Proxmox, errors
from bot.proxmox.firewall import FwRule
from bot.proxmox.models import parse_property_string
from bot.proxmox.network import nics_of
from bot.services.containers import ContainerService
from bot.services.errors import Conflict, Forbidden, NotFound, ServiceError
from bot.services.firewall_model import End, FirewallView, GuestFirewall
from bot.services.netcheck import NetworkSnapshot, Problem, Verdict
from bot.store import Store

log = logging.getLogger(__name__)

GROUP = "stratus-guest"
HOSTS = "stratus-hosts"
BASE = "stratus: "  # the bot's own rules
USER = "stratus-user: "  # rules users opened
CT_OPTIONS = {"enable": 1, "policy_in": "DROP", "policy_out": "ACCEPT"}


TENANT = "stratus-u"  # + the owner's id: the ipset of a tenant's CTs


def tenant_ipset(owner_id: int) -> str:
    return f"{TENANT}{owner_id}"


@dataclass(frozen=True)
class FirewallSettings:
    """What an admin decides: the hosts' ports tenants' CTs may not reach, and the ports users
    may open on their own CTs (``firewall.host_ports``, ``firewall.user_ports``)."""

    host_ports: str = "22,8006"  # PVE's port list; "": none closed
    user_ports: tuple[tuple[int, int], ...] = ((1, 65535),)


@dataclass(frozen=True)
class Opening:
    """What /fw_allow opens: a protocol, its ports (None: all, or ICMP), from whom."""

    proto: str  # tcp | udp | icmp
    ports: tuple[int, int] | None = None
    source: str | int | None = None  # a CIDR, or a CT (vmid or hostname); None: anyone


@dataclass(frozen=True)
class CtFirewall:
    ct: Container
    datacenter: bool  # the datacenter firewall is on
    active: bool  # the CT's own firewall is on, on a NIC with firewall=1
    rules: tuple[FwRule, ...]
    policy_in: str


def _ports_text(ports: tuple[int, int] | None) -> str | None:
    if ports is None:
        return None
    first, last = ports
    return str(first) if first == last else f"{first}:{last}"


def _static_ips(nics) -> list[str]:
    out = []
    for nic in nics:
        if nic.ip:
            try:
                out.append(str(ipaddress.IPv4Interface(nic.ip).ip))
            except ValueError:
                continue
    return out


def _nic_firewall(raw: str) -> bool:
    return parse_property_string(raw).get("firewall", "0") in ("1", "on", "yes", "true")


class FirewallService:
    def __init__(self, px: Proxmox, store: Store, containers: ContainerService,
                 settings: FirewallSettings | None = None) -> None:
        self._px = px
        self._store = store
        self._containers = containers
        self.policy = containers.policy
        self.settings = settings or FirewallSettings()
        self._ready = False  # the cluster's ipset and group are set up (once per process)
        self._lock = asyncio.Lock()

    # ---- the bot's own rules ------------------------------------------------------------------

    def base_rules(self, owner_id: int) -> list[FwRule]:
        """The bot's rules of an owner's CT, first to last."""
        return [
            FwRule(0, "group", GROUP, comment=f"{BASE}host management closed to tenants"),
            FwRule(0, "in", "ACCEPT", source=f"+{tenant_ipset(owner_id)}",
                   comment=f"{BASE}tenant isolation: only {owner_id}'s containers come in"),
        ]

    def group_rules(self) -> list[FwRule]:
        if not self.settings.host_ports:
            return []
        return [FwRule(0, "out", "DROP", dest=f"+{HOSTS}", proto="tcp",
                       dport=self.settings.host_ports,
                       comment=f"{BASE}the hosts' management ports")]

    async def _ensure_cluster(self) -> None:
        """The hosts' ipset (every node's own addresses) and the security group, made or
        brought up to date once per process."""
        async with self._lock:
            if self._ready:
                return
            await self._sync_ipset(HOSTS, await self._host_addresses(),
                                   "Stratus: the Proxmox hosts' own addresses")
            groups = await self._px.security_groups()
            if GROUP not in groups:
                await self._px.create_group(GROUP, "Stratus: rules of every tenant CT")
                groups[GROUP] = []
            await self._replace(groups[GROUP], self.group_rules(),
                                add=lambda r: self._px.add_group_rule(GROUP, r),
                                delete=lambda pos, digest: self._px.delete_group_rule(
                                    GROUP, pos, digest))
            self._ready = True

    async def _host_addresses(self) -> list[str]:
        out = set()
        for node in await self._px.online_nodes():
            for bridge in (await self._px.node_network(node)).bridges:
                if bridge.cidr:
                    out.add(str(ipaddress.ip_interface(bridge.cidr).ip))
        return sorted(out)

    async def _sync_ipset(self, name: str, wanted: list[str], comment: str,
                          only_add: bool = False) -> None:
        """Make ipset `name` hold `wanted` (made if missing; `only_add`: keep the rest)."""
        if name not in await self._px.ipset_names():
            await self._px.create_ipset(name, comment)
            current: list[str] = []
        else:
            current = await self._px.ipset(name)
        for cidr in wanted:
            if cidr not in current:
                await self._px.add_to_ipset(name, cidr)
        if not only_add:
            for cidr in current:
                if cidr not in wanted:
                    await self._px.remove_from_ipset(name, cidr)

    @staticmethod
    async def _replace(current: list[FwRule], wanted: list[FwRule], add, delete) -> None:
        """Make the bot's rules among `current` be `wanted`, in order (users' stay)."""
        ours = [r for r in current if r.comment.startswith(BASE)]
        if [r.params() for r in ours] == [w.params() for w in wanted]:
            return
        digest = current[0].digest if current else None
        for rule in sorted(ours, key=lambda r: r.pos, reverse=True):  # positions hold
            await delete(rule.pos, digest)
            digest = None  # the list changed since it was read: by position alone now
        for rule in reversed(wanted):  # PVE puts each new rule first
            await add(rule)

    async def protect(self, owner_id: int, vmid: int) -> None:
        """Give a CT the bot just made (or cloned, or restored) its owner's isolation: its
        NICs through the firewall, its firewall on, the bot's rules, its fixed addresses in
        its owner's ipset."""
        await self._ensure_cluster()
        config = await self._px.get_config(vmid)
        nics = {k: str(v) for k, v in config.items() if k.startswith("net") and k[3:].isdigit()}
        for key, raw in nics.items():
            if not _nic_firewall(raw):
                props = parse_property_string(raw)
                props["firewall"] = "1"
                await self._px.set_container_nic(vmid, key, ",".join(
                    f"{k}={v}" for k, v in props.items()))
        # The owner's ipset first: a rule may name only an ipset that exists.
        ips = _static_ips(nics_of(config))
        await self._disown_addresses(ips, keep=tenant_ipset(owner_id))
        await self._sync_ipset(tenant_ipset(owner_id), ips,
                               f"Stratus: the containers of {owner_id}", only_add=True)
        await self._px.set_ct_firewall_options(vmid, **CT_OPTIONS)
        await self._replace(await self._px.ct_firewall_rules(vmid), self.base_rules(owner_id),
                            add=lambda r: self._px.add_ct_rule(vmid, r),
                            delete=lambda pos, digest: self._px.delete_ct_rule(vmid, pos,
                                                                               digest))
        self._store.audit.record(None, "firewall", f"ct:{vmid}", "ok",
                                 f"isolated as {owner_id}'s")

    async def _disown_addresses(self, ips: list[str], keep: str) -> None:
        """An address is one tenant's at a time: one a CT of another tenant had (deleted
        outside the bot, or by the scaler, its ipset not synced since) leaves their ipset
        before it is this owner's, or their CTs would let this one in."""
        if not ips:
            return
        for name, entries in (await self._px.ipsets()).items():
            if name.startswith(TENANT) and name != keep:
                for ip in set(ips) & set(entries):
                    await self._px.remove_from_ipset(name, ip)

    async def sync_tenant(self, owner_id: int) -> None:
        """The owner's ipset holds exactly their CTs' fixed addresses now (after a delete, a
        changed NIC)."""
        await self._ensure_cluster()
        mine = {ct.vmid for ct in await self._containers.owned_containers(owner_id)}
        ips = [ip for net in await self._px.all_container_networks() if net.vmid in mine
               for ip in _static_ips(net.nics)]
        await self._sync_ipset(tenant_ipset(owner_id), sorted(set(ips)),
                               f"Stratus: the containers of {owner_id}")

    # ---- what people see and do -------------------------------------------------------------

    async def datacenter_enabled(self) -> bool:
        return bool(int((await self._px.firewall_options()).get("enable", 0)))

    async def show(self, actor_id: int, ref: int | str) -> CtFirewall:
        ct = await self._containers.resolve(actor_id, ref, "fw.see")
        return await self._ct_firewall(ct)

    async def _ct_firewall(self, ct: Container) -> CtFirewall:
        options = await self._px.ct_firewall_options(ct.vmid)
        network = await self._px.container_network(ct.vmid)
        nic_on = any(_nic_firewall(n.raw) for n in network.nics)
        return CtFirewall(ct, await self.datacenter_enabled(),
                          bool(int(options.get("enable", 0))) and nic_on,
                          tuple(await self._px.ct_firewall_rules(ct.vmid)),
                          str(options.get("policy_in", "DROP")))

    def _check_ports(self, actor_id: int, opening: Opening) -> None:
        if self.policy.is_admin(actor_id) or opening.proto == "icmp":
            return
        first, last = opening.ports or (1, 65535)
        if not any(lo <= first and last <= hi for lo, hi in self.settings.user_ports):
            allowed = ", ".join(str(lo) if lo == hi else f"{lo}-{hi}"
                                for lo, hi in self.settings.user_ports)
            raise Forbidden(f"You may open only ports {allowed} (the admins' choice); ask an "
                            "admin for others.")

    async def _source(self, actor_id: int, source: str | int | None) -> tuple[str | None, str]:
        """The rule's source (None: anyone) and how to say it."""
        if source is None:
            return None, "anyone"
        if isinstance(source, str) and "/" in source:
            net = ipaddress.IPv4Network(source, strict=False)
            return str(net), str(net)
        ct = await self._containers.resolve(actor_id, source, "net.see")
        ips = _static_ips((await self._px.container_network(ct.vmid)).nics)
        if not ips:
            raise ServiceError(f"CT {ct.vmid} {ct.hostname} has no fixed address (it uses "
                               "DHCP), so a firewall rule cannot name it: give an address "
                               "range instead (from 10.0.0.0/24), or give it a fixed address.")
        return ",".join(ips), f"CT {ct.vmid} {ct.hostname}"

    async def allow(self, actor_id: int, ref: int | str, opening: Opening) -> FwRule:
        """Open a port (or ICMP) of a CT the asker may change, from a source they name."""
        ct = await self._containers.resolve(actor_id, ref, "fw.change")
        self._check_ports(actor_id, opening)
        source, whom = await self._source(actor_id, opening.source)
        what = opening.proto + (f"/{_ports_text(opening.ports).replace(':', '-')}"
                                if opening.ports else "")
        rule = FwRule(0, "in", "ACCEPT", source=source, proto=opening.proto,
                      dport=_ports_text(opening.ports),
                      comment=f"{USER}{what} from {whom}, by {actor_id}")
        current = await self._px.ct_firewall_rules(ct.vmid)
        if any(r.params() | {"comment": ""} == rule.params() | {"comment": ""}
               for r in current):
            raise Conflict(f"CT {ct.vmid} lets {what} in from {whom} already. /fw {ct.vmid} "
                           "lists its rules.")
        await self._px.add_ct_rule(ct.vmid, rule)
        self._store.audit.record(actor_id, "fw_allow", f"ct:{ct.vmid}", "ok",
                                 f"{what} from {whom}"
                                 + self._containers.share_note(actor_id, ct.vmid))
        return rule

    async def remove(self, actor_id: int, ref: int | str, number: int) -> FwRule:
        """Delete rule `number` (as /fw numbers them, from 1) if it is one users opened."""
        ct = await self._containers.resolve(actor_id, ref, "fw.change")
        rules = await self._px.ct_firewall_rules(ct.vmid)
        if not 1 <= number <= len(rules):
            raise NotFound(f"CT {ct.vmid} has no rule {number}. /fw {ct.vmid} lists them.")
        rule = rules[number - 1]
        if not rule.comment.startswith(USER):
            raise Forbidden(f"Rule {number} of CT {ct.vmid} is part of Stratus's tenant "
                            "isolation, not one you opened: it stays.")
        await self._px.delete_ct_rule(ct.vmid, rule.pos, rule.digest or None)
        self._store.audit.record(actor_id, "fw_del", f"ct:{ct.vmid}", "ok",
                                 rule.comment.removeprefix(USER)
                                 + self._containers.share_note(actor_id, ct.vmid))
        return rule

    # ---- /netcheck ----------------------------------------------------------------------------

    async def view(self, vmids: list[int]) -> FirewallView:
        """What /netcheck needs to judge a conversation between these CTs."""
        enabled = await self.datacenter_enabled()
        if not enabled:
            return FirewallView(False)
        guests = {}
        for vmid in vmids:
            try:
                options = await self._px.ct_firewall_options(vmid)
                network = await self._px.container_network(vmid)
                rules = await self._px.ct_firewall_rules(vmid)
            except errors.NotFound:
                continue
            guests[vmid] = GuestFirewall(
                bool(int(options.get("enable", 0))),
                any(_nic_firewall(n.raw) for n in network.nics),
                str(options.get("policy_in", "DROP")), str(options.get("policy_out", "ACCEPT")),
                tuple(rules))
        ipsets = {k.lower(): tuple(v) for k, v in (await self._px.ipsets()).items()}
        groups = {k.lower(): tuple(v) for k, v in (await self._px.security_groups()).items()}
        return FirewallView(True, guests, ipsets, groups)

    async def judge(self, verdict: Verdict, ends: list[int | str],
                    snapshot: NetworkSnapshot) -> Verdict:
        """/netcheck's verdict once the firewall has had its say: a path the network gives
        may still be closed by a CT's rules (a ping, here)."""
        if not verdict.reachable:
            return verdict
        vmids = [e for e in ends if isinstance(e, int)]
        view = await self.view(vmids)
        if not view.enabled:
            if vmids:
                verdict.notes.append("the datacenter firewall is off, so nothing is filtered: "
                                     "tenants' containers are not isolated (/doctor)")
            return verdict
        src, dst = (self._end(e, ends, snapshot) for e in ends)
        blocked = view.blocks(src, dst)
        if blocked is None:
            verdict.path.append("the firewall lets it through")
            return verdict
        why = f"({blocked.by})"
        if blocked.rule is None and blocked.direction == "in":
            why = "(tenant isolation: it lets in its owner's containers and what its rules " \
                  "accept, nothing else)"
        elif blocked.rule is not None and blocked.rule.comment.startswith(BASE):
            why = f"(tenant isolation: {blocked.rule.comment.removeprefix(BASE)})"
        if blocked.direction == "in" and blocked.who.vmid is not None:
            src_ref = f" from {src.vmid}" if src.vmid is not None else ""
            fix = (f"/fw_allow {blocked.who.vmid} icmp{src_ref} opens it (its owner, a "
                   "manager or an admin may)")
        else:
            fix = "an admin decides what Stratus's rules close (firewall.host_ports)"
        return Verdict(False, path=verdict.path, notes=verdict.notes, problems=[
            Problem(f"blocked by {blocked.who.label}'s firewall {why}", fix)])

    @staticmethod
    def _end(end: int | str, ends: list[int | str], snapshot: NetworkSnapshot) -> End:
        """An end of /netcheck with the address the firewall would see (None: unknown)."""
        guests = {g.vmid: g for g in snapshot.guests}
        if isinstance(end, int):
            guest = guests.get(end)
            ips = [n.ip.split("/")[0] for n in guest.nics if n.ip] if guest else []
            label = f"{guest.hostname} (vmid {end})" if guest else f"CT {end}"
            return End(label, end, ips[0] if ips else None)
        if end == "pc":
            return End("the PC")
        node = end.partition(":")[2] if end.startswith("host:") else next(
            (guests[e].node for e in ends if isinstance(e, int) and e in guests), "")
        ips = [b.cidr.split("/")[0] for b in snapshot.bridges if b.node == node and b.cidr]
        return End(f"the host {node}".strip(), None, ips[0] if ips else None)
