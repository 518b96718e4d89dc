"""Where torchvision keeps each dataset's files, and the checks that they are there and whole.

Plain names, no imports of torch: ``ridgeline-train`` runs the check before anything heavy, so
a missing dataset is reported in about a second. A test pins the names to torchvision's own.
"""

from pathlib import Path

from ridgeline.data.errors import DamagedDataError, MissingDataError

__all__ = [
    "DamagedDataError",
    "MissingDataError",
    "check_files",
    "check_idx_files",
    "damaged_message",
    "data_dir",
    "expected_files",
    "missing_message",
]

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


def missing_message(name: str, root: str | Path, detail: str, download: bool = False) -> str:
    """The one message for absent data: the expected path and the ways out (downloading, when
    it was not asked for or failed, and copying the files)."""
    first = (
        "Check that this machine reaches the download server and run again"
        if download
        else "Either run with data.download=true on a machine with network access"
    )
    return (
        f"{name} data not found in {data_dir(name, root)} ({detail}). {first}, or copy the {name} "
        f"files ({', '.join(expected_files(name))}) to {data_dir(name, root)} (data.root={root})."
    )


def damaged_message(name: str, path: Path, problem: str) -> str:
    """The one message for a damaged data file: which file, what is wrong, how to replace it."""
    return (
        f"{name} file {path} is damaged ({problem}); delete it and run with data.download=true, "
        f"or copy a good copy of it there."
    )


# IDX type codes (MNIST's raw format) → bytes per value.
_IDX_ITEM_SIZES = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}


def idx_problem(path: Path) -> str | None:
    """Why an IDX file is damaged (bad header, or a size other than its header's shape implies);
    None when it is whole. Reads the header only."""
    size = path.stat().st_size
    with path.open("rb") as f:
        magic = f.read(4)
        if len(magic) < 4 or magic[:2] != b"\0\0" or magic[2] not in _IDX_ITEM_SIZES:
            return "not an IDX file: its first 4 bytes are not an IDX magic number"
        shape_bytes = f.read(4 * magic[3])
    if len(shape_bytes) < 4 * magic[3]:
        return f"{size} bytes, shorter than its header"
    count = 1
    for i in range(magic[3]):
        count *= int.from_bytes(shape_bytes[4 * i : 4 * i + 4], "big")
    expected = 4 + 4 * magic[3] + count * _IDX_ITEM_SIZES[magic[2]]
    if size != expected:
        return f"{size} bytes where its header's shape implies {expected}"
    return None


def check_idx_files(name: str, root: str | Path) -> None:
    """Raise DamagedDataError naming the first IDX file of ``name`` whose size is wrong."""
    for file in expected_files(name):
        path = data_dir(name, root) / file
        problem = idx_problem(path)
        if problem:
            raise DamagedDataError(damaged_message(name, path, problem))


def check_files(name: str, root: str | Path) -> None:
    """Raise MissingDataError when a torchvision dataset's files are absent (others: no-op)."""
    if name not in LAYOUT:
        return
    missing = missing_files(name, root)
    if missing:
        raise MissingDataError(missing_message(name, root, f"missing {', '.join(missing)}"))
