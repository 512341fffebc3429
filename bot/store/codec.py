"""JSON for the nested values kept in one column: topic scores, alerts, digests.

``to_json`` writes any of the model dataclasses (and tuples, dicts, datetimes inside them);
``from_json`` reads one back by following the dataclass's type hints, so a round trip gives an
equal value. Fields missing from stored JSON take their defaults and unknown keys are ignored,
which lets a model gain optional fields without rewriting old rows.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Sequence
from dataclasses import fields, is_dataclass
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


def to_json(value: object) -> str:
    """Compact JSON for a model value (a dataclass, or a tuple or dict of them)."""
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))


def from_json(text: str, kind: type[T]) -> T:
    """The ``kind`` dataclass read back from ``to_json`` output."""
    value: T = _build(json.loads(text), kind)
    return value


def many_from_json(text: str, kind: type[T]) -> tuple[T, ...]:
    """A tuple of ``kind`` read back from ``to_json`` of a sequence."""
    items = json.loads(text)
    if not isinstance(items, list):
        raise ValueError(f"expected a JSON list of {kind.__name__}, got {type(items).__name__}")
    return tuple(_build(item, kind) for item in items)


def many_to_json(values: Sequence[object]) -> str:
    return to_json(tuple(values))


def plain(value: object) -> Any:
    """``value`` as JSON's own types (what ``json.loads(to_json(value))`` gives, without the
    text in between): for a value kept inside another JSON document."""
    return _plain(value)


def from_plain(data: Any, kind: type[T]) -> T:
    """The ``kind`` dataclass read back from ``plain`` output."""
    value: T = _build(data, kind)
    return value


@cache
def _names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))


def _plain(value: object) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(getattr(value, name)) for name in _names(type(value))}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


@cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def _build(data: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if data is None:
            return None
        if len(options) == 1:
            return _build(data, options[0])
        raise TypeError(f"cannot read ambiguous union {hint}")
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_build(item, args[0]) for item in data)
        return tuple(_build(item, arg) for item, arg in zip(data, args, strict=True))
    if origin is dict:
        _, value_hint = typing.get_args(hint)
        return {key: _build(item, value_hint) for key, item in data.items()}
    if isinstance(hint, type) and is_dataclass(hint):
        hints = _hints(hint)
        known = {f.name for f in fields(hint)}
        return hint(**{k: _build(v, hints[k]) for k, v in data.items() if k in known})
    if hint is datetime:
        return datetime.fromisoformat(data)
    if hint is float:
        return float(data)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(data)
    if hint is Any or hint in (str, int, bool):
        return data
    raise TypeError(f"cannot read JSON into {hint}")
