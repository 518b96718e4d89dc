"""Shared pieces of the model builders: activations, input checks, the head, initialisation."""

from collections import OrderedDict
from collections.abc import Sequence
from typing import TypeVar

from torch import nn

from ridgeline.errors import ConfigError

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (key ``model.activation``)."""
    if name not in ACTIVATIONS:
        raise ConfigError("model.activation", name, f"one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def widths(width: int | Sequence[int], depth: int, key: str = "model.width") -> list[int]:
    """``depth`` layer widths from one int (all equal) or a list of ``depth`` ints."""
    if depth < 1:
        raise ConfigError("model.depth", depth, "a positive number of hidden layers")
    out = [int(width)] * depth if isinstance(width, int) else [int(w) for w in width]
    if len(out) != depth or min(out) < 1:
        raise ConfigError(key, width, f"a positive int or a list of {depth} positive ints (depth)")
    return out


def image_shape(
    input_shape: Sequence[int], model: str, size: int | None = None
) -> tuple[int, int, int]:
    """Check ``input_shape`` is [C, H, W] (and H = W = ``size`` if given); return it."""
    shape = tuple(input_shape)
    if len(shape) != 3 or (size is not None and shape[1:] != (size, size)):
        spatial = f"{size}, {size}" if size is not None else "H, W"
        raise ConfigError(
            "model.input_shape",
            list(shape),
            f"{model} needs images [C, {spatial}]; it comes from data.input_shape",
        )
    return shape


ModuleT = TypeVar("ModuleT", bound=nn.Module)


def kaiming_init(model: ModuleT) -> ModuleT:
    """He et al. 2015 normal init (fan-in, ReLU gain) for convs; zero conv biases."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


def classifier_head(
    stages: OrderedDict[str, nn.Module],
    in_features: int,
    num_classes: int,
    pool: tuple[str, nn.Module] | None = None,
) -> nn.Sequential:
    """``stages`` then ``[pool,] flatten, fc`` (a Linear ``in_features -> num_classes``), as one
    ``nn.Sequential`` with :func:`kaiming_init` applied (the Linear is built last)."""
    if pool is not None:
        stages[pool[0]] = pool[1]
    stages["flatten"] = nn.Flatten()
    stages["fc"] = nn.Linear(in_features, num_classes)
    return kaiming_init(nn.Sequential(stages))
