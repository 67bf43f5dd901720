"""Checks PVE makes in several API methods, each as the Perl function it follows does it.

Storage configuration is cluster-wide in PVE (storage.cfg): a storage id exists for every node,
but may be restricted to some (``nodes``). In pvesim each node lists the storages it has, so a
storage "exists" when some node has it and is "available on a node" when that node has it.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from ..errors import ApiError, fail, param_error
from ..model import Cluster, Storage

if TYPE_CHECKING:
    from .registry import Ctx

# The options whose change needs a privilege other than VM.Config.Options
# (pve-container PVE::LXC::check_ct_modify_config_perm).
OPTION_PRIVILEGE = {"cores": "VM.Config.CPU", "cpuunits": "VM.Config.CPU",
                    "cpulimit": "VM.Config.CPU", "memory": "VM.Config.Memory",
                    "swap": "VM.Config.Memory", "nameserver": "VM.Config.Network",
                    "searchdomain": "VM.Config.Network", "hostname": "VM.Config.Network"}
SSH_KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256",
                 "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
                 "sk-ecdsa-sha2-nistp256@openssh.com")


def storage_exists(cluster: Cluster, sid: str) -> Storage:
    """pve-storage PVE::Storage::storage_config: the storage's configuration, cluster-wide."""
    for node in cluster.nodes.values():
        if sid in node.storages:
            return node.storages[sid]
    raise fail(f"storage '{sid}' does not exist")


def storage_check_enabled(cluster: Cluster, sid: str, node: str) -> Storage:
    """PVE::Storage::storage_check_enabled + storage_check_node."""
    storage_exists(cluster, sid)
    storage = cluster.nodes[node].storages.get(sid)
    if storage is None:
        raise fail(f"storage '{sid}' is not available on node '{node}'")
    if not storage.enabled:
        raise fail(f"storage '{sid}' is disabled")
    return storage


def check_pool_exist(ctx: Ctx, pool: str | None) -> None:
    """pve-access-control PVE::RPCEnvironment::check_pool_exist (a permission exception)."""
    if pool is not None and pool not in ctx.cluster.pools:
        raise ApiError(403, f"Permission check failed (pool '{pool}' does not exist)")


def validate_ssh_public_keys(keys: str | None) -> None:
    """pve-common PVE::Tools::validate_ssh_public_keys: each non-blank line must be a key
    ``ssh-keygen -l`` reads (options, then a key type and its base64 blob, which names the
    same type)."""
    for line in (keys or "").split("\n"):
        if line.strip() and not _ssh_key_ok(line.split()):
            raise fail("SSH public key validation error")


def _ssh_key_ok(words: list[str]) -> bool:
    for i, word in enumerate(words[:-1]):
        if word in SSH_KEY_TYPES:
            try:
                blob = base64.b64decode(words[i + 1], validate=True)
            except (binascii.Error, ValueError):
                return False
            size = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
            return blob[4:4 + size] == word.encode()
    return False


def check_hookscript(ctx: Ctx, node: str, volid: str) -> None:
    """pve-guest-common PVE::GuestHelpers::check_hookscript: a snippets volume that exists."""
    sid, _, volname = volid.partition(":")
    storage = storage_check_enabled(ctx.cluster, sid, node)
    if not volname.startswith("snippets/"):
        raise fail(f"'{volid}' is not in the snippets directory")
    if volid not in storage.volumes:
        raise fail(f"script '{volid}' does not exist")


def check_volume_access(ctx: Ctx, volid: str, content: str | None, vtype: str,
                        owner: int | None = None) -> None:
    """pve-storage PVE::Storage::check_volume_access: the content type the name says (when
    one is asked), then Datastore.Allocate on the storage, or what the kind of volume needs
    (a backup: Datastore.AllocateSpace there and VM.Backup on the guest it is of)."""
    sid = volid.partition(":")[0]
    storage_exists(ctx.cluster, sid)
    if content is not None and vtype != content:
        raise fail(f"unable to use volume {volid} - content type needs to be '{content}'")
    if ctx.allowed(f"/storage/{sid}", "Datastore.Allocate"):
        return
    if vtype in ("iso", "vztmpl", "import"):
        ctx.check(f"/storage/{sid}", "Datastore.AllocateSpace", "Datastore.Audit", any_of=True)
    elif vtype == "backup" and owner is not None:
        ctx.check(f"/storage/{sid}", "Datastore.AllocateSpace")
        ctx.check(f"/vms/{owner}", "VM.Backup")
    else:
        raise fail(f"missing privileges to access {volid}")


def check_bridge_access(ctx: Ctx, net: str) -> None:
    """pve-container PVE::LXC::check_bridge_access -> PVE::GuestHelpers::check_vnet_access:
    SDN.Use on the bridge (a plain one is in the zone 'localnetwork'), or on its VLAN."""
    props = dict(part.split("=", 1) for part in net.split(",") if "=" in part)
    bridge = props.get("bridge")
    if bridge is None:
        return
    vnet = ctx.cluster.sdn["vnets"].get(bridge)
    zone = vnet.get("zone", "localnetwork") if vnet else "localnetwork"
    path = f"/sdn/zones/{zone}/{bridge}"
    ctx.check(f"{path}/{props['tag']}" if props.get("tag") else path, "SDN.Use")


def check_ct_modify_config_perm(ctx: Ctx, vmid: int, new: dict[str, Any], delete: list[str],
                                old: dict[str, Any] | None = None) -> None:
    """PVE::LXC::check_ct_modify_config_perm: the privilege each option asks, on /vms/<vmid>
    (root@pam may do anything)."""
    if ctx.identity.userid == "root@pam":
        return
    for key, deleting in [(k, False) for k in new] + [(k, True) for k in delete]:
        vms = f"/vms/{vmid}"
        if key == "rootfs" or key.startswith("mp"):
            ctx.check(vms, "VM.Config.Disk")
            if not deleting:
                sid = str(new[key]).split(",")[0].partition(":")[0]
                ctx.check(f"/storage/{sid}", "Datastore.AllocateSpace")
        elif key.startswith("net") and key[3:].isdigit():
            ctx.check(vms, "VM.Config.Network")
            for value in ((old or {}).get(key), None if deleting else new.get(key)):
                if value:
                    check_bridge_access(ctx, str(value))
        elif key.startswith("dev") and key[3:].isdigit():
            raise ApiError(403, "Permission check failed (configuring device passthrough is "
                                "only allowed for root@pam)")
        elif key == "hookscript":
            raise ApiError(403, "Permission check failed (changing the hookscript is only "
                                "allowed for root@pam)")
        else:
            ctx.check(vms, OPTION_PRIVILEGE.get(key, "VM.Config.Options"))


def rootdir_storage(cluster: Cluster, sid: str, node: str) -> Storage:
    """The create/restore check of a disk's storage (PVE::API2::LXC create_vm,
    $check_and_activate_storage): enabled on the node, holding container directories."""
    storage = storage_check_enabled(cluster, sid, node)
    if "rootdir" not in storage.content:
        raise param_error({"storage": f"storage '{sid}' does not support container directories"})
    return storage
