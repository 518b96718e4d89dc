"""CIFAR-10 and CIFAR-100 from torchvision's pickled python batches."""

from pathlib import Path

import torch
from torchvision import datasets
from torchvision.datasets.utils import check_integrity

from ridgeline.data.base import Split
from ridgeline.data.vision import TorchvisionDataModule


class _CIFARDataModule(TorchvisionDataModule):
    """32x32 colour images; augmented by default with crop (padding 4) and horizontal flip."""

    input_shape = (3, 32, 32)
    default_augment = True

    @property
    def data_dir(self) -> Path:
        """torchvision's ``root/<base_folder>`` (the unpacked archive)."""
        return Path(self.root) / self.dataset_cls.base_folder

    def expected_files(self) -> list[str]:
        """The python batches and the meta file torchvision reads."""
        cls = self.dataset_cls
        return [name for name, _ in [*cls.train_list, *cls.test_list]] + [cls.meta["filename"]]

    def load(self) -> Split:
        train, test = self._dataset(train=True), self._dataset(train=False)
        return (
            torch.from_numpy(train.data).permute(0, 3, 1, 2).contiguous(),
            torch.as_tensor(train.targets),
            torch.from_numpy(test.data).permute(0, 3, 1, 2).contiguous(),
            torch.as_tensor(test.targets),
        )

    def archives(self) -> list[tuple[Path, str]]:
        """The tar.gz archive, downloaded into the root."""
        return [(Path(self.root) / self.dataset_cls.filename, self.dataset_cls.tgz_md5)]

    def damaged_file(self) -> tuple[Path, str] | None:
        """A batch or meta file whose MD5 sum differs from torchvision's."""
        cls = self.dataset_cls
        for name, md5 in [*cls.train_list, *cls.test_list, (cls.meta["filename"], cls.meta["md5"])]:
            path = self.data_dir / name
            if path.is_file() and not check_integrity(str(path), md5):
                return path, f"{path.stat().st_size} bytes, MD5 not torchvision's {md5}"
        return None


class CIFAR10DataModule(_CIFARDataModule):
    """CIFAR-10: 50,000 train and 10,000 test images, 10 classes."""

    name = "cifar10"
    num_classes = 10
    dataset_cls = datasets.CIFAR10
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


class CIFAR100DataModule(_CIFARDataModule):
    """CIFAR-100: 50,000 train and 10,000 test images, 100 fine-grained classes."""

    name = "cifar100"
    num_classes = 100
    dataset_cls = datasets.CIFAR100
    mean, std = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)
