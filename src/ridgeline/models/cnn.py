"""A small CNN: conv-activation-pool blocks and a linear head (LeNet-5 style, LeCun 1998)."""

from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from ridgeline.errors import ConfigError
from ridgeline.models.layers import activation as make_activation
from ridgeline.models.layers import classifier_head, image_shape, widths
from ridgeline.models.registry import register_model

# 2x2 pooling of each block: max (piecewise linear) or average (linear, so with a smooth
# activation the whole network is smooth).
POOLS: dict[str, type[nn.Module]] = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


@register_model("cnn")
def cnn(
    input_shape: Sequence[int],
    num_classes: int,
    depth: int = 2,
    width: int | Sequence[int] = (32, 64),
    kernel_size: int = 3,
    activation: str = "relu",
    pool: str = "max",
) -> nn.Sequential:
    """``depth`` blocks of same-padded conv, activation and 2x2 pool, then Flatten, Linear.

    Stages: ``block1, ..., block{depth}, flatten, fc``; each block has ``conv, act, pool``.
    """
    channels, height, width_px = image_shape(input_shape, "cnn")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ConfigError("model.kernel_size", kernel_size, "a positive odd int")
    if pool not in POOLS:
        raise ConfigError("model.pool", pool, f"one of {', '.join(POOLS)}")
    stages: OrderedDict[str, nn.Module] = OrderedDict()
    for i, c_out in enumerate(widths(width, depth), start=1):
        if min(height, width_px) < 2:
            raise ConfigError(
                "model.depth", depth, f"at most {i - 1} 2x2 poolings for input {list(input_shape)}"
            )
        conv = nn.Conv2d(channels, c_out, kernel_size, padding=kernel_size // 2)
        stages[f"block{i}"] = nn.Sequential(
            OrderedDict(conv=conv, act=make_activation(activation), pool=POOLS[pool](2))
        )
        channels, height, width_px = c_out, height // 2, width_px // 2
    return classifier_head(stages, channels * height * width_px, num_classes)
