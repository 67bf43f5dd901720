"""`Proxmox`: the async face of the provisioning layer.

proxmoxer (requests) blocks, so every HTTP call runs in a bounded ThreadPoolExecutor and
the event loop only awaits futures. All calls go through `_request`, which encodes
booleans as 1/0 (PVE refuses ``True``) and turns every failure into `errors.ProxmoxError`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import string
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from proxmoxer.core import ProxmoxResource

from bot.metrics import answer_marker, waiting_for

from . import errors
from .backups import BackupsMixin
from .firewall import FirewallMixin
from .models import (
    MIB,
    Container,
    ContainerSpec,
    CreateResult,
    NodeInfo,
    Template,
    container_from,
)
from .moves import MovesMixin
from .network import NetworkMixin
from .scaling import ScalingMixin
from .settings import ProxmoxSettings
from .tasks import decode_upid, duration_text, error_line, is_success, poll_delays, wait_limit
from .transport import connect

log = logging.getLogger(__name__)

Progress = Callable[[str], Awaitable[None]]

_PASSWORD_ALPHABET = string.ascii_letters + string.digits
_MAX_VMID = 999_999_999
_CREATE_ATTEMPTS = 8


class _NoSecrets(logging.Filter):
    """proxmoxer logs request bodies at INFO; drop those that may carry a password."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return "password" not in message and "ssh-public-keys" not in message


logging.getLogger("proxmoxer.core").addFilter(_NoSecrets())


def generate_password(length: int = 20) -> str:
    """A random password with lower case, upper case and digits (PVE wants >= 5 chars)."""
    while True:
        pw = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))
        if (
            any(c.islower() for c in pw)
            and any(c.isupper() for c in pw)
            and any(c.isdigit() for c in pw)
        ):
            return pw


def _encode(params: dict[str, Any]) -> dict[str, Any]:
    """PVE accepts top-level booleans only as 1/0; proxmoxer would send ``True``."""
    return {k: int(v) if isinstance(v, bool) else v for k, v in params.items() if v is not None}


class Proxmox(ScalingMixin, MovesMixin, NetworkMixin, BackupsMixin, FirewallMixin):
    """Async access to one Proxmox VE cluster. Use as ``async with Proxmox(settings) as px``."""

    def __init__(self, settings: ProxmoxSettings):
        self.settings = settings
        self._pool = ThreadPoolExecutor(settings.max_workers, thread_name_prefix="proxmox")
        _start_all_workers(self._pool, settings.max_workers)
        self._api: ProxmoxResource | None = None
        self._connect_lock = asyncio.Lock()
        # vmids handed to creates/clones of this process that PVE may not know yet: nextid
        # reserves nothing, so concurrent creates would otherwise all get the same id.
        self._reserved_vmids: set[int] = set()
        # Memory (MiB) promised to creates still running, per node, for placement.
        self._pending_mem: dict[str, int] = {}
        self._node_of: dict[int, str] = {}  # cache of where each CT lives
        self._inflight: dict[tuple, asyncio.Future] = {}  # see `_single_flight`
        self._clone_sources: dict[int, asyncio.Lock] = {}  # see `_clone_source_lock`

    def __repr__(self) -> str:
        return f"Proxmox({self.settings!r})"

    def hide_location(self, text: str) -> str:
        """`text` as a person who is not an admin may read it: without this cluster's URL,
        host and port, nor the token id or user the bot calls it with."""
        s = self.settings
        token_user = (s.token_id or "").partition("!")[0]
        return errors.hide_location(text, base_url=s.base_url, host=s.host, port=s.port,
                                    identities=(s.token_id, token_user, s.user))

    async def __aenter__(self) -> Proxmox:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the thread pool and the HTTP connections."""
        api, self._api = self._api, None
        if api is not None:
            await self._in_thread(api._store["session"].close)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- plumbing ---------------------------------------------------------------------------

    async def _in_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        answered = answer_marker()  # the waits open here end when the thread has the answer

        def call() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                answered()

        return await loop.run_in_executor(self._pool, call)

    async def _client(self) -> ProxmoxResource:
        if self._api is None:
            async with self._connect_lock:
                if self._api is None:
                    try:
                        self._api = await self._in_thread(connect, self.settings)
                    except Exception as exc:
                        raise self._translate(exc, "log in") from None
        return self._api

    def _translate(self, exc: BaseException, action: str) -> errors.ProxmoxError:
        return errors.translate(exc, target=self.settings.base_url, action=action)

    async def _request(self, method: str, path: str, *, action: str, **params: Any) -> Any:
        """One API call, off the event loop; the only place proxmoxer is invoked."""
        with waiting_for("proxmox"):
            api = await self._client()
            call = getattr(api(path), method.lower())
            try:
                return await self._in_thread(call, **_encode(params))
            except Exception as exc:
                raise self._translate(exc, action) from None

    async def _single_flight(self, key: tuple, fetch: Callable[[], Awaitable[Any]]) -> Any:
        """Callers asking the same read while it is in flight share its answer.

        50 concurrent creates then cost one /cluster/resources and one /cluster/nextid
        instead of 50 each. Nothing is cached beyond the request's own lifetime.
        """
        future = self._inflight.get(key)
        if future is None:
            async def fetch_noting_when_answered() -> tuple[Any, float | None]:
                with waiting_for("proxmox") as wait:
                    value = await fetch()
                return value, wait.answered_at

            future = asyncio.ensure_future(fetch_noting_when_answered())
            self._inflight[key] = future

            def forget(done: asyncio.Future) -> None:
                if self._inflight.get(key) is done:
                    del self._inflight[key]

            future.add_done_callback(forget)
        # shield: one caller's cancellation must not cancel the others' request. Each caller
        # waits for Proxmox, not only the one whose context runs the request.
        with waiting_for("proxmox") as wait:
            value, answered_at = await asyncio.shield(future)
            if answered_at is not None:
                wait.answered(answered_at)
            return value

    async def _resources(self, kind: str | None = None) -> list[dict]:
        params = {"type": kind} if kind else {}
        return await self._single_flight(
            ("resources", kind),
            lambda: self._request(
                "GET", "cluster/resources", action="read the cluster resources", **params
            ),
        )

    async def _locate(self, vmid: int, *, refresh: bool = False) -> str:
        """The node a CT lives on (cached; `refresh` asks the cluster again)."""
        if not refresh and vmid in self._node_of:
            return self._node_of[vmid]
        for res in await self._resources("vm"):
            if int(res.get("vmid", -1)) == int(vmid):
                if res.get("type") != "lxc":
                    raise errors.NotFound(
                        f"Guest {vmid} is a {res.get('type')} VM, not a container."
                    )
                self._node_of[vmid] = res["node"]
                return res["node"]
        self._node_of.pop(vmid, None)
        raise errors.NotFound(f"Container {vmid} does not exist in the cluster.")

    async def _on_ct(self, vmid: int, op: Callable[[str], Awaitable[Any]]) -> Any:
        """Run `op(node)` for the CT's node; if the cached node was stale, locate and retry."""
        cached = vmid in self._node_of
        node = await self._locate(vmid)
        try:
            return await op(node)
        except errors.NotFound:
            if not cached:
                raise
            return await op(await self._locate(vmid, refresh=True))

    # -- reading ----------------------------------------------------------------------------

    async def overview(self) -> list[NodeInfo]:
        """Every node with its CPU and memory, online or not."""
        nodes = await self._resources("node")
        return sorted((self._node_info(n) for n in nodes), key=lambda n: n.name)

    @staticmethod
    def _node_info(res: dict) -> NodeInfo:
        total = int(res.get("maxmem") or 0)
        return NodeInfo(
            name=res["node"],
            online=res.get("status") == "online",
            cpus=int(res.get("maxcpu") or 0),
            cpu_used=float(res.get("cpu") or 0.0),
            mem_total_mb=total // MIB,
            mem_free_mb=max(total - int(res.get("mem") or 0), 0) // MIB,
        )

    async def templates(self, node: str | None = None) -> list[Template]:
        """Container templates on `node` (default: on every online node, without repeats)."""
        return await self._templates(await self._resources(), node)

    async def _templates(self, resources: list[dict], node: str | None) -> list[Template]:
        nodes = [node] if node else self._online_nodes(resources)
        stores = [
            (s["node"], s["storage"])
            for s in resources
            if s.get("type") == "storage"
            and s.get("node") in nodes
            and "vztmpl" in str(s.get("content", "")).split(",")
            and s.get("status", "available") == "available"
        ]
        listings = await asyncio.gather(*(self._storage_templates(n, s) for n, s in stores))
        seen: dict[str, Template] = {}
        for entries in listings:
            for e in entries:
                if e.get("content") != "vztmpl":  # what the storage says, not the name
                    continue
                volid = e["volid"]
                seen.setdefault(
                    volid, Template(volid, volid.split("/", 1)[-1], int(e.get("size") or 0))
                )
        return sorted(seen.values(), key=lambda t: t.volid)

    async def _storage_templates(self, node: str, storage: str) -> list[dict]:
        """The template volumes a storage lists on a node (concurrent creates share the ask)."""
        return await self._single_flight(
            ("templates", node, storage),
            lambda: self._request(
                "GET",
                f"nodes/{node}/storage/{storage}/content",
                action=f"list the templates of storage {storage} on {node}",
                content="vztmpl",
            ),
        )

    @staticmethod
    def _online_nodes(resources: list[dict]) -> list[str]:
        return [
            r["node"] for r in resources if r.get("type") == "node" and r.get("status") == "online"
        ]

    async def list_containers(self, node: str | None = None,
                              vmids: set[int] | None = None) -> list[Container]:
        """All containers, or those of `vmids` (one request; only those asked for are built).
        NICs, IPs, swap and ostype need `get_container`."""
        return sorted(
            (
                container_from(r)
                for r in await self._resources("vm")
                if r.get("type") == "lxc" and (node is None or r.get("node") == node)
                and (vmids is None or int(r.get("vmid", -1)) in vmids)
            ),
            key=lambda c: c.vmid,
        )

    async def get_container(self, vmid: int) -> Container:
        """One container with its config and live status: two requests once its node is known
        (``status/current`` carries what the cluster listing would add)."""

        async def read(node: str) -> Container:
            config, status = await asyncio.gather(
                self._request(
                    "GET", f"nodes/{node}/lxc/{vmid}/config", action=f"read CT {vmid}'s config"
                ),
                self._request(
                    "GET",
                    f"nodes/{node}/lxc/{vmid}/status/current",
                    action=f"read CT {vmid}'s status",
                ),
            )
            return container_from({"vmid": vmid, "node": node}, config, status)

        return await self._on_ct(vmid, read)

    async def get_config(self, vmid: int) -> dict:
        return await self._on_ct(
            vmid,
            lambda node: self._request(
                "GET", f"nodes/{node}/lxc/{vmid}/config", action=f"read CT {vmid}'s config"
            ),
        )

    async def set_config(self, vmid: int, **params: Any) -> None:
        """Change config keys (``cores=2``, ``memory=1024``, ``onboot=True`` -> 1)."""
        await self._on_ct(
            vmid,
            lambda node: self._request(
                "PUT",
                f"nodes/{node}/lxc/{vmid}/config",
                action=f"change CT {vmid}'s config",
                **params,
            ),
        )

    async def grow_disk(self, vmid: int, grow_gb: int, disk: str = "rootfs") -> str:
        """Grow a CT's disk by `grow_gb` GiB (PUT .../resize, a ``resize`` task); Proxmox
        only grows disks, online on a running CT."""
        return await self._on_ct(
            vmid,
            lambda node: self._run_task(
                "PUT",
                f"nodes/{node}/lxc/{vmid}/resize",
                node,
                action=f"grow CT {vmid}'s disk on {node}",
                disk=disk,
                size=f"+{grow_gb}G",
            ),
        )

    # -- tasks ------------------------------------------------------------------------------

    async def wait_task(
        self, node: str, upid: str, *, expected_seconds: float | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the wait is bounded by polling rounds
    ) -> str:
        """Wait for a task to stop; return its exit status or raise TaskFailed with its error.

        Waits at most `timeout` seconds (default: the settings' task_timeout, else the limit of
        the task's kind), then raises StillRunning: the task goes on on the node.
        """
        try:
            kind = decode_upid(upid)
        except ValueError as exc:
            raise errors.InvalidRequest(str(exc), {"upid": str(exc)}) from None
        what = f"{kind['type']} {kind['id']}".strip()
        limit = timeout if timeout is not None else wait_limit(kind["type"],
                                                               self.settings.task_timeout)
        clock = asyncio.get_running_loop().time
        started = clock()
        path = f"nodes/{node}/tasks/{upid}"
        for delay in poll_delays(expected_seconds):
            await asyncio.sleep(max(0.0, min(delay, started + limit - clock())))
            status = await self._request(
                "GET", f"{path}/status", action=f"read the status of task {kind['type']}"
            )
            if status.get("status") == "stopped":
                break
            waited = clock() - started
            if waited >= limit:
                raise errors.StillRunning(
                    f"Proxmox task {what} is still running on {node} after "
                    f"{duration_text(waited)}; I stopped waiting for it, but it goes on there. "
                    f"Its outcome will be in {node}'s task log (Task History in the Proxmox "
                    f"GUI, or pvenode task log {upid}).",
                    upid=upid,
                    waited_s=waited,
                )
        exitstatus = str(status.get("exitstatus", ""))
        if is_success(exitstatus):
            return exitstatus
        try:
            lines = await self._request(
                "GET", f"{path}/log", action="read the task log", start=0, limit=0
            )
        except errors.ProxmoxError:
            lines = []
        line = error_line(lines, exitstatus)
        raise errors.TaskFailed(
            f"Proxmox task {what} on {node} failed: {line}",
            upid=upid,
            exitstatus=exitstatus,
            log_line=line,
        )

    async def _run_task(self, method: str, path: str, node: str, *, action: str, **params) -> str:
        upid = await self._request(method, path, action=action, **params)
        return await self.wait_task(node, upid)

    # -- power and delete -------------------------------------------------------------------

    async def _power(self, vmid: int, op: str, **params: Any) -> str:
        return await self._on_ct(
            vmid,
            lambda node: self._run_task(
                "POST",
                f"nodes/{node}/lxc/{vmid}/status/{op}",
                node,
                action=f"{op} CT {vmid} on {node}",
                **params,
            ),
        )

    async def start(self, vmid: int) -> str:
        return await self._power(vmid, "start")

    async def stop(self, vmid: int) -> str:
        """Stop at once (like pulling the plug); see `shutdown` for a clean stop."""
        return await self._power(vmid, "stop")

    async def shutdown(self, vmid: int, timeout: int = 60) -> str:  # noqa: ASYNC109
        """Clean shutdown; `timeout` is PVE's own (seconds before the task gives up)."""
        return await self._power(vmid, "shutdown", timeout=timeout)

    async def reboot(self, vmid: int) -> str:
        return await self._power(vmid, "reboot")

    async def delete(self, vmid: int, purge: bool = True) -> str:
        """Destroy the CT (it must be stopped); `purge` also drops it from jobs and ACLs."""
        result = await self._on_ct(
            vmid,
            lambda node: self._run_task(
                "DELETE",
                f"nodes/{node}/lxc/{vmid}",
                node,
                action=f"delete CT {vmid} on {node}",
                purge=purge,
            ),
        )
        self._node_of.pop(vmid, None)
        return result

    # -- create and clone -------------------------------------------------------------------

    async def _reserve_vmid(self, taken: set[int]) -> int:
        """A vmid that PVE calls free and that no create of ours is using.

        nextid reserves nothing, so concurrent creates get the same answer (here they even
        share one request); we skip ids reserved here (and ids known taken) locally. No
        await separates the check from the reservation, so it is atomic on the event loop
        (an asyncio.Lock would add nothing).
        """
        answer = await self._single_flight(
            ("nextid",),
            lambda: self._request("GET", "cluster/nextid", action="get a free vmid"),
        )
        vmid = int(answer)
        while vmid in self._reserved_vmids or vmid in taken:
            vmid += 1
        if vmid > _MAX_VMID:
            raise errors.AlreadyExists("No free vmid left in 100..999999999.")
        self._reserved_vmids.add(vmid)
        return vmid

    async def _with_new_vmid(
        self, taken: set[int], post: Callable[[int], Awaitable[str]]
    ) -> tuple[int, str]:
        """Reserve a vmid and `post(vmid)`; on 'already exists' (another client) try the next.

        Returns (vmid, upid); the vmid stays reserved until the caller releases it.
        """
        for _ in range(_CREATE_ATTEMPTS):
            vmid = await self._reserve_vmid(taken)
            try:
                return vmid, await post(vmid)
            except errors.AlreadyExists:
                log.info("vmid %s was taken by someone else; trying the next one", vmid)
                taken.add(vmid)
                self._reserved_vmids.discard(vmid)
            except BaseException:
                self._reserved_vmids.discard(vmid)
                raise
        raise errors.AlreadyExists(
            f"Gave up after {_CREATE_ATTEMPTS} vmids were taken concurrently; try again."
        )

    async def _nodes_with_bridges(self, spec: ContainerSpec, resources: list[dict]) -> set[str]:
        """The online nodes (the spec's node alone, when it names one) where every bridge (or
        SDN VNet) of the spec's NICs is applied and active.

        A named node is asked too: Proxmox creates a CT on a missing bridge and fails only its
        start, which left a stopped CT behind. vmbr0 is taken for granted, as the installer
        makes it on every node; asking about it would cost each create a request per node.
        """
        nodes = [spec.node] if spec.node else self._online_nodes(resources)
        needed = {nic.bridge for nic in spec.nics} - {"vmbr0"}
        if not needed:
            return set(nodes)
        listings = await asyncio.gather(*(
            self._request("GET", f"nodes/{n}/network", action=f"read the network of {n}",
                          type="any_bridge") for n in nodes))
        active = {n: {i["iface"] for i in ifaces if i.get("active")}
                  for n, ifaces in zip(nodes, listings, strict=True)}
        found = {n for n in nodes if needed <= active[n]}
        if not found and spec.node:
            missing = ", ".join(sorted(needed - active[spec.node]))
            raise errors.NotFound(
                f"Node {spec.node} has no bridge {missing} (applied and active); its networks: "
                f"{', '.join(sorted(active[spec.node])) or 'none'}. Pick one of those, or "
                "another node.")
        if not found:
            raise errors.NotFound(
                f"No online node has {', '.join(sorted(needed))} applied; create or apply it "
                "first (/bridges lists the networks), or pick another bridge.")
        return found

    def _nodes_with_disk_storage(self, spec: ContainerSpec, nodes: set[str],
                                 resources: list[dict]) -> set[str]:
        """Those of `nodes` with a storage for the CT's disk (the spec's, or any) there,
        available, holding container disks: what create_vm would otherwise refuse."""

        def fits(node: str) -> bool:
            storages = _disk_storages(node, resources)
            return spec.storage in storages if spec.storage else bool(storages)

        able = {n for n in nodes if fits(n)}
        if able:
            return able
        what = (f"storage {spec.storage!r} for container disks" if spec.storage
                else "storage for container disks (content 'rootdir')")
        if spec.node:
            others = [n for n in self._online_nodes(resources) if n != spec.node and fits(n)]
            raise errors.NotFound(
                f"Node {spec.node} has no {what} available; "
                + (f"nodes that have one: {', '.join(others)}." if others
                   else "no other node has one either: ask an admin."))
        raise errors.NotFound(
            f"No online node that has the container's networks has a {what} available; "
            "ask an admin.")

    async def _template_on(self, template: str, node: str, resources: list[dict],
                           ) -> tuple[str | None, set[str]]:
        """The volid of `template` on `node`: a volume its storage lists as a template there
        (not a backup, whatever its name says), or, for a short name such as ``debian-12``,
        the newest matching one; None if there is none. Also the names of the templates there,
        for the answer when no node has it."""
        available = await self._templates(resources, node)
        return _match_template(template, available), {t.name for t in available}

    async def _placement(self, spec: ContainerSpec, resources: list[dict]) -> tuple[str, str]:
        """The node for the CT and the volid of its template there. Only a node where Proxmox
        would create *and start* it will do: its bridges, a storage for its disk and its
        template are there. Otherwise NotFound, saying what is missing where, before anything
        exists (a CT whose start fails would be left behind, stopped).

        A template that is not there (a guessed name, someone's backup, a missing file) gets
        one answer, which names the templates there are: no one learns what else exists.
        """
        if spec.node:
            self._place(spec, resources)  # a named node exists and is online, said first
        nodes = await self._nodes_with_bridges(spec, resources)
        nodes = self._nodes_with_disk_storage(spec, nodes, resources)
        # Ask the node placement chooses, not every node: one listing in the usual case. The
        # choice is made again after each wait, so that the memory promised meanwhile by
        # concurrent creates counts (no await between the last choice and our promise).
        volids: dict[str, str] = {}  # the nodes known to have the template: its volid there
        lacking: set[str] = set()  # the nodes known not to
        seen: set[str] = set()
        while candidates := nodes - lacking:
            node = self._place(spec, resources, candidates)
            if node in volids:
                return node, volids[node]
            volid, names = await self._template_on(spec.template, node, resources)
            seen |= names
            if volid is None:
                lacking.add(node)
            else:
                volids[node] = volid
        where = f"node {spec.node}" if spec.node else f"nodes {', '.join(sorted(nodes))}"
        raise errors.NotFound(f"No template {spec.template!r} on {where}; available: "
                              f"{', '.join(sorted(seen)) or 'none'}.")

    def _place(self, spec: ContainerSpec, resources: list[dict],
               allowed: set[str] | None = None) -> str:
        """spec.node if online; else spec.prefer_node if allowed and it fits; else the online
        node (among `allowed`) with the most free memory that fits."""
        nodes = {r["node"]: r for r in resources if r.get("type") == "node"}
        if spec.node:
            if spec.node not in nodes:
                raise errors.NotFound(
                    f"There is no node {spec.node!r}; nodes: {', '.join(sorted(nodes)) or 'none'}."
                )
            if nodes[spec.node].get("status") != "online":
                raise errors.NodeUnavailable(f"Node {spec.node} is offline.")
            return spec.node
        free = {
            name: self._node_info(r).mem_free_mb - self._pending_mem.get(name, 0)
            for name, r in nodes.items()
            if r.get("status") == "online" and (allowed is None or name in allowed)
        }
        if not free:
            raise errors.NodeUnavailable("No node of the cluster is online.")
        if free.get(spec.prefer_node, 0) >= spec.memory_mb:
            return spec.prefer_node
        best = max(sorted(free), key=lambda n: free[n])
        if free[best] < spec.memory_mb:
            raise errors.NodeUnavailable(
                f"No online node has {spec.memory_mb} MiB free memory (most: {best} with "
                f"{free[best]} MiB); ask for less memory or free some."
            )
        return best

    @staticmethod
    def _pick_storage(spec: ContainerSpec, node: str, resources: list[dict]) -> str:
        """spec.storage, or the node's storage for CT disks (content rootdir) with most room."""
        if spec.storage:
            return spec.storage
        candidates = _disk_storages(node, resources)
        if not candidates:
            raise errors.NotFound(
                f"Node {node} has no storage for container disks (content 'rootdir'); "
                "name one in the spec."
            )
        return max(sorted(candidates), key=lambda s: candidates[s])

    def _create_params(
        self, spec: ContainerSpec, node: str, resources: list[dict], ostemplate: str
    ) -> dict[str, Any]:
        """The POST /nodes/{node}/lxc parameters for `spec` (without the vmid)."""
        storage = self._pick_storage(spec, node, resources)
        password = spec.password
        if password is None and not spec.ssh_public_key:
            password = generate_password()
        params: dict[str, Any] = {
            "ostemplate": ostemplate,
            "hostname": spec.hostname,
            "cores": spec.cores,
            "memory": spec.memory_mb,
            "swap": spec.swap_mb,
            "rootfs": f"{storage}:{spec.disk_gb}",
            "unprivileged": spec.unprivileged,
            "password": password,
            "ssh-public-keys": spec.ssh_public_key,
            "tags": ";".join(spec.tags) or None,
            "description": spec.description,
        }
        params.update({nic.name: nic.to_pve() for nic in spec.nics})
        return params

    async def create_container(
        self, spec: ContainerSpec, progress: Progress | None = None
    ) -> CreateResult:
        """Create (and optionally start) a CT; waits for PVE's task. Tells `progress` each stage."""
        say = _Reporter(progress)
        await say("Choosing a node")
        resources = await self._resources()
        node, ostemplate = await self._placement(spec, resources)
        # Promise the memory at once, so concurrent creates spread over the nodes.
        self._pending_mem[node] = self._pending_mem.get(node, 0) + spec.memory_mb
        vmid = None
        try:
            params = self._create_params(spec, node, resources, ostemplate)
            generated = params["password"] if spec.password is None else None

            async def post(vmid: int) -> str:
                return await self._request(
                    "POST",
                    f"nodes/{node}/lxc",
                    action=f"create CT {vmid} on {node}",
                    vmid=vmid,
                    **params,
                )

            await say("Reserving an id")
            taken = {int(r["vmid"]) for r in resources if "vmid" in r}
            vmid, upid = await self._with_new_vmid(taken, post)
            self._node_of[vmid] = node
            log.info("creating CT %s (%s) on %s", vmid, spec.hostname, node)
            await say(f"Creating CT {vmid} on {node}")
            try:
                await self.wait_task(node, upid)
            except errors.StillRunning as exc:
                exc.password = generated
                raise
        finally:
            self._pending_mem[node] -= spec.memory_mb
            if vmid is not None:
                self._reserved_vmids.discard(vmid)
        if spec.start:
            await say(f"Starting CT {vmid}")
            try:
                await self._run_task(
                    "POST",
                    f"nodes/{node}/lxc/{vmid}/status/start",
                    node,
                    action=f"start CT {vmid} on {node}",
                )
            except errors.StillRunning as exc:
                exc.password = generated
                raise
            except errors.ProxmoxError as exc:
                # The CT exists now, with `generated` as its root password: the caller must
                # still own it and hand the password over.
                why = exc.log_line if isinstance(exc, errors.TaskFailed) else str(exc)
                raise errors.StartFailed(
                    f"CT {vmid} ({spec.hostname}) was created on {node} but could not start: "
                    f"{why}. It exists, stopped.",
                    vmid=vmid, node=node, password=generated, cause=exc) from exc
        await say(f"CT {vmid} is ready on {node}")
        return CreateResult(vmid=vmid, node=node, password=generated)

    async def clone(
        self,
        vmid: int,
        hostname: str,
        newid: int | None = None,
        node: str | None = None,
        full: bool | None = None,
        target_node: str | None = None,
    ) -> int:
        """Clone CT `vmid` (on `node`, found if None) as `hostname`; returns the new vmid."""
        source = node or await self._locate(vmid)
        where = target_node or source

        async def post(new: int) -> str:
            return await self._request(
                "POST",
                f"nodes/{source}/lxc/{vmid}/clone",
                action=f"clone CT {vmid} to {new}",
                newid=new,
                hostname=hostname,
                full=full,
                target=target_node,
            )

        if newid is not None:
            upid = await post(newid)
            await self.wait_task(source, upid)
            self._node_of[newid] = where
            return newid
        taken: set[int] = set()
        new = None
        try:
            new, upid = await self._with_new_vmid(taken, post)
            await self.wait_task(source, upid)
        finally:
            if new is not None:
                self._reserved_vmids.discard(new)
        self._node_of[new] = where
        return new


def _start_all_workers(pool: ThreadPoolExecutor, workers: int) -> None:
    """Start every worker thread now rather than on the first burst of calls.

    The executor starts threads lazily, in the submitting thread: the event loop. Under a
    burst each `Thread.start()` waits for the new thread to get the GIL from busy workers,
    which stalled the loop by ~90 ms at the start of 50 concurrent creates. A barrier makes
    each warm-up job hold its own thread, so `workers` threads exist after this.
    """
    barrier = threading.Barrier(workers)

    def wait() -> None:
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass

    for _ in range(workers):
        pool.submit(wait)


class _Reporter:
    """Calls the caller's progress callback; its failures never abort the operation."""

    def __init__(self, progress: Progress | None):
        self._progress = progress

    async def __call__(self, stage: str) -> None:
        if self._progress is None:
            return
        try:
            await self._progress(stage)
        except Exception:
            log.warning("progress callback failed at stage %r", stage, exc_info=True)


def _disk_storages(node: str, resources: list[dict]) -> dict[str, int]:
    """The storages of `node` that can hold container disks now (content rootdir, available),
    with their free bytes."""
    return {
        r["storage"]: int(r.get("maxdisk") or 0) - int(r.get("disk") or 0)
        for r in resources
        if r.get("type") == "storage"
        and r.get("node") == node
        and "rootdir" in str(r.get("content", "")).split(",")
        and r.get("status", "available") == "available"
    }


def _match_template(template: str, available: list[Template]) -> str | None:
    """A volid among `available` as is; a short name (``debian-12``) -> the newest match."""
    if ":" in template:
        return template if any(t.volid == template for t in available) else None
    pattern = re.compile(rf"^{re.escape(template)}(?:$|[-_.])")
    matches = [t for t in available if pattern.match(t.name)]
    return max(matches, key=lambda t: _natural_key(t.name)).volid if matches else None


def _natural_key(name: str) -> list[tuple[int, int | str]]:
    """So that ``12.10`` sorts after ``12.9``."""
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name)]
