"""Rules against the dataset: evaluation subsets, batch size, epochs and BatchNorm chunks
checked against the sizes of the splits (known only once the data module is built)."""

import math
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from ridgeline.config.rules.trainer import world_size
from ridgeline.errors import ConfigError

if TYPE_CHECKING:
    from ridgeline.config.settings import Settings


def check_sizes(settings: "Settings", trainer: DictConfig, n_train: int, n_test: int) -> None:
    """Evaluation subsets, batch size and epochs against the sizes of the splits."""
    d, probe, total = settings.data, settings.probe, trainer.max_steps
    for key, size, n, split in (
        ("eval_train_size", d.eval_train_size, n_train, "train"),
        ("eval_test_size", d.eval_test_size, n_test, "test"),
    ):
        if size is not None and size > n:
            raise ConfigError(
                f"data.{key}",
                size,
                f"at most the size of the {d.name} {split} split ({n}), or null for all of it",
            )
    if d.batch_size > n_train:
        raise ConfigError(
            "data.batch_size", d.batch_size, f"at most the {d.name} train split size ({n_train})"
        )
    epochs = trainer.get("max_epochs", -1)
    per_epoch = n_train // d.batch_size
    if epochs not in (None, -1) and epochs * per_epoch < total:
        raise ConfigError(
            "trainer.max_epochs",
            epochs,
            f"-1, or at least {math.ceil(total / per_epoch)} so that "
            f"trainer.max_steps={total} are reached ({per_epoch} steps per epoch)",
        )
    if probe is not None and probe.bn_policy == "batch":
        world = world_size(trainer) or 1
        for split in probe.splits:
            size = d.eval_train_size if split == "train" else d.eval_test_size
            n = size or (n_train if split == "train" else n_test)
            shards = [n * (r + 1) // world - n * r // world for r in range(world)]
            if any(s % probe.chunk_size == 1 or s == 1 for s in shards):
                raise ConfigError(
                    "probe.chunk_size",
                    probe.chunk_size,
                    f"a size that leaves no evaluation chunk of 1 example: bn_policy=batch needs "
                    f"2 or more per chunk ({split}: {n} examples over {world} process(es))",
                )
