"""Issue 31, the last bad-input classes: an empty output dir, the override a group error names,
and trainer keys that end a phase before ``trainer.max_steps`` (which would mark it done)."""

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from torch.utils.data import DataLoader, TensorDataset

from helpers.cli import TRAIN
from helpers.compose import compose_groups
from ridgeline.config.hydra_errors import bad_override, hydra_error_message
from ridgeline.errors import ConfigError
from ridgeline.job.validate import validate_config
from ridgeline.training.phases import StoppedEarly, check_reached_end


def _train(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [TRAIN, "print_config=false", *args],
        cwd=cwd,
        env={**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("ridgeline:")]
    assert len(lines) == 1 and lines[0].startswith("ridgeline: error: "), result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


# --- 1. an empty output dir would put the run in the current directory ------------------------
@pytest.mark.parametrize(
    "arg,key",
    [
        ("hydra.run.dir=", "hydra.run.dir"),
        ("hydra.run.dir=' '", "hydra.run.dir"),
        ("hydra.run.dir=null", "hydra.run.dir"),
        ("hydra.sweep.dir=", "hydra.sweep.dir"),
        ("++hydra.sweep.subdir=", "hydra.sweep.subdir"),
    ],
)
def test_an_empty_output_dir_is_refused(arg, key):
    message = bad_override(["logger=none", arg])
    assert message is not None and message.startswith(f"{key}=")
    assert "is not valid: a directory for the outputs" in message


def test_a_named_output_dir_is_accepted():
    assert bad_override(["hydra.run.dir=outputs/runs/x", "hydra.sweep.dir=/tmp/s"]) is None


@pytest.mark.slow
def test_an_empty_run_dir_exits_2_and_writes_nothing(tmp_path):
    line = _one_error_line(_train(tmp_path, "logger=none", "hydra.run.dir="))
    assert "hydra.run.dir='' is not valid" in line
    assert list(tmp_path.iterdir()) == []


# --- 2. a group error names the override that asked for the missing option ---------------------
@pytest.mark.parametrize(
    "overrides,named",
    [
        (["logger=none", "logger=nosuch"], "logger=nosuch"),
        (["logger=csv", "model=mlp", "logger=nosuch"], "logger=nosuch"),
        (["model=mlp", "logger=csv", "model=nosuc"], "model=nosuc"),
        (["logger=none", "logger=csv,nosuch"], "logger=csv,nosuch"),
    ],
)
def test_a_missing_group_option_names_its_own_override(overrides, named):
    GlobalHydra.instance().clear()
    try:
        with (
            initialize_config_module("ridgeline.conf", version_base="1.3"),
            pytest.raises(Exception) as info,
        ):
            compose("train", overrides=[o.replace("csv,", "") for o in overrides])
    finally:
        GlobalHydra.instance().clear()
    message = hydra_error_message(info.value, overrides)
    assert message.startswith(f"{named} is not valid: no option "), message


@pytest.mark.slow
def test_a_missing_logger_after_a_valid_one_is_named_by_the_cli(tmp_path):
    line = _one_error_line(_train(tmp_path, "logger=none", "logger=nosuch"))
    assert line.startswith("ridgeline: error: logger=nosuch is not valid: no option nosuch")
    assert list(tmp_path.iterdir()) == []


# --- 4. trainer keys that end fit before trainer.max_steps ----------------------------------
@pytest.mark.parametrize(
    "override,key",
    [
        ("+trainer.limit_train_batches=0", "trainer.limit_train_batches"),
        ("+trainer.limit_train_batches=0.5", "trainer.limit_train_batches"),
        ("+trainer.limit_train_batches=1", "trainer.limit_train_batches"),  # one batch, not all
        ("+trainer.limit_train_batches=3", "trainer.limit_train_batches"),
        ("+trainer.max_time=00:00:00:30", "trainer.max_time"),
        ("+trainer.max_time={minutes:1}", "trainer.max_time"),
    ],
)
def test_trainer_keys_that_stop_training_early_are_refused(override, key):
    with pytest.raises(ConfigError) as info:
        validate_config(compose_groups(override))
    assert info.value.key == key
    assert info.value.allowed.startswith("null")


@pytest.mark.parametrize("override", ["+trainer.limit_train_batches=1.0", "+trainer.max_time=null"])
def test_their_neutral_values_pass(override):
    validate_config(compose_groups(override))


class _Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).square().mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class _StopAt(pl.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, *_):
        if trainer.global_step >= self.step:
            trainer.should_stop = True


def _fit(tmp_path: Path, max_steps: int, callbacks: list[pl.Callback]) -> pl.Trainer:
    trainer = pl.Trainer(
        max_steps=max_steps,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
    )
    data = DataLoader(TensorDataset(torch.randn(16, 2)), batch_size=4)
    trainer.fit(_Tiny(), train_dataloaders=data)
    return trainer


def test_a_phase_stopped_before_its_last_step_is_not_marked_done(tmp_path):
    """The net behind the rules: fit ended at step 3 of a 10-step phase that starts at 20."""
    phase = SimpleNamespace(name="spawn_k=0000020", step_offset=20, total_steps=30)
    layout = SimpleNamespace(last_checkpoint=tmp_path / "last.ckpt")
    trainer = _fit(tmp_path, 10, [_StopAt(3)])
    assert trainer.global_step == 3
    with pytest.raises(StoppedEarly) as info:
        check_reached_end(trainer, phase, layout)  # type: ignore[arg-type]
    assert "phase spawn_k=0000020 stopped at step 23 of 30" in str(info.value)
    assert "not marked done" in str(info.value)
    finished = _fit(tmp_path, 10, [])
    check_reached_end(finished, phase, layout)  # type: ignore[arg-type]
