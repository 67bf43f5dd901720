"""Firewall operations of `Proxmox`: the datacenter's options, cluster ipsets and security
groups, and a container's firewall options and rules (pve-firewall's API).

A mixin: the methods use `Proxmox`'s primitives (`_request`, `_on_ct`). PVE puts a new rule or
ipset entry first in its list and leaves a rule created without ``enable`` disabled, so
callers say ``enable=1`` and add a list's rules last one first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.metrics import waiting_for


@dataclass(frozen=True)
class FwRule:
    """One rule as PVE lists it; `pos` is its place in its list (0: first)."""

    pos: int
    type: str  # in | out | group
    action: str  # ACCEPT | DROP | REJECT, or a security group's name
    source: str | None = None
    dest: str | None = None
    proto: str | None = None
    dport: str | None = None
    enable: bool = True
    comment: str = ""
    digest: str = ""  # of the whole list, to bind a change to what was read

    @classmethod
    def from_pve(cls, data: dict[str, Any]) -> FwRule:
        return cls(int(data.get("pos", 0)), str(data.get("type", "")),
                   str(data.get("action", "")), data.get("source"), data.get("dest"),
                   data.get("proto"), data.get("dport"), bool(int(data.get("enable", 0))),
                   str(data.get("comment", "")), str(data.get("digest", "")))

    def params(self) -> dict[str, Any]:
        """What creates this rule (enabled or not, as it is)."""
        out = {"type": self.type, "action": self.action, "source": self.source,
               "dest": self.dest, "proto": self.proto, "dport": self.dport,
               "enable": int(self.enable), "comment": self.comment or None}
        return {k: v for k, v in out.items() if v is not None}

    def same_as(self, other: FwRule) -> bool:
        """The same rule, wherever it stands in its list."""
        return self.params() == other.params()


class FirewallMixin:
    """Mixed into `Proxmox`."""

    async def _rule_request(self, method: str, path: str, what: str,
                            params: dict[str, Any]) -> Any:
        """`_request` for a rule: a rule has a parameter named ``action`` (ACCEPT, DROP...),
        which `_request` takes for the words of its errors."""
        from .client import _encode  # local: client imports this module

        with waiting_for("proxmox"):
            api = await self._client()
            call = getattr(api(path), method.lower())
            try:
                return await self._in_thread(call, **_encode(params))
            except Exception as exc:
                raise self._translate(exc, what) from None

    # -- the datacenter ------------------------------------------------------------------------

    async def firewall_options(self) -> dict[str, Any]:
        return await self._request("GET", "cluster/firewall/options",
                                   action="read the datacenter firewall's options")

    async def set_firewall_options(self, **options: Any) -> None:
        await self._request("PUT", "cluster/firewall/options",
                            action="change the datacenter firewall's options", **options)

    async def ipset_names(self) -> list[str]:
        return [s["name"] for s in await self._request(
            "GET", "cluster/firewall/ipset", action="list the firewall's ipsets")]

    async def ipsets(self) -> dict[str, list[str]]:
        """Every cluster ipset with its entries (addresses and networks)."""
        return {name: await self.ipset(name) for name in await self.ipset_names()}

    async def ipset(self, name: str) -> list[str]:
        entries = await self._request("GET", f"cluster/firewall/ipset/{name}",
                                      action=f"read the firewall ipset {name}")
        return [e["cidr"] for e in entries if not e.get("nomatch")]

    async def create_ipset(self, name: str, comment: str) -> None:
        await self._request("POST", "cluster/firewall/ipset", action=f"create the ipset {name}",
                            name=name, comment=comment)

    async def add_to_ipset(self, name: str, cidr: str, comment: str | None = None) -> None:
        await self._request("POST", f"cluster/firewall/ipset/{name}",
                            action=f"add {cidr} to the ipset {name}", cidr=cidr,
                            comment=comment)

    async def remove_from_ipset(self, name: str, cidr: str) -> None:
        await self._request("DELETE", f"cluster/firewall/ipset/{name}/{cidr}",
                            action=f"remove {cidr} from the ipset {name}")

    async def security_groups(self) -> dict[str, list[FwRule]]:
        names = [g["group"] for g in await self._request(
            "GET", "cluster/firewall/groups", action="list the firewall's security groups")]
        return {name: await self.group_rules(name) for name in names}

    async def group_rules(self, group: str) -> list[FwRule]:
        rules = await self._request("GET", f"cluster/firewall/groups/{group}",
                                    action=f"read the security group {group}")
        return [FwRule.from_pve(r) for r in rules]

    async def create_group(self, group: str, comment: str) -> None:
        await self._request("POST", "cluster/firewall/groups",
                            action=f"create the security group {group}", group=group,
                            comment=comment)

    async def add_group_rule(self, group: str, rule: FwRule) -> None:
        await self._rule_request("POST", f"cluster/firewall/groups/{group}",
                                 f"add a rule to the security group {group}", rule.params())

    async def delete_group_rule(self, group: str, pos: int, digest: str | None = None) -> None:
        await self._request("DELETE", f"cluster/firewall/groups/{group}/{pos}",
                            action=f"delete a rule of the security group {group}", digest=digest)

    # -- a container -------------------------------------------------------------------------

    async def ct_firewall_options(self, vmid: int) -> dict[str, Any]:
        return await self._on_ct(vmid, lambda node: self._request(
            "GET", f"nodes/{node}/lxc/{vmid}/firewall/options",
            action=f"read CT {vmid}'s firewall options"))

    async def set_ct_firewall_options(self, vmid: int, **options: Any) -> None:
        await self._on_ct(vmid, lambda node: self._request(
            "PUT", f"nodes/{node}/lxc/{vmid}/firewall/options",
            action=f"change CT {vmid}'s firewall options", **options))

    async def ct_firewall_rules(self, vmid: int) -> list[FwRule]:
        rules = await self._on_ct(vmid, lambda node: self._request(
            "GET", f"nodes/{node}/lxc/{vmid}/firewall/rules",
            action=f"read CT {vmid}'s firewall rules"))
        return [FwRule.from_pve(r) for r in rules]

    async def add_ct_rule(self, vmid: int, rule: FwRule) -> None:
        await self._on_ct(vmid, lambda node: self._rule_request(
            "POST", f"nodes/{node}/lxc/{vmid}/firewall/rules",
            f"add a firewall rule to CT {vmid}", rule.params()))

    async def delete_ct_rule(self, vmid: int, pos: int, digest: str | None = None) -> None:
        await self._on_ct(vmid, lambda node: self._request(
            "DELETE", f"nodes/{node}/lxc/{vmid}/firewall/rules/{pos}",
            action=f"delete a firewall rule of CT {vmid}", digest=digest))
