"""Data modules holding datasets as device-resident tensors, and multi-stream batch loaders."""

from ridgeline.data.augment import CropFlip, crop_flip, normalize
from ridgeline.data.base import TensorDataModule
from ridgeline.data.chunks import TensorChunks
from ridgeline.data.cifar import CIFAR10DataModule, CIFAR100DataModule
from ridgeline.data.errors import MissingDataError
from ridgeline.data.mnist import FashionMNISTDataModule, MNISTDataModule
from ridgeline.data.mnist_mini import MnistMiniDataModule
from ridgeline.data.streams import StreamLoader, StreamSeeds, seeded_generator
from ridgeline.data.synthetic import SyntheticDataModule
from ridgeline.data.vision import TorchvisionDataModule

DATASETS: dict[str, type[TensorDataModule]] = {
    cls.name: cls
    for cls in (
        MnistMiniDataModule,
        MNISTDataModule,
        FashionMNISTDataModule,
        CIFAR10DataModule,
        CIFAR100DataModule,
        SyntheticDataModule,
    )
}

__all__ = [
    "DATASETS",
    "CIFAR100DataModule",
    "CIFAR10DataModule",
    "CropFlip",
    "FashionMNISTDataModule",
    "MNISTDataModule",
    "MissingDataError",
    "MnistMiniDataModule",
    "StreamLoader",
    "StreamSeeds",
    "SyntheticDataModule",
    "TensorChunks",
    "TensorDataModule",
    "TorchvisionDataModule",
    "crop_flip",
    "normalize",
    "seeded_generator",
]
