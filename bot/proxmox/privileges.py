"""The Proxmox privileges Stratus uses, per feature, and where PVE checks each one.

The list follows the API calls in `bot.proxmox` and what PVE checks for each (its methods'
``permissions``, and the checks in their code: pve-container
``PVE::LXC::check_ct_modify_config_perm`` asks VM.Config.CPU for cores, VM.Config.Memory for
memory, VM.Config.Disk for the root disk, VM.Config.Network and SDN.Use for NICs; a clone of a
running CT needs a snapshot; a replica on another node a migration; a backup needs
Datastore.AllocateSpace on its storage). `python -m bot.setup proxmox-role` turns it into the
``pveum`` commands of a role, a user and a privilege-separated token holding exactly these, and
/doctor asks Proxmox (GET /access/permissions) which of them the token lacks.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Need:
    privilege: str
    path: str  # the ACL path PVE checks it on ("/vms" stands for every CT under it)
    why: str


FEATURES: dict[str, tuple[Need, ...]] = {
    "reading the cluster": (
        Need("Sys.Audit", "/nodes", "see nodes, their tasks and networks"),
        Need("VM.Audit", "/vms", "see containers and their configs"),
        Need("Datastore.Audit", "/storage", "see storages, templates and backups"),
    ),
    "containers": (
        Need("VM.Allocate", "/vms", "create and delete containers"),
        Need("VM.PowerMgmt", "/vms", "start and stop containers"),
        Need("VM.Config.CPU", "/vms", "set cores"),
        Need("VM.Config.Memory", "/vms", "set memory and swap"),
        Need("VM.Config.Disk", "/vms", "give a container its root disk"),
        Need("VM.Config.Network", "/vms", "set hostnames and NICs"),
        Need("VM.Config.Options", "/vms", "set tags, descriptions and options"),
        Need("Datastore.AllocateSpace", "/storage", "allocate container disks"),
        Need("SDN.Use", "/sdn/zones", "plug NICs into bridges"),
    ),
    "scaling groups": (
        Need("VM.Clone", "/vms", "clone replicas"),
        Need("VM.Snapshot", "/vms", "clone a running container (from a snapshot)"),
        Need("VM.Migrate", "/vms", "move replicas to other nodes"),
    ),
    "backups": (
        Need("VM.Backup", "/vms", "back up and restore containers"),
        Need("Datastore.AllocateSpace", "/storage", "write backups"),
    ),
    "backup schedules": (
        Need("Sys.Audit", "/", "read backup jobs"),
        Need("Sys.Modify", "/", "create and delete backup jobs"),
    ),
    "networks": (
        Need("Sys.Modify", "/nodes", "create and apply bridges"),
        Need("SDN.Audit", "/sdn", "read SDN networks"),
        Need("SDN.Allocate", "/sdn", "create NAT networks"),
    ),
}

PRIVILEGES: tuple[str, ...] = tuple(sorted({n.privilege for needs in FEATURES.values()
                                            for n in needs}))


def missing(granted: dict[str, set[str]]) -> dict[str, list[Need]]:
    """Per feature, what ``granted`` (ACL path -> the privileges held there) lacks."""
    out: dict[str, list[Need]] = {}
    for feature, needs in FEATURES.items():
        lacking = [n for n in needs if n.privilege not in granted.get(n.path, set())]
        if lacking:
            out[feature] = lacking
    return out


def paths() -> list[str]:
    return sorted({n.path for needs in FEATURES.values() for n in needs})


def pveum_commands(role: str = "Stratus", user: str = "stratus@pve",
                   token: str = "bot") -> list[str]:
    """The commands, run as root on a node, that make the role, the user and its
    privilege-separated token, each holding exactly `PRIVILEGES` on / (propagated)."""
    return [
        f"pveum role add {role} --privs \"{','.join(PRIVILEGES)}\"",
        f"pveum user add {user} --comment \"Stratus bot\"",
        f"pveum acl modify / --users {user} --roles {role} --propagate 1",
        f"pveum user token add {user} {token} --privsep 1 --comment \"Stratus\"",
        f"pveum acl modify / --tokens '{user}!{token}' --roles {role} --propagate 1",
    ]
