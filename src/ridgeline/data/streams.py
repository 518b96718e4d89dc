"""Training batches for N models trained in lockstep, each with its own data order and augmentation.

Every random draw comes from a private ``torch.Generator`` seeded from (seed, epoch[, batch]), so a
stream's batches depend only on its own seeds: reproducible, resumable mid-epoch, identical under
any world size, and the global RNG is never touched.
"""

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ridgeline.data.augment import CropFlip


@dataclass(frozen=True)
class StreamSeeds:
    """Seeds of one stream: ``data_seed`` fixes the order of examples, ``aug_seed`` augmentation."""

    data_seed: int
    aug_seed: int


def seeded_generator(*parts: object) -> torch.Generator:
    """A CPU generator seeded by hashing ``parts``, e.g. ("order", data_seed, epoch)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


class StreamLoader:
    """Yields per step ``(x [N, B_local, C, H, W], y [N, B_local])`` for N streams.

    Each epoch every stream visits a fresh permutation of the training set in batches of
    ``batch_size`` (the last incomplete batch is dropped). Rank r of ``world_size`` gets the
    contiguous slice r of every global batch. ``state_dict``/``load_state_dict`` (called by
    Lightning on checkpoint save/restore) resume at the next batch; a new ``iter()`` starts the
    next epoch unless the loader is fresh, resumed or ``set_epoch`` was called.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        streams: Sequence[StreamSeeds],
        batch_size: int,
        augment: CropFlip | None = None,
        rank: int = 0,
        world_size: int = 1,
        epoch: int = 0,
    ) -> None:
        if not streams:
            raise ValueError("StreamLoader needs at least one StreamSeeds")
        if batch_size % world_size != 0:
            raise ValueError(
                f"data.batch_size={batch_size} must be divisible by the number of processes "
                f"({world_size}): every rank takes an equal slice of each global batch"
            )
        if not 0 < batch_size <= len(x):
            raise ValueError(
                f"data.batch_size={batch_size} must be between 1 and the training set size {len(x)}"
            )
        self.x, self.y = x, y
        self.streams = tuple(streams)
        self.batch_size = batch_size
        self.augment = augment
        local = batch_size // world_size
        self._lo, self._hi = rank * local, (rank + 1) * local
        self._epoch, self._batch_idx = epoch, 0
        self._pinned, self._resumed = True, False

    def __len__(self) -> int:
        return len(self.x) // self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` run ``epoch`` from its start (kept if resuming that epoch)."""
        if self._resumed and epoch == self._epoch:
            return
        self._epoch, self._batch_idx = epoch, 0
        self._pinned, self._resumed = True, False

    def state_dict(self) -> dict[str, int]:
        """Position of the next batch: its epoch and index within the epoch."""
        return {"epoch": self._epoch, "batch_idx": self._batch_idx}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        """Resume at the position saved by :meth:`state_dict` on the next ``iter()``."""
        self._epoch, self._batch_idx = int(state_dict["epoch"]), int(state_dict["batch_idx"])
        self._pinned, self._resumed = False, True

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        # A generator: the epoch is decided at the first next(), so an iter() that is never
        # consumed (Lightning probes iterability once) does not advance it.
        epoch, start = self._begin()
        order = self._order(epoch)
        for b in range(start, len(self)):
            idx = order[:, b * self.batch_size + self._lo : b * self.batch_size + self._hi]
            x, y = self.x[idx], self.y[idx]
            if self.augment is not None:
                x = self._augmented(x, epoch, b)
            self._batch_idx = b + 1
            yield x, y

    def _begin(self) -> tuple[int, int]:
        if self._resumed and self._batch_idx < len(self):
            epoch, start = self._epoch, self._batch_idx
        elif self._pinned:
            epoch, start = self._epoch, 0
        else:
            epoch, start = self._epoch + 1, 0
        self._epoch, self._batch_idx = epoch, start
        self._pinned = self._resumed = False
        return epoch, start

    def _order(self, epoch: int) -> Tensor:
        """[N, len * batch_size] example indices of every stream for ``epoch``."""
        used = len(self) * self.batch_size
        perms = [
            torch.randperm(len(self.x), generator=seeded_generator("order", s.data_seed, epoch))
            for s in self.streams
        ]
        return torch.stack(perms)[:, :used].to(self.x.device)

    def _augmented(self, x: Tensor, epoch: int, batch_idx: int) -> Tensor:
        """Augment x [N, B_local, ...] with the local slice of each stream's global parameters."""
        assert self.augment is not None
        params = [
            self.augment.sample(
                self.batch_size, seeded_generator("augment", s.aug_seed, epoch, batch_idx)
            )[self._lo : self._hi]
            for s in self.streams
        ]
        return self.augment.apply(x.flatten(0, 1), torch.cat(params)).view_as(x)
