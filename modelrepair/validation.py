"""Build frozen spec dataclasses from plain dicts (TOML tables), validating every field.

`spec_from_mapping(cls, data, where)` rejects unknown keys, checks each value against the
field's annotated type (int, float, str, bool, tuples of those, Literal choices) and then
lets the dataclass' own ``__post_init__`` check ranges, raising `SpecError` that names
``where.field``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, get_args, get_origin

from modelrepair.errors import SpecError


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if get_origin(tp) is tuple:
        return f"a list of {_type_name(get_args(tp)[0])}"
    if get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None)) + " (optional)"
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def coerce(value: Any, tp: Any, field: str) -> Any:
    """Return ``value`` converted to annotated type ``tp`` or raise SpecError naming ``field``."""
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None and type(None) in get_args(tp):
            return None
        for a in args:
            try:
                return coerce(value, a, field)
            except SpecError:
                continue
        raise SpecError(field, f"expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in get_args(tp):
            raise SpecError(field, f"expected {_type_name(tp)}, got {value!r}")
        return value
    if origin is tuple:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise SpecError(field, f"expected {_type_name(tp)}, got {value!r}")
        inner = get_args(tp)[0]
        return tuple(coerce(v, inner, f"{field}[{i}]") for i, v in enumerate(value))
    if tp is bool:
        if not isinstance(value, bool):
            raise SpecError(field, f"expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(field, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(field, f"expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise SpecError(field, f"expected a string, got {value!r}")
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise SpecError(field, f"expected a table, got {value!r}")
        return spec_from_mapping(tp, value, field)
    return value


def spec_from_mapping(cls: type, data: Mapping[str, Any], where: str) -> Any:
    """Instantiate dataclass ``cls`` from ``data``; errors name ``where.<key>``."""
    if not isinstance(data, Mapping):
        raise SpecError(where, f"expected a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise SpecError(
            f"{where}.{unknown[0]}", f"unknown key (allowed: {', '.join(sorted(fields))})"
        )
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = coerce(data[name], hints[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise SpecError(f"{where}.{name}", "required key is missing")
    try:
        return cls(**kwargs)
    except SpecError as err:
        if err.field.startswith(where):
            raise
        raise SpecError(f"{where}.{err.field}", str(err).split(": ", 1)[1]) from None


def require(cond: bool, field: str, message: str) -> None:
    """Raise SpecError(field, message) unless ``cond``; for use in ``__post_init__``."""
    if not cond:
        raise SpecError(field, message)
