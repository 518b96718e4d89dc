"""The messages for a dataset's missing or damaged files, and the IDX (MNIST) size check.

Where each torchvision dataset keeps its files is read from torchvision's own dataset class by
its data module (``ridgeline.data.mnist``, ``ridgeline.data.cifar``).
"""

from pathlib import Path

from ridgeline.data.errors import DamagedDataError, MissingDataError

__all__ = [
    "DamagedDataError",
    "MissingDataError",
    "damaged_message",
    "idx_problem",
    "missing_message",
]


def missing_message(
    name: str, folder: Path, expected: list[str], root: str | Path, detail: str, download: bool
) -> str:
    """The one message for absent data: the expected path and the ways out (downloading, when
    it was not asked for or failed, and copying the files)."""
    first = (
        "Check that this machine reaches the download server and run again"
        if download
        else "Either run with data.download=true on a machine with network access"
    )
    return (
        f"{name} data not found in {folder} ({detail}). {first}, or copy the {name} "
        f"files ({', '.join(expected)}) to {folder} (data.root={root})."
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
