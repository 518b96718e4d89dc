"""Writers of tiny dataset files in the real on-disk formats torchvision reads."""

import pickle
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    """An uncompressed IDX file (uint8) as in MNIST's raw folder."""
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_idx_dataset(raw: Path, n_train: int, n_test: int) -> dict[str, np.ndarray]:
    """train/t10k images and labels: image i filled with value 10 * i, label i % 10."""
    raw.mkdir(parents=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = np.repeat((np.arange(n) * 10 % 256).astype(np.uint8), 28 * 28).reshape(n, 28, 28)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        arrays[prefix] = labels
    return arrays


def _pickle(path: Path, obj: object) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def cifar_images(n: int, offset: int) -> np.ndarray:
    """[n, 3072] uint8 rows; channel c of image i is constant (offset + i + 50 * c) % 256."""
    values = (offset + np.arange(n)[:, None] + 50 * np.arange(3)[None, :]) % 256
    return np.repeat(values.astype(np.uint8), 1024, axis=1)


def write_cifar10(root: Path, per_batch: int, n_test: int) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for b in range(1, 6):
        labels = [(b + i) % 10 for i in range(per_batch)]
        _pickle(
            folder / f"data_batch_{b}",
            {"data": cifar_images(per_batch, 10 * b), "labels": labels},
        )
    _pickle(folder / "test_batch", {"data": cifar_images(n_test, 0), "labels": [9] * n_test})
    _pickle(folder / "batches.meta", {"label_names": [str(i) for i in range(10)]})


def write_cifar100(root: Path, n_train: int, n_test: int) -> None:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, n in (("train", n_train), ("test", n_test)):
        data = {"data": cifar_images(n, 0), "fine_labels": [i % 100 for i in range(n)]}
        _pickle(folder / name, {**data, "coarse_labels": [0] * n})
    _pickle(folder / "meta", {"fine_label_names": [str(i) for i in range(100)]})
