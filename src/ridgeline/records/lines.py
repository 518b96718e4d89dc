"""Typed records from the numbered lines of a record file, and the one message for a bad line.

Every reader of a JSONL record file (``records.jsonl``: :func:`~ridgeline.records.read_records`;
``landscape/curves.jsonl``: :func:`~ridgeline.connect.read_curves`) turns its lines into records
here, so that a line that cannot be read is named the same way everywhere:
``<file> line N is damaged: field <key path> <problem>; <fix>``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from ridgeline.errors import RidgelineError
from ridgeline.landscape.record_codec import RecordFieldError

__all__ = ["typed_lines"]

T = TypeVar("T")
Line = dict[str, Any]


def typed_lines(
    parse: Callable[[Line], T],
    numbered: Iterable[tuple[int, Line]],
    source: str | Path,
    fix: Callable[[int, Line], str],
    *,
    where: str = "line",
    problem: Callable[[Exception], str | None] | None = None,
) -> list[T]:
    """``parse`` of each (number, line), in order. A line it cannot read raises one
    :class:`~ridgeline.errors.RidgelineError`, ``<source> <where> N <what>; <fix(N, line)>``:
    ``<what>`` is ``is damaged: <exc>`` for a :class:`RecordFieldError`, else ``problem(exc)``
    (an exception ``problem`` does not describe, returning None, is not the line's: it
    propagates)."""
    out = []
    for number, line in numbered:
        try:
            out.append(parse(line))
        except Exception as exc:
            if isinstance(exc, RecordFieldError):
                what: str | None = f"is damaged: {exc}"
            else:
                what = problem(exc) if problem is not None else None
            if what is None:
                raise
            raise RidgelineError(f"{source} {where} {number} {what}; {fix(number, line)}") from None
    return out
