"""``python -m pvesim [--port 8006] [--scenario FILE] [--time-scale 1.0]``: serve in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import sys

from . import load
from .scenario import ScenarioError
from .server import Simulator


async def serve(args: argparse.Namespace) -> None:
    async with Simulator(scenario=args.scenario, port=args.port, time_scale=args.time_scale,
                         host=args.host, auth_failure_delay=args.auth_failure_delay) as sim:
        load.apply_arguments(sim.cluster.load, args)
        print(f"pvesim serving {sim.base_url}/api2/json/", flush=True)
        print(f"  certificate {sim.cert_path}")
        print(f"  fingerprint {sim.fingerprint}")
        print(f"  token       PVEAPIToken={sim.token_id}={sim.token_secret}")
        print(f"  login       {sim.user} / {sim.password}", flush=True)
        for group in sim.cluster.load.groups:
            print(f"  load        group {group}: {sim.cluster.load.rps(group):g} requests/s now")
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pvesim", description=__doc__)
    parser.add_argument("--port", type=int, default=8006)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--scenario", help="JSON or TOML scenario file")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--auth-failure-delay", type=float, default=3.0,
                        help="seconds before a 401, as real PVE (default 3)")
    load.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args))
    except (ScenarioError, load.LoadError) as exc:
        print(f"pvesim: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"pvesim: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
