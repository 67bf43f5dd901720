"""`python -m bot.setup smoke [--config FILE] [--write]`: does Stratus work on this Proxmox?

Runs the bot's own provisioning layer (`bot.proxmox`) against the Proxmox the settings name
(the same STRATUS_* variables or TOML file as `python -m bot`) and prints PASS or FAIL per step,
with Proxmox's own error text. Read-only checks first: the API and its TLS, the privileges the
token holds, nodes, storages, a template. With ``--write`` it then goes through a whole
lifecycle and cleans up after itself: create a tagged CT, start it, snapshot it, clone it (a
running CT: from a temporary snapshot), migrate the clone when there are two nodes, back the CT
up, restore the backup as a copy, then delete everything it made (each deletion a step too).
Everything it makes carries the tag ``stratus-smoke`` and an identity marker of its own, and
is deleted only if it still carries that marker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from bot.proxmox import ContainerSpec, Proxmox, errors
from bot.proxmox import privileges as needed
from bot.proxmox.backups import BackupInfo
from bot.proxmox.models import new_identity
from bot.runtime import proxmox_settings
from bot.settings import Settings, SettingsError

SMOKE_TAG = "stratus-smoke"


class Skipped(Exception):
    """A step that does not apply here (one node only, an earlier step failed)."""


@dataclass
class Smoke:
    px: Proxmox
    out: TextIO
    write: bool = False
    template: str | None = None
    results: list[tuple[str, str, str]] = field(default_factory=list)  # (verdict, step, detail)
    identity: str = field(default_factory=new_identity)
    made: list[int] = field(default_factory=list)  # CTs it made, in order
    snapshots: list[tuple[int, str]] = field(default_factory=list)
    backups: list[BackupInfo] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(verdict == "FAIL" for verdict, _, _ in self.results)

    async def step(self, name: str, action: Callable[[], Awaitable[Any]]) -> Any:
        """Run one step; print PASS (with what it found), FAIL (with the error) or SKIP."""
        try:
            value = await action()
        except Skipped as why:
            self._say("SKIP", name, str(why))
            return None
        except errors.ProxmoxError as exc:
            self._say("FAIL", name, str(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - a smoke test reports, it does not crash
            self._say("FAIL", name, f"{type(exc).__name__}: {exc}")
            return None
        detail = value[1] if isinstance(value, tuple) else str(value)
        self._say("PASS", name, detail)
        return value[0] if isinstance(value, tuple) else value

    def _say(self, verdict: str, name: str, detail: str) -> None:
        self.results.append((verdict, name, detail))
        print(f"{verdict:4}  {name}: {detail}", file=self.out, flush=True)

    # ---- read-only -------------------------------------------------------------------------

    async def read_only(self) -> dict | None:
        version = await self.step("connect", self._connect)
        if version is None:
            return None
        await self.step("TLS", self._tls)
        await self.step("privileges", self._privileges)
        nodes = await self.step("nodes", self._nodes)
        storages = await self.step("storage", lambda: self._storages(nodes or []))
        template = await self.step("template", self._template)
        if not (nodes and storages and template):
            return None
        return {"nodes": nodes, "storages": storages, "template": template}

    async def _connect(self) -> tuple[dict, str]:
        v = await self.px.version()
        return v, f"Proxmox VE {v.get('version', '?')} (release {v.get('release', '?')})"

    async def _tls(self) -> str:
        s = self.px.settings
        probe = await self.px.probe_tls()
        route = f" through proxy {probe.via}" if probe.via else ""
        if s.fingerprint:
            if probe.fingerprint and probe.fingerprint.replace(":", "") != \
                    s.fingerprint.replace(":", "").upper():
                raise errors.TLSError(f"certificate{route} is {probe.fingerprint}, not the "
                                      "pinned one")
            return f"pinned fingerprint checked on every API connection{route}"
        if not s.verify_tls:
            raise errors.TLSError(f"TLS is not verified (certificate {probe.fingerprint}); pin "
                                  "it with proxmox.tls = \"fingerprint\"")
        if probe.verified_by_ca:
            return f"certificate verified by the CA{route}"
        raise errors.TLSError(f"certificate not trusted{route} ({probe.error})")

    async def _privileges(self) -> str:
        paths = needed.paths()
        answers = await asyncio.gather(*(self.px.permissions(p) for p in paths))
        granted = {p: set(a.get(p, {})) for p, a in zip(paths, answers, strict=True)}
        lacking = needed.missing(granted)
        if lacking:
            raise errors.PermissionDenied("; ".join(
                f"{feature}: missing " + ", ".join(f"{n.privilege} on {n.path}" for n in needs)
                for feature, needs in lacking.items())
                + " (python -m bot.setup proxmox-role prints the role)")
        return f"all {len(needed.PRIVILEGES)} privileges Stratus uses"

    async def _nodes(self) -> tuple[list[str], str]:
        nodes = [n.name for n in await self.px.overview() if n.online]
        if not nodes:
            raise errors.NodeUnavailable("no node is online")
        return nodes, f"online: {', '.join(nodes)}"

    async def _storages(self, nodes: list[str]) -> tuple[dict[str, dict[str, str]], str]:
        """Per node, a storage for container disks and one for backups."""
        found: dict[str, dict[str, str]] = {}
        for s in await self.px.storages():
            content = str(s.get("content", "")).split(",")
            for kind in ("rootdir", "backup"):
                if s.get("node") in nodes and kind in content:
                    found.setdefault(s["node"], {}).setdefault(kind, s["storage"])
        able = {n: k for n, k in found.items() if {"rootdir", "backup"} <= set(k)}
        if not able:
            raise errors.NotFound("no online node has both a storage for container disks "
                                  "(content rootdir) and one for backups")
        return able, "; ".join(f"{n}: disks on {k['rootdir']}, backups on {k['backup']}"
                               for n, k in sorted(able.items()))

    async def _template(self) -> tuple[str, str]:
        templates = await self.px.templates()
        if self.template:
            templates = [t for t in templates if self.template in (t.volid, t.name)
                         or t.name.startswith(self.template)]
        if not templates:
            raise errors.NotFound("no container template" + (
                f" {self.template!r}" if self.template else "") + "; download one with pveam")
        return templates[0].volid, templates[0].volid

    # ---- the lifecycle (--write) ----------------------------------------------------------

    async def lifecycle(self, facts: dict) -> None:
        node = sorted(facts["storages"])[0]
        disks = facts["storages"][node]["rootdir"]
        suffix = secrets.token_hex(3)
        tags = (SMOKE_TAG, self.identity)
        ct = await self.step("create", lambda: self._create(node, disks, facts["template"],
                                                             suffix, tags))
        if ct is None:
            return
        await self.step("start", lambda: self._start(ct))
        await self.step("snapshot", lambda: self._snapshot(ct))
        clone = await self.step("clone", lambda: self._clone(ct, suffix, tags))
        others = [n for n in facts["storages"] if n != node]
        await self.step("migrate", lambda: self._migrate(clone, others))
        backup = await self.step("backup", lambda: self._backup(ct, facts["storages"][node]))
        await self.step("restore", lambda: self._restore(backup, disks, suffix))

    async def _create(self, node, storage, template, suffix, tags) -> tuple[int, str]:
        spec = ContainerSpec(hostname=f"stratus-smoke-{suffix}", template=template, cores=1,
                             memory_mb=256, swap_mb=0, disk_gb=1, storage=storage, node=node,
                             tags=tags, description="Made by Stratus's smoke test (python -m "
                                                    "bot.setup smoke); it deletes it.")
        result = await self.px.create_container(spec)
        self.made.append(result.vmid)
        return result.vmid, f"CT {result.vmid} on {result.node}, tagged {SMOKE_TAG}"

    async def _start(self, vmid: int) -> str:
        await self.px.start(vmid)
        return f"CT {vmid} is running"

    async def _snapshot(self, vmid: int) -> str:
        name = "stratus-smoke"
        await self.px.snapshot(vmid, name, "Stratus smoke test")
        self.snapshots.append((vmid, name))
        return f"snapshot {name} of CT {vmid}"

    async def _clone(self, vmid: int, suffix: str, tags) -> tuple[int, str]:
        new, node = await self.px.clone_replica(
            vmid, f"stratus-smoke-clone-{suffix}", tags=tags,
            description=f"Stratus smoke test clone ({self.identity})",
            on_vmid=self.made.append)
        return new, f"CT {new} on {node}, cloned from the running CT {vmid}"

    async def _migrate(self, vmid: int | None, others: list[str]) -> str:
        if vmid is None:
            raise Skipped("no clone to migrate")
        if not others:
            raise Skipped("one node only (or one with both storages)")
        await self.px.migrate(vmid, others[0])
        return f"CT {vmid} moved to {others[0]}"

    async def _backup(self, vmid: int, storages: dict[str, str]) -> tuple[BackupInfo, str]:
        node, upid = await self.px.start_backup(vmid, storage=storages["backup"])
        result = await self.px.follow_backup(vmid, node, upid, storage=storages["backup"],
                                             interval=0.2)
        backup = await self.px.get_backup(result.volid)
        self.backups.append(backup)
        return backup, f"{backup.volid} ({backup.size} bytes)"

    async def _restore(self, backup: BackupInfo | None, storage: str, suffix: str
                       ) -> tuple[int, str]:
        if backup is None:
            raise Skipped("no backup to restore")
        vmid, node = await self.px.restore(
            backup, storage=storage, unique=True, hostname=f"stratus-smoke-copy-{suffix}",
            tags=f"{SMOKE_TAG};{self.identity}")
        self.made.append(vmid)
        return vmid, f"CT {vmid} on {node}, a copy of {backup.vmid}"

    # ---- cleanup ---------------------------------------------------------------------------

    async def cleanup(self) -> None:
        """Delete what was made, newest first; each deletion is a step of its own."""
        for vmid, name in reversed(self.snapshots):
            await self.step(f"delete snapshot {name} of CT {vmid}",
                            lambda v=vmid, n=name: self._delete_snapshot(v, n))
        for vmid in reversed(dict.fromkeys(self.made)):
            await self.step(f"delete CT {vmid}", lambda v=vmid: self._delete_ct(v))
        for backup in reversed(self.backups):
            await self.step(f"delete backup {backup.volid}",
                            lambda b=backup: self._delete_backup(b))
        await self.step("nothing left", self._nothing_left)

    async def _delete_snapshot(self, vmid: int, name: str) -> str:
        await self.px.delete_snapshot(vmid, name)
        return "deleted"

    async def _delete_ct(self, vmid: int) -> str:
        try:
            ct = await self.px.get_container(vmid)
        except errors.NotFound:
            return "not there (never made)"
        if ct.identity != self.identity:
            raise errors.ProxmoxError(f"CT {vmid} is not the one this test made (its marker "
                                  "differs): left alone")
        if ct.status == "running":
            await self.px.stop(vmid)
        await self.px.delete(vmid)
        return "deleted"

    async def _delete_backup(self, backup: BackupInfo) -> str:
        await self.px.delete_backup(backup)
        return "deleted"

    async def _nothing_left(self) -> str:
        left = [f"CT {c.vmid}" for c in await self.px.list_containers()
                if c.identity == self.identity]
        names = {b.volid for b in self.backups}
        left += [b.volid for b in await self.px.list_backups() if b.volid in names]
        if left:
            raise errors.ProxmoxError(f"still there: {', '.join(left)}")
        return "every CT, snapshot and backup the test made is gone"

    async def run(self) -> bool:
        facts = await self.read_only()
        if self.write:
            if facts is None or self.failed:
                self._say("SKIP", "lifecycle", "a read-only check failed: fix it first")
            else:
                try:
                    await self.lifecycle(facts)
                finally:
                    await self.cleanup()
        passed = sum(v == "PASS" for v, _, _ in self.results)
        failed = sum(v == "FAIL" for v, _, _ in self.results)
        print(f"SUMMARY: {passed} passed, {failed} failed"
              + ("" if self.write else " (read-only; add --write for the lifecycle)"),
              file=self.out)
        return not self.failed


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot.setup smoke", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="a TOML settings file (else $STRATUS_CONFIG)")
    p.add_argument("--write", action="store_true",
                   help="also create, clone, migrate, back up, restore and delete test CTs")
    p.add_argument("--template", help="the template to create from (default: the first)")
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         environ: dict[str, str] | None = None) -> int:
    out = out or sys.stdout
    args = parser().parse_args(argv)
    try:
        settings = Settings.load(os.environ if environ is None else environ, args.config)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0 if asyncio.run(_run(settings, args, out)) else 1


async def _run(settings: Settings, args: argparse.Namespace, out: TextIO) -> bool:
    ps = proxmox_settings(settings)
    mode = "read-only checks and a self-cleaning lifecycle" if args.write else "read-only"
    print(f"Stratus smoke test against {ps.base_url} ({mode})", file=out)
    async with Proxmox(ps) as px:
        return await Smoke(px, out, write=args.write, template=args.template).run()
