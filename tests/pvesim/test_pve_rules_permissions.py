"""Privilege-separated tokens checked as PVE checks them: the ACL path of each method
(its ``permissions => {check => ...}`` in the schema, kept in pve-api-facts.json), the
privileges of the token's own ACL entries on that path (pve-access-control
PVE::RPCEnvironment::permissions, PVE::AccessControl::roles), and GET /access/permissions."""

from __future__ import annotations

import json

import pytest

from pvesim.api import ROUTES
from pvesim.params.generate import FACTS

TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
OFFICIAL = json.loads(FACTS.read_text())["methods"]


def _simple_check(permissions: dict) -> tuple[str, tuple[str, ...], bool] | None:
    """(path, privileges, any) of a ['perm', path, privs(, 'any', 1)] check; for an 'and' of
    checks, its first one (the rest is checked in the code)."""
    check = permissions.get("check")
    if not check:
        return None
    if check[0] == "and":
        check = check[1]
    if check[0] != "perm":
        return None
    return check[1], tuple(check[2]), "any" in check[3:]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.template}")
def test_each_route_checks_what_its_method_declares(route):
    """A method whose schema declares a permission check is guarded by exactly it; one open
    to all users (it filters, or checks inside its code) has no route check, or a check its
    handler makes at the same place PVE's code does (documented on the route)."""
    official = _simple_check(OFFICIAL[f"{route.method} {route.template}"]["permissions"])
    if official is None:
        return
    assert route.perm is not None
    path, privs = route.perm
    ours = (path, privs if isinstance(privs, tuple) else (privs,), isinstance(privs, tuple))
    if len(official[1]) == 1:
        ours = (ours[0], ours[1], False)
        official = (official[0], official[1], False)
    assert ours == official


async def restricted(api, acl: dict[str, set[str]], propagate: bool = True) -> dict:
    """Headers of a privilege-separated token of root@pam holding ``acl``."""
    token_id, secret = api.sim.add_token(f"limited{len(api.sim.auth.tokens)}", set())
    for path, privileges in acl.items():
        api.sim.auth.grant(path, token_id, privileges, propagate)
    return {"Authorization": f"PVEAPIToken={token_id}={secret}"}


async def test_a_token_may_do_what_its_acl_gives_on_the_path(api):
    await api.create(vmid=200)
    await api.create(vmid=201)
    headers = await restricted(api, {"/vms/200": {"VM.Audit", "VM.PowerMgmt"}})
    assert (await api.call("GET", "/nodes/pve1/lxc/200/config", headers=headers))[0] == 200
    status, reason, _ = await api.call("GET", "/nodes/pve1/lxc/201/config", headers=headers)
    assert (status, reason) == (403, "Permission check failed (/vms/201, VM.Audit)")
    status, reason, _ = await api.call("DELETE", "/nodes/pve1/lxc/200", headers=headers)
    assert (status, reason) == (403, "Permission check failed (/vms/200, VM.Allocate)")
    status, _, body = await api.call("GET", "/access/permissions", headers=headers)
    assert body["data"] == {"/vms/200": {"VM.Audit": 1, "VM.PowerMgmt": 1}}
    status, _, body = await api.call("GET", "/access/permissions?path=/vms/201",
                                     headers=headers)
    assert body["data"] == {}


async def test_the_deepest_entry_wins_and_propagate_0_stays_on_its_path(api):
    await api.create(vmid=200)
    token_id, secret = api.sim.add_token("mixed", {"VM.Audit", "VM.Allocate"})
    api.sim.auth.grant("/vms/200", token_id, {"VM.Audit"})
    api.sim.auth.grant("/storage", token_id, {"Datastore.Audit"}, propagate=False)
    headers = {"Authorization": f"PVEAPIToken={token_id}={secret}"}
    perms = (await api.call("GET", "/access/permissions", headers=headers))[2]["data"]
    assert perms["/vms/200"] == {"VM.Audit": 1}  # /vms/200's entry replaces the one of /
    assert perms["/vms"] == {"VM.Audit": 1, "VM.Allocate": 1}
    assert perms["/storage"] == {"Datastore.Audit": 0}
    status, _, _ = await api.call("GET", "/nodes/pve1/storage/local/content", headers=headers)
    assert status == 403  # /storage/local: not propagated from /storage


async def test_a_create_needs_the_privilege_of_each_option(api):
    """create_vm: VM.Allocate, then check_ct_modify_config_perm (cores: VM.Config.CPU, net:
    VM.Config.Network and SDN.Use on the bridge), Datastore.AllocateSpace on the storages."""
    needed = {"VM.Allocate", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network",
              "VM.Config.Options", "VM.Config.Disk", "Datastore.AllocateSpace",
              "Datastore.Audit", "SDN.Use"}
    params = {"vmid": 200, "ostemplate": TEMPLATE, "rootfs": "local-lvm:8", "cores": 2,
              "net0": "name=eth0,bridge=vmbr0,ip=dhcp"}
    for missing, path in (("VM.Config.CPU", "/vms/200"), ("SDN.Use",
                                                          "/sdn/zones/localnetwork/vmbr0"),
                          ("Datastore.AllocateSpace", "/storage/local-lvm")):
        headers = await restricted(api, {"/": needed - {missing}})
        status, reason, _ = await api.call("POST", "/nodes/pve1/lxc", headers=headers, **params)
        assert (status, reason) == (403, f"Permission check failed ({path}, {missing})")
    headers = await restricted(api, {"/": needed})
    status, _, body = await api.call("POST", "/nodes/pve1/lxc", headers=headers, **params)
    assert status == 200, body


async def test_a_token_without_privilege_separation_has_its_users_privileges(api):
    api.sim.auth.grant("/", "stratus@pve", {"VM.Audit", "Sys.Audit"})
    token_id, secret = api.sim.add_token("full", None, user="stratus@pve")
    headers = {"Authorization": f"PVEAPIToken={token_id}={secret}"}
    perms = (await api.call("GET", "/access/permissions?path=/", headers=headers))[2]["data"]
    assert perms == {"/": {"Sys.Audit": 1, "VM.Audit": 1}}
    # a privilege-separated token of that user never has more than the user
    token_id, secret = api.sim.add_token("sep", {"VM.Audit", "VM.Allocate"}, user="stratus@pve")
    headers = {"Authorization": f"PVEAPIToken={token_id}={secret}"}
    perms = (await api.call("GET", "/access/permissions?path=/", headers=headers))[2]["data"]
    assert perms == {"/": {"VM.Audit": 1}}
