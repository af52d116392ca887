"""Reading a parsed YAML tree into the dataclasses of ``model.py``.

The dataclasses are the schema: a field's type hint says how to read its
key (scalar, choice, section, list of sections, named entries), its
metadata says what values are allowed. Each value is expanded, converted
and checked where it is read, so every error knows its dotted key.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import types
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from nodeconfig.envvars import Expanded, ExpansionError, expand_scalar
from nodeconfig.errors import ConfigError
from nodeconfig.rules import checks_of

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# Every section of the config is a dataclass.
T = TypeVar("T", bound="DataclassInstance")


@dataclass(frozen=True)
class Context:
    """What every reader needs: where errors point, the environment, the path base."""

    file: str
    env: Mapping[str, str]
    base_dir: str

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.file, key or None, problem)

    def absolute(self, path: str) -> str:
        return os.path.normpath(os.path.join(self.base_dir, path))


def build_section(cls: type[T], raw: object, key: str, ctx: Context, base: T | None = None) -> T:
    """Build ``cls`` from a mapping; absent keys keep ``base``'s values, or the defaults."""
    mapping = _as_mapping(raw, key, ctx)
    specs = _settable_fields(cls)
    _reject_unknown_keys(mapping, specs, key, ctx)
    types_ = _field_types(cls)
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        path = _join(key, name)
        current = getattr(base, name) if base is not None else None
        if name in mapping:
            values[name] = _read_field(spec, types_[name], mapping[name], path, ctx, current)
        elif isinstance(types_[name], type) and dataclasses.is_dataclass(types_[name]):
            # Absent sections are built too, so their default paths get resolved.
            values[name] = build_section(types_[name], None, path, ctx, current)
        elif base is None and _is_required(spec):
            raise ctx.error(path, "missing required key")
    instance = cls(**values) if base is None else _replace(base, values)
    return _resolve_paths(instance, specs, ctx)


def _read_field(
    spec: Field[Any], tp: Any, raw: object, key: str, ctx: Context, current: object
) -> Any:
    value = _convert(tp, raw, key, ctx, spec, current)
    if value is None:
        return None
    normalize = spec.metadata.get("normalize")
    if normalize is not None:
        value = normalize(value)
    for check in checks_of(spec):
        problem = check(value)
        if problem is not None:
            raise ctx.error(key, problem)
    return value


def _convert(
    tp: Any,
    raw: object,
    key: str,
    ctx: Context,
    spec: Field[Any] | None = None,
    current: object = None,
) -> Any:
    if isinstance(raw, str):
        try:
            raw = expand_scalar(raw, ctx.env)
        except ExpansionError as err:
            raise ctx.error(key, str(err)) from None
    return _convert_expanded(tp, raw, key, ctx, spec, current)


def _convert_expanded(
    tp: Any, raw: object, key: str, ctx: Context, spec: Field[Any] | None, current: object
) -> Any:
    origin = get_origin(tp)
    if origin is types.UnionType:  # only "X | None" occurs in the schema
        if _plain(raw) is None:
            return None
        (inner,) = (arg for arg in get_args(tp) if arg is not type(None))
        return _convert_expanded(inner, raw, key, ctx, spec, current)
    if origin is Literal:
        return _to_choice(raw, get_args(tp), key, ctx)
    if origin is tuple:
        return _to_tuple(get_args(tp)[0], raw, key, ctx)
    if origin is dict:
        assert spec is not None, "named entries are always a field"
        defaults = current if isinstance(current, dict) else _default_of(spec)
        return _to_entries(get_args(tp)[1], raw, key, ctx, spec.metadata["names"], defaults)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        base = current if isinstance(current, tp) else None  # the section read so far, if any
        return build_section(tp, _plain(raw), key, ctx, base)
    return _SCALARS[tp](raw, key, ctx)


def _to_tuple(item_type: Any, raw: object, key: str, ctx: Context) -> tuple[Any, ...]:
    items = _plain(raw)
    if not isinstance(items, list):
        raise ctx.error(key, f"expected a list, got {_describe(items)}")
    return tuple(_convert(item_type, item, f"{key}[{i}]", ctx) for i, item in enumerate(items))


def _to_entries(
    item_type: type[Any],
    raw: object,
    key: str,
    ctx: Context,
    names: tuple[str, ...],
    defaults: dict[str, Any],
) -> dict[str, Any]:
    """Entries keyed by a known name; each overrides only the fields it sets."""
    entries = dict(defaults)
    for name, item in _as_mapping(_plain(raw), key, ctx).items():
        path = _join(key, str(name))
        if name not in names:
            raise ctx.error(path, _unknown("name", name, names))
        entries[name] = build_section(item_type, item, path, ctx, defaults.get(name))
    return entries


def _to_choice(raw: object, choices: tuple[str, ...], key: str, ctx: Context) -> str:
    text = _to_str(raw, key, ctx)
    if text not in choices:
        raise ctx.error(key, _unknown("value", text, choices))
    return text


def _to_bool(raw: object, key: str, ctx: Context) -> bool:
    value = _plain(raw)
    if isinstance(value, bool):
        return value
    raise ctx.error(key, f"expected true or false, got {_describe(value)}")


def _to_int(raw: object, key: str, ctx: Context) -> int:
    value = _plain(raw)
    # bool is an int subclass; "port: yes" must not read as 1.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ctx.error(key, f"expected an integer, got {_describe(value)}")


def _to_float(raw: object, key: str, ctx: Context) -> float:
    value = _plain(raw)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ctx.error(key, f"expected a number, got {_describe(value)}")
    return float(value)


def _to_str(raw: object, key: str, ctx: Context) -> str:
    if isinstance(raw, Expanded):
        return raw.text
    if isinstance(raw, str):
        return raw
    raise ctx.error(key, f"expected a string, got {_describe(raw)}")


_SCALARS: dict[type, Callable[[object, str, Context], Any]] = {
    bool: _to_bool,
    int: _to_int,
    float: _to_float,
    str: _to_str,
}


def _as_mapping(raw: object, key: str, ctx: Context) -> dict[Any, Any]:
    value = _plain(raw)
    if value is None:  # "section:" with everything commented out
        return {}
    if isinstance(value, dict):
        return value
    raise ctx.error(key, f"expected a mapping, got {_describe(value)}")


def _reject_unknown_keys(
    mapping: dict[Any, Any], specs: dict[str, Field[Any]], key: str, ctx: Context
) -> None:
    for name in mapping:
        if name not in specs:
            raise ctx.error(_join(key, str(name)), _unknown("key", name, tuple(specs)))


def _unknown(what: str, name: object, allowed: tuple[str, ...]) -> str:
    problem = f"unknown {what} {name!r}"
    lowered = {option.lower(): option for option in allowed}
    close = difflib.get_close_matches(str(name).lower(), list(lowered), n=1)
    if close:
        problem += f" (did you mean {lowered[close[0]]!r}?)"
    label = "allowed keys" if what == "key" else "expected one of"
    return f"{problem}; {label}: {', '.join(allowed)}"


def _resolve_paths(instance: T, specs: dict[str, Field[Any]], ctx: Context) -> T:
    updates = {
        name: ctx.absolute(getattr(instance, name))
        for name, spec in specs.items()
        if spec.metadata.get("path") and isinstance(getattr(instance, name), str)
    }
    return _replace(instance, updates) if updates else instance


def _replace(instance: T, values: dict[str, Any]) -> T:
    return dataclasses.replace(instance, **values)


@cache
def _settable_fields(cls: type) -> dict[str, Field[Any]]:
    return {
        spec.name: spec for spec in dataclasses.fields(cls) if not spec.metadata.get("internal")
    }


@cache
def _field_types(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _is_required(spec: Field[Any]) -> bool:
    return spec.default is MISSING and spec.default_factory is MISSING


def _default_of(spec: Field[Any]) -> Any:
    return spec.default_factory() if spec.default_factory is not MISSING else spec.default


def _plain(raw: object) -> object:
    return raw.value if isinstance(raw, Expanded) else raw


def _describe(value: object) -> str:
    if value is None:
        return "null"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name
