"""Module ``__getattr__`` factories (PEP 562): :func:`forward` for old module paths kept for
users' configs and code (every name read from the new module, with one warning on import), and
:func:`on_first_use` for a package's names imported only when first read."""

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any


def forward(old: str, new: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``old`` that reads each name from ``new`` (PEP 562)."""
    warnings.warn(
        f"{old} moved to {new}; change the import or the _target_ to {new}.<name>",
        FutureWarning,
        stacklevel=3,
    )
    target = importlib.import_module(new)

    def __getattr__(name: str) -> Any:
        return getattr(target, name)

    return __getattr__


def on_first_use(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``homes[name]`` (the module that
    defines ``name``) when the name is first read; any other name raises AttributeError."""

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(homes[name]), name)

    return __getattr__
