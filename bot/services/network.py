"""Networking use cases: bridges and NAT networks (admins), container NICs (owners), address pools,
and the connectivity doctor fed with what the API shows.

Bridges are staged by PVE and applied or discarded as a separate step, so `stage_bridge` returns
PVE's own diff for a person to read before pressing Apply. A new network may not overlap any
existing one (bridge addresses on every node, SDN subnets): the clash is named.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import logging
from dataclasses import dataclass

from bot.parsing_network import NO_GATEWAY, BridgeAddArgs, NatNetArgs, NetSetArgs
from bot.proxmox import Proxmox, errors
from bot.proxmox.models import parse_property_string
from bot.proxmox.network import CtNetwork, NodeNetwork, VNetInfo, nic_from_pve
from bot.proxmox.tasks import TASK_TIMEOUTS_S
from bot.services import netcheck, netfacts
from bot.services.access import AccessService, Role
from bot.services.containers import ContainerService
from bot.services.errors import Conflict, Forbidden, NotFound, ServiceError
from bot.store import Approval, Store
from bot.store.pools import PoolRecord

log = logging.getLogger(__name__)

NAT_ZONE = "stratus"  # the SDN simple zone that holds every NAT network Stratus makes
#: How long a leased pool address stays held for the CT it was leased for: longer than the
#: longest task wait (a restore or clone may take hours, and a CT's config shows its address
#: only at the end), so no address is handed out twice meanwhile.
LEASE_HOLD_S = max(TASK_TIMEOUTS_S.values()) + 3600.0
#: Approval statuses after which a request never runs: what it leased goes back at once.
_NEVER_RUNS = frozenset({"rejected", "expired", "cancelled"})


@dataclass(frozen=True)
class Lease:
    network: str
    cidr: str  # "10.10.20.10/24"
    gateway: str | None


@dataclass(frozen=True)
class UsableNetwork:
    """A network a person may put a container on, as the guided create and /bridges show it."""

    name: str
    subnet: str | None  # "10.0.2.0/24"
    gateway: str | None  # what its containers route through
    pool: str | None  # "first-last": where their addresses come from; None: DHCP
    nodes: tuple[str, ...]  # where it exists (applied)
    nat: bool = False  # an SDN network with SNAT
    default: bool = False  # /create's network when none is named

    @property
    def addressing(self) -> str:
        if self.pool:
            return f"addresses from its pool {self.pool}" + (
                f", gateway {self.gateway}" if self.gateway else "")
        return "DHCP (no address pool)"


@dataclass(frozen=True)
class Overview:
    nodes: tuple[NodeNetwork, ...]
    vnets: tuple[VNetInfo, ...]
    pools: dict[str, str]  # network -> "first-last"
    usable: tuple[UsableNetwork, ...] = ()  # what users may put containers on
    full: bool = True  # False: a user's view, only `usable`


@dataclass(frozen=True)
class FactLine:
    """One network fact as /netfacts shows it: its value and where that comes from."""

    kind: netfacts.FactKind
    items: tuple[str, ...]
    by: int | None = None  # who set it from the chat (None: the setting's value)
    at: float | None = None


@dataclass(frozen=True)
class NicChange:
    vmid: int
    key: str
    before: str
    after: str
    running: bool


def changes_token(net: NodeNetwork) -> str:
    """A short fingerprint of a node's pending diff. The Apply and Discard buttons carry the one
    of the diff their card shows, so a press acts only on the changes the admin has read."""
    return hashlib.sha256((net.changes or "").encode()).hexdigest()[:12]


class StaleChanges(Conflict):
    """The node's pending changes are no longer those a card showed; ``current`` is what is
    pending now."""

    def __init__(self, current: NodeNetwork) -> None:
        super().__init__(f"The pending changes on {current.node} changed since this card was "
                         "shown: nothing was done. Read them again before you decide.")
        self.current = current


def _nic_value(key: str, props: dict[str, str]) -> str:
    """A NIC's property string, once its gateway is known to be inside its subnet."""
    if props.get("ip") not in (None, "dhcp", "manual") and props.get("gw"):
        try:
            iface = ipaddress.IPv4Interface(props["ip"])
        except ValueError:
            raise ServiceError(f"{key} has the address {props['ip']!r}, which is not an "
                               "IPv4 CIDR; give --ip as well.") from None
        if ipaddress.IPv4Address(props["gw"]) not in iface.network:
            raise ServiceError(f"The gateway {props['gw']} is not inside {iface.network}; "
                               "give --gw with an address of that network.")
    return ",".join(f"{k}={v}" for k, v in props.items())


def _is_cidr(text: str) -> bool:
    try:
        ipaddress.IPv4Interface(text)
    except ValueError:
        return False
    return True


class NetworkService:
    def __init__(self, px: Proxmox, store: Store, access: AccessService,
                 facts: netcheck.Facts | None = None,
                 pools: tuple[tuple[str, str, str], ...] = ()) -> None:
        self._px = px
        self._store = store
        self._access = access
        self.containers: ContainerService | None = None  # wired by build_services
        self._settings_facts = facts or netcheck.Facts()  # initial values; /netfacts overrides
        self.firewall = None  # bot.services.firewall.FirewallService, wired too
        self._settings_pools = {name: (first, last) for name, first, last in pools}

    def _admin(self, actor_id: int, use_case: str) -> None:
        self._access.policy.authorize(actor_id, use_case)

    async def _node(self, node: str | None) -> str:
        online = await self._px.online_nodes()
        if node is None:
            if not online:
                raise ServiceError("No node of the cluster is online.")
            return online[0]
        if node not in online:
            raise NotFound(f"There is no online node {node!r}; online: {', '.join(online) or 'none'}.")
        return node

    # ---- seeing -------------------------------------------------------------------------------

    async def overview(self, actor_id: int, node: str | None = None) -> Overview:
        """An admin's: every bridge and NAT network, with pending changes and what users may
        use. A user's: only the networks they may put containers on (`usable_networks`)."""
        role = self._access.policy.authorize(actor_id, "bridge.see")
        pools = {p: f"{a}-{b}" for p, (a, b) in self._pools().items()}
        if role < Role.ADMIN:
            return Overview((), (), pools, tuple(await self.usable_networks(actor_id)),
                            full=False)
        nodes = [await self._node(node)] if node else await self._px.online_nodes()
        networks = tuple([await self._px.node_network(n) for n in nodes])
        vnets = tuple(await self._px.list_vnets())
        return Overview(networks, vnets, pools, tuple(await self.usable_networks(actor_id)))

    async def usable_networks(self, actor_id: int, use_case: str = "bridge.see",
                              ) -> list[UsableNetwork]:
        """The networks the asker may put a container on, where they exist, with their subnet,
        gateway and address pool: for a user, those an admin gave a pool (their fixed
        addresses come only from it) and the default network; for an admin, every applied
        bridge and NAT network. The default comes first."""
        role = self._access.policy.authorize(actor_id, use_case)
        default = self.containers.defaults.bridge if self.containers else "vmbr0"
        pools = {p: f"{a}-{b}" for p, (a, b) in self._pools().items()}
        found: dict[str, UsableNetwork] = {}
        online = await self._px.online_nodes()
        for node in online:
            for b in (await self._px.node_network(node)).bridges:
                if not b.active:  # staged, not applied yet
                    continue
                seen = found.get(b.name)
                if seen is not None:
                    found[b.name] = dataclasses.replace(seen, nodes=(*seen.nodes, node))
                    continue
                subnet = str(ipaddress.IPv4Interface(b.cidr).network) if b.cidr else None
                gateway = b.gateway or (str(ipaddress.IPv4Interface(b.cidr).ip) if b.cidr
                                        else None)
                found[b.name] = UsableNetwork(b.name, subnet, gateway, pools.get(b.name),
                                              (node,), default=b.name == default)
        for v in await self._px.list_vnets():
            if v.applied:
                found[v.name] = UsableNetwork(v.name, v.subnet, v.gateway, pools.get(v.name),
                                              tuple(v.zone_nodes or online), nat=v.snat,
                                              default=v.name == default)
        usable = [n for n in found.values()
                  if role is Role.ADMIN or n.pool is not None or n.default]
        return sorted(usable, key=lambda n: (not n.default, n.name))

    def _pools(self) -> dict[str, tuple[str, str]]:
        pools = dict(self._settings_pools)
        pools.update({p.network: (p.first, p.last) for p in self._store.pools.all()})
        return pools

    async def _networks(self) -> list[tuple[str, ipaddress.IPv4Network]]:
        """(label, network) of every bridge address on every node and every SDN subnet."""
        out = []
        for node in await self._px.online_nodes():
            for b in (await self._px.node_network(node)).bridges:
                if b.cidr:
                    out.append((f"{b.name} on {node} ({b.cidr})",
                                ipaddress.IPv4Interface(b.cidr).network))
        for v in await self._px.list_vnets():
            if v.subnet:
                out.append((f"NAT network {v.name} ({v.subnet})", ipaddress.IPv4Network(v.subnet)))
        return out

    async def _refuse_overlap(self, net: ipaddress.IPv4Network) -> None:
        for label, other in await self._networks():
            if net.overlaps(other):
                raise Conflict(f"{net} overlaps {label}: choose another network.")

    # ---- bridges (admins) ---------------------------------------------------------------------

    async def stage_bridge(self, actor_id: int, args: BridgeAddArgs) -> NodeNetwork:
        self._admin(actor_id, "bridge.add")
        node = await self._node(args.node)
        current = await self._px.node_network(node)
        if any(b.name == args.name for b in current.bridges):
            raise Conflict(f"Bridge {args.name} already exists on {node}; /bridges {node} shows it.")
        await self._refuse_overlap(ipaddress.IPv4Interface(args.cidr).network)
        staged = await self._px.stage_bridge(node, args.name, cidr=args.cidr, ports=args.ports,
                                             comment=args.comment)
        if args.pool:
            self._store.pools.put(args.name, args.pool.first, args.pool.last)
        else:  # a pool left by a discarded or vanished bridge of this name is not this one's
            self._store.pools.remove(args.name)
        self._store.audit.record(actor_id, "bridge_add", f"{node}:{args.name}", "staged", args.cidr)
        return staged

    async def _as_shown(self, node: str, token: str) -> NodeNetwork:
        """The node's network, if its pending changes are still those of ``token``."""
        current = await self._px.node_network(node)
        if changes_token(current) != token:
            raise StaleChanges(current)
        return current

    async def apply(self, actor_id: int, node: str, token: str) -> NodeNetwork:
        """Apply the node's pending changes, if they are still those the admin was shown."""
        self._admin(actor_id, "bridge.apply")
        await self._as_shown(node, token)
        await self._px.apply_network(node)
        self._store.audit.record(actor_id, "network_apply", node, "ok")
        return await self._px.node_network(node)

    async def discard(self, actor_id: int, node: str, token: str) -> None:
        self._admin(actor_id, "bridge.apply")
        staged_new = [b.name for b in (await self._as_shown(node, token)).bridges
                      if b.pending and not b.active]
        await self._px.revert_network(node)
        for name in staged_new:  # their --pool goes with them
            self._store.pools.remove(name)
        self._store.audit.record(actor_id, "network_discard", node, "ok")

    async def check_bridge_delete(self, actor_id: int, name: str, node: str | None) -> str:
        """The node of a bridge that may be deleted (it exists, no CT uses it, it is not the one
        carrying the node's default gateway)."""
        self._admin(actor_id, "bridge.delete")
        node = await self._node(node)
        network = await self._px.node_network(node)
        bridge = next((b for b in network.bridges if b.name == name), None)
        if bridge is None:
            raise NotFound(f"There is no bridge {name} on {node}.")
        if bridge.gateway:
            # The node's own way out (and usually the API's address): deleting it from chat cuts
            # Stratus off the node, with no way back but the console.
            raise Conflict(f"{name} carries {node}'s default gateway ({bridge.gateway}): deleting "
                           "it would cut the node off the network. Change it from the node's "
                           "console if you must.")
        if network.changes:
            # The deletion is applied with ifreload, which would also put these live unreviewed.
            raise Conflict(f"{node} has pending network changes: apply or discard them first "
                           f"(/bridges {node}), then delete {name}.")
        users = [f"{ct.vmid} {ct.hostname}" for ct in await self._px.all_container_networks()
                 if ct.node == node and any(n.bridge == name for n in ct.nics)]
        if users:
            raise Conflict(f"{name} on {node} is used by CT {', '.join(users)}: move them first "
                           "(/net_set <ct> net0 --bridge ...).")
        return node

    def delete_needs_approval(self, actor_id: int) -> bool:
        return self._access.policy.needs_approval(actor_id, "bridge.delete")

    async def delete_bridge(self, actor_id: int, name: str, node: str) -> NodeNetwork:
        node = await self.check_bridge_delete(actor_id, name, node)
        await self._px.stage_iface_delete(node, name)
        await self._px.apply_network(node)
        self._store.pools.remove(name)
        self._store.audit.record(actor_id, "bridge_del", f"{node}:{name}", "ok")
        return await self._px.node_network(node)

    # ---- NAT networks (admins) ----------------------------------------------------------------

    async def add_natnet(self, actor_id: int, args: NatNetArgs) -> VNetInfo:
        self._admin(actor_id, "natnet.add")
        vnets = await self._px.list_vnets()
        if any(v.name == args.name for v in vnets):
            raise Conflict(f"A network named {args.name} already exists.")
        for node in await self._px.online_nodes():
            if any(b.name == args.name for b in (await self._px.node_network(node)).bridges):
                raise Conflict(f"{args.name} is already a bridge on {node}.")
        await self._refuse_overlap(args.network)
        try:
            await self._px.create_nat_network(NAT_ZONE, args.name, str(args.network),
                                              args.gateway)
        except errors.StillRunning:
            # The apply goes on with the whole network: it will be there, with its pool.
            if args.pool:
                self._store.pools.put(args.name, args.pool.first, args.pool.last)
            self._store.audit.record(actor_id, "natnet_add", args.name, "still running",
                                     str(args.network))
            raise
        except errors.ProxmoxError as exc:
            left = exc.left if isinstance(exc, errors.Undone) else ()
            self._store.audit.record(actor_id, "natnet_add", args.name, "failed",
                                     f"{args.network}; left: {', '.join(left)}" if left
                                     else str(args.network))
            raise
        if args.pool:
            self._store.pools.put(args.name, args.pool.first, args.pool.last)
        self._store.audit.record(actor_id, "natnet_add", args.name, "ok", str(args.network))
        return next(v for v in await self._px.list_vnets() if v.name == args.name)

    # ---- address pools ------------------------------------------------------------------------

    async def _network_of(self, name: str) -> tuple[ipaddress.IPv4Network, str | None] | None:
        """The subnet of a bridge or VNet and the gateway its containers use."""
        for v in await self._px.list_vnets():
            if v.name == name and v.subnet:
                return ipaddress.IPv4Network(v.subnet), v.gateway
        for node in await self._px.online_nodes():
            for b in (await self._px.node_network(node)).bridges:
                if b.name == name and b.cidr:
                    iface = ipaddress.IPv4Interface(b.cidr)
                    return iface.network, b.gateway or str(iface.ip)
        return None

    def _pool(self, network: str) -> PoolRecord | None:
        pool_range = self._pools().get(network)
        if pool_range is None:
            return None
        return self._store.pools.get(network) or self._store.pools.put(network, *pool_range)

    async def lease(self, network: str, holder: str) -> Lease | None:
        """The next free address of `network`'s pool, or None when it has no pool."""
        pool = self._pool(network)
        if pool is None:
            return None
        found = await self._network_of(network)
        if found is None:
            raise NotFound(f"Network {network} has an address pool but no subnet I can see.")
        subnet, gateway = found
        used = {str(ip) for ip in await self._px.used_addresses()}
        if gateway:
            used.add(gateway)
        # A pool drawn over the gateway, a node's address or the broadcast is not handed out.
        used |= {str(ip) for ip in await self._reserved(network)}
        ip = self._store.pools.lease(pool, used, holder, hold_s=LEASE_HOLD_S)
        if ip is None:
            raise Conflict(f"The address pool of {network} ({pool}) is exhausted: every address "
                           "is used or held. Free one, or give an address with --ip.")
        return Lease(network, f"{ip}/{subnet.prefixlen}", gateway)

    def release(self, lease: Lease) -> None:
        self._store.pools.release(lease.network, lease.cidr.split("/")[0])

    def release_holder(self, holder: str) -> None:
        """Give back at once what was leased for `holder` (a create that failed: no CT holds
        its address, and holding it for hours would exhaust a small pool)."""
        for network, ip in self._store.pools.release_holder(holder):
            log.info("address %s of %s given back (%s will not use it)", ip, network, holder)

    def release_unrun(self, approval: Approval) -> None:
        """Give back the addresses a request leased (its payload's ``lease_holder``) once it
        will never run: rejected, expired or cancelled. Call it wherever a request is closed
        so; an approved one keeps them for its execution, which gives them back if it fails."""
        holder = approval.payload.get("lease_holder")
        if holder and approval.status in _NEVER_RUNS:
            self.release_holder(holder)

    # ---- addresses a person names ------------------------------------------------------------

    async def _reserved(self, network: str) -> dict[ipaddress.IPv4Address, str]:
        """Addresses no container may take on `network`, each with what it is: every node's
        own address (a CT holding one cuts the node off that subnet), the gateway of the
        network, and the network and broadcast addresses of its subnet."""
        out: dict[ipaddress.IPv4Address, str] = {}

        def edges(subnet: ipaddress.IPv4Network) -> None:
            if subnet.prefixlen <= 30:  # /31 and /32 have no network or broadcast address
                out.setdefault(subnet.network_address, f"the network address of {subnet}")
                out.setdefault(subnet.broadcast_address, f"the broadcast address of {subnet}")

        for v in await self._px.list_vnets():
            if v.gateway:
                out.setdefault(ipaddress.IPv4Address(v.gateway), f"the gateway of {v.name}")
            if v.name == network and v.subnet:
                edges(ipaddress.IPv4Network(v.subnet))
        for node in await self._px.online_nodes():
            for b in (await self._px.node_network(node)).bridges:
                if b.name == network and b.gateway:
                    out.setdefault(ipaddress.IPv4Address(b.gateway), f"the gateway of {b.name}")
                if not b.cidr:
                    continue
                iface = ipaddress.IPv4Interface(b.cidr)
                if b.name == network and not b.gateway:  # its containers route through it
                    out.setdefault(iface.ip, f"the gateway of {b.name} ({node}'s own address "
                                             "on it)")
                out.setdefault(iface.ip, f"{node}'s own address on {b.name}")
                if b.name == network:
                    edges(iface.network)
        return out

    def _free_of_pool(self, pool: PoolRecord, taken: set[ipaddress.IPv4Address],
                      shown: int = 5) -> str:
        """The free addresses of a pool, the first few of them, for a refusal to offer."""
        blocked = taken | {ipaddress.IPv4Address(ip)
                           for ip in self._store.pools.held(pool.network, LEASE_HOLD_S)}
        first, last = (int(ipaddress.IPv4Address(a)) for a in (pool.first, pool.last))
        free = [ip for n in range(first, last + 1)
                if (ip := ipaddress.IPv4Address(n)) not in blocked]
        if not free:
            return (f"the pool of {pool.network} ({pool}) has no free address left: ask an "
                    "admin to free one or to widen the pool")
        more = f" and {len(free) - shown} more" if len(free) > shown else ""
        return (f"free addresses of the {pool.network} pool: "
                f"{', '.join(map(str, free[:shown]))}{more}")

    async def claim(self, actor_id: int, network: str, cidr: str, holder: str,
                    vmid: int | None = None) -> Lease | None:
        """Check an address a person named for a container's NIC on `network` (`vmid`: the CT
        being changed, whose own addresses do not count). An address of the network's pool is
        leased to `holder` and returned (give it back if the change fails); None otherwise.

        Nobody, admins included, gets an address that breaks someone else's network: the
        network's gateway, a node's own address, the network or broadcast address, an address
        another CT has, or one a lease holds for another request. A user gets only an address
        of the network's pool: the pool is what an admin set aside for users (/bridge_add and
        /natnet_add --pool, or the network.pools setting), and leasing from it keeps two
        requests from taking the same one. Raises Conflict or Forbidden, saying what to do."""
        try:
            ip = ipaddress.IPv4Interface(cidr).ip
        except ValueError:
            raise ServiceError(f"{cidr!r} is not an IPv4 address with a prefix length "
                               "(e.g. 10.10.20.10/24).") from None
        admin = self._access.is_admin(actor_id)
        pool = self._pool(network)
        reserved = await self._reserved(network)
        others = {ipaddress.IPv4Interface(n.ip).ip: ct
                  for ct in await self._px.all_container_networks() if ct.vmid != vmid
                  for n in ct.nics if n.ip and _is_cidr(n.ip)}
        taken = set(reserved) | set(others)

        def refuse(error: type[ServiceError], why: str) -> ServiceError:
            offer = f"; {self._free_of_pool(pool, taken)}" if pool else "; choose another one"
            return error(f"{why}{offer}.")

        if ip in reserved:
            raise refuse(Conflict, f"{ip} is {reserved[ip]}: no container may take it")
        in_pool = pool is not None and ipaddress.IPv4Address(pool.first) <= ip <= \
            ipaddress.IPv4Address(pool.last)
        if not admin and pool is None:
            raise Forbidden(f"{network} has no address pool, so only an admin can give a "
                            f"container a fixed address on it: use DHCP (--dhcp), or ask an "
                            f"admin to set a pool for {network}.")
        if not admin and not in_pool:
            raise refuse(Forbidden, f"{ip} is not in the address pool of {network} ({pool}), "
                                    "where your addresses come from")
        if ip in others:
            ct = others[ip]
            whose = (f"CT {ct.vmid} ({ct.hostname})"
                     if admin or self._store.ownership.owner(ct.vmid) == actor_id
                     else "another container")
            raise refuse(Conflict, f"{ip} is already used by {whose}")
        if not in_pool:
            return None  # an admin's address outside the pools: checked, nothing to lease
        found = await self._network_of(network)
        gateway = found[1] if found else None
        if self._store.pools.claim(pool, str(ip), holder, hold_s=LEASE_HOLD_S) is not None:
            raise refuse(Conflict, f"{ip} is held for another request under way (a create "
                                   "waiting for approval or running)")
        return Lease(network, cidr, gateway)

    # ---- container NICs -----------------------------------------------------------------------

    async def nics(self, actor_id: int, ref: int | str) -> CtNetwork:
        ct = await self.containers.resolve(actor_id, ref, "net.see")
        return await self._px.container_network(ct.vmid)

    async def set_nic(self, actor_id: int, ref: int | str, args: NetSetArgs) -> NicChange:
        vmid = (await self.containers.resolve(actor_id, ref, "net.set")).vmid
        ct = await self._px.container_network(vmid)
        if args.bridge:
            await self._check_network_on(ct.node, args.bridge, vmid)
        current = next((n for n in ct.nics if n.key == args.key), None)
        # A container has one default gateway: another NIC's, if any, stays the one.
        other_gw = next((n for n in ct.nics if n.key != args.key and n.gw), None)
        if args.gw and args.gw != NO_GATEWAY and other_gw is not None:
            raise Conflict(f"CT {vmid} already has its default gateway on {other_gw.key} "
                           f"({other_gw.gw}), and a container has one: take it off there first "
                           f"(/net_set {vmid} {other_gw.key} --gw none), or leave --gw out.")
        props = parse_property_string(current.raw) if current else {
            "name": f"eth{args.key[3:]}", "bridge": args.bridge or "vmbr0"}
        if args.bridge:
            props["bridge"] = args.bridge
        if args.dhcp:
            props["ip"] = "dhcp"
            props.pop("gw", None)
        if args.ip:
            props["ip"] = args.ip
        if args.gw == NO_GATEWAY:
            props.pop("gw", None)
        elif args.gw:
            props["gw"] = args.gw
        lease = None
        if args.bridge and not (args.ip or args.dhcp):
            lease = await self.lease(args.bridge, f"ct:{vmid}")
            if lease:
                props["ip"] = lease.cidr
                if lease.gateway and other_gw is None and args.gw != NO_GATEWAY:
                    props["gw"] = lease.gateway
                elif other_gw is not None:
                    props.pop("gw", None)
        moved = args.bridge and (current is None or current.bridge != args.bridge)
        if lease is None and props.get("ip") not in (None, "dhcp", "manual") and (args.ip or moved):
            # An address the asker named, or one they take along to another bridge.
            lease = await self.claim(actor_id, props["bridge"], props["ip"], f"ct:{vmid}", vmid)
        try:
            value = _nic_value(args.key, props)
            await self._px.set_container_nic(vmid, args.key, value)
        except Exception:
            if lease:
                self.release(lease)
            raise
        self._store.audit.record(actor_id, "net_set", f"ct:{vmid}", "ok", f"{args.key}={value}"
                                 + self.containers.share_note(actor_id, vmid))
        owner = self._store.ownership.owner(vmid)
        if owner is not None:  # its owner's ipset holds its new address, not the old one
            await self.containers.secure(owner, vmid)
            await self.containers.resecure(owner)
        return NicChange(vmid, args.key, current.raw if current else "", value, ct.running)

    async def delete_nic(self, actor_id: int, ref: int | str, key: str) -> NicChange:
        """Take a NIC off a container (the owner's or an admin's)."""
        vmid = (await self.containers.resolve(actor_id, ref, "net.set")).vmid
        ct = await self._px.container_network(vmid)
        current = next((n for n in ct.nics if n.key == key), None)
        if current is None:
            have = ", ".join(n.key for n in ct.nics) or "none"
            raise NotFound(f"CT {vmid} has no {key}; its NICs: {have}.")
        await self._px.set_config(vmid, delete=key)
        self._store.audit.record(actor_id, "net_del", f"ct:{vmid}", "ok",
                                 f"{key} was {current.raw}")
        return NicChange(vmid, key, current.raw, "", ct.running)

    async def _check_network_on(self, node: str, name: str, vmid: int) -> None:
        """A NIC goes only on a bridge or VNet that exists where the CT runs: Proxmox takes
        any name in the config and fails only the next start (or the hot-plug)."""
        here = {b.name for b in (await self._px.node_network(node)).bridges if b.active}
        here |= {v.name for v in await self._px.list_vnets()
                 if v.applied and (not v.zone_nodes or node in v.zone_nodes)}
        if name not in here:
            raise NotFound(f"There is no network {name} on {node}, where CT {vmid} runs "
                           f"(there: {', '.join(sorted(here)) or 'none'}). /bridges lists the "
                           "networks you may use.")

    # ---- the network facts the API cannot show (admins) ---------------------------------------

    @property
    def facts(self) -> netcheck.Facts:
        """The settings' facts, with those an admin set from the chat in their place."""
        stored = {name: doc["items"] for name, doc in self._store.netfacts.all().items()}
        return netfacts.merged(self._settings_facts, stored)

    def fact_sheet(self, actor_id: int) -> list[FactLine]:
        self._admin(actor_id, "netfacts")
        facts, stored = self.facts, self._store.netfacts.all()
        return [FactLine(k, netfacts.shown(k.name, netfacts.items_of(facts, k.name)),
                         stored.get(k.name, {}).get("by"), stored.get(k.name, {}).get("at"))
                for k in netfacts.KINDS.values()]

    async def change_fact(self, actor_id: int, op: str, name: str,
                          items: tuple = ()) -> FactLine:
        """add / del / set items of fact `name`, or reset it to the setting's value. What is
        added names nodes and bridges that exist; the change is stored and audited."""
        self._admin(actor_id, "netfacts")
        kind = netfacts.KINDS[name]
        current = list(netfacts.items_of(self.facts, name))
        if op == "reset":
            self._store.netfacts.remove(name)
        else:
            if op in ("add", "set"):
                await self._check_fact_items(kind, items)
            if op == "add":
                new = current + [i for i in items if i not in current]
            elif op == "del":
                missing = [i for i in items if i not in current]
                if missing:
                    have = ", ".join(netfacts.shown(name, current)) or "nothing"
                    raise NotFound(f"{name} has no {', '.join(netfacts.shown(name, missing))}; "
                                   f"it holds: {have}.")
                new = [i for i in current if i not in items]
            else:
                new = list(items)
            texts = netfacts.shown(name, netfacts.items_of(
                netfacts.with_items(netcheck.Facts(), name, new), name))
            self._store.netfacts.put(name, list(texts), actor_id)
        line = next(f for f in self.fact_sheet(actor_id) if f.kind.name == name)
        detail = f"{op} {' '.join(netfacts.shown(name, items))}".strip()
        self._store.audit.record(actor_id, "netfacts", f"fact:{name}", "ok",
                                 f"{detail} -> {', '.join(line.items) or 'none'}")
        return line

    async def _check_fact_items(self, kind: netfacts.FactKind, items: tuple) -> None:
        """Nodes and bridges a fact names must exist: a typo would make /netcheck reason
        about a network that is not there."""
        if kind.name in ("vbox_vm",):
            return
        online = await self._px.online_nodes()
        for item in items:
            node = item.node if isinstance(item, netcheck.PortForward) else (
                item if isinstance(item, str) else item[0])
            if node not in online:
                raise NotFound(f"{node} is not an online node of the cluster (online: "
                               f"{', '.join(online) or 'none'}).")
            bridges = item[1:] if isinstance(item, tuple) else ()
            if bridges:
                have = {b.name for b in (await self._px.node_network(node)).bridges}
                for bridge in bridges:
                    if bridge not in have:
                        raise NotFound(f"{node} has no bridge {bridge} (its bridges: "
                                       f"{', '.join(sorted(have)) or 'none'}).")

    # ---- the connectivity doctor --------------------------------------------------------------

    async def snapshot(self) -> netcheck.NetworkSnapshot:
        bridges = []
        for node in await self._px.online_nodes():
            for b in (await self._px.node_network(node)).bridges:
                bridges.append(netcheck.Bridge(node=node, name=b.name, cidr=b.cidr,
                                               ports=b.ports, autostart=b.autostart,
                                               pending=b.pending, gateway=b.gateway))
        vnets = [netcheck.VNet(name=v.name, zone=v.zone, zone_type=v.zone_type or "simple",
                               subnet=v.subnet, gateway=v.gateway, snat=v.snat,
                               applied=v.applied, dhcp=v.dhcp,
                               nodes=frozenset(v.zone_nodes) if v.zone_nodes else None)
                 for v in await self._px.list_vnets()]
        guests = []
        for ct in await self._px.all_container_networks():
            nics = tuple(netcheck.Nic(bridge=n.bridge, ip=n.ip, gw=n.gw, dhcp=n.dhcp,
                                      link_up=n.link_up, name=n.key, tag=n.tag)
                         for n in ct.nics)
            guests.append(netcheck.Guest(ct.vmid, ct.hostname, ct.node, ct.running, nics))
        return netcheck.NetworkSnapshot(tuple(bridges), tuple(vnets), tuple(guests))

    async def netcheck(self, actor_id: int, a: int | str, b: int | str) -> netcheck.Verdict:
        """Can `a` reach `b`? Containers (by vmid or hostname) must be ones the asker may
        see; `pc`, `host` and `host:<node>` are the lab's fixed ends."""
        self._access.policy.authorize(actor_id, "net.check")
        ends = []
        for end in (a, b):
            if isinstance(end, int) or end not in ("pc", "host") and not end.startswith("host:"):
                # by vmid, as hostnames are not unique
                end = (await self.containers.resolve(actor_id, end, "net.check")).vmid
            ends.append(end)
        snapshot = await self.snapshot()
        if not self._access.is_admin(actor_id):  # a user is not told whose address they took
            shared = {vmid for vmid in ends if isinstance(vmid, int)}  # resolved: may see
            snapshot = dataclasses.replace(snapshot, hidden=frozenset(
                g.vmid for g in snapshot.guests
                if self._store.ownership.owner(g.vmid) != actor_id and g.vmid not in shared))
        verdict = netcheck.check(*ends, snapshot, self.facts)
        if self.firewall is not None:  # the network's path, then what the firewall lets pass
            verdict = await self.firewall.judge(verdict, ends, snapshot)
        return verdict


__all__ = ["NetworkService", "Lease", "Overview", "NicChange", "nic_from_pve"]
