"""``optim.clip_norm``: gradient clipping by total norm, per child, and its config rules."""

import functools

import pytest
import torch
from hydra.utils import instantiate

from helpers.compose import compose_train
from helpers.fitting import fit_streams
from ridgeline.config.builds import data_module
from ridgeline.config.parent_key import parent_key, parent_spec
from ridgeline.config.schema import optimizer_node
from ridgeline.data import StreamSeeds
from ridgeline.errors import ConfigError
from ridgeline.job.validate import validate_config
from ridgeline.models import build_model
from ridgeline.training.module import ReplicaClassifier
from ridgeline.training.spawn import replicate_model

STREAMS = [StreamSeeds(1, 1), StreamSeeds(2, 2), StreamSeeds(3, 3)]


def make_model():
    torch.manual_seed(0)
    return build_model("mlp", (1, 1, 16), 4, depth=1, width=16)


def fit(module: ReplicaClassifier, streams, steps: int, tmp_path) -> None:
    dm = data_module(
        "synthetic",
        n_train=256,
        n_test=64,
        dim=16,
        num_classes=4,
        batch_size=32,
        eval_train_size=64,
    )
    fit_streams(module, dm, streams, steps, tmp_path)


def trained(n: int, streams, clip_norm: float | None, tmp_path) -> list[torch.Tensor]:
    model = make_model()
    replicas = replicate_model(model, model.state_dict(), n)
    sgd = functools.partial(torch.optim.SGD, lr=0.5, momentum=0.9)
    module = ReplicaClassifier(replicas, sgd, num_classes=4, clip_norm=clip_norm)
    fit(module, streams, 8, tmp_path)
    return [torch.cat([p.detach().flatten() for p in m.parameters()]) for m in module.replicas]


def test_each_child_is_clipped_as_if_it_trained_alone(tmp_path):
    """Three children in lockstep equal three separate clipped runs, bit for bit (measured: the
    per-replica norm sees exactly the replica's own gradient); one norm over all children's
    parameters would couple them and fail this."""
    together = trained(3, STREAMS, 0.05, tmp_path)
    alone = [trained(1, [s], 0.05, tmp_path)[0] for s in STREAMS]
    for i, (a, b) in enumerate(zip(together, alone, strict=True)):
        assert torch.equal(a, b), f"child {i}: {(a - b).abs().max()}"
    unclipped = trained(1, STREAMS[:1], None, tmp_path)[0]
    assert (unclipped - alone[0]).abs().max() > 1e-3  # the clipping was active
    assert torch.equal(trained(1, STREAMS[:1], 1e6, tmp_path)[0], unclipped)  # and only then


def test_clip_norm_is_accepted_and_never_reaches_the_optimizer():
    overrides = ["~experiment", "optim=adamw", "optim.clip_norm=1.5"]
    cfg = compose_train(*overrides, job=True, as_written=overrides)
    validate_config(cfg)  # the optimiser is built from the other settings
    node = optimizer_node(cfg.optim)
    assert "clip_norm" not in node and node.lr == cfg.optim.lr
    optimizer = instantiate(node)([torch.nn.Parameter(torch.zeros(1))])
    assert isinstance(optimizer, torch.optim.AdamW)
    assert compose_train("~experiment").optim.clip_norm is None  # off by default


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "abc"])
def test_bad_clip_norm_is_one_config_error(value):
    with pytest.raises(ConfigError) as info:
        validate_config(
            compose_train(
                "~experiment",
                f"optim.clip_norm={value}",
                job=True,
                as_written=[f"optim.clip_norm={value}"],
            )
        )
    message = str(info.value)
    assert message.startswith("optim.clip_norm=") and "a positive number" in message, message
    assert "null (no clipping)" in message, message


def test_the_parent_key_changes_only_when_clipping_is_on():
    paths = ["paths.root_dir=/tmp/r", "paths.output_dir=/tmp/r/run"]
    off = compose_train(*paths)
    spec = parent_spec(off, [0])
    assert "clip_norm" not in spec["optim"]  # parents trained before the key keep their key
    on = parent_spec(compose_train(*paths, "optim.clip_norm=1.0"), [0])
    assert on["optim"]["clip_norm"] == 1.0 and parent_key(on) != parent_key(spec)
