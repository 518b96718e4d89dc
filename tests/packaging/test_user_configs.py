"""Users' own configs and models beside the shipped ones, and the three ways to start a run."""

import os
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from helpers.compose import compose_train, ridgeline_conf
from ridgeline.config.builds import check_model
from ridgeline.config.resolvers import register_resolvers
from ridgeline.config.settings import read_settings
from ridgeline.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SHIPPED = Path(str(files("ridgeline.conf")))
MY_EXPERIMENT = """\
# @package _global_
defaults:
  - override /model: mlp
task_name: my_experiment
trainer:
  max_steps: 12
"""
MY_MODEL = """\
_target_: {module}.small_mlp
input_shape: ${{data.input_shape}}
num_classes: ${{data.num_classes}}
hidden: 5
"""
MY_BUILDERS = """\
import math
from torch import nn

def small_mlp(input_shape, num_classes, hidden):
    return nn.Sequential(
        nn.Flatten(), nn.Linear(math.prod(input_shape), hidden), nn.Tanh(),
        nn.Linear(hidden, num_classes),
    )

def not_a_model(input_shape, num_classes, hidden):
    return "a string"
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RIDGELINE_CONFIG_DIR", raising=False)
    register_resolvers()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def sources() -> list[tuple[str, str]]:
    loader = GlobalHydra.instance().config_loader()
    return [(s.provider, s.path) for s in loader.get_sources()]


def shipped_sources() -> list[tuple[str, str]]:
    with ridgeline_conf():
        return sources()


def test_user_dir_goes_just_before_the_shipped_configs_only_when_it_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert shipped_sources() == [
        ("hydra", "hydra.conf"),
        ("main", "ridgeline.conf"),
        ("schema", ""),
    ]
    (tmp_path / "ridgeline_conf").mkdir()
    assert shipped_sources() == [
        ("hydra", "hydra.conf"),
        ("ridgeline-user", str(tmp_path / "ridgeline_conf")),
        ("main", "ridgeline.conf"),
        ("schema", ""),
    ]


def test_repo_root_conf_link_adds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checkout's ``conf`` links to the shipped configs; it must not join the search path."""
    monkeypatch.chdir(REPO)
    assert (REPO / "conf").resolve() == (REPO / "src" / "ridgeline" / "conf").resolve()
    assert [p for p, _ in shipped_sources()] == ["hydra", "main", "schema"]


def test_environment_variable_names_the_user_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "group_configs"
    write(elsewhere / "experiment" / "mine.yaml", MY_EXPERIMENT)
    (tmp_path / "ridgeline_conf").mkdir()  # ignored: the variable wins
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RIDGELINE_CONFIG_DIR", str(elsewhere))
    assert ("ridgeline-user", str(elsewhere)) in shipped_sources()
    assert ("ridgeline-user", str(tmp_path / "ridgeline_conf")) not in shipped_sources()


def test_other_hydra_apps_are_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "other_app" / "config.yaml", "x: 1\n")
    (tmp_path / "ridgeline_conf").mkdir()
    monkeypatch.chdir(tmp_path)
    with initialize_config_dir(str(tmp_path / "other_app"), version_base="1.3"):
        assert [p for p, _ in sources()] == ["hydra", "main", "schema"]


def test_user_files_add_options_and_replace_shipped_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = tmp_path / "ridgeline_conf"
    write(user / "experiment" / "mine.yaml", MY_EXPERIMENT)
    write(user / "model" / "mlp.yaml", "_target_: ridgeline.models.build_model\nname: mlp\n")
    monkeypatch.chdir(tmp_path)
    with ridgeline_conf():
        mine = compose_train("experiment=mine")
        cnn = compose_train("experiment=mine", "model=cnn")
        default = compose_train()
    assert mine.task_name == "my_experiment" and mine.trainer.max_steps == 12
    # The user's model/mlp.yaml replaced the shipped one (which sets depth, width, activation).
    assert OmegaConf.to_container(mine.model) == {
        "_target_": "ridgeline.models.build_model",
        "name": "mlp",
    }
    # Shipped options the user did not shadow are still there, and the default is unchanged.
    assert cnn.model == OmegaConf.load(SHIPPED / "model" / "cnn.yaml")
    assert default.task_name == "quickstart"


@pytest.fixture
def my_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A user's module of model builders, importable (as from PYTHONPATH); its module name."""
    module = f"my_models_{os.getpid()}"
    write(tmp_path / "code" / f"{module}.py", MY_BUILDERS)
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    monkeypatch.delitem(sys.modules, module, raising=False)
    write(tmp_path / "ridgeline_conf" / "model" / "mine.yaml", MY_MODEL.format(module=module))
    monkeypatch.chdir(tmp_path)
    return module


def validate_model(cfg) -> None:
    check_model(cfg, read_settings(cfg))


def compose_job(*overrides: str):
    """The composed config as a job sees it: Hydra's own config set, so ${hydra:...} resolves
    whichever tests ran before in this process."""
    return compose_train(*overrides, job=True)


def compose_model(*overrides: str):
    return compose_job("model=mine", *overrides)


def test_user_model_builder_is_validated_and_built(my_models: str) -> None:
    cfg = compose_model()
    validate_model(cfg)
    from hydra.utils import instantiate

    model = instantiate(cfg.model)
    hidden = model[1]
    assert (hidden.in_features, hidden.out_features) == (28 * 28, 5)
    assert model[3].out_features == cfg.data.num_classes == 10
    assert sys.modules[my_models].small_mlp.__module__ == my_models


@pytest.mark.parametrize(
    ("override", "key", "allowed"),
    [
        ("model._target_=no_such_module.small_mlp", "model._target_", "PYTHONPATH"),
        ("model.hidden=-1", "model._target_", "buildable"),
        ("model._target_={module}.not_a_model", "model._target_", "torch.nn.Module"),
        ("model._target_={module}.missing", "model._target_", "importable model builder"),
    ],
)
def test_user_model_errors_name_the_target(
    my_models: str, override: str, key: str, allowed: str
) -> None:
    cfg = compose_model(override.format(module=my_models))
    with pytest.raises(ConfigError) as err:
        validate_model(cfg)
    assert err.value.key == key and allowed in err.value.allowed


def test_registered_models_still_checked_by_name(my_models: str) -> None:
    cfg = compose_job("model=mlp", "model.name=no_such_model")
    with pytest.raises(ConfigError) as err:
        validate_model(cfg)
    assert err.value.key == "model.name" and "resnet20" in err.value.allowed


ENTRY_POINTS = {
    "console script": [str(BIN / "ridgeline-train")],
    "python -m ridgeline": [sys.executable, "-m", "ridgeline"],
    "python -m ridgeline.cli.train": [sys.executable, "-m", "ridgeline.cli.train"],
}


def run(cmd: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RIDGELINE_")}
    return subprocess.run(
        cmd, cwd=cwd, env={**full_env, **env}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow  # starts the three entry points
def test_entry_points_compose_and_fail_alike(tmp_path: Path) -> None:
    write(tmp_path / "ridgeline_conf" / "experiment" / "mine.yaml", MY_EXPERIMENT)
    shown = {
        k: run([*cmd, "--cfg", "job", "experiment=mine"], tmp_path)
        for k, cmd in ENTRY_POINTS.items()
    }
    for name, proc in shown.items():
        assert proc.returncode == 0, (name, proc.stderr)
        assert OmegaConf.create(proc.stdout).task_name == "my_experiment", name
    assert len({p.stdout for p in shown.values()}) == 1

    missing = tmp_path / "no_such_dir"
    expected = (
        f"ridgeline: error: RIDGELINE_CONFIG_DIR={str(missing)!r} is not valid: "
        "a directory of your own configs (this one does not exist)\n"
    )
    for name, cmd in ENTRY_POINTS.items():
        proc = run(cmd, tmp_path, RIDGELINE_CONFIG_DIR=str(missing))
        assert (proc.returncode, proc.stderr) == (2, expected), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ridgeline_conf"]
