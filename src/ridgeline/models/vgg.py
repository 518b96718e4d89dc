"""CIFAR VGG (Simonyan & Zisserman 2015) as in open_lth (Frankle et al. 2020).

Conv 3x3 (with bias) [+ BatchNorm] + activation (``activation``, ReLU by default) per plan entry,
2x2 max-pool at each ``M``, a final 2x2 average pool to 1x1, and a single Linear 512 -> classes.
"""

from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from ridgeline.models.layers import activation as make_activation
from ridgeline.models.layers import classifier_head, image_shape
from ridgeline.models.registry import ModelBuilder, register_model

PLANS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512],
}


def _vgg(
    name: str, input_shape: Sequence[int], num_classes: int, batch_norm: bool, activation: str
) -> nn.Sequential:
    """Stages: ``block1, ..., pool1, ..., avgpool, flatten, fc``; blocks: ``conv[, bn], act``."""
    channels = image_shape(input_shape, name, size=32)[0]
    stages: OrderedDict[str, nn.Module] = OrderedDict()
    n_blocks = n_pools = 0
    for spec in PLANS[name]:
        if isinstance(spec, str):  # "M"
            n_pools += 1
            stages[f"pool{n_pools}"] = nn.MaxPool2d(2)
            continue
        n_blocks += 1
        block: OrderedDict[str, nn.Module] = OrderedDict(
            conv=nn.Conv2d(channels, spec, 3, padding=1)
        )
        if batch_norm:
            block["bn"] = nn.BatchNorm2d(spec)
        block["act"] = make_activation(activation)
        stages[f"block{n_blocks}"] = nn.Sequential(block)
        channels = spec
    return classifier_head(stages, channels, num_classes, pool=("avgpool", nn.AvgPool2d(2)))


def _register_vgg(name: str, doc: str) -> ModelBuilder:
    """Register and return the builder of the VGG ``name`` (its plan in :data:`PLANS`)."""

    def builder(
        input_shape: Sequence[int],
        num_classes: int,
        batch_norm: bool = False,
        activation: str = "relu",
    ) -> nn.Sequential:
        return _vgg(name, input_shape, num_classes, batch_norm, activation)

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = doc
    return register_model(name)(builder)


vgg11 = _register_vgg("vgg11", "VGG-11 for 32x32 inputs.")
vgg16 = _register_vgg("vgg16", "VGG-16 for 32x32 inputs.")
