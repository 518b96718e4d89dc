"""A dataset of your own: a ``TensorDataModule`` subclass that sets ``name``, ``num_classes``
and ``input_shape`` and implements ``load``; ``data._target_`` names the class.

The base class does the rest: normalisation (when ``mean``/``std`` are set), keeping the
tensors on the training device, the seeded batch streams of the children and the fixed
evaluation subsets of the probes.
"""

import math
from typing import Any

import torch

from ridgeline.data.base import Split, TensorDataModule


class RingsDataModule(TensorDataModule):
    """Points on ``num_classes`` concentric circles: class c has radius c + 1, a uniformly drawn
    angle and N(0, ``noise``²) added to each coordinate; inputs are shaped [1, 1, 2]. All of it
    comes from ``generator_seed``, so every run sees the same examples."""

    name = "rings"
    num_classes = 3
    input_shape = (1, 1, 2)

    def __init__(
        self, *, n_train: int, n_test: int, noise: float, generator_seed: int, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.n_train, self.n_test = n_train, n_test
        self.noise, self.generator_seed = noise, generator_seed

    def load(self) -> Split:
        g = torch.Generator().manual_seed(self.generator_seed)
        n = self.n_train + self.n_test
        y = torch.randint(0, self.num_classes, (n,), generator=g)
        angle = 2 * math.pi * torch.rand(n, generator=g)
        radius = (y + 1).float()
        x = torch.stack([radius * angle.cos(), radius * angle.sin()], dim=1)
        x = (x + self.noise * torch.randn(n, 2, generator=g)).view(n, *self.input_shape)
        return x[: self.n_train], y[: self.n_train], x[self.n_train :], y[self.n_train :]
