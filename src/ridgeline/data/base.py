"""A LightningDataModule holding a classification dataset as (device-resident) tensors."""

import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import pytorch_lightning as pl
import torch
from torch import Tensor

from ridgeline.data.augment import CropFlip, normalize
from ridgeline.data.chunks import TensorChunks
from ridgeline.data.streams import StreamLoader, StreamSeeds

Split = tuple[Tensor, Tensor, Tensor, Tensor]

# Keep at least this fraction of the device's free memory for the models when placing data.
_DEVICE_MEMORY_FRACTION = 0.5


# Every dataset by its ``name``: a data module class registers itself when it is defined.
DATASETS: dict[str, type["TensorDataModule"]] = {}


class TensorDataModule(pl.LightningDataModule, ABC):
    """Train and test sets as tensors: normalised float32 x [n, C, H, W] and long y [n].

    Subclasses set ``name``, ``num_classes``, ``input_shape`` (and ``mean``/``std`` for
    normalisation) and implement :meth:`load`. ``name``, ``num_classes`` and ``input_shape`` are
    accepted as arguments so that a config may state them for interpolation; they must match.
    A subclass that sets ``name`` is a dataset, registered in :data:`DATASETS` under it.

    The settings have no defaults here: their defaults are the schema's
    (:mod:`ridgeline.config.schema`, written once); build a module outside a job with
    :func:`ridgeline.config.builds.data_module` (a preset with overrides).
    """

    name: str  # a class attribute; Lightning declares it on its instances
    num_classes: int
    input_shape: tuple[int, int, int]
    mean: ClassVar[tuple[float, ...] | None] = None
    std: ClassVar[tuple[float, ...] | None] = None
    default_augment: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            if cls.name in DATASETS:
                raise ValueError(f"dataset {cls.name!r} is already registered")
            DATASETS[cls.name] = cls

    def __init__(
        self,
        *,
        root: str,
        download: bool,
        batch_size: int,
        eval_batch_size: int,
        eval_train_size: int | None,
        eval_test_size: int | None,
        eval_seed: int,
        augment: bool | None,
        device_resident: bool,
        name: str | None = None,
        num_classes: int | None = None,
        input_shape: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.root = str(root)
        self.download = download
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.eval_train_size = eval_train_size
        self.eval_test_size = eval_test_size
        self.eval_seed = eval_seed
        self.augment = self.default_augment if augment is None else augment
        self.device_resident = device_resident
        self.streams: tuple[StreamSeeds, ...] = (StreamSeeds(0, 0),)
        self.train_x: Tensor | None = None
        self.train_y: Tensor | None = None
        self.test_x: Tensor | None = None
        self.test_y: Tensor | None = None
        self._eval: dict[str, tuple[Tensor, Tensor]] = {}
        self._raw: Split | None = None
        self._check_declared(name, num_classes, input_shape)

    def _check_declared(
        self, name: str | None, num_classes: int | None, input_shape: Sequence[int] | None
    ) -> None:
        declared: dict[str, object] = {
            "name": name,
            "num_classes": num_classes,
            "input_shape": input_shape,
        }
        actual = {
            "name": self.name,
            "num_classes": self.num_classes,
            "input_shape": self.input_shape,
        }
        for key, value in declared.items():
            if value is None:
                continue
            if key == "input_shape" and input_shape is not None:
                value = tuple(int(v) for v in input_shape)
            if value != actual[key]:
                raise ValueError(
                    f"data.{key}={value!r} does not match the dataset, which has "
                    f"{key}={actual[key]!r}; remove the override or pick another data config"
                )

    @abstractmethod
    def load(self) -> Split:
        """Un-normalised ``(train_x, train_y, test_x, test_y)``, x float in [0, 1] or uint8."""

    def check_available(self) -> None:
        """Raise MissingDataError when the files are not on disk; cheap, loads nothing."""

    def prepare_data(self) -> None:
        """Make sure the data are on disk (downloading is for subclasses that can)."""
        self.check_available()

    def loaded(self) -> Split:
        """:meth:`load`, read once: kept for :meth:`setup`, which normalises it and moves it to
        the training device once a trainer is attached (checks before that read the sizes)."""
        if self._raw is None:
            self._raw = self.load()
        return self._raw

    def setup(self, stage: str | None = None) -> None:
        """Load the tensors once, normalise them and move them to the training device."""
        if self.train_x is not None:
            return
        train_x, train_y, test_x, test_y = self.loaded()
        self._raw = None
        train_x, test_x = self._normalised(train_x), self._normalised(test_x)
        tensors = [train_x, train_y.long(), test_x, test_y.long()]
        device = self._device(sum(t.numel() * t.element_size() for t in tensors))
        self.train_x, self.train_y, self.test_x, self.test_y = (t.to(device) for t in tensors)

    def _normalised(self, x: Tensor) -> Tensor:
        x = x.float().div(255) if x.dtype == torch.uint8 else x.float()
        stats = self._stats()
        return x if stats is None else normalize(x, *stats)

    def _stats(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """(mean, std) of the normalisation, or None when the data are not normalised."""
        if self.mean is None:
            return None
        if self.std is None:
            raise TypeError(f"{type(self).__name__} sets mean but not std")
        return self.mean, self.std

    def _device(self, nbytes: int) -> torch.device:
        if not self.device_resident or self.trainer is None:
            return torch.device("cpu")
        device = self.trainer.strategy.root_device
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            if nbytes > _DEVICE_MEMORY_FRACTION * free:
                warnings.warn(
                    f"{self.name}: {nbytes / 2**30:.1f} GiB of data does not fit next to the "
                    f"model on {device} ({free / 2**30:.1f} GiB free); keeping it on the CPU",
                    stacklevel=2,
                )
                return torch.device("cpu")
        return device

    def set_streams(self, streams: Sequence[StreamSeeds]) -> None:
        """Train on one batch stream per entry (one per model trained in lockstep)."""
        if not streams or not all(isinstance(s, StreamSeeds) for s in streams):
            raise ValueError(f"set_streams needs a non-empty list of StreamSeeds, got {streams!r}")
        self.streams = tuple(streams)

    def _split(self, split: str) -> tuple[Tensor, Tensor]:
        """``(x, y)`` of ``split`` ("train" or "test"), loading the tensors (on the CPU when no
        trainer is attached) if needed."""
        self.setup()
        x, y = (self.train_x, self.train_y) if split == "train" else (self.test_x, self.test_y)
        if x is None or y is None:
            raise RuntimeError(f"{self.name}: setup() left the {split} tensors unset")
        return x, y

    def _rank_world(self) -> tuple[int, int]:
        if self.trainer is None:
            return 0, 1
        return self.trainer.global_rank, self.trainer.world_size

    def augmentation(self) -> CropFlip | None:
        """The training augmentation, or None when ``augment`` is off."""
        if not self.augment:
            return None
        fill = None
        stats = self._stats()
        if stats is not None:
            # Pad with black in raw pixels, as torchvision's RandomCrop before Normalize does.
            fill = tuple(-m / s for m, s in zip(*stats, strict=True))
        return CropFlip(padding=4, flip=True, fill=fill)

    def train_dataloader(self) -> StreamLoader:
        """Batches ``(x [N, B_local, C, H, W], y [N, B_local])`` of the N streams."""
        train_x, train_y = self._split("train")
        rank, world = self._rank_world()
        epoch = self.trainer.current_epoch if self.trainer is not None else 0
        return StreamLoader(
            train_x,
            train_y,
            self.streams,
            self.batch_size,
            augment=self.augmentation(),
            rank=rank,
            world_size=world,
            epoch=epoch,
        )

    def val_dataloader(self) -> TensorChunks:
        """The test set in chunks of ``eval_batch_size``; each rank gets a contiguous slice."""
        test_x, test_y = self._split("test")
        rank, world = self._rank_world()
        return TensorChunks(test_x, test_y, self.eval_batch_size, rank, world)

    def eval_tensors(self, split: str) -> tuple[Tensor, Tensor]:
        """The fixed evaluation subset of ``split`` ("train" or "test"), un-augmented."""
        if split not in self._eval:
            self._eval[split] = self._eval_subset(split)
        return self._eval[split]

    def _eval_subset(self, split: str) -> tuple[Tensor, Tensor]:
        self.setup()
        if split == "train":
            size, key = self.eval_train_size, "eval_train_size"
        elif split == "test":
            size, key = self.eval_test_size, "eval_test_size"
        else:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        x, y = self._split(split)
        if size is None:
            return x, y
        if not 0 < size <= len(x):
            raise ValueError(
                f"data.{key}={size} must be between 1 and the size of the {self.name} "
                f"{split} split ({len(x)}); lower it or set it to null for the whole split"
            )
        if split == "test":
            return x[:size], y[:size]
        generator = torch.Generator().manual_seed(self.eval_seed)
        idx = torch.randperm(len(x), generator=generator)[:size].sort().values.to(x.device)
        return x[idx], y[idx]

    def bn_batches(self, n_batches: int, batch_size: int, seed: int) -> list[Tensor]:
        """``n_batches`` un-augmented training inputs of ``batch_size`` for BatchNorm statistics."""
        train_x = self._split("train")[0]
        generator = torch.Generator().manual_seed(seed)
        needed = n_batches * batch_size
        perms = [torch.randperm(len(train_x), generator=generator)]
        while sum(map(len, perms)) < needed:
            perms.append(torch.randperm(len(train_x), generator=generator))
        idx = torch.cat(perms)[:needed].to(train_x.device)
        return [train_x[i] for i in idx.view(n_batches, batch_size)]
