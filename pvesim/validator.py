"""The one parameter validator, following PVE::JSONSchema's ``check_prop`` (pve-common).

Tables (``pvesim/params/*.py``) are compiled once into ``Prop`` objects; a request's parameters
(all strings, as they arrive on the wire) are checked in PVE's order: type, format, pattern,
maxLength, minLength, maximum, minimum, enum. Errors are collected per parameter and raised as one
400 ``Parameter verification failed.``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import formats
from .errors import ApiError, param_error

UNKNOWN = "property is not defined in schema and the schema does not allow additional properties"
MISSING = "property is missing and it is not optional"
_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?$")
# How many numbered instances PVE expands "net[n]" & co. to (PVE::LXC::Config).
INDEXED_LIMITS = {"net": 32, "mp": 256, "unused": 256, "dev": 256}


def perl_pattern(pattern: str) -> re.Pattern:
    """A schema pattern as PVE applies it: Perl ``(?^:``/``(?^i:`` groups, anchored at both ends."""
    return re.compile("^(?:" + re.sub(r"\(\?\^([a-z]*):", r"(?\1:", pattern) + ")$")


@dataclass(frozen=True)
class Prop:
    """One compiled property (a top-level parameter or a key of a property string)."""

    name: str
    type: str | None = None
    optional: bool = False
    enum: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: re.Pattern | None = None
    format_name: str | None = None
    sub: dict[str, Prop] | None = None  # property-string keys
    default_key: bool = False
    requires: str | None = None

    @classmethod
    def compile(cls, name: str, spec: dict) -> Prop:
        fmt = spec.get("format")
        return cls(
            name=name,
            type=spec.get("type"),
            optional=bool(spec.get("optional")),
            enum=tuple(spec["enum"]) if "enum" in spec else None,
            minimum=spec.get("minimum"),
            maximum=spec.get("maximum"),
            min_length=spec.get("minLength"),
            max_length=spec.get("maxLength"),
            pattern=perl_pattern(spec["pattern"]) if "pattern" in spec else None,
            format_name=fmt if isinstance(fmt, str) else None,
            sub={k: cls.compile(k, v) for k, v in fmt.items()} if isinstance(fmt, dict) else None,
            default_key=bool(spec.get("default_key")),
            requires=spec.get("requires"),
        )


@dataclass
class Method:
    """The compiled table of one API method."""

    key: str  # "POST /nodes/{node}/lxc"
    proxyto: str | None
    props: dict[str, Prop]
    indexed: list[tuple[re.Pattern, Prop]] = field(default_factory=list)

    @classmethod
    def compile(cls, key: str, table: dict) -> Method:
        props, indexed = {}, []
        for name, spec in table["properties"].items():
            prop = Prop.compile(name, spec)
            if name.endswith("[n]"):
                # PVE::LXC::Config defines net0..net31 (mp0.., unused0..) one by one: "net01"
                # is no name of the schema, so it is an unknown parameter, not net1.
                indexed.append((re.compile(rf"^{re.escape(name[:-3])}(0|[1-9]\d*)$"), prop))
            else:
                props[name] = prop
        return cls(key, table.get("proxyto"), props, indexed)

    def prop_for(self, name: str) -> Prop | None:
        if prop := self.props.get(name):
            return prop
        for regex, prop in self.indexed:
            m = regex.match(name)
            if m and int(m.group(1)) < INDEXED_LIMITS.get(prop.name[:-3], 32):
                return prop
        return None

    def validate(self, raw: dict[str, str]) -> dict[str, Any]:
        """Check ``raw`` and return it with integers, numbers and booleans converted."""
        errors: dict[str, str] = {}
        out: dict[str, Any] = {}
        for name, prop in self.props.items():
            if name not in raw and not prop.optional:
                errors[name] = MISSING
        for name, value in raw.items():
            prop = self.prop_for(name)
            if prop is None:
                errors[name] = UNKNOWN
                continue
            err = check(prop, value, name)
            if err:
                errors[name] = err
                continue
            if prop.requires and prop.requires not in raw:
                errors[prop.requires] = f"missing property - '{name}' requires this property"
            out[name] = convert(prop, value)
        if errors:
            raise param_error(errors)
        return out


class PerlRef(str):
    """A value a JSON body gave as an object: ``ref`` is what Perl's ``ref()`` says of it
    (JSON::PP::Boolean, HASH, ARRAY); the text is its plain form (a boolean's 1/0)."""

    def __new__(cls, text: str, ref: str) -> PerlRef:
        obj = super().__new__(cls, text)
        obj.ref = ref
        return obj


def convert(prop: Prop, value: str) -> Any:
    if prop.type in ("integer", "boolean"):
        return int(value)
    if prop.type == "number":
        return float(value)
    return value


def _add(errors: dict[str, str], path: str, msg: str) -> None:
    errors[path] = f"{errors[path]}\n{msg}" if path in errors else msg


def check(prop: Prop, value: str, path: str) -> str | None:
    """The first error of one value against its property, or None (PVE's check_prop order)."""
    t = prop.type
    if isinstance(value, PerlRef) and t and not (t == "boolean" and value.ref ==
                                                 "JSON::PP::Boolean"):
        return f"type check ('{t}') failed - got {value.ref}"
    if t == "boolean" and value not in ("0", "1"):
        return f"type check ('boolean') failed - got '{value}'"
    if t == "integer" and not _INTEGER.match(value):
        return f"type check ('integer') failed - got '{value}'"
    if t == "number" and not _NUMBER.match(value):
        return f"type check ('number') failed - got '{value}'"
    if prop.sub is not None:
        try:
            parse_property_string(prop.sub, value, path)
        except PropertyStringError as exc:
            return f"invalid format - {exc}"
    elif prop.format_name:
        checker = formats.lookup(prop.format_name)
        if checker and (err := checker(value)):
            return f"invalid format - {err}"
    if prop.pattern and not prop.pattern.match(value):
        return "value does not match the regex pattern"
    if prop.max_length is not None and len(value) > prop.max_length:
        return f"value may only be {prop.max_length} characters long"
    if prop.min_length is not None and len(value) < prop.min_length:
        return f"value must be at least {prop.min_length} characters long"
    if _NUMBER.match(value):
        number = float(value)
        if prop.maximum is not None and number > prop.maximum:
            return f"value must have a maximum value of {prop.maximum}"
        if prop.minimum is not None and number < prop.minimum:
            return f"value must have a minimum value of {prop.minimum}"
    if prop.enum is not None and value not in prop.enum:
        return f"value '{value}' does not have a value in the enumeration '{', '.join(prop.enum)}'"
    return None


class PropertyStringError(ValueError):
    """A property string that does not parse or whose keys fail their checks."""


_TRUE = {"1", "on", "yes", "true"}
_FALSE = {"0", "off", "no", "false"}


def parse_property_string(sub: dict[str, Prop], data: str, path: str = "") -> dict[str, str]:
    """PVE's parse_property_string: ``key=value,...`` with an optional default key.

    Booleans may be written on/yes/true/off/no/false here (normalised to "1"/"0").
    """
    res: dict[str, str] = {}
    default_key = None
    for part in data.split(","):
        if not part.strip():
            continue
        if "=" in part:
            k, _, v = part.partition("=")
            if not k or not v:
                raise PropertyStringError("missing key in comma-separated list property")
            if k in res:
                raise PropertyStringError(f"duplicate key in comma-separated list property: {k}")
            schema = sub.get(k)
            if schema is None:
                raise PropertyStringError(f"invalid key in comma-separated list property: {k}")
            if schema.type == "boolean":
                low = v.lower()
                v = "1" if low in _TRUE else "0" if low in _FALSE else v
            res[k] = v
        else:
            if default_key:
                raise PropertyStringError(
                    f"duplicate key in comma-separated list property: {default_key}"
                )
            default_key = next((k for k, p in sub.items() if p.default_key), None)
            if default_key is None:
                raise PropertyStringError(
                    "value without key, but schema does not define a default key"
                )
            if default_key in res:
                raise PropertyStringError(
                    f"duplicate key in comma-separated list property: {default_key}"
                )
            res[default_key] = part
    errors: dict[str, str] = {}
    for k, prop in sub.items():
        sub_path = f"{path}.{k}" if path else k
        if k not in res:
            if not prop.optional:
                _add(errors, sub_path, MISSING)
            continue
        if err := check(prop, res[k], sub_path):
            _add(errors, sub_path, err)
    if errors:
        lines = "".join(f"\n{p}: {m}" for p, m in sorted(errors.items()))
        raise PropertyStringError("format error" + lines)
    return res


_COMPILED: dict[str, Method] = {}


def compiled(key: str, table: dict) -> Method:
    """Compile a method table once (cached by its key)."""
    method = _COMPILED.get(key)
    if method is None:
        method = _COMPILED[key] = Method.compile(key, table)
    return method


__all__ = ["ApiError", "Method", "Prop", "compiled", "parse_property_string", "check"]
