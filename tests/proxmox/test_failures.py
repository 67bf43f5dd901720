"""Failures surface as bot.proxmox errors with PVE's own words, never as proxmoxer exceptions."""

from __future__ import annotations

import asyncio
import socket

import pytest

from bot.proxmox import ContainerSpec, NicSpec, Proxmox, ProxmoxSettings, errors
from pvesim import Simulator


async def test_task_failure_carries_the_error_line(px, sim, settings_for):
    sim.cluster.fail_next_task("vzcreate", "unable to create CT - no space left on device")
    with pytest.raises(errors.TaskFailed) as info:
        await px.create_container(ContainerSpec(hostname="doomed", template="debian-12"))
    exc = info.value
    assert exc.log_line == "unable to create CT - no space left on device"
    assert exc.exitstatus == "unable to create CT - no space left on device"
    assert exc.upid.startswith("UPID:") and ":vzcreate:" in exc.upid
    assert "no space left on device" in str(exc)
    # The failed create's vmid is not kept reserved: the next create may use it again.
    again = await px.create_container(ContainerSpec(hostname="fine", template="debian-12"))
    assert again.vmid in sim.cluster.guests


async def test_locked_container(px, sim, settings_for):
    sim.cluster.add_guest(200, "pve1")
    sim.cluster.set_lock(200, "backup")
    with pytest.raises(errors.TaskFailed) as info:
        await px.start(200)
    assert info.value.log_line == "CT is locked (backup)"
    with pytest.raises(errors.Locked, match="locked"):
        await px.delete(200)
    assert 200 in sim.cluster.guests
    assert (await px.get_container(200)).lock == "backup"


async def test_invalid_fields_are_each_named(px, sim, settings_for):
    spec = ContainerSpec(
        hostname="bad_host!",
        template="debian-12",
        cores=0,
        memory_mb=8,
        nics=(NicSpec(ip="10.0.0.300/24"),),
    )
    with pytest.raises(errors.InvalidRequest) as info:
        await px.create_container(spec)
    fields = info.value.fields
    assert {"hostname", "cores", "memory", "net0"} <= set(fields)
    for name in ("hostname", "cores", "memory", "net0"):
        assert name in str(info.value)
    assert sim.cluster.guests == {}


async def test_booleans_are_sent_as_1_or_0(px, sim, settings_for):
    result = await px.create_container(
        ContainerSpec(hostname="priv", template="debian-12", unprivileged=False)
    )
    # Left out, PVE would make it unprivileged; False must arrive as 0, not as "False".
    assert str(sim.cluster.guests[result.vmid].config.get("unprivileged", 0)) == "0"
    await px.set_config(result.vmid, onboot=True, protection=False)
    config = sim.cluster.guests[result.vmid].config
    assert str(config["onboot"]) == "1"


async def test_bad_token_is_authentication_failed(sim, settings_for):
    async with Proxmox(settings_for(sim, token_secret="not-the-secret")) as px:
        with pytest.raises(errors.AuthenticationFailed, match="credentials"):
            await px.overview()


async def test_password_login(sim, settings_for):
    settings = settings_for(
        sim, token_id=None, token_secret=None, user=sim.user, password=sim.password
    )
    async with Proxmox(settings) as px:
        # A POST proves the CSRF token travels with the ticket.
        result = await px.create_container(ContainerSpec(hostname="ticket", template="debian-12"))
        assert result.vmid in sim.cluster.guests
    wrong = settings_for(sim, token_id=None, token_secret=None, user=sim.user, password="wrong")
    async with Proxmox(wrong) as px:
        with pytest.raises(errors.AuthenticationFailed):
            await px.overview()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_unreachable_host(sim, settings_for):
    port = _closed_port()
    async with Proxmox(settings_for(sim, port=port)) as px:
        with pytest.raises(errors.Unreachable, match=f"127.0.0.1:{port}"):
            await px.overview()


async def test_wrong_fingerprint_is_refused(sim, settings_for):
    wrong = ":".join(["AB"] * 32)
    async with Proxmox(settings_for(sim, fingerprint=wrong)) as px:
        with pytest.raises(errors.TLSError, match="fingerprint"):
            await px.overview()
    # The same refusal protects the password of a ticket login.
    settings = settings_for(
        sim,
        token_id=None,
        token_secret=None,
        user=sim.user,
        password=sim.password,
        fingerprint=wrong,
    )
    async with Proxmox(settings) as px:
        with pytest.raises(errors.TLSError):
            await px.overview()


async def test_right_fingerprint_and_ca_file_work(sim, settings_for):
    async with Proxmox(settings_for(sim, fingerprint=sim.fingerprint.lower())) as px:
        assert {n.name for n in await px.overview()} == {"pve1", "pve2"}
    async with Proxmox(settings_for(sim, fingerprint=None, ca_file=str(sim.cert_path))) as px:
        assert {n.name for n in await px.overview()} == {"pve1", "pve2"}
    # Verification on, without the CA: the self-signed certificate is refused.
    async with Proxmox(settings_for(sim, fingerprint=None)) as px:
        with pytest.raises(errors.TLSError, match="verif"):
            await px.overview()
    async with Proxmox(settings_for(sim, fingerprint=None, verify_tls=False)) as px:
        assert len(await px.overview()) == 2


async def test_event_loop_keeps_running_during_a_slow_call(settings_for):
    # Real PVE answers a bad credential after ~3 s; a blocked loop would not tick meanwhile.
    async with Simulator(time_scale=0.0, auth_failure_delay=0.6) as sim:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        async with Proxmox(settings_for(sim, token_secret="wrong")) as px:
            task = asyncio.create_task(ticker())
            with pytest.raises(errors.AuthenticationFailed):
                await px.overview()
            task.cancel()
        assert ticks >= 10


async def test_malformed_upid(px):
    with pytest.raises(errors.InvalidRequest, match="UPID"):
        await px.wait_task("pve1", "not-a-upid")


def test_settings_reject_bad_values_and_hide_secrets():
    with pytest.raises(ValueError) as info:
        settings_for_values = dict(host="", port=0, token_id="nobang", token_secret="s")
        from bot.proxmox import ProxmoxSettings

        ProxmoxSettings(**settings_for_values)
    message = str(info.value)
    assert "host" in message and "port" in message and "token_id" in message
    from bot.proxmox import ProxmoxSettings

    s = ProxmoxSettings(host="h", token_id="root@pam!t", token_secret="s3cr3t-value", password=None)
    assert "s3cr3t-value" not in repr(s)
    s = ProxmoxSettings(host="h", user="root@pam", password="hunter2-value")
    assert "hunter2-value" not in repr(s)


async def test_offline_node_is_node_unavailable(px, sim):
    sim.cluster.add_guest(300, "pve2")
    await px.get_container(300)  # the CT is found while pve2 is up
    sim.cluster.set_node_online("pve2", False)
    with pytest.raises(errors.NodeUnavailable, match="node"):
        await px.start(300)
    assert sim.cluster.guests[300].status == "stopped"


async def test_missing_privilege_is_permission_denied(sim, settings_for):
    token_id, secret = sim.add_token("readonly", {"Sys.Audit", "VM.Audit", "Datastore.Audit"})
    async with Proxmox(settings_for(sim, token_id=token_id, token_secret=secret)) as px:
        assert len(await px.overview()) == 2
        with pytest.raises(errors.PermissionDenied, match="privilege"):
            await px.create_container(ContainerSpec(hostname="nope", template="debian-12"))
    assert sim.cluster.guests == {}


async def test_a_task_that_never_ends_is_waited_for_a_bounded_time(sim, settings_for):
    """A create whose task never stops (pvesim holds it) must not keep its caller waiting
    forever: after the settings' task_timeout it raises StillRunning, which names the task
    and says where its outcome will show; the task goes on on the node."""
    sim.cluster.hold_next_task("vzcreate")
    async with Proxmox(settings_for(sim, task_timeout=0.3)) as px:
        started = asyncio.get_running_loop().time()
        with pytest.raises(errors.StillRunning) as info:
            await px.create_container(ContainerSpec(hostname="hung", template="debian-12"))
        waited = asyncio.get_running_loop().time() - started
        assert 0.3 <= waited < 3.0
        exc = info.value
        task = sim.cluster.tasks[exc.upid]
        assert task.type == "vzcreate" and task.status == "running"
        text = str(exc)
        assert exc.upid in text and "vzcreate" in text and "Traceback" not in text
        assert f"still running on {task.node}" in text and "task log" in text
        assert exc.waited_s >= 0.3
        # nothing of the given-up create stays promised: placement and vmids are free again
        assert px._pending_mem[task.node] == 0 and not px._reserved_vmids
        # a power action is bounded the same way, and a timeout per call overrides the setting
        sim.cluster.add_guest(210, "pve1")
        sim.cluster.hold_next_task("vzstart")
        with pytest.raises(errors.StillRunning, match="vzstart 210"):
            await px.start(210)
        sim.cluster.add_guest(211, "pve1", status="running")
        sim.cluster.hold_next_task("vzstop")
        upid = await px._request("POST", "nodes/pve1/lxc/211/status/stop", action="stop")
        with pytest.raises(errors.StillRunning):
            await px.wait_task("pve1", upid, timeout=0.1)
        sim.cluster.release_task(upid)
        assert await px.wait_task("pve1", upid, timeout=5) == "OK"


def test_task_time_limits_are_generous_per_kind_unless_set():
    from bot.proxmox.tasks import DEFAULT_TASK_TIMEOUT_S, wait_limit

    assert wait_limit("vzstart") >= 300
    assert wait_limit("vzrestore") >= wait_limit("vzcreate") >= wait_limit("vzstart")
    assert wait_limit("something-new") == DEFAULT_TASK_TIMEOUT_S
    assert wait_limit("vzrestore", 60.0) == wait_limit("vzstart", 60.0) == 60.0
    with pytest.raises(ValueError, match="task_timeout"):
        ProxmoxSettings(host="h", token_id="a@pam!b", token_secret="s", task_timeout=0)
