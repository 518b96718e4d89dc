"""What ``ridgeline-connect`` checks before its first fit, and the check after each fit.

Before: the chosen phases are finished (``done.json``, as ``ridgeline-train`` writes it when a
phase reaches T); the existing ``landscape/curves.jsonl`` reads (a damaged line is named now,
not after every fit); the directories written at the end can be written; the batches fit the
training set; and the estimated cost is bounded. After each fit: a fit whose objective or curve
became non-finite while its endpoints are finite diverged, and nothing is written.

The estimate: one fit step is one forward and backward pass of the model over ``batch_size``
examples per t draw, and a curve point one forward pass over the split's examples (curve and
line: 2 × ``points`` sets). One forward-and-backward pass over a batch of at most
:data:`TIMED_EXAMPLES` examples is timed (the median of :data:`TIMED_REPEATS`), scaled per
example, and a forward pass is counted as a third of it (the backward pass costs about twice
the forward). It is rough (a loaded machine, caches), which is why its bound is in hours.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from ridgeline.connect.options import DEFAULT_MAX_HOURS
from ridgeline.errors import RidgelineError, TrainingDiverged
from ridgeline.job.run import LoadedPhase
from ridgeline.job.run_dir import check_writable
from ridgeline.landscape.bent_paths import network_bent_path_loss
from ridgeline.landscape.params import ParamSet
from ridgeline.landscape.results import BentPathFitRecord, BentPathRecord
from ridgeline.store.layout import RunLayout

__all__ = [
    "DEFAULT_MAX_HOURS",
    "ConnectError",
    "check_batches",
    "check_cost",
    "check_diverged",
    "check_finished",
    "check_outputs",
    "estimate_seconds",
    "unique_phases",
]

TIMED_EXAMPLES = 256
TIMED_REPEATS = 3
FORWARD_SHARE = 1 / 3  # a forward pass, as a share of a forward-and-backward pass


class ConnectError(RidgelineError):
    """An argument of ``ridgeline-connect`` that cannot work: names it, its value and the fix."""

    def __init__(self, argument: str, value: object, fix: str) -> None:
        super().__init__(f"{argument}={value} is not valid: {fix}")


def unique_phases(names: Sequence[str] | None) -> list[str] | None:
    """``--phase`` values in order, each once (``--phase X --phase X`` connects X once)."""
    return None if names is None else list(dict.fromkeys(names))


def check_finished(phases: Sequence[LoadedPhase]) -> None:
    """Refuse a phase without ``done.json``: it stopped before T (killed, preempted), and its
    ``last.ckpt`` holds children from before the end."""
    for phase in phases:
        if not phase.layout.done.exists():
            raise ConnectError(
                "--phase",
                phase.name,
                f"the phase is unfinished (its last.ckpt is at step {phase.step()} and it has "
                f"no {phase.layout.done.name}): finish it with the same ridgeline-train "
                "command and run dir, or choose finished phases with --phase",
            )


def check_outputs(run_root: Path, figure: bool) -> None:
    """The curves file reads and its directory (and ``figures/``) can be written."""
    from ridgeline.connect.bent_path_record import read_curves

    layout = RunLayout(run_root)
    read_curves(run_root)  # a damaged line, or a directory where the file belongs
    check_writable("run_dir", layout.curves.parent)
    check_writable("run_dir", layout.bends)
    if figure:
        check_writable("run_dir", layout.figures)


def check_batches(batch_size: int, n_train: int, given: bool) -> None:
    """A batch is at most the training set (a larger one repeats examples within the batch)."""
    if batch_size > n_train:
        argument = "--batch-size" if given else "data.batch_size (the default --batch-size)"
        raise ConnectError(
            argument,
            batch_size,
            f"the training set has {n_train} examples; use at most {n_train}",
        )


def estimate_seconds(
    model: nn.Module,
    params: ParamSet,
    train: tuple[Tensor, Tensor],
    fit_examples: int,
    eval_examples: int,
) -> tuple[float, float]:
    """(estimated seconds, measured seconds per example of a forward-and-backward pass) for
    ``fit_examples`` example gradients and ``eval_examples`` example forward passes."""
    x, y = train
    n = min(TIMED_EXAMPLES, len(x))
    loss_fn = network_bent_path_loss(model, [(x[:n], y[:n])])
    leaves = {
        k: v.detach().clone().requires_grad_(torch.is_floating_point(v)) for k, v in params.items()
    }
    times = []
    for _ in range(TIMED_REPEATS):
        start = time.perf_counter()
        loss_fn(leaves, 0).backward()
        times.append(time.perf_counter() - start)
    per_example = statistics.median(times) / n
    return per_example * (fit_examples + FORWARD_SHARE * eval_examples), per_example


def check_cost(seconds: float, max_hours: float, work: str) -> None:
    """Refuse an estimate above ``max_hours`` (``work``: what was estimated, for the message)."""
    if seconds > 3600 * max_hours:
        raise ConnectError(
            "--max-hours",
            max_hours,
            f"{work} is estimated at {seconds / 3600:.1f} h; use fewer --steps, --train-batches, "
            "--points or a smaller --batch-size, or raise --max-hours",
        )


def check_diverged(
    phase: str, pair: tuple[int, int], fit: BentPathFitRecord, curve: BentPathRecord
) -> None:
    """Raise :class:`~ridgeline.errors.TrainingDiverged` when the fit's objective or its curve
    became non-finite while the curve's endpoints (the children) are finite."""
    ends = (curve.loss[0], curve.loss[-1])
    if not all(map(math.isfinite, ends)):
        return  # the children themselves: recorded as non-finite, as every probe does
    bad = not math.isfinite(fit.final_objective) or not all(map(math.isfinite, curve.loss))
    if bad:
        raise TrainingDiverged(
            f"the fit of {phase} pair {pair[0]}-{pair[1]} diverged (objective "
            f"{fit.initial_objective:.4f} -> {fit.final_objective:.4f} at --lr={fit.lr:g}); "
            "nothing is written: use a smaller --lr (default 0.01)"
        )
