"""Data modules holding datasets as device-resident tensors, and multi-stream batch loaders.

Every module of this package that defines a data module with a ``name`` adds a dataset
(``DATASETS``, and ``ridgeline.data.<ClassName>`` for a config's ``_target_``): a new dataset
is its own module and its conf/data preset. Attributes are imported on first use (PEP 562).
"""

import importlib
import pkgutil
from typing import Any

_EXPORTS = {
    "CropFlip": "augment",
    "crop_flip": "augment",
    "normalize": "augment",
    "TensorDataModule": "base",
    "TensorChunks": "chunks",
    "DamagedDataError": "errors",
    "MissingDataError": "errors",
    "StreamLoader": "streams",
    "StreamSeeds": "streams",
    "seeded_generator": "streams",
    "TorchvisionDataModule": "vision",
}

__all__ = ["DATASETS", *sorted(_EXPORTS)]


def _datasets() -> dict[str, Any]:
    """Every dataset of the package by name (its modules imported, so their classes register)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    from ridgeline.data.base import DATASETS

    return dict(DATASETS)


def __getattr__(name: str) -> Any:
    if name == "DATASETS":
        return _datasets()
    if name in _EXPORTS:
        module = importlib.import_module(f"ridgeline.data.{_EXPORTS[name]}")
        return getattr(module, name)
    if name.endswith("DataModule"):  # a dataset's class, as a config's _target_ names it
        by_class = {cls.__name__: cls for cls in _datasets().values()}
        if name in by_class:
            return by_class[name]
    raise AttributeError(f"module 'ridgeline.data' has no attribute {name!r}")
