"""MNIST and Fashion-MNIST from torchvision's raw IDX files under ``root/<Name>/raw``."""

from pathlib import Path

from torchvision import datasets

from ridgeline.data import files
from ridgeline.data.base import Split
from ridgeline.data.vision import TorchvisionDataModule


class _IDXDataModule(TorchvisionDataModule):
    """A 28x28 grey-scale dataset in torchvision's MNIST layout."""

    num_classes = 10
    input_shape = (1, 28, 28)

    @property
    def data_dir(self) -> Path:
        """torchvision's raw folder, ``root/<DatasetClass>/raw``."""
        return Path(self.root) / self.dataset_cls.__name__ / "raw"

    def expected_files(self) -> list[str]:
        """The unpacked IDX files of torchvision's resources."""
        return [Path(url).name.removesuffix(".gz") for url, _ in self.dataset_cls.resources]

    def load(self) -> Split:
        train, test = self._dataset(train=True), self._dataset(train=False)
        return train.data.unsqueeze(1), train.targets, test.data.unsqueeze(1), test.targets

    def archives(self) -> list[tuple[Path, str]]:
        """The gzipped IDX files, downloaded into the raw folder."""
        return [(self.data_dir / name, md5) for name, md5 in self.dataset_cls.resources]

    def damaged_file(self) -> tuple[Path, str] | None:
        """An IDX file whose size differs from the one its header implies (no MD5 sums exist
        for the unpacked files)."""
        for name in self.expected_files():
            problem = files.idx_problem(self.data_dir / name)
            if problem:
                return self.data_dir / name, problem
        return None


class MNISTDataModule(_IDXDataModule):
    """MNIST: 60,000 train and 10,000 test hand-written digits."""

    name = "mnist"
    dataset_cls = datasets.MNIST
    mean, std = (0.1307,), (0.3081,)


class FashionMNISTDataModule(_IDXDataModule):
    """Fashion-MNIST: 60,000 train and 10,000 test images of clothing, 10 classes."""

    name = "fashion_mnist"
    dataset_cls = datasets.FashionMNIST
    mean, std = (0.2860,), (0.3530,)
