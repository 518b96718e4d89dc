"""A generated Gaussian-mixture classification task for toys and fast tests."""

import math
from typing import Any

import torch

from ridgeline.data.base import Split, TensorDataModule


class SyntheticDataModule(TensorDataModule):
    """``num_classes * clusters_per_class`` Gaussian clusters in ``dim`` dimensions, inputs
    shaped [1, 1, dim]; cluster c belongs to class c mod ``num_classes``.

    Cluster centres are drawn N(0, 4/dim) (about 2.8 apart), examples are a uniformly chosen
    cluster's centre plus N(0, noise^2) per coordinate; everything comes from
    ``generator_seed``. With ``clusters_per_class`` > 1 the classes are interleaved mixtures, so
    the task is not linearly separable (an XOR-like task for a small network).
    """

    name = "synthetic"

    def __init__(
        self,
        *,
        n_train: int,
        n_test: int,
        dim: int,
        num_classes: int,
        noise: float,
        generator_seed: int,
        clusters_per_class: int,
        **kwargs: Any,
    ) -> None:
        if n_train < 1 or n_test < 1 or dim < 1 or num_classes < 2:
            raise ValueError(
                "synthetic data needs data.n_train, data.n_test, data.dim >= 1 and "
                f"data.num_classes >= 2, got {n_train}, {n_test}, {dim}, {num_classes}"
            )
        if clusters_per_class < 1:
            raise ValueError(
                f"synthetic data needs data.clusters_per_class >= 1, got {clusters_per_class}"
            )
        self.num_classes = num_classes
        self.input_shape = (1, 1, dim)
        super().__init__(num_classes=num_classes, **kwargs)
        self.n_train, self.n_test, self.dim = n_train, n_test, dim
        self.noise, self.generator_seed = noise, generator_seed
        self.clusters_per_class = clusters_per_class

    def load(self) -> Split:
        g = torch.Generator().manual_seed(self.generator_seed)
        n_clusters = self.num_classes * self.clusters_per_class
        centres = torch.randn(n_clusters, self.dim, generator=g) * (2 / math.sqrt(self.dim))
        n = self.n_train + self.n_test
        cluster = torch.randint(0, n_clusters, (n,), generator=g)
        x = centres[cluster] + self.noise * torch.randn(n, self.dim, generator=g)
        y = cluster % self.num_classes
        x = x.view(n, *self.input_shape)
        return x[: self.n_train], y[: self.n_train], x[self.n_train :], y[self.n_train :]
