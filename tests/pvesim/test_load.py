"""pvesim's load model: sources, traces, the CLI options, replica CPU over HTTPS, linked clones."""

import argparse
import asyncio

import pytest
import requests

from pvesim import Simulator
from pvesim.load import (
    LoadError,
    LoadModel,
    Step,
    add_arguments,
    apply_arguments,
    parse_load_spec,
    read_trace,
)
from pvesim.model import Cluster


def test_specs_and_step():
    assert parse_load_spec("web=250")[1].rps(0) == 250
    group, step = parse_load_spec("api=100,400@60")
    assert group == "api" and step == Step(100, 400, 60)
    assert (step.rps(59), step.rps(60)) == (100, 400)
    for bad in ("web", "=3", "web=x", "web=1,2", "web=-5"):
        with pytest.raises(LoadError):
            parse_load_spec(bad)


def test_trace_replayed_at_speed_and_looping(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("timestamp,load\n2024-01-01T00:00:00,10\n2024-01-01T00:01:00,20\n"
                    "2024-01-01T00:02:00,30\n")
    trace = read_trace(path, speed=60)
    assert [trace.rps(x) for x in (0, 0.99, 1, 2, 3)] == [10, 10, 20, 30, 10]
    path.write_text("timestamp,load\n0,1\n0,2\n")
    with pytest.raises(LoadError, match="increase"):
        read_trace(path)
    path.write_text("time,value\n0,1\n")
    with pytest.raises(LoadError, match="header"):
        read_trace(path)
    with pytest.raises(LoadError, match="cannot read"):
        read_trace(tmp_path / "missing.csv")


def test_load_spread_over_ready_replicas_only():
    now = [1000.0]
    model = LoadModel(capacity_rps=100, warmup_s=10, clock=lambda: now[0])
    cluster = Cluster()
    a = cluster.add_guest(201, "pve1", status="running", tags="stratus;web")
    b = cluster.add_guest(202, "pve1", status="running", tags="web")
    a.started_at, b.started_at = 900.0, 995.0  # b still warming up
    other = cluster.add_guest(203, "pve1", status="running")
    model.set_load("web", 150)
    model.apply(cluster)
    assert a.cpu == 1.0 and b.cpu == 0.02 and other.cpu == 0.02
    now[0] = 1010.0
    model.apply(cluster)
    assert a.cpu == b.cpu == pytest.approx(0.77)


def test_cli_options(tmp_path):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    trace = tmp_path / "t.csv"
    trace.write_text("timestamp,load\n0,5\n")
    model = LoadModel()
    apply_arguments(model, parser.parse_args(
        ["--load", "web=100", "--load-trace", f"api={trace}", "--speed", "60", "--warmup", "0"]))
    assert model.rps("web") == 100 and model.rps("api") == 5 and model.warmup_s == 0
    with pytest.raises(LoadError):
        apply_arguments(model, parser.parse_args(["--capacity", "0"]))


async def test_cpu_over_https_and_linked_clone_of_a_template():
    scenario = {"guests": [{"vmid": 900, "node": "pve1", "hostname": "tpl", "template": 1}],
                "loads": [{"group": "web", "rps": 50, "warmup_s": 0}]}
    async with Simulator(scenario=scenario) as sim:
        s = requests.Session()
        s.verify = False
        s.headers["Authorization"] = f"PVEAPIToken={sim.token_id}={sim.token_secret}"
        base = f"{sim.base_url}/api2/json/nodes/pve1/lxc"

        def blocking(method, path, data):
            r = s.request(method, base + path, data=data, timeout=10, verify=False)
            return r.status_code, r.json().get("data") if r.content else None

        async def call(method, path, **data):  # requests blocks: off the simulator's loop
            return await asyncio.to_thread(blocking, method, path, data)

        code, _ = await call("POST", "/900/clone", newid=901, hostname="web-1")
        assert code == 200
        await sim.runner.idle()
        # LvmThinPlugin::clone_image: a thin volume of its own name (the base is not in it)
        assert sim.cluster.guests[901].config["rootfs"].startswith("local-lvm:vm-901-disk-0")
        assert "lock" not in sim.cluster.guests[900].config  # its 'disk' lock ended with the clone
        # full=0 of a CT that is not a template is refused
        sim.cluster.add_guest(300, "pve1")
        code, _ = await call("POST", "/300/clone", newid=302, full=0)
        assert code == 500
        await call("PUT", "/901/config", tags="web")
        await call("POST", "/901/status/start")
        await sim.runner.idle()
        code, status = await call("GET", "/901/status/current")
        assert status["cpu"] == pytest.approx(0.52)
