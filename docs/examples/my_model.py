"""A model of your own: ``model._target_`` names this builder, no registration needed.

A builder takes ``input_shape`` (no batch dim) and ``num_classes`` from the data config plus its
own keys, and returns an ``nn.Module`` giving [batch, num_classes] logits. An ``nn.Sequential``
of named stages gives the layer-wise probes readable layer names (``fc1``, ``fc2``) and lets
them reuse the computation of the stages a path leaves unchanged.
"""

import math
from collections import OrderedDict
from collections.abc import Sequence

from torch import nn


def tanh_mlp(input_shape: Sequence[int], num_classes: int, width: int = 32) -> nn.Sequential:
    """Flatten → Linear(prod(input_shape), width) → tanh → Linear(width, num_classes)."""
    return nn.Sequential(
        OrderedDict(
            flatten=nn.Flatten(),
            fc1=nn.Linear(math.prod(input_shape), width),
            act=nn.Tanh(),
            fc2=nn.Linear(width, num_classes),
        )
    )
