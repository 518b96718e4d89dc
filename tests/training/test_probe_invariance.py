"""Turning probes on must not change training: same seeds, bit-identical children on CPU."""

import json

import pytest
import torch

from ridgeline.config.schema import ProbeConfig
from ridgeline.data import StreamSeeds
from ridgeline.job.plan import Phase
from ridgeline.probes import (
    BarrierProbe,
    CurvatureProbe,
    GeometryProbe,
    LandscapeProbe,
    LayerwiseProbe,
)
from ridgeline.store.checkpoints import StepCheckpoint, load_checkpoint
from ridgeline.store.layout import PhaseLayout, RunLayout
from ridgeline.training.module import ReplicaClassifier
from ridgeline.training.spawn import SpawnOptimizerState, parent_model_state, replicate_model
from training.test_spawn import fit, make_dm, make_model, sgd

STREAMS = (StreamSeeds(1, 1), StreamSeeds(2, 2))


def train_children(tmp_path, ckpt_path, probe: bool):
    ckpt = load_checkpoint(ckpt_path)
    replicas = replicate_model(make_model(9), parent_model_state(ckpt), 2)
    module = ReplicaClassifier(replicas, sgd(), 4, step_offset=3)
    callbacks = [SpawnOptimizerState(ckpt, fresh_optimizer=False)]
    if probe:
        phase = Phase(
            name="spawn_k=0000003",
            kind="spawn",
            total_steps=12,
            spawn_step=3,
            streams=STREAMS,
            parent_checkpoint=str(ckpt_path),
        )
        components = {
            "barrier": BarrierProbe(),
            "layerwise": LayerwiseProbe(cumulative=True),
            "curvature": CurvatureProbe(layerwise=True),
            "geometry": GeometryProbe(plane=True, plane_resolution=3),
        }
        callbacks.append(
            LandscapeProbe(
                phase,
                RunLayout(tmp_path / "run"),
                components,
                ProbeConfig(
                    every_n_steps=2,
                    alphas=[0.0, 0.5, 1.0],
                    profile_alphas=[0.0, 0.5, 1.0],
                    bn_policy="reset",
                    bn_batches=2,
                    chunk_size=40,
                ),
            )
        )
    torch.manual_seed(1234)  # the same global RNG state in both runs
    fit(module, make_dm(), list(STREAMS), 9, tmp_path, callbacks)
    return module, torch.get_rng_state()


@pytest.mark.slow  # trains twice (over 3 s)
def test_probe_on_and_off_give_bit_identical_children(tmp_path):
    parent = ReplicaClassifier([make_model()], sgd(), 4)
    fit(
        parent,
        make_dm(),
        [StreamSeeds(0, 0)],
        4,
        tmp_path,
        [StepCheckpoint([3], PhaseLayout(tmp_path))],
    )
    ckpt_path = PhaseLayout(tmp_path).spawn_point(3)

    probed, rng_probed = train_children(tmp_path, ckpt_path, probe=True)
    plain, rng_plain = train_children(tmp_path, ckpt_path, probe=False)

    for (name, a), (_, b) in zip(
        probed.state_dict().items(), plain.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    assert torch.equal(rng_probed, rng_plain)
    records = [json.loads(line) for line in (tmp_path / "run/landscape/records.jsonl").open()]
    assert [r["step"] for r in records] == [3, 4, 6, 8, 10, 12]
    assert records[0]["geometry"]["dist_ab"] == 0.0
    assert records[-1]["geometry"]["dist_ab"] > 0.0
