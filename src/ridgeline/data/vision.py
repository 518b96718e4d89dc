"""Shared base of the data modules backed by a torchvision dataset on disk."""

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from torchvision.datasets import VisionDataset
from torchvision.datasets.utils import check_integrity

from ridgeline.data import files
from ridgeline.data.base import TensorDataModule
from ridgeline.data.errors import DamagedDataError, MissingDataError

# Seconds a download may wait on a socket, so a machine without network fails fast.
_DOWNLOAD_TIMEOUT = 30.0


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


LOCK_NAME = ".ridgeline-download.lock"


@contextlib.contextmanager
def _download_lock(root: Path) -> Iterator[None]:
    """One download into ``root`` at a time: the processes of a DDP job, or concurrent jobs.

    The lock file exists only while a download runs: its holder deletes it before letting go.
    A waiter that then gets the lock of the deleted file sees that the path no longer names it
    (another inode, or none) and locks the path afresh, so two processes never both hold it.
    """
    lock = root / LOCK_NAME
    while True:
        root.mkdir(parents=True, exist_ok=True)
        try:
            handle = lock.open("a")
        except FileNotFoundError:  # root removed meanwhile by a failed download's clean-up
            continue
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                current = lock.stat().st_ino
            except FileNotFoundError:
                current = None
            if current != os.fstat(handle.fileno()).st_ino:
                continue  # the holder before us deleted this file: lock the path afresh
            try:
                yield
            finally:
                lock.unlink(missing_ok=True)
                fcntl.flock(handle, fcntl.LOCK_UN)
            return


def _absent_dirs(data_dir: Path) -> list[Path]:
    """``data_dir`` and the folders above it that do not exist yet, deepest first: the ones a
    download creates."""
    return [d for d in (data_dir, *data_dir.parents) if not d.exists()]


def _remove_empty(dirs: list[Path]) -> None:
    """Remove each folder of ``dirs`` (deepest first) that is empty: a failed download's."""
    for folder in dirs:
        with contextlib.suppress(OSError):  # not empty, or gone
            folder.rmdir()


def _reason(err: BaseException) -> str:
    return " ".join(str(err).split())[:300] or type(err).__name__


class TorchvisionDataModule(TensorDataModule):
    """Reads a torchvision dataset's files under ``root``; downloads only in prepare_data."""

    dataset_cls: ClassVar[type[VisionDataset]]

    @property
    def data_dir(self) -> Path:
        """The folder that holds the dataset's files (where torchvision reads them)."""
        raise NotImplementedError

    def expected_files(self) -> list[str]:
        """Names of the files torchvision reads from :attr:`data_dir`."""
        raise NotImplementedError

    def archives(self) -> list[tuple[Path, str]]:
        """The files a download fetches, with torchvision's MD5 sums."""
        raise NotImplementedError

    def damaged_file(self) -> tuple[Path, str] | None:
        """The first data file that is present but damaged, and what is wrong with it."""
        raise NotImplementedError

    def _missing(self) -> list[str]:
        return [f for f in self.expected_files() if not (self.data_dir / f).is_file()]

    def _missing_message(self, detail: str) -> str:
        return files.missing_message(
            self.name, self.data_dir, self.expected_files(), self.root, detail, self.download
        )

    def check_available(self) -> None:
        """Raise MissingDataError naming the expected path and both fixes when files are absent."""
        missing = self._missing()
        if missing:
            raise MissingDataError(self._missing_message(f"missing {', '.join(missing)}"))

    def prepare_data(self) -> None:
        """Download when asked and needed (one process at a time, failing fast offline), then
        check that the files are there and whole."""
        if self.download and self._missing():
            created = _absent_dirs(self.data_dir)
            try:
                with _download_lock(Path(self.root)):
                    if self._missing():
                        self._download()
                        self._check_whole()
            except BaseException:
                _remove_empty(created)  # a failed download leaves no empty folder behind
                raise
        self.check_available()

    def _download(self) -> None:
        try:
            with _socket_timeout(_DOWNLOAD_TIMEOUT):
                self.dataset_cls(self.root, train=True, download=True)
        except Exception as err:
            reason = _reason(err)
            for path, md5 in self.archives():
                if path.is_file() and not check_integrity(str(path), md5):
                    size = path.stat().st_size
                    path.unlink()
                    reason = (
                        f"{path} arrived damaged ({size} bytes, MD5 not torchvision's {md5}) "
                        "and was deleted"
                    )
                    break
            raise MissingDataError(self._missing_message(f"download failed: {reason}")) from err

    def _check_whole(self) -> None:
        damaged = self.damaged_file()
        if damaged is not None:
            raise DamagedDataError(files.damaged_message(self.name, *damaged))

    def _dataset(self, train: bool) -> VisionDataset:
        """The torchvision dataset of one split, read from disk; a damaged file is named."""
        self.check_available()
        try:
            return self.dataset_cls(self.root, train=train, download=False)
        except Exception as err:  # torchvision raises several types for damaged files
            self._check_whole()
            raise MissingDataError(
                self._missing_message(f"unreadable files: {_reason(err)}")
            ) from err
