"""ridgeline from a built wheel: installed into a fresh virtual environment, used from an empty
project directory that holds only the user's own configs and model code.

The new environment sees the test interpreter's site-packages through a ``.pth`` file, for the
dependencies only (torch alone would copy gigabytes); the test checks that ridgeline itself, its
configs and its Hydra plugin are imported from the wheel's install, never from the checkout.
"""

import configparser
import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from setuptools.config.pyprojecttoml import read_configuration

from ridgeline.store.record_store import RecordStore

pytestmark = pytest.mark.slow  # builds a wheel and a venv, starts processes

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "src" / "ridgeline" / "conf"
EXPERIMENT = """\
# @package _global_
# A user's experiment: the user's own model, a few steps, one spawn step besides initialisation.
defaults:
  - override /data: mnist_mini
  - override /model: user_mlp
task_name: wheel_smoke
# No end-of-run figures: ridgeline-report draws them.
summary: false
trainer:
  max_steps: 8
spawn:
  at: [0, 4]
  children: 2
  independent: false
probe:
  every_n_steps: 4
data:
  eval_train_size: 100
  eval_test_size: 100
"""
USER_MODEL_CONFIG = """\
_target_: user_models.small_mlp
input_shape: ${data.input_shape}
num_classes: ${data.num_classes}
hidden: 7
"""
USER_MODELS = """\
import math
from torch import nn

def small_mlp(input_shape, num_classes, hidden):
    return nn.Sequential(
        nn.Flatten(), nn.Linear(math.prod(input_shape), hidden), nn.Tanh(),
        nn.Linear(hidden, num_classes),
    )
"""


def run(cmd: list, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """A subprocess with none of the test's own Python or ridgeline settings."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RIDGELINE_", "PYTHON", "VIRTUAL_ENV", "WANDB_SERVICE"))
    }
    base.update(OMP_NUM_THREADS="1", WANDB_MODE="disabled", COLUMNS="200", **env)
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=base, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the working tree (the build writes into its source)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(REPO / "src", source / "src", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    run([*pip_wheel, "--quiet", "--wheel-dir", tmp / "dist", source], tmp)
    (built,) = (tmp / "dist").glob("ridgeline-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed; dependencies seen through a .pth."""
    env_dir = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", env_dir], env_dir)
    python = env_dir / "bin" / "python"
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env_dir)
    deps = sysconfig.get_paths()["purelib"]
    Path(site.stdout.strip(), "dependencies.pth").write_text(deps + "\n")
    pip_install = [sys.executable, "-m", "pip", "--python", python, "install", "--no-index"]
    run([*pip_install, "--no-deps", "--quiet", wheel], env_dir)
    return env_dir


def test_wheel_holds_every_config_the_plugin_and_the_scripts(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = configparser.ConfigParser()
        scripts.read_string(zf.read(entry_points).decode())
    shipped = {f"ridgeline/conf/{p.relative_to(SHIPPED)}" for p in SHIPPED.rglob("*.yaml")}
    assert {n for n in names if n.endswith(".yaml")} == shipped
    assert {"ridgeline/conf/train.yaml", "ridgeline/conf/hydra/launcher/slurm.yaml"} <= shipped
    assert "hydra_plugins/ridgeline_user_configs.py" in names
    declared = read_configuration(REPO / "pyproject.toml", expand=False)["project"]["scripts"]
    assert "ridgeline-train" in declared
    assert dict(scripts["console_scripts"]) == declared


def test_installed_ridgeline_is_imported_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    probe = (
        "import json, sys, ridgeline, ridgeline.conf, hydra_plugins.ridgeline_user_configs as p\n"
        "print(json.dumps({'files': [ridgeline.__file__, ridgeline.conf.__file__, p.__file__],"
        " 'path': sys.path}))"
    )
    found = json.loads(run([venv / "bin" / "python", "-c", probe], tmp_path).stdout)
    site = venv.resolve()
    assert all(Path(f).resolve().is_relative_to(site) for f in found["files"]), found["files"]
    on_path = {(tmp_path / p).resolve() for p in found["path"]}  # "" is the (empty) cwd
    assert REPO not in on_path and not any(p.is_relative_to(REPO / "src") for p in on_path)


def test_tiny_job_with_user_configs_and_report_from_an_empty_directory(
    venv: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    user = project / "ridgeline_conf"
    (user / "experiment").mkdir(parents=True)
    (user / "model").mkdir()
    (user / "experiment" / "wheel_smoke.yaml").write_text(EXPERIMENT)
    (user / "model" / "user_mlp.yaml").write_text(USER_MODEL_CONFIG)
    (project / "user_models.py").write_text(USER_MODELS)
    bin_dir = venv / "bin"

    overrides = ["experiment=wheel_smoke", "logger=none", "print_config=false"]
    run([bin_dir / "ridgeline-train", *overrides, "hydra.run.dir=run"], project, PYTHONPATH=".")

    run_dir = project / "run"
    hydra = OmegaConf.load(run_dir / ".hydra" / "hydra.yaml").hydra
    sources = {s.provider: s for s in hydra.runtime.config_sources}
    assert sources["ridgeline-user"].path == str(user) and sources["main"].schema == "pkg"
    assert hydra.runtime.choices.experiment == "wheel_smoke"
    config = OmegaConf.load(run_dir / "config.yaml")
    assert (config.task_name, config.trainer.max_steps) == ("wheel_smoke", 8)
    assert config.model._target_ == "user_models.small_mlp" and config.model.hidden == 7

    records = RecordStore(run_dir / "landscape" / "records.jsonl").read()
    spawned = {(r["spawn_step"], r["step"]) for r in records if r["kind"] == "spawn"}
    assert spawned == {(k, t) for k in (0, 4) for t in range(k, 9, 4)}
    layers = {
        entry["name"]
        for r in records
        if r.get("layerwise")
        for split in r["layerwise"].values()
        for entry in split["entries"]
        if entry["kind"] == "layer"
    }
    assert layers == {"1", "3"}  # the user's two Linear layers (nn.Sequential indices)

    out = run([bin_dir / "ridgeline-report", run_dir, "--out", "report", "--wandb", "off"], project)
    report = project / "report"
    assert f"report: {Path('report', 'report.md')}" in out.stdout
    figures = sorted((report / "figures").glob("*.png"))
    assert figures and all(f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in figures)
    with open(report / "metrics.csv", newline="") as f:
        rows = [(row["phase"], int(row["step"])) for row in csv.DictReader(f)]
    assert sorted(rows) == sorted((r["phase"], r["step"]) for r in records)
