"""data.download=true: torchvision's real download path against a local HTTP server.

The server on 127.0.0.1 serves small files in torchvision's real formats (gzipped IDX files
for MNIST, the python tar.gz for CIFAR-10); the tests point the dataset's URL list and MD5
sums at them. Damaged files, downloaded or on disk, are named in the error.
"""

import contextlib
import functools
import gzip
import hashlib
import http.server
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from data_files import write_cifar10, write_idx_dataset
from torchvision import datasets

from ridgeline.config.builds import data_module
from ridgeline.data import DamagedDataError, MissingDataError

IDX_FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving ``directory``; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def mnist_archives(tmp_path: Path) -> tuple[Path, Path, list[tuple[str, str]], dict]:
    """Tiny MNIST IDX files (12 train, 5 test), gzipped into a served folder, with their MD5s."""
    source = tmp_path / "source" / "raw"
    labels = write_idx_dataset(source, 12, 5)
    served = tmp_path / "served"
    served.mkdir()
    resources = []
    for name in IDX_FILES:
        archive = served / f"{name}.gz"
        archive.write_bytes(gzip.compress((source / name).read_bytes()))
        resources.append((archive.name, md5(archive)))
    return source, served, resources, labels


def patch_mnist(monkeypatch, url: str, resources: list[tuple[str, str]]) -> None:
    monkeypatch.setattr(datasets.MNIST, "mirrors", [url])
    monkeypatch.setattr(datasets.MNIST, "resources", resources)


def test_mnist_download_fetches_the_served_files(tmp_path, monkeypatch):
    source, served, resources, labels = mnist_archives(tmp_path)
    root = tmp_path / "data"
    dm = data_module("mnist", root=str(root), download=True, eval_train_size=None)
    with pytest.raises(MissingDataError):
        dm.check_available()  # nothing there before the download
    with serve(served) as url:
        patch_mnist(monkeypatch, url, resources)
        dm.prepare_data()
    for name in IDX_FILES:
        assert (root / "MNIST" / "raw" / name).read_bytes() == (source / name).read_bytes()
    dm.setup()
    assert dm.train_y.tolist() == labels["train"].tolist()
    assert dm.test_y.tolist() == labels["t10k"].tolist()
    image_3 = torch.full((1, 28, 28), (30 / 255 - dm.mean[0]) / dm.std[0])
    assert torch.allclose(dm.train_x[3], image_3)
    # Present files are not fetched again: the server is gone now.
    data_module("mnist", root=str(root), download=True).prepare_data()


def test_cifar10_download_fetches_and_unpacks_the_archive(tmp_path, monkeypatch):
    source = tmp_path / "source"
    write_cifar10(source, per_batch=4, n_test=3)
    folder = source / "cifar-10-batches-py"
    served = tmp_path / "served"
    served.mkdir()
    archive = served / datasets.CIFAR10.filename
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    cls = datasets.CIFAR10
    monkeypatch.setattr(cls, "tgz_md5", md5(archive))
    monkeypatch.setattr(cls, "train_list", [[n, md5(folder / n)] for n, _ in cls.train_list])
    monkeypatch.setattr(cls, "test_list", [[n, md5(folder / n)] for n, _ in cls.test_list])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": md5(folder / "batches.meta")})
    root = tmp_path / "data"
    dm = data_module("cifar10", root=str(root), download=True, eval_train_size=None)
    with serve(served) as url:
        monkeypatch.setattr(cls, "url", url + archive.name)
        dm.prepare_data()
    dm.setup()
    assert dm.train_x.shape == (20, 3, 32, 32) and dm.test_y.tolist() == [9, 9, 9]
    assert dm.train_y.tolist()[:5] == [1, 2, 3, 4, 2]

    # A batch damaged on disk later is named, with its size and the checksum it misses.
    batch = root / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:-100])
    again = data_module("cifar10", root=str(root))
    with pytest.raises(DamagedDataError) as info:
        again.setup()
    message = str(info.value)
    assert f"cifar10 file {batch} is damaged" in message
    assert f"{batch.stat().st_size} bytes, MD5 not torchvision's" in message


def test_a_damaged_download_is_named_and_deleted(tmp_path, monkeypatch):
    _, served, resources, _ = mnist_archives(tmp_path)
    truncated = served / resources[0][0]
    truncated.write_bytes(truncated.read_bytes()[:-50])  # its MD5 is still the whole file's
    root = tmp_path / "data"
    dm = data_module("mnist", root=str(root), download=True)
    with serve(served) as url:
        patch_mnist(monkeypatch, url, resources)
        with pytest.raises(MissingDataError) as info:
            dm.prepare_data()
    message = str(info.value)
    fetched = root / "MNIST" / "raw" / truncated.name
    assert f"download failed: {fetched} arrived damaged" in message
    assert f"({truncated.stat().st_size} bytes, MD5 not torchvision's {resources[0][1]})" in message
    assert "Check that this machine reaches the download server" in message
    assert "data.download=true on a machine" not in message  # the flag was given already
    assert not fetched.exists()


def test_download_without_network_says_so(tmp_path, monkeypatch):
    with serve(tmp_path) as url:  # a server that has none of the files: 404 for each
        patch_mnist(monkeypatch, url, [(f"{n}.gz", "0" * 32) for n in IDX_FILES])
        with pytest.raises(MissingDataError) as info:
            data_module("mnist", root=str(tmp_path / "data"), download=True).prepare_data()
    message = str(info.value)
    assert "download failed" in message and "train-images-idx3-ubyte.gz" in message
    assert "404" in message and "Check that this machine reaches the download server" in message


@pytest.mark.parametrize(
    "damage,problem",
    [
        (lambda b: b[:-28], "bytes where its header's shape implies"),
        (lambda b: b + b"\0" * 7, "bytes where its header's shape implies"),
        (lambda b: b"PK\3\4" + b[4:], "not an IDX file"),
    ],
    ids=["short", "long", "bad magic"],
)
def test_a_damaged_idx_file_is_named(tmp_path, damage, problem):
    raw = tmp_path / "MNIST" / "raw"
    write_idx_dataset(raw, 12, 5)
    path = raw / "t10k-images-idx3-ubyte"
    good = path.read_bytes()
    path.write_bytes(damage(good))
    with pytest.raises(DamagedDataError) as info:
        data_module("mnist", root=str(tmp_path)).setup()
    message = str(info.value)
    assert f"mnist file {path} is damaged" in message and problem in message
    if "implies" in problem:
        assert f"{len(damage(good))} bytes where its header's shape implies {len(good)}" in message


WRAPPER = """
import json, sys
from torchvision import datasets
datasets.MNIST.mirrors = [sys.argv.pop(1)]
datasets.MNIST.resources = json.loads(sys.argv.pop(1))
from ridgeline.cli.train import main
main()
"""


@pytest.mark.slow  # starts ridgeline-train
def test_ridgeline_train_downloads_with_the_flag(tmp_path):
    """The console script's own path: the files are checked after prepare_data, not before."""
    import json
    import os
    import subprocess

    source, served, resources, _ = mnist_archives(tmp_path)
    wrapper = tmp_path / "train_with_local_mirror.py"
    wrapper.write_text(WRAPPER)
    overrides = [
        f"hydra.run.dir={tmp_path / 'run'}",
        "data=mnist",
        "data.download=true",
        f"data.root={tmp_path / 'data'}",
        "data.eval_train_size=null",
        "data.eval_test_size=null",
        "data.batch_size=4",
        "model=mlp",
        "trainer.max_steps=2",
        "spawn.at=[0]",
        "spawn.independent=false",
        "probe=none",
        "logger=none",
        "summary=false",
        "print_config=false",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with serve(served) as url:
        result = subprocess.run(
            [sys.executable, str(wrapper), url, json.dumps(resources), *overrides],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    for name in IDX_FILES:
        fetched = tmp_path / "data" / "MNIST" / "raw" / name
        assert fetched.read_bytes() == (source / name).read_bytes()
    assert (tmp_path / "run" / "spawn_k=0000000" / "done.json").exists()
