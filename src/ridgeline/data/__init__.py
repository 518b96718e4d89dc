"""Data modules holding datasets as device-resident tensors, and multi-stream batch loaders.

Attributes are imported on first use (PEP 562), so that ``ridgeline.data.files`` can check for
a dataset's files without importing Lightning.
"""

import importlib
from typing import Any

_EXPORTS = {
    "CropFlip": "augment",
    "crop_flip": "augment",
    "normalize": "augment",
    "TensorDataModule": "base",
    "TensorChunks": "chunks",
    "CIFAR10DataModule": "cifar",
    "CIFAR100DataModule": "cifar",
    "DamagedDataError": "errors",
    "MissingDataError": "errors",
    "FashionMNISTDataModule": "mnist",
    "MNISTDataModule": "mnist",
    "MnistMiniDataModule": "mnist_mini",
    "StreamLoader": "streams",
    "StreamSeeds": "streams",
    "seeded_generator": "streams",
    "SyntheticDataModule": "synthetic",
    "TorchvisionDataModule": "vision",
}

__all__ = ["DATASETS", *sorted(_EXPORTS)]


def _datasets() -> dict[str, Any]:
    names = (
        "MnistMiniDataModule",
        "MNISTDataModule",
        "FashionMNISTDataModule",
        "CIFAR10DataModule",
        "CIFAR100DataModule",
        "SyntheticDataModule",
    )
    classes = [__getattr__(n) for n in names]
    return {cls.name: cls for cls in classes}


def __getattr__(name: str) -> Any:
    if name == "DATASETS":
        return _datasets()
    if name in _EXPORTS:
        module = importlib.import_module(f"ridgeline.data.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'ridgeline.data' has no attribute {name!r}")
