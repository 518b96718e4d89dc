"""Where torchvision keeps each dataset's files, and the check that they are there.

Plain names, no imports of torch: ``ridgeline-train`` runs the check before anything heavy, so
a missing dataset is reported in about a second. A test pins the names to torchvision's own.
"""

from pathlib import Path

from ridgeline.data.errors import MissingDataError

__all__ = ["MissingDataError", "check_files", "data_dir", "expected_files", "missing_message"]

_IDX = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]

# name -> (folder under root, files torchvision reads there)
LAYOUT: dict[str, tuple[str, list[str]]] = {
    "mnist": ("MNIST/raw", _IDX),
    "fashion_mnist": ("FashionMNIST/raw", _IDX),
    "cifar10": (
        "cifar-10-batches-py",
        [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"],
    ),
    "cifar100": ("cifar-100-python", ["train", "test", "meta"]),
}


# name -> the data module class that reads it (the CLI checks only a matching config).
DATA_MODULES = {
    "mnist": "MNISTDataModule",
    "fashion_mnist": "FashionMNISTDataModule",
    "cifar10": "CIFAR10DataModule",
    "cifar100": "CIFAR100DataModule",
}


def data_dir(name: str, root: str | Path) -> Path:
    """The folder torchvision reads ``name`` from under ``root``."""
    return Path(root) / LAYOUT[name][0]


def expected_files(name: str) -> list[str]:
    """The files torchvision reads from :func:`data_dir`."""
    return list(LAYOUT[name][1])


def missing_files(name: str, root: str | Path) -> list[str]:
    folder = data_dir(name, root)
    return [f for f in expected_files(name) if not (folder / f).is_file()]


def missing_message(name: str, root: str | Path, detail: str) -> str:
    """The one message for absent data: the expected path and the two ways out."""
    return (
        f"{name} data not found in {data_dir(name, root)} ({detail}). Either run with "
        f"data.download=true on a machine with network access, or copy the {name} files "
        f"({', '.join(expected_files(name))}) to {data_dir(name, root)} (data.root={root})."
    )


def check_files(name: str, root: str | Path) -> None:
    """Raise MissingDataError when a torchvision dataset's files are absent (others: no-op)."""
    if name not in LAYOUT:
        return
    missing = missing_files(name, root)
    if missing:
        raise MissingDataError(missing_message(name, root, f"missing {', '.join(missing)}"))
