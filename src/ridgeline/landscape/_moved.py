"""Names that left a module (moved or renamed) stay reachable there with a FutureWarning."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any


def moved_names(module: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for ``module``: ``where[name]`` = ``"new.module:attr"``.

    Each old name warns (FutureWarning) with the import to use and returns the new object;
    any other name raises AttributeError as usual.
    """

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        new_module, _, attr = where[name].partition(":")
        warnings.warn(
            f"{module}.{name} is now {new_module}.{attr}; use `from {new_module} import {attr}`",
            FutureWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(new_module), attr)

    return __getattr__
