"""Spawning children from a parent checkpoint (Frankle et al. 2020, instability analysis)."""

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import pytorch_lightning as pl
import torch
from torch import nn

if TYPE_CHECKING:
    from ridgeline.training.module import ReplicaClassifier

REPLICA_PREFIX = "replicas.0."


def parent_model_state(checkpoint: dict) -> dict[str, torch.Tensor]:
    """The parent's model weights and buffers (replica 0) from a Lightning checkpoint."""
    state = checkpoint["state_dict"]
    return {k[len(REPLICA_PREFIX) :]: v for k, v in state.items() if k.startswith(REPLICA_PREFIX)}


def replicate_model(model: nn.Module, state: dict[str, torch.Tensor], n: int) -> list[nn.Module]:
    """n independent copies of ``model`` carrying ``state``."""
    model.load_state_dict(state)
    return [copy.deepcopy(model) for _ in range(n)]


def replicate_optimizer_state(parent_state: dict, n: int, n_params: int) -> dict:
    """Optimiser per-parameter state of 1 replica repeated for n replicas (indices i*P + j)."""
    state = {
        i * n_params + int(j): copy.deepcopy(s)
        for i in range(n)
        for j, s in parent_state["state"].items()
    }
    return {"state": state}


class SpawnOptimizerState(pl.Callback):
    """Copy the parent's optimiser state into every child at the start of a fresh spawn run.

    Skipped when the run resumes from its own checkpoint or when ``fresh_optimizer`` is set.
    """

    def __init__(self, checkpoint: dict, fresh_optimizer: bool) -> None:
        self.optimizer_states: Sequence[dict] = checkpoint.get("optimizer_states", [])
        self.fresh_optimizer = fresh_optimizer

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.fresh_optimizer or trainer.ckpt_path is not None or not self.optimizer_states:
            return
        optimizer = trainer.optimizers[0]
        module = cast("ReplicaClassifier", pl_module)  # the module every phase trains
        n = module.n_replicas
        n_params = sum(1 for _ in module.replicas[0].parameters())
        target = optimizer.state_dict()
        target["state"] = replicate_optimizer_state(self.optimizer_states[0], n, n_params)["state"]
        optimizer.load_state_dict(target)
