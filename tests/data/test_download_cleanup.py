"""A failed download leaves nothing behind: no ``.ridgeline-download.lock``, no empty folder
(issue 31). The downloads here are torchvision's real ones; they fail because this machine
has no network (or, where it has one, because the mirror is a closed local port)."""

import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from torchvision import datasets

from helpers.cli import TRAIN
from ridgeline.config.builds import data_module
from ridgeline.data import MissingDataError
from ridgeline.data.vision import LOCK_NAME, _download_lock


def _closed_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (the port was just freed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def _offline() -> bool:
    try:
        socket.getaddrinfo("ossci-datasets.s3.amazonaws.com", 443)
    except OSError:
        return True
    return False


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_a_failed_download_leaves_no_lock_and_no_folder(tmp_path, monkeypatch, name):
    url = _closed_port_url()
    monkeypatch.setattr(datasets.MNIST, "mirrors", [url])
    monkeypatch.setattr(datasets.CIFAR10, "url", url + datasets.CIFAR10.filename)
    root = tmp_path / "data"
    with pytest.raises(MissingDataError, match="download failed"):
        data_module(name, root=str(root), download=True).prepare_data()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_download_keeps_the_folders_that_were_there(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.MNIST, "mirrors", [_closed_port_url()])
    root = tmp_path / "data"
    (root / "MNIST").mkdir(parents=True)
    (root / "other.txt").write_text("kept")
    with pytest.raises(MissingDataError):
        data_module("mnist", root=str(root), download=True).prepare_data()
    assert sorted(p.name for p in root.rglob("*")) == ["MNIST", "other.txt"]


@pytest.mark.skipif(not _offline(), reason="the download server is reachable from here")
def test_an_offline_download_leaves_nothing(tmp_path):
    with pytest.raises(MissingDataError, match="download failed"):
        data_module("mnist", root=str(tmp_path / "data"), download=True).prepare_data()
    assert list(tmp_path.iterdir()) == []


def test_the_download_lock_admits_one_holder_at_a_time_and_is_gone_after(tmp_path):
    """Each holder deletes the lock file before letting go; a waiter that got the deleted
    file's lock must lock the path afresh, else two would hold it at once."""
    inside, most, errors = [0], [0], []
    guard = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(8):
                with _download_lock(tmp_path / "data"):
                    with guard:
                        inside[0] += 1
                        most[0] = max(most[0], inside[0])
                    time.sleep(0.002)
                    with guard:
                        inside[0] -= 1
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and most[0] == 1
    assert not (tmp_path / "data" / LOCK_NAME).exists()


@pytest.mark.slow
def test_a_failed_download_through_the_cli_leaves_nothing(tmp_path):
    """Offline, ``data=mnist data.download=true`` fails in prepare_data: one line, exit 2,
    neither the run dir nor ``data/`` (nor its lock) left."""
    if not _offline():
        pytest.skip("the download server is reachable from here")
    result = subprocess.run(
        [TRAIN, "logger=none", "print_config=false", "data=mnist", "data.download=true"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("ridgeline:")]
    assert len(lines) == 1 and "download failed" in lines[0], result.stderr[-2000:]
    assert list(Path(tmp_path).iterdir()) == []
