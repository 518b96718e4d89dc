"""A child spawned at k with AdamW continues the parent exactly (issue 32).

The parent (a tiny ViT, AdamW, warm-up + cosine, per-child clipping) trains to k + s and saves its
checkpoint at k. Two children are spawned from that checkpoint the way ``run_phase`` does it
(weights from replica 0, the parent's AdamW moments and step counts via
:class:`SpawnOptimizerState`, the schedule shifted by k) and fed the parent's own data order from
its position at step k. AdamW, the schedule and the clipping act per child, so each child must
reproduce the parent's weights at k + s; on CPU the operations are the same, so bit for bit.
"""

import functools

import pytest
import pytorch_lightning as pl
import torch

from helpers.fitting import fit_streams
from ridgeline.config.builds import data_module
from ridgeline.data import StreamSeeds
from ridgeline.data.streams import StreamLoader
from ridgeline.models import build_model
from ridgeline.store.checkpoints import StepCheckpoint, load_checkpoint
from ridgeline.store.layout import PhaseLayout
from ridgeline.training.module import ReplicaClassifier
from ridgeline.training.schedules import warmup_cosine
from ridgeline.training.spawn import SpawnOptimizerState, parent_model_state, replicate_model

N_TRAIN, BATCH = 256, 32  # 8 batches per epoch
K, S = 11, 9  # spawn mid-epoch 1 (batch 3), continue across the epoch-2 boundary
PARENT_STREAM = StreamSeeds(7, 8)


def make_vit(seed: int):
    torch.manual_seed(seed)
    return build_model(
        "vit", (1, 1, 16), 4, patch_size=1, dim=16, depth=2, heads=2, mlp_dim=32, pool="cls"
    )


def adamw():
    return functools.partial(torch.optim.AdamW, lr=3e-3, weight_decay=1e-2)


def schedule():
    return warmup_cosine(total_steps=K + S, warmup_steps=5)


def make_dm():
    return data_module(
        "synthetic", n_train=N_TRAIN, n_test=64, dim=16, num_classes=4, batch_size=BATCH
    )


class StartAt(pl.Callback):
    """Position the training loader where the parent's was after ``step`` batches."""

    def __init__(self, step: int, per_epoch: int) -> None:
        self.state = {"epoch": step // per_epoch, "batch_idx": step % per_epoch}

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        loader = trainer.train_dataloader
        assert isinstance(loader, StreamLoader)
        loader.load_state_dict(self.state)


def fit(module, streams, steps, root, callbacks=()):
    fit_streams(module, make_dm(), streams, steps, root, callbacks)


def flat(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.slow  # trains 20 + 9 steps
def test_child_spawned_with_adamw_continues_the_parent_bit_for_bit(tmp_path):
    parent = ReplicaClassifier([make_vit(0)], adamw(), 4, schedule=schedule(), clip_norm=0.5)
    layout = PhaseLayout(tmp_path / "parent")
    fit(parent, [PARENT_STREAM], K + S, tmp_path, [StepCheckpoint([K], layout)])
    ckpt = load_checkpoint(layout.spawn_point(K))
    assert ckpt["global_step"] == K
    assert all("exp_avg_sq" in s for s in ckpt["optimizer_states"][0]["state"].values())

    children = replicate_model(make_vit(1), parent_model_state(ckpt), 2)
    module = ReplicaClassifier(
        children, adamw(), 4, schedule=schedule(), step_offset=K, clip_norm=0.5
    )
    fit(
        module,
        [PARENT_STREAM, PARENT_STREAM],
        S,
        tmp_path,
        [SpawnOptimizerState(ckpt, fresh_optimizer=False), StartAt(K, N_TRAIN // BATCH)],
    )
    assert module.absolute_step == K + S
    target = flat(parent.replicas[0])
    spawn = torch.cat([v.flatten() for v in parent_model_state(ckpt).values()])
    assert not torch.equal(flat(module.replicas[0]), spawn)  # the children did train
    for child in module.replicas:
        torch.testing.assert_close(flat(child), target, rtol=0, atol=0)


@pytest.mark.slow  # trains 20 + 9 steps
def test_child_without_the_parent_optimizer_state_does_not_continue_it(tmp_path):
    """The check above can fail: fresh AdamW moments (or no step shift) give other weights."""
    parent = ReplicaClassifier([make_vit(0)], adamw(), 4, schedule=schedule(), clip_norm=0.5)
    layout = PhaseLayout(tmp_path / "parent")
    fit(parent, [PARENT_STREAM], K + S, tmp_path, [StepCheckpoint([K], layout)])
    ckpt = load_checkpoint(layout.spawn_point(K))
    children = replicate_model(make_vit(1), parent_model_state(ckpt), 1)
    module = ReplicaClassifier(
        children, adamw(), 4, schedule=schedule(), step_offset=K, clip_norm=0.5
    )
    fit(
        module,
        [PARENT_STREAM],
        S,
        tmp_path,
        [SpawnOptimizerState(ckpt, fresh_optimizer=True), StartAt(K, N_TRAIN // BATCH)],
    )
    gap = (flat(module.replicas[0]) - flat(parent.replicas[0])).abs().max().item()
    assert gap > 1e-4
