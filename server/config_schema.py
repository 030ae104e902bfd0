"""The config schema, read off the settings dataclasses in config.py.

Each dataclass field is a key: its type hint says which values it takes, its default is what a
bad value falls back to, and its metadata adds what a type cannot say (the range a number must
be in, the names allowed, what a list holds, whether layers add to a list). There is no second
table of keys to keep in step with the dataclasses: a new field is a new key, checked and
reported like every other one.

Every number has a range, both ends finite: a value outside it (or `inf`, `nan`) is a problem
reported once, with the key and the range, and the default is used. A setting from an
untrusted workspace file could otherwise switch completion off (`debounce_ms = 1e12`) or break
every request (`temperature = inf`). A number field without a range is an error at import."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args, get_origin, get_type_hints

from deskmate.server.config_files import Layer

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Check = Callable[[Any], str | None]  # returns a complaint, or None when the value is fine


# --------------------------------------------------------------------------- field metadata


def between(low: float, high: float) -> dict[str, Any]:
    """Metadata of a number field: the smallest and largest values it accepts."""
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ValueError(f"between({low}, {high}) is not a finite range")
    return {"min": low, "max": high}


def one_of(choices: Collection[str]) -> dict[str, Any]:
    """Metadata of a string field that takes one of a few names."""
    return {"choices": tuple(choices)}


def list_of(what: str, *, every_layer: bool = False) -> dict[str, Any]:
    """Metadata of a list field: what its items are, as a message names them. With
    `every_layer`, the lists of all layers add up (later layers append, never replace): no
    layer can remove what another set."""
    return {"items": what, "union": every_layer}


def checked_by(check: Check) -> dict[str, Any]:
    """Metadata of a string field whose values a type cannot describe (a proxy URL): `check`
    returns a complaint, or None when the value is fine."""
    return {"check": check}


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    """How one key's value is checked, and how a good one is stored (a TOML list as a tuple,
    `price_in = 1` as the float a price is)."""

    check: Check
    convert: Callable[[Any], Any]
    union: bool = False  # layers add to the value instead of replacing it


def rules_of(cls: type[DataclassInstance], *, skip: Collection[str] = ()) -> dict[str, Rule]:
    """One rule per field of `cls` (but `skip`), from its type hint and metadata."""
    hints = get_type_hints(cls)
    return {f.name: _rule(hints[f.name], f.metadata, f"{cls.__name__}.{f.name}")
            for f in dataclasses.fields(cls) if f.name not in skip}


def _rule(hint: Any, meta: Mapping[str, Any], name: str) -> Rule:
    if hint is bool:
        return Rule(_boolean, _same)
    if hint in (int, float):
        if "min" not in meta or "max" not in meta:
            raise TypeError(f"{name}: a number setting needs its range, "
                            "metadata=between(low, high)")
        if hint is int:
            return Rule(_whole(meta["min"], meta["max"]), _same)
        return Rule(_number(meta["min"], meta["max"]), float)
    if hint is str and "check" in meta:
        return Rule(_string_and(meta["check"]), _same)
    if hint is str:
        return Rule(_choice(meta["choices"]) if "choices" in meta else _string, _same)
    if get_origin(hint) is tuple and get_args(hint) == (str, Ellipsis):
        return Rule(_strings(meta.get("items", "strings")), tuple, bool(meta.get("union")))
    raise TypeError(f"{name}: the config schema has no check for values of type {hint!r}")


def _same(value: Any) -> Any:
    return value


def _whole(low: float, high: float) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number, got {_show(value)}"
        return _outside(value, low, high)
    return check


def _number(low: float, high: float) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, got {_show(value)}"
        return _outside(value, low, high)
    return check


def _outside(value: float, low: float, high: float) -> str | None:
    """A complaint when `value` is not in [low, high] (nan and the infinities never are)."""
    if (isinstance(value, float) and not math.isfinite(value)) or not low <= value <= high:
        return f"must be between {low} and {high}, got {_show(value)}"
    return None


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else f"must be a string, got {_show(value)}"


def _string_and(check: Check) -> Check:
    def both(value: Any) -> str | None:
        return _string(value) or check(value)
    return both


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, got {_show(value)}"


def _choice(choices: tuple[str, ...]) -> Check:
    def check(value: Any) -> str | None:
        if value in choices:
            return None
        return f"must be one of {', '.join(choices)}; got {_show(value)}"
    return check


def _strings(what: str) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return None
        return f"must be a list of {what}, got {_show(value)}"
    return check


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class Schema:
    """`sections`: tables of keys (`[context]`); `named`: tables of named tables, each named
    table with the same keys (`[profiles.NAME]`)."""

    sections: Mapping[str, Mapping[str, Rule]]
    named: Mapping[str, Mapping[str, Rule]]

    def unions(self) -> frozenset[tuple[str, str]]:
        """(section, key) of each list whose layers add up."""
        return frozenset((section, key) for section, rules in self.sections.items()
                         for key, rule in rules.items() if rule.union)


def validated(layer: Layer, schema: Schema, problems: list[str]) -> dict[str, Any]:
    """The layer's good values, converted; one message in `problems` per bad or unknown one."""
    clean: dict[str, Any] = {}
    data = _without_untrusted_keys(layer, problems) if layer.untrusted else layer.data
    for section, value in data.items():
        if section not in schema.sections and section not in schema.named:
            problems.append(f"{layer.where(section)}: unknown section '{section}'; ignored")
        elif not isinstance(value, Mapping):
            problems.append(f"{layer.where(section)}: '{section}' must be a table; ignored")
        elif section in schema.sections:
            clean[section] = _checked_table(layer, (section,), value, schema.sections[section],
                                            problems)
        else:
            clean[section] = _checked_named(layer, section, value, schema.named[section],
                                            problems)
    return clean


def _checked_named(layer: Layer, section: str, tables: Mapping[str, Any],
                   rules: Mapping[str, Rule], problems: list[str]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, values in tables.items():
        if isinstance(values, Mapping):
            kept[name] = _checked_table(layer, (section, name), values, rules, problems)
        else:
            problems.append(f"{layer.where(section, name)}: {section}.{name} must be a table; "
                            "ignored")
    return kept


def _checked_table(layer: Layer, path: tuple[str, ...], values: Mapping[str, Any],
                   rules: Mapping[str, Rule], problems: list[str]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    dotted = ".".join(path)
    for key, value in values.items():
        rule = rules.get(key)
        if rule is None:
            problems.append(f"{layer.where(*path, key)}: unknown key '{dotted}.{key}'; ignored")
        elif (complaint := rule.check(value)) is not None:
            problems.append(f"{layer.where(*path, key)}: {dotted}.{key} {complaint}; "
                            "the default is used")
        else:
            kept[key] = rule.convert(value)
    return kept


def _without_untrusted_keys(layer: Layer, problems: list[str]) -> Mapping[str, Any]:
    """The layer's data minus what only a trusted workspace may set, with one message."""
    from deskmate.server.trust import TRUSTED_PROFILE_KEYS, TRUSTED_SECTIONS

    dropped: list[str] = []
    kept: dict[str, Any] = {}
    for section, value in layer.data.items():
        if section in TRUSTED_SECTIONS:
            dropped.append(section)
        elif section == "profiles" and isinstance(value, Mapping):
            profiles: dict[str, Any] = {}
            for name, values in value.items():
                if isinstance(values, Mapping):
                    dropped += [f"profiles.{name}.{k}" for k in values if k in TRUSTED_PROFILE_KEYS]
                    values = {k: v for k, v in values.items() if k not in TRUSTED_PROFILE_KEYS}
                profiles[name] = values
            kept[section] = profiles
        else:
            kept[section] = value
    if dropped:
        folder = Path(layer.source).parent
        problems.append(
            f"{layer.source}: this workspace is not trusted, so its settings that choose where "
            f"code is sent ({', '.join(dropped)}) are ignored; if you trust this repository, "
            f"run  deskmate trust {folder}")
    return kept
