"""A generated Gaussian-mixture classification task for toys and fast tests."""

import math

import torch

from ridgeline.data.base import Split, TensorDataModule


class SyntheticDataModule(TensorDataModule):
    """``num_classes`` Gaussian clusters in ``dim`` dimensions, inputs shaped [1, 1, dim].

    Class centres are drawn N(0, 4/dim) (about 2.8 apart), examples are a centre plus
    N(0, noise^2) per coordinate; everything comes from ``generator_seed``.
    """

    name = "synthetic"

    def __init__(
        self,
        n_train: int = 2048,
        n_test: int = 512,
        dim: int = 32,
        num_classes: int = 4,
        noise: float = 1.0,
        generator_seed: int = 0,
        **kwargs: object,
    ) -> None:
        if n_train < 1 or n_test < 1 or dim < 1 or num_classes < 2:
            raise ValueError(
                "synthetic data needs data.n_train, data.n_test, data.dim >= 1 and "
                f"data.num_classes >= 2, got {n_train}, {n_test}, {dim}, {num_classes}"
            )
        self.num_classes = num_classes
        self.input_shape = (1, 1, dim)
        super().__init__(num_classes=num_classes, **kwargs)
        self.n_train, self.n_test, self.dim = n_train, n_test, dim
        self.noise, self.generator_seed = noise, generator_seed

    def load(self) -> Split:
        g = torch.Generator().manual_seed(self.generator_seed)
        centres = torch.randn(self.num_classes, self.dim, generator=g) * (2 / math.sqrt(self.dim))
        n = self.n_train + self.n_test
        y = torch.randint(0, self.num_classes, (n,), generator=g)
        x = centres[y] + self.noise * torch.randn(n, self.dim, generator=g)
        x = x.view(n, *self.input_shape)
        return x[: self.n_train], y[: self.n_train], x[self.n_train :], y[self.n_train :]
