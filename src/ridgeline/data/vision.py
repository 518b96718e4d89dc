"""Shared base of the data modules backed by a torchvision dataset on disk."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from torchvision.datasets import VisionDataset

from ridgeline.data import files
from ridgeline.data.base import TensorDataModule
from ridgeline.data.errors import MissingDataError

# Seconds a download may wait on a socket, so a machine without network fails fast.
_DOWNLOAD_TIMEOUT = 30.0


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


class TorchvisionDataModule(TensorDataModule):
    """Reads a torchvision dataset's files under ``root``; downloads only in prepare_data."""

    dataset_cls: ClassVar[type[VisionDataset]]

    @property
    def data_dir(self) -> Path:
        """The folder that holds the dataset's files."""
        return files.data_dir(self.name, self.root)

    def expected_files(self) -> list[str]:
        """Names of the files torchvision reads from :attr:`data_dir`."""
        return files.expected_files(self.name)

    def _missing(self) -> list[str]:
        return files.missing_files(self.name, self.root)

    def _missing_message(self, detail: str) -> str:
        return files.missing_message(self.name, self.root, detail)

    def check_available(self) -> None:
        """Raise MissingDataError naming the expected path and both fixes when files are absent."""
        files.check_files(self.name, self.root)

    def prepare_data(self) -> None:
        """Download when asked and needed (failing fast offline), then check the files."""
        if self.download and self._missing():
            try:
                with _socket_timeout(_DOWNLOAD_TIMEOUT):
                    self.dataset_cls(self.root, train=True, download=True)
            except Exception as err:
                reason = " ".join(str(err).split())[:300]
                message = self._missing_message(f"download failed: {reason}")
                raise MissingDataError(message) from err
        self.check_available()

    def _dataset(self, train: bool) -> VisionDataset:
        """The torchvision dataset of one split, read from disk."""
        self.check_available()
        try:
            return self.dataset_cls(self.root, train=train, download=False)
        except (RuntimeError, OSError, ValueError) as err:
            reason = " ".join(str(err).split())[:300]
            raise MissingDataError(self._missing_message(f"unreadable files: {reason}")) from err
