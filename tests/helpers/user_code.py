"""A user's own model builders and data module that pass the zeros-input build check but break
later: named by ``_target_`` (``helpers.user_code.<name>``) in tests of the checks before
training (``tests/`` on PYTHONPATH for a subprocess)."""

from typing import Any

import torch
from torch import nn

from ridgeline.data import SyntheticDataModule


class FixedBatch(nn.Module):
    """Gives logits for 2 examples whatever the batch: the build check's batch size."""

    def __init__(self, features: int, classes: int) -> None:
        super().__init__()
        self.head = nn.Linear(features, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.flatten(1))[:2]


def fixed_batch(**_: Any) -> nn.Module:
    """For data=synthetic (dim 32 by default, 4 classes)."""
    return FixedBatch(32, 4)


class NoForwardMode(torch.autograd.Function):
    """A ReLU written as an old-style Function: backward only, no setup_context or jvp."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * (x > 0)


class CustomRelu(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return NoForwardMode.apply(x)


def custom_function_mlp(**_: Any) -> nn.Module:
    """An MLP for data=synthetic whose activation is a Function without forward-mode AD."""
    return nn.Sequential(nn.Flatten(), nn.Linear(32, 8), CustomRelu(), nn.Linear(8, 4))


class OneClassSynthetic(SyntheticDataModule):
    """The synthetic task with every label 0."""

    def load(self):  # type: ignore[no-untyped-def]
        train_x, train_y, test_x, test_y = super().load()
        return train_x, torch.zeros_like(train_y), test_x, torch.zeros_like(test_y)
