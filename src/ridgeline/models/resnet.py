"""CIFAR ResNets (He et al. 2016): ResNet-20 and the CIFAR variant of ResNet-18.

Basic blocks with 1x1-conv projection shortcuts (option B, as in open_lth) where the shape
changes, identity otherwise. ``norm="none"`` drops every BatchNorm, turns conv biases on and
scales each residual branch by a learnable scalar initialised to zero (SkipInit, De & Smith 2020).
``activation`` replaces every ReLU (e.g. ``gelu`` for a smooth network).
"""

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from ridgeline.errors import ConfigError
from ridgeline.models.layers import activation as make_activation
from ridgeline.models.layers import classifier_head, image_shape
from ridgeline.models.registry import ModelBuilder, register_model

NORMS = ("batch", "none")


def _conv(c_in: int, c_out: int, kernel_size: int, stride: int, norm: str) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size, stride, kernel_size // 2, bias=norm == "none")


def _norm(channels: int, norm: str) -> nn.Module:
    return nn.BatchNorm2d(channels) if norm == "batch" else nn.Identity()


class BasicBlock(nn.Module):
    """act(shortcut(x) + gain * bn2(conv2(act(bn1(conv1(x)))))); ``gain`` only without norm."""

    def __init__(self, c_in: int, c_out: int, stride: int, norm: str, activation: str) -> None:
        super().__init__()
        self.conv1 = _conv(c_in, c_out, 3, stride, norm)
        self.bn1 = _norm(c_out, norm)
        self.conv2 = _conv(c_out, c_out, 3, 1, norm)
        self.bn2 = _norm(c_out, norm)
        self.act = make_activation(activation)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(_conv(c_in, c_out, 1, stride, norm), _norm(c_out, norm))
        self.gain: nn.Parameter | None = nn.Parameter(torch.zeros(1)) if norm == "none" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.act(self.bn1(self.conv1(x)))))
        if self.gain is not None:
            out = self.gain * out
        return self.act(self.shortcut(x) + out)


def _resnet(
    name: str,
    input_shape: Sequence[int],
    num_classes: int,
    stage_widths: Sequence[int],
    blocks_per_stage: int,
    width: int,
    norm: str,
    activation: str,
) -> nn.Sequential:
    """Stages: ``stem, layer1_0, ..., layer{S}_{B-1}, pool, flatten, fc``."""
    channels = image_shape(input_shape, name, size=32)[0]
    if norm not in NORMS:
        raise ConfigError("model.norm", norm, f"one of {', '.join(NORMS)}")
    if not isinstance(width, int) or width < 1:
        raise ConfigError("model.width", width, "a positive int channel multiplier")
    c_out = stage_widths[0] * width
    stem = OrderedDict(
        conv=_conv(channels, c_out, 3, 1, norm),
        bn=_norm(c_out, norm),
        act=make_activation(activation),
    )
    stages: OrderedDict[str, nn.Module] = OrderedDict(stem=nn.Sequential(stem))
    channels = c_out
    for s, base in enumerate(stage_widths, start=1):
        for b in range(blocks_per_stage):
            stride = 2 if s > 1 and b == 0 else 1
            stages[f"layer{s}_{b}"] = BasicBlock(channels, base * width, stride, norm, activation)
            channels = base * width
    return classifier_head(stages, channels, num_classes, pool=("pool", nn.AdaptiveAvgPool2d(1)))


def _register_resnet(
    name: str, stage_widths: Sequence[int], blocks_per_stage: int, doc: str
) -> ModelBuilder:
    """Register and return the builder of the ResNet ``name``: ``blocks_per_stage`` basic blocks
    in each stage of ``stage_widths`` channels (times ``width``)."""

    def builder(
        input_shape: Sequence[int],
        num_classes: int,
        width: int = 1,
        norm: str = "batch",
        activation: str = "relu",
    ) -> nn.Sequential:
        return _resnet(
            name, input_shape, num_classes, stage_widths, blocks_per_stage, width, norm, activation
        )

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = doc
    return register_model(name)(builder)


resnet20 = _register_resnet(
    "resnet20",
    (16, 32, 64),
    3,
    "ResNet-20: 3 stages of 3 basic blocks, 16/32/64 channels times ``width``.",
)
resnet18 = _register_resnet(
    "resnet18",
    (64, 128, 256, 512),
    2,
    "CIFAR ResNet-18: 3x3 stem, no max-pool, 4 stages of 2 blocks, 64-512 channels.",
)
