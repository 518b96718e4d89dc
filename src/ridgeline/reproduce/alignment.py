"""Claim 6's measurement: the test loss barrier between a run's two independently initialised
transformers, before and after each alignment of the transformer symmetry group.

After Theus et al. 2025 (*Generalized Linear Mode Connectivity for Transformers*,
arXiv:2506.22712, Table 2: vanilla averaging, activation matching, weight matching, learned
matching). For the children θ_A, θ_B of the run's ``independent`` phase at T, each row of
:data:`ALIGNMENTS` aligns θ_B onto θ_A with
:func:`~ridgeline.landscape.transformer_matching.align_transformer` and evaluates the loss on
θ_α = (1−α)θ_A + αT(θ_B) over the run's ``probe.alphas`` on its test evaluation tensors. The
barrier is the chord barrier max_α L(θ_α) − ((1−α)L(θ_A) + αL(θ_B)) (Entezari et al. 2022,
the paper's definition). ``permutation`` rows measure it in the original weights, ``orthogonal``
rows in the reparameterised ones (LayerNorms folded into gain-free RMSNorms): a different
straight line between the same two functions, so each row names its ``coordinates``.
Activation and learned matching see the train split's evaluation examples, never the test ones.

The table of a run is written once to ``<run dir>/alignment.json`` (atomically; a rerun reuses
it) and read back by the claim.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ridgeline.job.run import LoadedRun
from ridgeline.landscape.barrier import barrier_curve
from ridgeline.landscape.evaluate import Evaluator
from ridgeline.landscape.record_codec import Record
from ridgeline.landscape.transformer_matching import align_transformer
from ridgeline.store.layout import atomic_write_text

FILE = "alignment.json"
SPLIT = "test"  # where the barrier is measured
MATCH_SPLIT = "train"  # the examples activation and learned matching see
LEARNED_STEPS = 100  # learned matching's optimiser steps from weight matching's answer
TINY_LEARNED_STEPS = 5  # ridgeline-reproduce --tiny


@dataclass(frozen=True)
class Alignment:
    """One row of the table: its key, the matching ``method`` (None: vanilla averaging) and the
    symmetry ``group`` it searches."""

    key: str
    label: str
    method: str | None
    group: str | None


ALIGNMENTS: tuple[Alignment, ...] = (
    Alignment("vanilla", "vanilla averaging", None, None),
    Alignment("activation", "activation matching (permutation)", "activation", "permutation"),
    Alignment("weight_permutation", "weight matching (permutation)", "weight", "permutation"),
    Alignment("weight_orthogonal", "weight matching (orthogonal)", "weight", "orthogonal"),
    Alignment("learned_orthogonal", "learned matching (orthogonal)", "learned", "orthogonal"),
)


@dataclass
class AlignedBarrier(Record):
    """One row measured: the test loss curve on the (aligned) pair and its barriers (nats)."""

    key: str
    method: str
    group: str
    coordinates: str  # original | reparameterised
    alphas: list[float]
    loss: list[float]
    loss_barrier: float  # chord barrier
    loss_midpoint: float  # L(θ_½) − ½(L(θ_A) + L(θ_B))
    seconds: float  # alignment and evaluation


@dataclass
class AlignmentTable(Record):
    """Every row of :data:`ALIGNMENTS` for one run's independent children 0 and 1."""

    split: str
    n_examples: int
    match_examples: int
    learned_steps: int
    rows: list[AlignedBarrier] = field(default_factory=list)

    def barrier(self, key: str) -> float:
        """The chord loss barrier (nats) of the row ``key``."""
        (row,) = [r for r in self.rows if r.key == key]
        return row.loss_barrier


def measure_alignment(run: LoadedRun, learned_steps: int = LEARNED_STEPS) -> AlignmentTable:
    """The table of ``run`` (module docstring): its independent children 0 and 1 at T."""
    phase = next(p for p in run.phases.values() if p.kind == "independent")
    theta_a, theta_b = phase.children()[:2]
    data = run.datamodule()
    x, y = data.eval_tensors(SPLIT)
    xm, ym = data.eval_tensors(MATCH_SPLIT)
    alphas = [float(a) for a in run.config.probe.alphas]
    model = run.model()
    table = AlignmentTable(SPLIT, int(x.shape[0]), int(xm.shape[0]), learned_steps)
    for row in ALIGNMENTS:
        start = time.perf_counter()
        if row.method is None:
            used, a, b, coordinates = model, theta_a, theta_b, "original"
        else:
            assert row.group is not None
            used, a, b, how = align_transformer(
                model, theta_a, theta_b, row.method, row.group, x=xm, y=ym,
                learned_steps=learned_steps,
            )  # fmt: skip
            coordinates = how.coordinates
        with torch.no_grad():
            curve = barrier_curve(Evaluator(used, x, y, use_vmap=False), a, b, alphas)
        table.rows.append(
            AlignedBarrier(
                row.key,
                row.method or "none",
                row.group or "none",
                coordinates,
                list(curve.alphas),
                list(curve.loss),
                curve.loss_barrier.chord,
                curve.loss_barrier.midpoint,
                time.perf_counter() - start,
            )
        )
    return table


def ensure_alignment(run: LoadedRun, learned_steps: int = LEARNED_STEPS) -> AlignmentTable:
    """The run's table from ``<run dir>/alignment.json``, measured and written first if absent."""
    path = Path(run.root) / FILE
    if path.is_file():
        return read_alignment(run)
    table = measure_alignment(run, learned_steps)
    atomic_write_text(path, json.dumps(table.to_dict(), indent=1) + "\n")
    return table


def read_alignment(run: LoadedRun) -> AlignmentTable:
    """The run's stored table (``ensure_alignment`` wrote it)."""
    path = Path(run.root) / FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: ridgeline-reproduce measures it after training"
        )
    return AlignmentTable.from_dict(json.loads(path.read_text()))
