"""How a run's file that cannot be read is named in an error: its path, the line where the
YAML parser stopped, and the fix."""

from pathlib import Path

from ridgeline.errors import RidgelineError


def damaged_file(path: str | Path, exc: BaseException, fix: str = "") -> RidgelineError:
    """The error for ``path``, which could not be parsed (``exc``): ``<path> is damaged at line
    N (<exception type>)`` followed by ``fix`` (e.g. ``"; restore it"``). The line is the YAML
    parser's (``exc.problem_mark``); without one the message names no line."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark is not None else ""
    return RidgelineError(f"{path} is damaged{where} ({type(exc).__name__}){fix}")
