"""The profile's JSON codec: dataclasses to plain JSON and back, checking types on the way in."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar, Union


def to_jsonable(value: Any) -> Any:
    """Dataclasses to plain dicts, recursively (floats rounded to keep files small)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


T = TypeVar("T")


def from_jsonable(cls: type[T], data: Any, where: str) -> T:
    """Build a ``cls`` (a dataclass) from JSON data, checking types as it goes: the inverse of
    `to_jsonable`. Raises TypeError, ValueError or KeyError naming ``where`` in the data."""
    loaded: T = load_typed(cls, data, where)
    return loaded


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def load_typed(tp: Any, value: Any, where: str) -> Any:
    """Build typed objects (dataclasses, lists, dicts, scalars) from JSON data, checking types."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return load_typed(arg, value, where)
            except (TypeError, ValueError, KeyError):
                continue
        raise TypeError(f"{where}: unexpected value {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise TypeError(f"{where}: expected an object")
        hints = _hints(tp)  # type: ignore[arg-type]
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in value:
                kwargs[f.name] = load_typed(hints[f.name], value[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise KeyError(f"{where}.{f.name} is missing")
        return tp(**kwargs)  # type: ignore[operator]
    if origin is list:
        if not isinstance(value, list):
            raise TypeError(f"{where}: expected a list")
        (item,) = typing.get_args(tp)
        return [load_typed(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise TypeError(f"{where}: expected an object")
        _, item = typing.get_args(tp)
        return {str(k): load_typed(item, v, f"{where}.{k}") for k, v in value.items()}
    if tp is Any:
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{where}: expected a number")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{where}: expected an integer")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise TypeError(f"{where}: expected a string")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise TypeError(f"{where}: expected true or false")
        return value
    if tp is type(None):
        if value is not None:
            raise TypeError(f"{where}: expected null")
        return None
    raise TypeError(f"{where}: unsupported type {tp!r}")
