"""``ridgeline-train``'s two checks before any step is trained, over the config package.

- :func:`validate_config` needs only the config: the groups typed by the schema
  (:mod:`ridgeline.config.schema`), the rules (:mod:`ridgeline.config.rules`), each component
  built once (:mod:`ridgeline.config.builds`); returns the :class:`RunPlan`.
- :func:`validate_run` needs the data and the run dir: sizes against the splits
  (:func:`~ridgeline.config.rules.check_sizes`), the labels and the model on a real batch
  (:mod:`ridgeline.job.model_check`) and the run dir's policy (:mod:`ridgeline.job.run_dir`).

Each failure raises a ConfigError naming the key, the value and what is allowed (or a
RidgelineError naming the file); ``ridgeline-train`` prints it as one line and exits 2.
"""

from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from ridgeline.config.builds import check_builds
from ridgeline.config.rules import check_config, check_keys, check_lightning_classes, check_sizes
from ridgeline.config.settings import read_settings
from ridgeline.job.model_check import check_model_and_data
from ridgeline.job.plan import RunPlan, make_plan
from ridgeline.job.run_dir import check_run_dir, check_writable_dirs

if TYPE_CHECKING:  # the data modules import Lightning; validate_config needs neither
    from ridgeline.data.base import TensorDataModule


def validate_config(cfg: DictConfig) -> RunPlan:
    """Every check that needs only the config; the plan, or ConfigError on the first problem.

    The trainer's keys and the loggers against Lightning's classes come last: the checks before
    need no Lightning, so a wrong value is one line before Lightning's import (about 3 s of a
    failing run's 6 s).
    """
    check_keys(cfg)
    settings = read_settings(cfg)
    total = check_config(cfg, settings)
    check_builds(cfg, settings, total)
    check_lightning_classes(cfg)
    return make_plan(cfg, settings)


def split_sizes(datamodule: "TensorDataModule") -> tuple[int, int]:
    """Sizes of the train and test splits (the data read once, kept for the module's setup)."""
    train_x, test_x = getattr(datamodule, "train_x", None), getattr(datamodule, "test_x", None)
    if train_x is not None and test_x is not None:  # set up: both kept
        return len(train_x), len(test_x)
    train_x, _, test_x, _ = getattr(datamodule, "loaded", datamodule.load)()
    return len(train_x), len(test_x)


def validate_run(
    cfg: DictConfig, plan: RunPlan, datamodule: "TensorDataModule", run_dir: Path
) -> None:
    """Checks that need the data or the run dir; call after check_available, before training."""
    check_sizes(plan.settings, cfg.trainer, *split_sizes(datamodule))
    check_model_and_data(cfg, plan.settings, datamodule)
    check_writable_dirs(plan, Path(run_dir))
    check_run_dir(cfg, plan, Path(run_dir))
