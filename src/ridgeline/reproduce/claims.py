"""The claims ridgeline reproduces: each a typed record with its published statement, the
experiment that tests it, how it is measured from the runs' records, and when it holds.

Every quantity is measured per seed from ``ridgeline.load_run`` records (test split, at the
last probe of a phase, mean over its child pairs), then summarised as mean ± s.d. over seeds.
Error barriers are endpoint-mean (Frankle et al. 2020) in percentage points; loss barriers
are midpoint, in nats. The criteria were fixed before the experiments ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ridgeline.job.run import LoadedRun
from ridgeline.landscape.results import Record
from ridgeline.records import statistics
from ridgeline.records.probe_record import ProbeRecord
from ridgeline.records.statistics import mean_sd, pearson, slope
from ridgeline.reproduce.alignment import ALIGNMENTS, read_alignment
from ridgeline.reproduce.experiments import CNN_GELU, CNN_MAXPOOL, CNN_RELU, LENET, VIT_ALIGNMENT
from ridgeline.reproduce.measures import (
    SPLIT,
    angle,
    error_barrier_pp,
    final_pairs,
    largest_layer_barrier,
    loss_barrier,
    monotone_fraction,
    prediction_points,
    spawn_steps,
)

STABLE_PP = 2.0  # Frankle et al. 2020: "stable" below a 2 % error barrier
LAYER_BAND = 0.1  # Adilova et al. 2024: single-layer barriers within about ±0.1 nats
Runs = dict[str, list[LoadedRun]]  # experiment -> its runs, one per seed


@dataclass
class Quantity(Record):
    """One measured quantity: its value per seed and their mean ± s.d."""

    name: str
    unit: str
    values: list[float]
    mean: float
    sd: float


@dataclass
class ClaimResult(Record):
    """One row of the reproduction table."""

    claim: str
    source: str
    statement: str
    experiment: str
    criterion: str
    holds: bool
    seeds: list[int]
    quantities: list[Quantity] = field(default_factory=list)


def quantity(name: str, unit: str, values: list[float]) -> Quantity:
    """A quantity from its per-seed values."""
    m, sd = mean_sd(values)
    return Quantity(name, unit, [float(v) for v in values], m, sd)


@dataclass(frozen=True)
class Measured:
    """A claim's quantities in the table's order, and the names its criterion reads them by."""

    quantities: list[Quantity]
    named: dict[str, Quantity]

    def __getitem__(self, name: str) -> Quantity:
        return self.named[name]


def named(**quantities: Quantity) -> Measured:
    """Quantities in the table in this order, each read by the criterion by its keyword."""
    return Measured(list(quantities.values()), quantities)


# --- the claims -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A published statement, the experiment testing it, its measurement and its criterion.

    ``experiment`` describes the setup from the runs that tested it (their T, spawn steps and
    probe steps as they ran, so ``--tiny`` prints its own setup).
    """

    id: str
    source: str
    statement: str
    experiment: Callable[[Runs], str]
    criterion: str
    measure: Callable[[Runs], Measured]
    holds: Callable[[Measured], bool]

    def evaluate(self, runs: Runs, seeds: list[int]) -> ClaimResult:
        """Measure the claim on ``runs`` and decide it."""
        measured = self.measure(runs)
        return ClaimResult(
            self.id,
            self.source,
            self.statement,
            self.experiment(runs),
            self.criterion,
            bool(self.holds(measured)),
            list(seeds),
            measured.quantities,
        )


def _per_seed(runs: list[LoadedRun], fn: Callable[[LoadedRun], float]) -> list[float]:
    return [fn(run) for run in runs]


def _error_barrier(
    runs: list[LoadedRun], name: str, kind: str, spawn_step: int | None = None
) -> Quantity:
    """Test error barrier (pp) of one phase's final pairs, per seed."""
    return quantity(
        name, "pp", _per_seed(runs, lambda r: error_barrier_pp(final_pairs(r, kind, spawn_step)))
    )


def _independent_barrier(runs: list[LoadedRun]) -> Quantity:
    """Test error barrier (pp) between children of different initialisations, per seed."""
    return _error_barrier(runs, "different inits", "independent")


def _at_spawn(
    runs: list[LoadedRun],
    name: str,
    unit: str,
    of: Callable[[list[ProbeRecord]], float],
    spawn_step: int,
) -> Quantity:
    """``of`` the final pairs of the children spawned at ``spawn_step``, per seed."""
    return quantity(name, unit, _per_seed(runs, lambda r: of(final_pairs(r, "spawn", spawn_step))))


def _lenet(runs: Runs) -> Measured:
    lenet = runs[LENET]
    return named(
        at_init=_error_barrier(lenet, "k = 0", "spawn", 0),
        independent=_independent_barrier(lenet),
    )


def _transition(runs: Runs) -> Measured:
    cnn = runs[CNN_MAXPOOL]
    spawned = [_error_barrier(cnn, f"k = {k}", "spawn", k) for k in spawn_steps(cnn[0])]
    independent = _independent_barrier(cnn)
    return Measured(
        [*spawned, independent],
        {"first": spawned[0], "last": spawned[-1], "independent": independent},
    )


def _layerwise(runs: Runs) -> Measured:
    cnn = runs[CNN_MAXPOOL]
    return named(
        network=_at_spawn(cnn, "whole network", "nats", loss_barrier, 0),
        largest_layer=_at_spawn(cnn, "largest |single layer|", "nats", largest_layer_barrier, 0),
    )


def _xy(points: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """The measured and the predicted values of (measured, predicted) points (none: two [])."""
    return [m for m, _ in points], [p for _, p in points]


def _fit(experiment: str, level: str) -> Callable[[Runs], Measured]:
    def measure(runs: Runs) -> Measured:
        points = [prediction_points(r)[level] for r in runs[experiment]]
        return named(
            r=quantity("Pearson r", "", [pearson(*_xy(p)) for p in points]),
            slope=quantity("slope", "", [slope(*_xy(p)) for p in points]),
            points=quantity("points per seed", "", [float(len(p)) for p in points]),
        )

    return measure


def _fit_experiment(experiment: str, level: str) -> Callable[[Runs], str]:
    """The setup of claim 4's fit of ``level`` on ``experiment``, from the runs."""

    def describe(runs: Runs) -> str:
        every_layer = "" if level == "network" else ", every layer"
        return f"{experiment}, {fit_steps(runs, experiment)}{every_layer}"

    return describe


def _tracks(q: Measured) -> bool:
    r, s = q["r"].mean, q["slope"].mean
    return r >= 0.8 and 0.5 <= s <= 2.0


def _smooth_better(runs: Runs) -> Measured:
    def r_of(run: LoadedRun) -> float:
        return pearson(*_xy(prediction_points(run)["network"]))

    relu, gelu = _per_seed(runs[CNN_RELU], r_of), _per_seed(runs[CNN_GELU], r_of)
    return named(
        relu=quantity("r, ReLU", "", relu),
        gelu=quantity("r, GELU", "", gelu),
        gain=quantity("r GELU − r ReLU", "", [g - r for g, r in zip(gelu, relu, strict=True)]),
    )


def _mountainside(runs: Runs) -> Measured:
    cnn = runs[CNN_MAXPOOL]
    first, last = spawn_steps(cnn[0])[0], spawn_steps(cnn[0])[-1]
    return named(
        angle_first=_at_spawn(cnn, f"angle, k = {first}", "°", angle, first),
        angle_last=_at_spawn(cnn, f"angle, k = {last}", "°", angle, last),
        monotone_first=_at_spawn(
            cnn, f"monotone profiles, k = {first}", "fraction", monotone_fraction, first
        ),
        monotone_last=_at_spawn(
            cnn, f"monotone profiles, k = {last}", "fraction", monotone_fraction, last
        ),
    )


def _aligned(runs: Runs) -> Measured:
    tables = [read_alignment(r) for r in runs[VIT_ALIGNMENT]]
    return named(
        **{a.key: quantity(a.label, "nats", [t.barrier(a.key) for t in tables]) for a in ALIGNMENTS}
    )


def paper_order(q: Measured) -> bool:
    """Claim 6's criterion (fixed before the runs): mean barriers strictly in the paper's order,
    learned (orthogonal) < weight (orthogonal) < weight (permutation) < activation < vanilla."""
    means = [q[a.key].mean for a in reversed(ALIGNMENTS)]
    return all(lo < hi for lo, hi in zip(means[:-1], means[1:], strict=True))


# What the experiments' configs fix (conf/experiment/<name>.yaml); T and k are read from the runs.
MODELS = {
    LENET: "LeNet-300-100, plain SGD lr 0.1, batch 128, mnist_mini",
    CNN_MAXPOOL: "small CNN (16/32 channels), SGD lr 0.1 momentum 0.9, mnist_mini",
}


def _steps(steps: list[int]) -> str:
    """'0, 10 and 40' (the steps as a sentence)."""
    words = [str(s) for s in steps]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def setup(runs: Runs, experiment: str) -> str:
    """'<model>, T = <max_steps>; children at k = <spawn steps>' of the experiment's first run."""
    run = runs[experiment][0]
    ks = ", ".join(str(k) for k in spawn_steps(run))
    return f"{MODELS[experiment]}, T = {run.config.trainer.max_steps}; children at k = {ks}"


def fit_steps(runs: Runs, experiment: str) -> str:
    """'over every probe of spawned children with Δ ≠ 0 (at steps …)': the steps of the points
    :func:`prediction_points` fits, in the experiment's first run."""
    spawned = [r for r in runs[experiment][0].records if r.kind == "spawn"]
    points = statistics.prediction_points(spawned, SPLIT)["network"]
    steps = sorted({p.record.step for p in points})
    where = f" (at steps {_steps(steps)})" if steps else ""
    return f"over every probe of spawned children with Δ ≠ 0{where}"


# The models of claim 4: the quickstart's CNN, and the same CNN with average pooling, with ReLU
# and with GELU (the only non-smooth parts are max-pooling and ReLU).
FIT_MODELS = (
    (CNN_MAXPOOL, "ReLU, max-pool"),
    (CNN_RELU, "ReLU, average pool"),
    (CNN_GELU, "GELU, average pool (smooth)"),
)

CLAIMS: tuple[Claim, ...] = (
    Claim(
        "1",
        "Frankle et al. 2020",
        "LeNet-300-100 trained with SGD on MNIST is stable at initialisation (error barrier "
        "< 2 %); children from different initialisations are not.",
        lambda runs: f"{LENET} ({setup(runs, LENET)}; and two different inits)",
        "mean test error barrier at k = 0 < 2 pp and different inits ≥ 2 pp",
        _lenet,
        lambda q: q["at_init"].mean < STABLE_PP <= q["independent"].mean,
    ),
    Claim(
        "2",
        "Frankle et al. 2020",
        "A conv net is unstable when its children are spawned early and stable (error barrier "
        "< 2 %) when spawned later in training.",
        lambda runs: (
            f"{CNN_MAXPOOL} ({setup(runs, CNN_MAXPOOL)}, ReLU, max-pool; and two different inits)"
        ),
        "mean test error barrier ≥ 2 pp at the first spawn step and < 2 pp at the last",
        _transition,
        lambda q: q["first"].mean >= STABLE_PP > q["last"].mean,
    ),
    Claim(
        "3",
        "Adilova et al. 2024",
        "Single-layer midpoint loss barriers are near zero while the whole network's barrier "
        "is not (children of one init, different data order).",
        lambda _: f"{CNN_MAXPOOL}, children spawned at k = 0, final probe",
        "whole-network midpoint loss barrier > 0.1 nats and every single-layer one within "
        "±min(0.1, half of it) nats",
        _layerwise,
        lambda q: (
            q["network"].mean > LAYER_BAND
            and q["largest_layer"].mean < min(LAYER_BAND, q["network"].mean / 2)
        ),
    ),
    *(
        Claim(
            f"4{letter}",
            "Singh et al. 2024",
            (
                "The second-order prediction −⅛ΔᵀH(θ_½)Δ tracks the measured midpoint loss "
                f"barrier of the whole network; {model}."
                if level == "network"
                else "The layer-wise prediction −⅛Δ_ℓᵀH_ℓℓ(θ^{ℓ,½})Δ_ℓ tracks the single-layer "
                f"midpoint loss barrier; {model}."
            ),
            _fit_experiment(experiment, level),
            "Pearson r ≥ 0.8 and least-squares slope of prediction on measurement in [0.5, 2]",
            _fit(experiment, level),
            _tracks,
        )
        for letter, (level, experiment, model) in zip(
            "abcdef",
            [(lv, e, m) for lv in ("network", "layers") for e, m in FIT_MODELS],
            strict=True,
        )
    ),
    Claim(
        "4g",
        "issue 18 (independent check)",
        "With a smooth activation the quadratic model of the path holds better than with ReLU "
        "(ReLU changes its activation pattern along Δ).",
        lambda _: f"{CNN_RELU} against {CNN_GELU} (both average pooling), whole network",
        "r(GELU) > r(ReLU) in every seed",
        _smooth_better,
        lambda q: all(d > 0 for d in q["gain"].values),
    ),
    Claim(
        "5",
        "Singh et al. 2024",
        "Mountainside: children spawned later walk down one mountainside (monotone loss from "
        "the spawn point, a smaller angle at it) than children spawned at initialisation.",
        lambda _: f"{CNN_MAXPOOL}, final probe, first against last spawn step",
        "angle at the last spawn step < at the first, and monotone profiles at the last spawn "
        "step at least as often as at the first",
        _mountainside,
        lambda q: (
            q["angle_last"].mean < q["angle_first"].mean
            and q["monotone_last"].mean >= q["monotone_first"].mean
        ),
    ),
    Claim(
        "6",
        "Theus et al. 2025",
        "Aligning two independently trained ViTs by the transformer symmetry group lowers their "
        "loss barrier in the order vanilla > activation matching > weight matching "
        "(permutations) > with an orthogonal stream map > learned (Table 2, CIFAR-10).",
        lambda runs: (
            f"{VIT_ALIGNMENT} (ViT, T = "
            f"{runs[VIT_ALIGNMENT][0].config.trainer.max_steps}, mnist_mini; test chord loss "
            "barrier; orthogonal rows in reparameterised weights)"
        ),
        "mean loss barrier: learned (orth.) < weight (orth.) < weight (perm.) < activation "
        "(perm.) < vanilla",
        _aligned,
        paper_order,
    ),
)
