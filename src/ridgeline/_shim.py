"""Old module paths kept for users' configs and code: each forwards every name to the new
module and warns once, on import, where that module lives now."""

import importlib
import warnings
from collections.abc import Callable
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
