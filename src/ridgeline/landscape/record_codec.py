"""The base of the landscape core's result records: dataclass ↔ JSON-safe dict, read with checks.

``to_dict()`` gives plain floats/ints/str/lists/dicts only; every non-finite float becomes ``None``
and its key path is listed in ``"non_finite"`` (with its kind in ``"non_finite_values"``), so
``from_dict`` restores nan/inf exactly (records written before the rename used ``"nonfinite"``).
A ``null`` in a float field that is not flagged (a record written before the flags, or edited by
hand) reads as nan, so it is left out of every statistic as a non-finite value is.

``from_dict`` reads a stored record as its type says or raises :class:`RecordFieldError` naming
the key path of the first field that cannot be read (missing, not a number, not a list, ...) or
whose lengths disagree with its axis (``PARALLEL``: fields that must be as long as the first;
:meth:`Record.check_shape`), so a damaged file is named before anything is drawn from it.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from typing import Any, ClassVar, TypeVar

__all__ = ["Record", "RecordFieldError", "key_path"]

T = TypeVar("T", bound="Record")


class RecordFieldError(ValueError):
    """A stored record's field that cannot be read: its key path (``curve.loss[3]``) and why."""

    def __init__(self, field: str, problem: str) -> None:
        self.field, self.problem = field, problem
        super().__init__(f"field {field} {problem}")

    def under(self, prefix: str) -> RecordFieldError:
        """The same error for a record stored under ``prefix`` (``barrier.test``)."""
        return RecordFieldError(_join(prefix, self.field), self.problem)


def key_path(path: str, key: str) -> str:
    """``path.key`` (``key`` at the top, where ``path`` is empty): how messages name a field."""
    return f"{path}.{key}" if path else key


_join = key_path


def _what(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _encode(value: Any, path: str, bad: list[tuple[str, str]]) -> Any:
    if isinstance(value, Record):
        return {
            f.name: _encode(getattr(value, f.name), _join(path, f.name), bad)
            for f in dataclasses.fields(value)
        }
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isfinite(v):
            return v
        bad.append((path, "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")))
        return None
    if isinstance(value, (list, tuple)):
        return [_encode(v, f"{path}[{i}]", bad) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _encode(v, _join(path, str(k)), bad) for k, v in value.items()}
    raise TypeError(f"cannot serialise {type(value).__name__} at {path!r}")


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise RecordFieldError(path, f"is {_what(value)}, not a number")
    return float(value)


def _decode(tp: Any, value: Any, path: str, kinds: dict[str, str]) -> Any:
    if value is None:
        if path in kinds:
            return float(kinds[path])
        return math.nan if tp is float else None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _decode(args[0], value, path, kinds) if len(args) == 1 else value
    if isinstance(tp, type) and issubclass(tp, Record):
        return tp._from_dict(value, path, kinds)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise RecordFieldError(path, f"is {_what(value)}, not a list")
        item_types = typing.get_args(tp)
        inner = item_types[0] if item_types else Any
        items = [_decode(inner, v, f"{path}[{i}]", kinds) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise RecordFieldError(path, f"is {_what(value)}, not an object")
        kv_types = typing.get_args(tp)
        inner = kv_types[1] if len(kv_types) == 2 else Any
        return {k: _decode(inner, v, _join(path, k), kinds) for k, v in value.items()}
    if tp is float:
        return _number(value, path)
    if tp is int:
        number = _number(value, path)
        if not number.is_integer():
            raise RecordFieldError(path, f"is {_what(value)}, not a whole number")
        return int(number)
    return value


@dataclasses.dataclass
class Record:
    """Base of all landscape records: dataclass ↔ JSON-safe dict."""

    RECORD_NAME: ClassVar[str | None] = None  # to_dict's "record" of a renamed class (on disk)
    # groups of list fields whose lengths must equal the group's first (an axis and its values);
    # a field that is None or absent (an optional one) is not checked
    PARALLEL: ClassVar[tuple[tuple[str, ...], ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict; non-finite floats → None, listed under ``non_finite``."""
        bad: list[tuple[str, str]] = []
        out = _encode(self, "", bad)
        out["record"] = type(self).RECORD_NAME or type(self).__name__
        out["non_finite"] = [p for p, _ in bad]
        out["non_finite_values"] = [k for _, k in bad]
        return out

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        """Inverse of :meth:`to_dict` (restores nan/inf at the flagged keys); a field that cannot
        be read raises :class:`RecordFieldError` with its key path."""
        if not isinstance(data, dict):
            raise RecordFieldError(cls.__name__, f"is {_what(data)}, not an object")
        # "nonfinite": the fields' name in records written before the rename
        paths = data.get("non_finite", data.get("nonfinite", [])) or []
        values = data.get("non_finite_values", data.get("nonfinite_values", [])) or []
        kinds = dict(zip(paths, values, strict=False))
        return cls._from_dict(data, "", kinds)

    @classmethod
    def _from_dict(cls: type[T], data: Any, path: str, kinds: dict[str, str]) -> T:
        if not isinstance(data, dict):
            raise RecordFieldError(path, f"is {_what(data)}, not an object")
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name in data:
                kwargs[f.name] = _decode(hints[f.name], data[f.name], _join(path, f.name), kinds)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise RecordFieldError(_join(path, f.name), "is missing")
        record = cls(**kwargs)
        record.check_shape(path)
        return record

    def check_shape(self, path: str = "") -> None:
        """Raise :class:`RecordFieldError` when a field of a ``PARALLEL`` group is not as long as
        the group's first (``path``: where the record is stored, for the message)."""
        for group in self.PARALLEL:
            axis = getattr(self, group[0])
            for name in group[1:]:
                value = getattr(self, name)
                if axis is not None and value is not None and len(value) != len(axis):
                    raise RecordFieldError(
                        _join(path, name),
                        f"has {len(value)} values for the {len(axis)} of {group[0]}",
                    )
