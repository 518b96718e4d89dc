"""Bent paths between the saved children of a finished run (Garipov et al. 2018).

For each chosen phase and each pair (i, j) of its children at T, a bend θ_bend is trained on
E_{t~U[0,1]} L(φ(t)) over un-augmented training batches (:func:`ridgeline.landscape.connect`:
a quadratic Bezier φ(t) = (1−t)²θ_A + 2t(1−t)θ_bend + t²θ_B or a one-bend polygonal chain,
starting at θ_½), then the loss and error along φ(t) and along the line θ_t = (1−t)θ_A + tθ_B
are measured on the probes' data of one split, through the run's BN policy, in one pass. Every
argument is checked, and every phase's children loaded, before anything is fitted or written.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from ridgeline.connect.bent_path_record import (
    ConnectRecord,
    probe_name,
    write_bend,
    write_curves,
)
from ridgeline.connect.options import DEFAULT_POINTS, SPLITS, ConnectOptions
from ridgeline.connect.preflight import (
    ConnectError,
    check_batches,
    check_cost,
    check_diverged,
    check_finished,
    check_outputs,
    estimate_seconds,
    unique_phases,
)
from ridgeline.job.run import LoadedPhase, LoadedRun, load_run
from ridgeline.landscape import BNPolicy, Evaluator, ParamSet, connect
from ridgeline.landscape.bent_paths import BENT_PATH_KINDS
from ridgeline.landscape.params import has_batchnorm

__all__ = [
    "DEFAULT_POINTS",
    "SPLITS",
    "ConnectError",
    "ConnectOptions",
    "ConnectResult",
    "connect_run",
    "format_table",
    "training_batches",
]

CONNECTED_KINDS = ("spawn", "independent")


@dataclass
class ConnectResult:
    """The records written, where, and the figure."""

    records: list[ConnectRecord]
    path: Path
    figure: Path | None = None
    seconds: list[float] = field(default_factory=list)


def check_options(options: ConnectOptions) -> None:
    """Raise :class:`ConnectError` for an argument that cannot work (before any run is read)."""
    if options.kind not in BENT_PATH_KINDS:
        raise ConnectError("--kind", options.kind, f"use one of {', '.join(BENT_PATH_KINDS)}")
    if options.optimizer not in ("adam", "sgd"):
        raise ConnectError("--optimizer", options.optimizer, "use adam or sgd")
    if options.split not in SPLITS:
        raise ConnectError("--split", options.split, f"use one of {', '.join(SPLITS)}")
    for argument, value in (
        ("--steps", options.steps),
        ("--train-batches", options.train_batches),
        ("--t-per-step", options.t_per_step),
    ):
        if value < 1:
            raise ConnectError(argument, value, "use a positive whole number")
    if options.batch_size is not None and options.batch_size < 1:
        raise ConnectError("--batch-size", options.batch_size, "use a positive whole number")
    if options.points < 3:
        raise ConnectError("--points", options.points, "use at least 3 (t = 0, ½, 1)")
    if not (math.isfinite(options.lr) and options.lr > 0):
        raise ConnectError("--lr", options.lr, "use a positive finite learning rate, e.g. 0.01")
    if options.seed < 0:
        raise ConnectError("--seed", options.seed, "use a seed >= 0")
    if not (math.isfinite(options.max_hours) and options.max_hours > 0):
        raise ConnectError("--max-hours", options.max_hours, "use a positive number of hours")
    policies = [p.value for p in BNPolicy]
    if options.bn_policy is not None and options.bn_policy not in policies:
        raise ConnectError("--bn-policy", options.bn_policy, f"use one of {', '.join(policies)}")


def default_policy(run_policy: str) -> BNPolicy:
    """The measurement's BN policy when ``--bn-policy`` is not given: the run's, except that a
    ``repair`` run is measured uncorrected (``interpolate``). The bend is trained on the plain
    network, and REPAIR's targets (1−t)·stat(θ_A) + t·stat(θ_B) undo the fit: on the tiny test
    run a Bezier curve with chord barrier 0.00 uncorrected had 0.997 nats through REPAIR, its
    line 1.000 (``--bn-policy repair`` measures it so)."""
    policy = BNPolicy(run_policy)
    return BNPolicy.INTERPOLATE if policy is BNPolicy.REPAIR else policy


def choose_phases(run: LoadedRun, names: Sequence[str] | None) -> list[LoadedPhase]:
    """The phases to connect; each must be a spawn or independent phase with a last.ckpt."""
    pairable = [p for p in run.phases.values() if p.kind in CONNECTED_KINDS]
    if names is None:
        if not pairable:
            raise ConnectError(
                "run_dir", run.root, "the run has no spawn or independent phase (set spawn.at)"
            )
        chosen = pairable
    else:
        chosen = []
        for name in unique_phases(names) or []:
            phase = run.phases.get(name)
            if phase is None or phase.kind not in CONNECTED_KINDS:
                what = "has no such phase" if phase is None else f"phase {name} is the parent"
                raise ConnectError(
                    "--phase",
                    name,
                    f"the run {what}; use one of {', '.join(p.name for p in pairable) or '(none)'}",
                )
            chosen.append(phase)
    for phase in chosen:
        if not phase.checkpoint.is_file():
            raise ConnectError(
                "--phase",
                phase.name,
                f"{phase.checkpoint} does not exist (the phase has not trained): finish the run "
                "with ridgeline-train, or choose another phase",
            )
    check_finished(chosen)
    return chosen


def training_batches(
    train_x: Tensor, train_y: Tensor, n_batches: int, batch_size: int, seed: int
) -> list[tuple[Tensor, Tensor]]:
    """``n_batches`` un-augmented (x, y) training batches, drawn without replacement per epoch
    of the training set from a private generator seeded ``seed`` (the global RNG is untouched)."""
    generator = torch.Generator().manual_seed(int(seed))
    needed = n_batches * batch_size
    perms = [torch.randperm(len(train_x), generator=generator)]
    while sum(map(len, perms)) < needed:
        perms.append(torch.randperm(len(train_x), generator=generator))
    idx = torch.cat(perms)[:needed].view(n_batches, batch_size).to(train_x.device)
    return [(train_x[i], train_y[i]) for i in idx]


def connect_run(
    run_dir: str | Path,
    options: ConnectOptions,
    figure: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ConnectResult:
    """Fit and measure a bent path for every pair of every chosen phase; write the records
    (``RunLayout.curves``) and the figure (``figures/bent_paths.png``) of the run dir.

    Raises :class:`ConnectError` (or another :class:`~ridgeline.errors.RidgelineError` from
    reading the run, its curves file or the checks of :mod:`ridgeline.connect.preflight`)
    before anything is fitted or written; a diverged fit raises
    :class:`~ridgeline.errors.TrainingDiverged` with nothing written.
    """
    check_options(options)
    run = load_run(run_dir)
    phases = choose_phases(run, options.phases)
    children: dict[str, list[ParamSet]] = {}
    for phase in phases:
        children[phase.name] = phase.children()
        if len(children[phase.name]) < 2:
            raise ConnectError(
                "--phase",
                phase.name,
                f"the phase has {len(children[phase.name])} child; a path needs two "
                "(train with spawn.children >= 2), or choose another phase",
            )
    model = run.model()
    probe = run.config.probe
    policy = BNPolicy(options.bn_policy) if options.bn_policy else default_policy(probe.bn_policy)
    bn = has_batchnorm(model)
    if policy is BNPolicy.REPAIR and bn:
        raise ConnectError(
            "--bn-policy", policy.value, "REPAIR is for BN-free models; use reset with BatchNorm"
        )
    if policy is BNPolicy.BATCH and not bn:
        raise ConnectError(
            "--bn-policy", policy.value, "the model has no BatchNorm; use reset or interpolate"
        )
    check_outputs(run.root, figure)
    dm = run.datamodule()
    batch_size = options.batch_size or int(run.config.data.batch_size)
    x, y = dm.eval_tensors(options.split)
    assert dm.train_x is not None and dm.train_y is not None  # set up by eval_tensors
    check_batches(batch_size, len(dm.train_x), given=options.batch_size is not None)
    bn_batches = (
        dm.bn_batches(int(probe.bn_batches), dm.batch_size, seed=0)
        if policy in (BNPolicy.RESET, BNPolicy.REPAIR)
        else None
    )
    evaluator = Evaluator(
        model,
        x,
        y,
        chunk_size=int(probe.chunk_size),
        bn_policy=policy,
        bn_batches=bn_batches,
    )
    batches = training_batches(
        dm.train_x, dm.train_y, options.train_batches, batch_size, options.seed
    )
    ts = [i / (options.points - 1) for i in range(options.points)]
    n_fits = sum(len(c) * (len(c) - 1) // 2 for c in children.values())
    seconds, per_example = estimate_seconds(
        model,
        next(iter(children.values()))[0],
        (dm.train_x, dm.train_y),
        fit_examples=n_fits * options.steps * options.t_per_step * batch_size,
        eval_examples=n_fits * 2 * options.points * len(x),
    )
    work = (
        f"{n_fits} fit(s) of {options.steps} steps x {options.t_per_step} t x {batch_size} "
        f"examples and {options.points} points x {len(x)} {options.split} examples each"
    )
    check_cost(seconds, options.max_hours, work)
    if progress is not None:
        progress(f"{work}: estimated {seconds:.0f} s ({1e3 * per_example:.3f} ms per example)")
    records: list[ConnectRecord] = []
    bends: list[ParamSet] = []
    for phase in phases:
        states = children[phase.name]
        step = phase.step()
        for i in range(len(states)):
            for j in range(i + 1, len(states)):
                fit, curve = connect(
                    model,
                    states[i],
                    states[j],
                    batches,
                    evaluator,
                    kind=options.kind,
                    ts=ts,
                    steps=options.steps,
                    lr=options.lr,
                    optimizer=options.optimizer,
                    t_per_step=options.t_per_step,
                    seed=options.seed,
                )
                check_diverged(phase.name, (i, j), fit.record, curve)
                bends.append(fit.bend)
                records.append(
                    ConnectRecord(
                        phase=phase.name,
                        phase_kind=phase.kind,
                        spawn_step=phase.spawn_step,
                        step=step,
                        pair=[i, j],
                        split=options.split,
                        probe=probe_name(options.kind, options.split),
                        train_batches=options.train_batches,
                        batch_size=batch_size,
                        data_seed=options.seed,
                        curve=curve,
                    )
                )
                if progress is not None:
                    progress(
                        f"{phase.name} pair {i}-{j}: fitted in {fit.record.seconds:.1f} s, "
                        f"objective {fit.record.initial_objective:.4f} -> "
                        f"{fit.record.final_objective:.4f}"
                    )
    for record, bend in zip(records, bends, strict=True):  # the files before the lines
        write_bend(run.root, record, bend)
    path = write_curves(run.root, records)
    result = ConnectResult(records, path)
    if figure:
        from ridgeline.connect.bent_path_record import read_curves
        from ridgeline.connect.figures import curve_figure
        from ridgeline.store.layout import RunLayout

        result.figure = curve_figure(read_curves(run.root), RunLayout(run.root).figures)
    return result


def _pp(v: float | None) -> str:
    return "–" if v is None or math.isnan(v) else f"{100 * v:.2f}"


def _nats(v: float | None) -> str:
    return "–" if v is None or math.isnan(v) else f"{v:.4f}"


def format_table(records: Sequence[ConnectRecord]) -> str:
    """Markdown table: per phase and pair the line's and the curve's chord barriers
    max_t [f(t) − ((1−t)f_A + t f_B)] (docs/design.md §2; 0 for a path never above the chord
    between its endpoints, which the endpoint-mean variant is not when f_A ≠ f_B), loss in nats
    and error in percentage points, and the endpoints' mean loss and error."""
    head = [
        "phase",
        "pair",
        "kind",
        "line loss barrier",
        "curve loss barrier",
        "line error barrier (pp)",
        "curve error barrier (pp)",
        "endpoint loss",
        "endpoint error (%)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in records:
        c = r.curve
        end_loss = 0.5 * (c.loss[0] + c.loss[-1])
        end_err = None if c.error is None else 0.5 * (c.error[0] + c.error[-1])
        cells = [
            r.phase,
            f"{r.pair[0]}-{r.pair[1]}",
            c.kind,
            _nats(c.line_loss_barrier.chord),
            _nats(c.loss_barrier.chord),
            _pp(c.line_error_barrier.chord if c.line_error_barrier else None),
            _pp(c.error_barrier.chord if c.error_barrier else None),
            _nats(end_loss),
            _pp(end_err),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
