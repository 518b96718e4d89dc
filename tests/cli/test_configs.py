"""Every option of every config group composes, and its objects instantiate."""

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from helpers.compose import CONF, compose_train, ridgeline_conf
from ridgeline.config.schema import optimizer_node
from ridgeline.job.validate import validate_config

GROUPS = (
    "data",
    "model",
    "optim",
    "schedule",
    "spawn",
    "probe",
    "trainer",
    "logger",
    "experiment",
    "debug",
    "paths",
)


# the model configs sized for 28x28 MNIST digits; the others are CIFAR-sized
MNIST_MODELS = ("mlp", "lenet_300_100", "cnn", "cnn_small", "vit_tiny")


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.fixture(scope="module", autouse=True)
def hydra_conf():
    with ridgeline_conf():
        yield


def compose_with(*overrides: str):
    return compose_train(
        "paths.root_dir=/tmp/ridgeline-cfg", "paths.output_dir=/tmp/ridgeline-cfg/run", *overrides
    )


@pytest.mark.parametrize(
    "group,option", [(g, o) for g in GROUPS for o in options(g)], ids=lambda v: str(v)
)
def test_option_composes_and_validates(group, option):
    # the quickstart CNN needs images; CIFAR-sized models need CIFAR-sized data
    extra = {"synthetic": ["model=mlp"]}.get(option, [])
    if group == "model" and option not in MNIST_MODELS:
        extra = ["data=cifar10"]
    if group == "trainer" and option in ("gpu", "ddp"):
        assert compose_with(f"trainer={option}").trainer.accelerator == "gpu"
        return  # no CUDA device here: validation rightly refuses it
    if group == "experiment" and option != "quickstart":
        extra = ["trainer=cpu"]  # the published set-ups run on GPUs
    cfg = compose_with(f"{group}={option}", *extra)
    if group == "experiment" and option != "quickstart":
        assert cfg.trainer.accelerator == "cpu" and cfg.task_name == option
    if group == "probe" and option == "none":
        assert not [k for k, v in cfg.probe.items() if isinstance(v, dict) and "_target_" in v]
    validate_config(cfg)


@pytest.mark.parametrize("option", options("model"))
def test_every_model_config_builds_for_its_data(option):
    data = "mnist_mini" if option in MNIST_MODELS else "cifar10"
    cfg = compose_with(f"model={option}", f"data={data}")
    model = instantiate(cfg.model)
    x = torch.zeros(2, *cfg.data.input_shape)
    assert model(x).shape == (2, cfg.data.num_classes)


@pytest.mark.parametrize("option", options("schedule"))
def test_every_schedule_starts_at_full_learning_rate_or_warms_up(option):
    cfg = compose_with(f"schedule={option}")
    factor = instantiate(cfg.schedule)
    assert 0 < factor(0) <= 1
    assert factor(int(cfg.trainer.max_steps) // 2) <= 1


@pytest.mark.parametrize("option", options("optim"))
def test_every_optimizer_is_a_partial(option):
    cfg = compose_with(f"optim={option}")
    # ridgeline's own keys (clip_norm) are applied by the training loop, not the optimiser
    optimizer = instantiate(optimizer_node(cfg.optim))([torch.nn.Parameter(torch.zeros(3))])
    assert optimizer.param_groups[0]["lr"] == cfg.optim.lr


@pytest.mark.parametrize("option", ["cpu", "ddp_sim"])
def test_cpu_trainers_instantiate(option):
    cfg = compose_with(f"trainer={option}")
    trainer = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    assert trainer.max_steps == cfg.trainer.max_steps
    assert trainer.num_devices == cfg.trainer.devices


def readme_command(section: str) -> list[str]:
    """The overrides of the first ``ridgeline-train`` command in docs page ``section``
    (continuation lines joined, the trailing comment dropped)."""
    import re
    import shlex

    text = (Path(__file__).parents[2] / "docs" / section).read_text()
    match = re.search(r"^ *ridgeline-train (.*?)(?<!\\)$", text, re.M | re.S)
    assert match, f"no ridgeline-train command under {section!r}"
    line = match.group(1).replace("\\\n", " ").split("#")[0]
    return shlex.split(line)


@pytest.mark.parametrize("method", ["weight", "activation"])
def test_the_readme_lmc_modulo_permutation_command_validates(method):
    """The docs' command, as written (spawn.at=null: independent children only)."""
    overrides = readme_command("guide/alignment.md")
    assert "spawn.at=null" in overrides and "probe.align=weight" in overrides, overrides
    overrides = [o.replace("probe.align=weight", f"probe.align={method}") for o in overrides]
    paths = ["paths.root_dir=/tmp/ridgeline-cfg", "paths.output_dir=/tmp/ridgeline-cfg/run"]
    plan = validate_config(compose_train(*overrides, *paths))
    assert [p.kind for p in plan.phases] == ["independent"]
    assert plan.probe.align == method
