"""pvesim's parameter tables against the official PVE 9.2 schema, for every implemented method.

The official facts are read from the repository (tests/pvesim/pve-api-facts.json, written by
``python -m pvesim.params.generate <pve-apidata.json>`` from the official file), so these tests
need nothing outside it. Every key of every parameter is compared, recursively.
"""

from __future__ import annotations

import copy
import importlib
import json
import pkgutil
from pathlib import Path

import pytest

import pvesim.params
from pvesim import formats
from pvesim.api import implemented
from pvesim.params import generate

# Where the official schema may be (a maintainer's checkout): only to check the facts are current.
SCHEMA = Path(__file__).resolve().parents[2] / ".." / "shared" / "pve-api" / "pve-apidata-9.2.json"
NUMBERS = ("minimum", "maximum", "minLength", "maxLength")
FLAGS = ("optional", "default_key")


def _official() -> dict[str, dict]:
    return json.loads(generate.FACTS.read_text())["methods"]


def _ours() -> dict[str, dict]:
    tables = {}
    for mod in pkgutil.iter_modules(pvesim.params.__path__):
        module = importlib.import_module(f"pvesim.params.{mod.name}")
        tables.update(getattr(module, "PARAMS", {}))
    return tables


def _norm(prop: dict) -> dict:
    """Every key of one property, numbers as numbers and flags as booleans (the schema writes
    some numbers as strings, "0"), recursing into ``items``."""
    out = {}
    for key, value in prop.items():
        if key in NUMBERS:
            value = float(value)
        elif key in FLAGS:
            value = bool(value)
        elif key == "format" and isinstance(value, dict):
            value = {k: _norm(v) for k, v in value.items()}
        elif key == "items" and isinstance(value, dict):
            value = _norm(value)
        out[key] = value
    out.setdefault("optional", False)
    return out


def diff(method: str, ours: dict, official: dict) -> list[str]:
    """Every difference between two ``properties`` dicts, one readable line each."""
    problems = []

    def walk(path: str, a: dict, b: dict) -> None:
        for name in sorted(set(a) | set(b)):
            where = f"{method} {path}{name}"
            if name not in a:
                problems.append(f"{where}: missing in pvesim")
                continue
            if name not in b:
                problems.append(f"{where}: not in the official schema")
                continue
            na, nb = _norm(a[name]), _norm(b[name])
            fa, fb = na.pop("format", None), nb.pop("format", None)
            for key in sorted(set(na) | set(nb)):
                if na.get(key) != nb.get(key):
                    problems.append(f"{where}: {key} is {na.get(key)!r}, official {nb.get(key)!r}")
            if isinstance(fa, dict) and isinstance(fb, dict):
                walk(f"{path}{name}.", a[name]["format"], b[name]["format"])
            elif fa != fb:
                problems.append(f"{where}: format is {fa!r}, official {fb!r}")

    walk("", ours, official)
    return problems


OFFICIAL = _official()
OURS = _ours()


def test_every_implemented_method_has_a_table_and_vice_versa():
    assert sorted(implemented()) == sorted(OURS)
    assert len(OURS) >= 25


@pytest.mark.parametrize("method", sorted(implemented()))
def test_table_matches_official_schema(method):
    official = OFFICIAL[method]
    assert diff(method, OURS[method]["properties"], official["properties"]) == []
    assert OURS[method]["proxyto"] == official.get("proxyto")
    assert not official["additionalProperties"]


def test_facts_cover_exactly_the_implemented_methods():
    assert sorted(OFFICIAL) == sorted(implemented())


@pytest.mark.skipif(not SCHEMA.exists(), reason="the official schema file is not checked out")
def test_facts_are_what_the_official_file_says():
    """The committed facts are current: regenerating them from the official file changes
    nothing (run ``python -m pvesim.params.generate <file>`` when this fails)."""
    schema = generate.index_schema(json.loads(SCHEMA.read_text()))
    assert generate.facts(schema, "")["methods"] == OFFICIAL


def test_comparison_reports_corrupted_tables():
    method = "POST /nodes/{node}/lxc"
    bad = copy.deepcopy(OURS[method]["properties"])
    bad["memory"]["minimum"] = 32
    bad["vmid"]["optional"] = 1
    bad["net[n]"]["format"]["ip"]["format"] = "ipv4"
    bad["ostype"]["enum"] = bad["ostype"]["enum"][:-1]
    del bad["swap"]
    bad["colour"] = {"type": "string", "optional": 1}
    bad["arch"]["default"] = "i386"
    official = OFFICIAL[method]["properties"]
    problems = "\n".join(diff(method, bad, official))
    assert "memory: minimum is 32.0, official 16.0" in problems
    assert "vmid: optional is True, official False" in problems
    assert "net[n].ip: format is 'ipv4', official 'pve-ipv4-config'" in problems
    assert "ostype: enum" in problems
    assert "swap: missing in pvesim" in problems
    assert "colour: not in the official schema" in problems
    assert "arch: default is 'i386', official 'amd64'" in problems


def test_comparison_reports_a_changed_items_schema():
    method = "POST /cluster/backup"
    bad = copy.deepcopy(OURS[method]["properties"])
    bad["exclude-path"]["items"] = {"type": "integer"}
    problems = diff(method, bad, OFFICIAL[method]["properties"])
    assert problems == [f"{method} exclude-path: items is {{'type': 'integer', 'optional': "
                        f"False}}, official {{'type': 'string', 'optional': False}}"]


def test_every_named_format_is_implemented():
    missing = set()

    def scan(props: dict) -> None:
        for prop in props.values():
            fmt = prop.get("format")
            if isinstance(fmt, dict):
                scan(fmt)
            elif fmt and formats.lookup(fmt) is None:
                missing.add(fmt)

    for table in OURS.values():
        scan(table["properties"])
    assert missing == set()
