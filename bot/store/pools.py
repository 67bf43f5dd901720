"""Address pools of networks (bridges, NAT networks) and the addresses handed out from them.

A pool is a range FIRST-LAST of a network's addresses; `lease` picks the lowest address of the
range that no container uses and no recent lease holds, and records the lease, all under the
store's lock, so two creates (even concurrent ones, from several threads) never get the same
address. A lease is held for `hold_s` (long enough for an approval to be decided and the create to
run); after that the container's own config shows the address as used. An address a person
names (`claim`) is leased the same way, unless a live lease holds it for someone else; a
request that will not run gives its leases back at once (`release_holder`).
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from tinydb import Query

from .repositories import _Repository

_q = Query()
DEFAULT_HOLD_S = 2 * 3600.0


@dataclass(frozen=True)
class PoolRecord:
    network: str  # bridge or VNet name
    first: str
    last: str

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"

    @property
    def size(self) -> int:
        return int(ipaddress.IPv4Address(self.last)) - int(ipaddress.IPv4Address(self.first)) + 1


class PoolRepository(_Repository):
    """Table `pools`: {network, first, last}; table `leases`: {network, ip, holder, at}."""

    def __init__(self, table, leases, lock) -> None:
        super().__init__(table, lock)
        self._leases = leases

    def put(self, network: str, first: str, last: str) -> PoolRecord:
        record = PoolRecord(network, first, last)
        with self._lock:
            self._table.upsert({"network": network, "first": first, "last": last},
                               _q.network == network)
        return record

    def get(self, network: str) -> PoolRecord | None:
        with self._lock:
            doc = self._table.get(_q.network == network)
        return PoolRecord(**doc) if doc else None

    def all(self) -> list[PoolRecord]:
        with self._lock:
            docs = self._table.all()
        return sorted((PoolRecord(**d) for d in docs), key=lambda p: p.network)

    def remove(self, network: str) -> None:
        with self._lock:
            self._table.remove(_q.network == network)
            self._leases.remove(_q.network == network)

    def lease(self, pool: PoolRecord, used: set[str], holder: str,
              hold_s: float = DEFAULT_HOLD_S, now: float | None = None) -> str | None:
        """The lowest free address of `pool` (not in `used`, not held), now leased to `holder`;
        None when the pool is exhausted."""
        now = time.time() if now is None else now
        first = int(ipaddress.IPv4Address(pool.first))
        last = int(ipaddress.IPv4Address(pool.last))
        with self._lock:
            self._leases.remove((_q.network == pool.network) & (_q.at < now - hold_s))
            held = {d["ip"] for d in self._leases.search(_q.network == pool.network)}
            for n in range(first, last + 1):
                ip = str(ipaddress.IPv4Address(n))
                if ip not in used and ip not in held:
                    self._leases.insert({"network": pool.network, "ip": ip, "holder": holder,
                                         "at": now})
                    return ip
        return None

    def claim(self, pool: PoolRecord, ip: str, holder: str, hold_s: float = DEFAULT_HOLD_S,
              now: float | None = None) -> str | None:
        """Lease the address `ip` of `pool`, one a person named, to `holder`. None when done;
        the other holder when a live lease holds it for someone else (nothing is changed)."""
        now = time.time() if now is None else now
        at = (_q.network == pool.network) & (_q.ip == ip)
        with self._lock:
            self._leases.remove((_q.network == pool.network) & (_q.at < now - hold_s))
            doc = self._leases.get(at)
            if doc is not None and doc["holder"] != holder:
                return doc["holder"]
            self._leases.upsert({"network": pool.network, "ip": ip, "holder": holder, "at": now},
                                at)
        return None

    def held(self, network: str, hold_s: float = DEFAULT_HOLD_S,
             now: float | None = None) -> dict[str, str]:
        """The live leases of `network`: address -> holder."""
        now = time.time() if now is None else now
        with self._lock:
            docs = self._leases.search((_q.network == network) & (_q.at >= now - hold_s))
        return {d["ip"]: d["holder"] for d in docs}

    def release_holder(self, holder: str) -> list[tuple[str, str]]:
        """Give back every lease of `holder` (a request that will not run, a create that
        failed); returns the (network, address) pairs given back."""
        with self._lock:
            docs = self._leases.search(_q.holder == holder)
            self._leases.remove(_q.holder == holder)
        return sorted((d["network"], d["ip"]) for d in docs)

    def release(self, network: str, ip: str) -> None:
        with self._lock:
            self._leases.remove((_q.network == network) & (_q.ip == ip))

    def leases(self, network: str) -> list[str]:
        with self._lock:
            return sorted(d["ip"] for d in self._leases.search(_q.network == network))
