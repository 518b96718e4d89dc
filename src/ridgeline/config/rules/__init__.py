"""What the schema cannot say: ranges, cross-field rules and sizes, each failure one ConfigError.

Ranges come from the schema's :class:`~ridgeline.config.schema.Allowed`; the rules here relate
keys: spawn steps < T and on the parent's checkpoint schedule, α-grids with both endpoints,
pair probes need 2 children, the batch splits evenly over the DDP processes, evaluation subsets
fit the dataset, ``bn_policy=batch`` leaves no 1-example chunk. Lightning's Trainer keys are
checked against Lightning's own signature and registry.

BatchNorm policy rule (needs the model, :mod:`ridgeline.config.builds`): a model without
BatchNorm has no running statistics, so ``reset`` and ``interpolate`` both reduce to plain
weight interpolation and are accepted; ``batch`` is rejected.

One module per concern: :mod:`.groups` (the values of one group), :mod:`.trainer` (Lightning's
keys), :mod:`.across` (rules across groups), :mod:`.dataset` (against the dataset's sizes) and
:mod:`.helpers`. This package exposes the names the rest of ridgeline calls.
"""

from ridgeline.config.rules.across import (
    check_component_splits,
    check_config,
    check_keys,
    check_lightning_classes,
    check_ridge_splits,
    check_switched_off,
    check_values,
    locate,
    spawn_schedule,
)
from ridgeline.config.rules.dataset import check_sizes
from ridgeline.config.rules.helpers import plain
from ridgeline.config.rules.trainer import world_size

__all__ = [
    "check_component_splits",
    "check_config",
    "check_keys",
    "check_lightning_classes",
    "check_ridge_splits",
    "check_switched_off",
    "check_values",
    "check_sizes",
    "locate",
    "plain",
    "spawn_schedule",
    "world_size",
]
