"""Small helpers every rule shares: warnings, plain values, integer checks, "did you mean"."""

import difflib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, overload

from omegaconf import DictConfig, ListConfig, OmegaConf

from ridgeline.errors import ConfigError

if TYPE_CHECKING:
    from typing_extensions import TypeIs


def warn(message: str) -> None:
    """A problem that does not stop the run, printed where the user sees it."""
    print(f"ridgeline: warning: {message}", file=sys.stderr)


def plain(value: object) -> object:
    """``value`` with any OmegaConf container turned into plain (resolved) dicts and lists."""
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def is_int(value: object) -> "TypeIs[int]":
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


@overload
def at_least(key: str, value: object, minimum: int, none_means: None = None) -> int: ...
@overload
def at_least(key: str, value: object, minimum: int, none_means: str) -> int | None: ...
def at_least(key: str, value: object, minimum: int, none_means: str | None = None) -> int | None:
    """An integer >= minimum (or None, when ``none_means`` says what null means)."""
    if value is None and none_means is not None:
        return None
    if not is_int(value) or value < minimum:
        null = f", or null ({none_means})" if none_means else ""
        raise ConfigError(key, plain(value), f"an integer >= {minimum}{null}")
    return value


def closest(name: str, candidates: Sequence[str]) -> str:
    """' (did you mean X?)' for the candidate most like ``name``, else ''."""
    match = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {match[0]}?)" if match else ""
