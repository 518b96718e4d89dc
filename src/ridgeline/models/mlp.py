"""Multi-layer perceptron, e.g. LeNet-300-100 (LeCun et al. 1998)."""

import math
from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

from ridgeline.models.layers import activation as make_activation
from ridgeline.models.layers import widths
from ridgeline.models.registry import register_model


@register_model("mlp")
def mlp(
    input_shape: Sequence[int],
    num_classes: int,
    depth: int = 2,
    width: int | Sequence[int] = 128,
    activation: str = "relu",
) -> nn.Sequential:
    """Flatten, then ``depth`` hidden Linear + activation stages, then a Linear head.

    Stages: ``flatten, fc1, act1, ..., fc{depth}, act{depth}, fc{depth + 1}``.
    """
    sizes = [math.prod(input_shape), *widths(width, depth)]
    stages: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        stages[f"fc{i}"] = nn.Linear(n_in, n_out)
        stages[f"act{i}"] = make_activation(activation)
    stages[f"fc{depth + 1}"] = nn.Linear(sizes[-1], num_classes)
    return nn.Sequential(stages)
