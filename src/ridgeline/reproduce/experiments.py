"""The reproduction's experiments, run as one ``ridgeline-train`` multirun over seeds.

Each experiment is a shipped config ``conf/experiment/<name>.yaml``; every (experiment, seed)
job writes its run dir to ``<out>/runs/<name>/seed_<seed>``, and the parents go to
``<out>/parents`` (a rerun with the same ``--out`` reuses them and resumes unfinished jobs).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ridgeline.errors import RidgelineError

# The experiments, in the order they run (conf/experiment/<name>.yaml).
LENET = "repro_lenet_mnist_mini"
CNN_MAXPOOL = "repro_cnn_maxpool"  # the quickstart's CNN: ReLU and max-pooling
CNN_RELU = "repro_cnn_relu"  # ReLU and average pooling
CNN_GELU = "repro_cnn_gelu"  # GELU and average pooling: smooth
VIT_ALIGNMENT = "repro_vit_alignment"  # two ViTs of different inits, aligned (claim 6)
EXPERIMENTS = (LENET, CNN_RELU, CNN_GELU, CNN_MAXPOOL, VIT_ALIGNMENT)

# Overrides of the tiny setting (--tiny, for tests): a few steps of every experiment.
TINY = (
    "trainer.max_steps=10",
    "spawn.at=[0,5]",
    "probe.every_n_steps=5",
    "probe.alphas=[0,0.5,1]",
    "probe.profile_alphas=[0,0.5,1]",
    "data.eval_train_size=50",
    "data.eval_test_size=50",
)


@dataclass(frozen=True)
class Job:
    """One (experiment, seed) run of ``ridgeline-train``."""

    experiment: str
    seed: int
    run_dir: Path


def run_dir(out: Path, experiment: str, seed: int) -> Path:
    """Where the job (experiment, seed) keeps its run (``hydra.sweep.subdir`` below)."""
    return out / "runs" / experiment / f"seed_{seed}"


def train_command(
    out: Path,
    seeds: list[int],
    tiny: bool,
    threads: int | None,
    experiments: tuple[str, ...] = EXPERIMENTS,
) -> list[str]:
    """The ``ridgeline-train`` multirun over ``experiments`` and seeds (basic launcher)."""
    command = [
        sys.executable,
        "-m",
        "ridgeline",
        "-m",
        f"experiment={','.join(experiments)}",
        f"seed={','.join(str(s) for s in seeds)}",
        "logger=none",
        "print_config=false",
        "summary=false",
        f"hydra.sweep.dir={out / 'runs'}",
        "hydra.sweep.subdir=${task_name}/seed_${seed}",
        f"paths.parent_dir={out / 'parents'}",
    ]
    if threads is not None:
        command.append(f"threads={threads}")
    return command + (list(TINY) if tiny else [])


def run_experiments(
    out: Path,
    seeds: list[int],
    tiny: bool = False,
    threads: int | None = None,
    experiments: tuple[str, ...] = EXPERIMENTS,
) -> list[Job]:
    """Train every experiment (of ``experiments``) for every seed (one subprocess); the jobs
    with their run dirs.

    The multirun's console goes to ``<out>/train.log``; a failure names it.
    """
    out.mkdir(parents=True, exist_ok=True)
    log = out / "train.log"
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}
    with log.open("w") as stream:
        proc = subprocess.run(
            train_command(out, seeds, tiny, threads, experiments),
            stdout=stream,
            stderr=subprocess.STDOUT,
            env=env,
        )
    if proc.returncode != 0:
        tail = log.read_text().strip().splitlines()[-1:] or [""]
        raise RidgelineError(
            f"ridgeline-train exited with {proc.returncode} (see {log}): {tail[0]}"
        )
    return [Job(e, s, run_dir(out, e, s)) for e in experiments for s in seeds]
