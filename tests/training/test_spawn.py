"""Replicas in lockstep, spawning from a parent checkpoint, and reproducibility of children."""

import functools

import pytorch_lightning as pl
import torch

from helpers.fitting import fit_streams
from ridgeline.config.builds import data_module
from ridgeline.data import StreamSeeds
from ridgeline.models import build_model
from ridgeline.store.checkpoints import StepCheckpoint, load_checkpoint
from ridgeline.store.layout import PhaseLayout
from ridgeline.training.module import ReplicaClassifier
from ridgeline.training.spawn import SpawnOptimizerState, parent_model_state, replicate_model

SHAPE = (1, 1, 16)


def make_dm(batch_size=32):
    return data_module(
        "synthetic",
        n_train=256,
        n_test=64,
        dim=16,
        num_classes=4,
        batch_size=batch_size,
        eval_train_size=64,
    )


def make_model(seed=0):
    torch.manual_seed(seed)
    return build_model("mlp", SHAPE, 4, depth=1, width=16)


def fit(module, dm, streams, steps, tmp_path, callbacks=(), ckpt_path=None):
    return fit_streams(module, dm, streams, steps, tmp_path, callbacks, ckpt_path)


def sgd():
    return functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9)


def flat(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_equal_seeds_give_identical_children_and_different_seeds_differ(tmp_path):
    base = make_model()
    replicas = replicate_model(make_model(1), base.state_dict(), 3)
    module = ReplicaClassifier(replicas, sgd(), num_classes=4)
    streams = [StreamSeeds(5, 5), StreamSeeds(5, 5), StreamSeeds(6, 5)]
    fit(module, make_dm(), streams, 12, tmp_path)
    a, b, c = (flat(m) for m in module.replicas)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    assert not torch.allclose(a, flat(base))


def test_lockstep_replica_equals_a_model_trained_alone(tmp_path):
    """One optimiser over N replicas is N independent optimisers (per-parameter SGD)."""
    pair = ReplicaClassifier(replicate_model(make_model(), make_model().state_dict(), 2), sgd(), 4)
    fit(pair, make_dm(), [StreamSeeds(1, 1), StreamSeeds(2, 2)], 10, tmp_path)
    alone = ReplicaClassifier([make_model()], sgd(), 4)
    fit(alone, make_dm(), [StreamSeeds(2, 2)], 10, tmp_path)
    torch.testing.assert_close(flat(pair.replicas[1]), flat(alone.replicas[0]))


def test_children_start_from_the_parent_checkpoint_with_its_optimizer_state(tmp_path):
    parent = ReplicaClassifier([make_model()], sgd(), 4)
    fit(
        parent,
        make_dm(),
        [StreamSeeds(0, 0)],
        8,
        tmp_path,
        [StepCheckpoint([5], PhaseLayout(tmp_path))],
    )
    ckpt = load_checkpoint(PhaseLayout(tmp_path).spawn_point(5))
    assert ckpt["global_step"] == 5
    children = replicate_model(make_model(3), parent_model_state(ckpt), 2)
    parent_weights = torch.cat([v.flatten() for v in parent_model_state(ckpt).values()])
    for child in children:
        torch.testing.assert_close(flat(child), parent_weights, rtol=0, atol=0)

    seen = {}

    class Capture(pl.Callback):
        def on_train_start(self, trainer, pl_module):
            opt = trainer.optimizers[0]
            seen["momentum"] = [
                opt.state[p]["momentum_buffer"].clone() for p in opt.param_groups[0]["params"]
            ]

    module = ReplicaClassifier(children, sgd(), 4, step_offset=5)
    fit(
        module,
        make_dm(),
        [StreamSeeds(1, 1), StreamSeeds(2, 2)],
        1,
        tmp_path,
        [SpawnOptimizerState(ckpt, fresh_optimizer=False), Capture()],
    )
    parent_momentum = [s["momentum_buffer"] for s in ckpt["optimizer_states"][0]["state"].values()]
    assert len(seen["momentum"]) == 2 * len(parent_momentum)
    for i, m in enumerate(seen["momentum"]):
        torch.testing.assert_close(m, parent_momentum[i % len(parent_momentum)], rtol=0, atol=0)
    assert module.absolute_step == 6
