"""Bootstrap the parameter tables from the official schema (a maintainer's tool, never run at runtime).

    python pvesim/params/generate.py ../shared/pve-api/pve-apidata-9.2.json
    ruff format pvesim/params/

(run as a file, it imports nothing of pvesim: a method being added has no table yet)

rewrites ``pvesim/params/<module>.py`` for the methods listed in ``METHODS``. The output is plain
Python that is then committed and read by the validator. It also rewrites ``FACTS``
(tests/pvesim/pve-api-facts.json): the same methods as the official schema states them (every key
of every parameter but the texts written for people, with ``proxyto``, ``permissions``...), the
oracle that tests/pvesim/test_schema_conformance.py compares the tables with, so that the tests
need nothing outside the repository. The schema file itself is only read here.
To implement a new method: add it to ``METHODS``, rerun, review the diff, register its handler.
"""

from __future__ import annotations

import json
import pprint
import sys
from pathlib import Path

FACTS = Path(__file__).resolve().parents[2] / "tests" / "pvesim" / "pve-api-facts.json"
# The method-level keys the facts keep (without their texts for people).
METHOD_KEYS = ("proxyto", "protected", "allowtoken", "permissions", "returns")

# Every key of a parameter is kept but the texts written for people (the conformance test
# compares all the others, ``items`` and ``default`` included).
DROPPED_KEYS = ("description", "verbose_description", "typetext", "format_description")
NUMBER_KEYS = ("minimum", "maximum", "minLength", "maxLength")
# The order keys are written in (the rest follow, sorted): the validation keys first.
FIRST_KEYS = (
    "type",
    "optional",
    "format",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "default_key",
    "requires",
    "alias",
)

METHODS: dict[str, list[tuple[str, str]]] = {
    "version": [("GET", "/version")],
    "access": [("POST", "/access/ticket"), ("GET", "/access/permissions")],
    "cluster": [
        ("GET", "/cluster/status"),
        ("GET", "/cluster/resources"),
        ("GET", "/cluster/nextid"),
    ],
    "nodes": [("GET", "/nodes"), ("GET", "/nodes/{node}/status")],
    "lxc": [
        ("GET", "/nodes/{node}/lxc"),
        ("POST", "/nodes/{node}/lxc"),
        ("GET", "/nodes/{node}/lxc/{vmid}/config"),
        ("PUT", "/nodes/{node}/lxc/{vmid}/config"),
        ("DELETE", "/nodes/{node}/lxc/{vmid}"),
        ("GET", "/nodes/{node}/lxc/{vmid}/status/current"),
        ("POST", "/nodes/{node}/lxc/{vmid}/status/start"),
        ("POST", "/nodes/{node}/lxc/{vmid}/status/stop"),
        ("POST", "/nodes/{node}/lxc/{vmid}/status/shutdown"),
        ("POST", "/nodes/{node}/lxc/{vmid}/status/reboot"),
        ("POST", "/nodes/{node}/lxc/{vmid}/clone"),
        ("GET", "/nodes/{node}/lxc/{vmid}/rrddata"),
        ("GET", "/nodes/{node}/lxc/{vmid}/snapshot"),
        ("POST", "/nodes/{node}/lxc/{vmid}/snapshot"),
        ("DELETE", "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}"),
        ("POST", "/nodes/{node}/lxc/{vmid}/migrate"),
    ],
    "storage": [
        ("GET", "/nodes/{node}/storage"),
        ("GET", "/nodes/{node}/storage/{storage}/content"),
    ],
    "network": [
        ("GET", "/nodes/{node}/network"),
        ("POST", "/nodes/{node}/network"),
        ("PUT", "/nodes/{node}/network"),
        ("DELETE", "/nodes/{node}/network"),
        ("GET", "/nodes/{node}/network/{iface}"),
        ("PUT", "/nodes/{node}/network/{iface}"),
        ("DELETE", "/nodes/{node}/network/{iface}"),
    ],
    "sdn": [
        ("GET", "/cluster/sdn"),
        ("PUT", "/cluster/sdn"),
        ("GET", "/cluster/sdn/zones"),
        ("POST", "/cluster/sdn/zones"),
        ("GET", "/cluster/sdn/zones/{zone}"),
        ("PUT", "/cluster/sdn/zones/{zone}"),
        ("DELETE", "/cluster/sdn/zones/{zone}"),
        ("GET", "/cluster/sdn/vnets"),
        ("POST", "/cluster/sdn/vnets"),
        ("GET", "/cluster/sdn/vnets/{vnet}"),
        ("PUT", "/cluster/sdn/vnets/{vnet}"),
        ("DELETE", "/cluster/sdn/vnets/{vnet}"),
        ("GET", "/cluster/sdn/vnets/{vnet}/subnets"),
        ("POST", "/cluster/sdn/vnets/{vnet}/subnets"),
        ("GET", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}"),
        ("PUT", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}"),
        ("DELETE", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}"),
    ],
    "backup": [
        ("POST", "/nodes/{node}/vzdump"),
        ("GET", "/nodes/{node}/vzdump/extractconfig"),
        ("GET", "/nodes/{node}/storage/{storage}/content/{volume}"),
        ("PUT", "/nodes/{node}/storage/{storage}/content/{volume}"),
        ("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}"),
        ("GET", "/cluster/backup"),
        ("POST", "/cluster/backup"),
        ("GET", "/cluster/backup/{id}"),
        ("PUT", "/cluster/backup/{id}"),
        ("DELETE", "/cluster/backup/{id}"),
        ("GET", "/cluster/backup/{id}/included_volumes"),
        ("GET", "/cluster/jobs/schedule-analyze"),
    ],
    "tasks": [
        ("GET", "/nodes/{node}/tasks"),
        ("GET", "/nodes/{node}/tasks/{upid}/status"),
        ("GET", "/nodes/{node}/tasks/{upid}/log"),
    ],
    "resize": [("PUT", "/nodes/{node}/lxc/{vmid}/resize")],
    "firewall": [
        ("GET", "/cluster/firewall/options"),
        ("PUT", "/cluster/firewall/options"),
        ("GET", "/cluster/firewall/ipset"),
        ("POST", "/cluster/firewall/ipset"),
        ("GET", "/cluster/firewall/ipset/{name}"),
        ("POST", "/cluster/firewall/ipset/{name}"),
        ("DELETE", "/cluster/firewall/ipset/{name}"),
        ("DELETE", "/cluster/firewall/ipset/{name}/{cidr}"),
        ("GET", "/cluster/firewall/groups"),
        ("POST", "/cluster/firewall/groups"),
        ("GET", "/cluster/firewall/groups/{group}"),
        ("POST", "/cluster/firewall/groups/{group}"),
        ("DELETE", "/cluster/firewall/groups/{group}/{pos}"),
        ("GET", "/nodes/{node}/lxc/{vmid}/firewall/options"),
        ("PUT", "/nodes/{node}/lxc/{vmid}/firewall/options"),
        ("GET", "/nodes/{node}/lxc/{vmid}/firewall/rules"),
        ("POST", "/nodes/{node}/lxc/{vmid}/firewall/rules"),
        ("GET", "/nodes/{node}/lxc/{vmid}/firewall/rules/{pos}"),
        ("DELETE", "/nodes/{node}/lxc/{vmid}/firewall/rules/{pos}"),
    ],
}


def index_schema(tree: list) -> dict[tuple[str, str], dict]:
    """(METHOD, path) -> method info, for the whole schema tree."""
    out: dict[tuple[str, str], dict] = {}
    stack = list(tree)
    while stack:
        node = stack.pop()
        for method, info in (node.get("info") or {}).items():
            out[(method, node["path"])] = info
        stack.extend(node.get("children") or [])
    return out


def _number(value):
    """The schema sometimes writes numbers as strings ("0"); tables hold real numbers."""
    if isinstance(value, str):
        return float(value) if "." in value else int(value)
    return value


def slim(prop: dict, numbers: bool = True) -> dict:
    """One property without its texts for people (recursing into property strings and
    ``items``); ``numbers``: the schema's numbers written as strings become numbers."""
    out = {}
    order = [k for k in FIRST_KEYS if k in prop] + sorted(k for k in prop if k not in FIRST_KEYS)
    for key in order:
        value = prop[key]
        if key in DROPPED_KEYS:
            continue
        if key in ("format", "items") and isinstance(value, dict):
            value = (
                slim(value, numbers)
                if key == "items"
                else {name: slim(sub, numbers) for name, sub in sorted(value.items())}
            )
        elif key in NUMBER_KEYS and numbers:
            value = _number(value)
        out[key] = value
    return out


def method_table(info: dict) -> dict:
    """The table entry of one method: its properties and the node it is proxied to."""
    props = (info.get("parameters") or {}).get("properties") or {}
    return {
        "proxyto": info.get("proxyto"),
        "properties": {name: slim(prop) for name, prop in sorted(props.items())},
    }


def without_texts(value):
    """``value`` (a schema fragment) without the texts written for people, at every depth."""
    if isinstance(value, dict):
        return {k: without_texts(v) for k, v in value.items() if k not in DROPPED_KEYS}
    if isinstance(value, list):
        return [without_texts(v) for v in value]
    return value


def method_facts(info: dict) -> dict:
    """One method as the official schema states it, without the texts written for people and
    with its numbers as the schema writes them (the oracle of the conformance test)."""
    params = info.get("parameters") or {}
    out = {key: without_texts(info[key]) for key in METHOD_KEYS if key in info}
    out["additionalProperties"] = params.get("additionalProperties", 0)
    props = params.get("properties") or {}
    out["properties"] = {name: slim(prop, numbers=False) for name, prop in sorted(props.items())}
    return out


def facts(schema: dict[tuple[str, str], dict], source: str) -> dict:
    methods = sorted(f"{m} {p}" for group in METHODS.values() for m, p in group)
    return {
        "source": source,
        "methods": {key: method_facts(schema[tuple(key.split(" ", 1))]) for key in methods},
    }


def render(module: str, entries: dict) -> str:
    body = pprint.pformat(entries, indent=1, width=100, sort_dicts=False)
    return (
        f'"""Parameter tables of the {module} endpoints (generated by pvesim.params.generate from the\n'
        'official PVE 9.2 schema, then committed; checked by tests/pvesim/test_schema_conformance.py)."""\n\n'
        f"PARAMS = {body}\n"
    )


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    schema = index_schema(json.loads(Path(argv[1]).read_text()))
    here = Path(__file__).parent
    for module, methods in METHODS.items():
        entries = {f"{m} {p}": method_table(schema[(m, p)]) for m, p in methods}
        (here / f"{module}.py").write_text(render(module, entries))
        print(f"wrote {module}.py ({len(entries)} methods)")
    oracle = facts(schema, f"{Path(argv[1]).name}, generated by pvesim.params.generate")
    FACTS.write_text(json.dumps(oracle, indent=1, sort_keys=True) + "\n")
    print(f"wrote {FACTS.name} ({len(oracle['methods'])} methods)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
