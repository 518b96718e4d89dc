"""Probe callbacks: the landscape core at the spawn point, every n steps/epochs and at the end.

``LandscapeProbe`` decides *when* to probe and where the numbers go (records.jsonl first, then
the loggers); its components decide *what* to compute for each pair of children. Evaluation is
sharded across DDP ranks and summed with an all-reduce, so every rank gets the numbers a single
process would. Probing reads copies of the children's weights, never the global RNG.
"""

import copy
import dataclasses
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from torch import Tensor, nn

from ridgeline.config.plan import Phase, RunPlan
from ridgeline.config.schema import ProbeConfig
from ridgeline.environment import run_environment
from ridgeline.landscape import (
    BNPolicy,
    Evaluator,
    LayerGroup,
    ParamSet,
    PermutationSpec,
    align,
    barrier_curve,
    distance,
    layer_groups,
    layerwise_barriers,
    model_top_eigenvalue,
    permutation_spec,
    plane_slice,
    segment_profile,
    spawn_geometry,
    state_of,
    taylor_prediction,
)
from ridgeline.landscape.evaluate import Reduce, use_vmap_of
from ridgeline.record_store import RecordStore
from ridgeline.run_layout import PhaseLayout, RunLayout, atomic_path
from ridgeline.training.checkpoints import load_checkpoint
from ridgeline.training.probe_logging import log_phase_end, log_record
from ridgeline.training.spawn import parent_model_state

log = logging.getLogger(__name__)

BARRIER_DEFINITIONS = {
    "midpoint": "L(θ_½) − ½(L(θ_A) + L(θ_B))",
    "chord": "max_α L(θ_α) − ((1−α)L(θ_A) + αL(θ_B))",
    "endpoint_mean": "max_α L(θ_α) − ½(L(θ_A) + L(θ_B))",
    "predicted": "−⅛ ΔᵀH(θ_½)Δ",
}


@dataclass
class ProbeContext:
    """Everything a component needs at one probe point."""

    template: nn.Module
    states: list[ParamSet]
    spawn_state: ParamSet | None
    evaluators: dict[str, Evaluator]
    groups: list[LayerGroup]
    alphas: list[float]
    profile_alphas: list[float]
    reduce: Reduce | None
    extra: dict[str, Any] = field(default_factory=dict)

    def splits(self, only: list[str] | None) -> dict[str, Evaluator]:
        """The evaluators of the probe's splits, restricted to ``only`` when given."""
        if only is None:
            return self.evaluators
        return {k: v for k, v in self.evaluators.items() if k in only}


class PairComponent:
    """Computes part of the record of one pair (i, j) of children, under its ``key``.

    ``splits`` restricts a component to some of the probe's splits (None: all of them);
    ``aligned`` components are computed again on (θ_A, P(θ_B)) when ``probe.align`` is set.
    """

    key: str = ""
    splits: list[str] | None = None
    aligned: bool = False

    def compute(self, ctx: ProbeContext, i: int, j: int) -> dict[str, Any]:
        raise NotImplementedError


class BarrierProbe(PairComponent):
    """Loss/error curves over the α-grid and the midpoint, chord and endpoint-mean barriers."""

    key = "barrier"
    aligned = True

    def __init__(self, splits: list[str] | None = None) -> None:
        self.splits = splits

    def compute(self, ctx: ProbeContext, i: int, j: int) -> dict[str, Any]:
        a, b = ctx.states[i], ctx.states[j]
        return {
            split: barrier_curve(ev, a, b, ctx.alphas, reduce=ctx.reduce).to_dict()
            for split, ev in ctx.splits(self.splits).items()
        }


class LayerwiseProbe(PairComponent):
    """Single-layer barriers into A and into B, and cumulative groups (Adilova et al. 2024)."""

    key = "layerwise"
    aligned = True

    def __init__(
        self, curve: bool = False, cumulative: bool = True, splits: list[str] | None = None
    ) -> None:
        self.curve = curve
        self.cumulative = cumulative
        self.splits = splits

    def compute(self, ctx: ProbeContext, i: int, j: int) -> dict[str, Any]:
        alphas = ctx.alphas if self.curve else [0.0, 0.5, 1.0]
        return {
            split: layerwise_barriers(
                ev,
                ctx.states[i],
                ctx.states[j],
                groups=ctx.groups,
                alphas=alphas,
                cumulative=self.cumulative,
                reduce=ctx.reduce,
            ).to_dict()
            for split, ev in ctx.splits(self.splits).items()
        }


class CurvatureProbe(PairComponent):
    """−⅛ΔᵀH(θ_½)Δ, its layer-wise blocks and cross-checks; optionally the top eigenvalue."""

    key = "taylor"
    aligned = True

    def __init__(
        self,
        layerwise: bool = True,
        endpoints: bool = True,
        top_eigenvalue: bool = False,
        splits: list[str] | None = None,
    ) -> None:
        self.layerwise = layerwise
        self.endpoints = endpoints
        self.top_eigenvalue = top_eigenvalue
        self.splits = splits

    def compute(self, ctx: ProbeContext, i: int, j: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        a, b = ctx.states[i], ctx.states[j]
        for split, ev in ctx.splits(self.splits).items():
            rec = taylor_prediction(
                ev,
                a,
                b,
                groups=ctx.groups,
                layerwise=self.layerwise,
                endpoints=self.endpoints,
                reduce=ctx.reduce,
            ).to_dict()
            if self.top_eigenvalue:
                mid = {k: 0.5 * (a[k] + b[k]) if a[k].is_floating_point() else a[k] for k in a}
                rec["top_eigenvalue_mid"] = model_top_eigenvalue(
                    ev, mid, reduce=ctx.reduce
                ).to_dict()
            out[split] = rec
        return out


class GeometryProbe(PairComponent):
    """Angle at the spawn point, distances, loss profiles θ_s → each child; optional 2-D slice."""

    key = "geometry"

    def __init__(
        self, plane: bool = False, plane_resolution: int = 11, splits: list[str] | None = None
    ) -> None:
        self.plane = plane
        self.plane_resolution = plane_resolution
        self.splits = splits

    def compute(self, ctx: ProbeContext, i: int, j: int) -> dict[str, Any]:
        a, b, s = ctx.states[i], ctx.states[j], ctx.spawn_state
        if s is None:  # independent children: no common spawn point
            return {"dist_ab": distance(a, b, _param_keys(ctx.template))}
        names = _param_keys(ctx.template)
        out: dict[str, Any] = spawn_geometry(s, a, b, names=names, groups=ctx.groups).to_dict()
        out["profiles"] = {
            split: {
                "a": segment_profile(ev, s, a, ctx.profile_alphas, reduce=ctx.reduce).to_dict(),
                "b": segment_profile(ev, s, b, ctx.profile_alphas, reduce=ctx.reduce).to_dict(),
            }
            for split, ev in ctx.splits(self.splits).items()
        }
        if self.plane:
            split, ev = next(iter(ctx.splits(self.splits).items()))
            try:
                plane = plane_slice(
                    ev, s, a, b, resolution=self.plane_resolution, reduce=ctx.reduce
                ).to_dict()
                out["plane"] = {"split": split, **plane}
            except ValueError:  # θ_s, θ_A, θ_B collinear (e.g. at the spawn point): no plane
                out["plane"] = None
        return out


class ParentProbe:
    """On the parent: loss profile θ_0 → θ_t and distance from θ_0."""

    key = "parent"

    def __init__(self, splits: list[str] | None = None) -> None:
        self.splits = splits

    def compute(self, ctx: ProbeContext) -> dict[str, Any]:
        theta0, theta = ctx.extra["theta0"], ctx.states[0]
        return {
            "distance_from_init": distance(theta0, theta, _param_keys(ctx.template)),
            "profiles": {
                split: segment_profile(
                    ev, theta0, theta, ctx.profile_alphas, reduce=ctx.reduce
                ).to_dict()
                for split, ev in ctx.splits(self.splits).items()
            },
        }


class AlignedPair:
    """LMC modulo permutation: θ_B's hidden units aligned to θ_A's, then the ``aligned``
    components (barrier, layer-wise, Taylor) again on (θ_A, P(θ_B)), recorded under ``aligned``
    with how it was aligned (``ridgeline.landscape.alignment``). Activation matching uses the
    train split's evaluation examples (sharded under DDP; the correlation sums go through
    ``reduce``).
    """

    key = "aligned"

    def __init__(self, method: str, spawned: bool = False, seed: int = 0) -> None:
        self.method = method
        self.spawned = spawned
        self.seed = seed
        self.spec: PermutationSpec | None = None

    def applies_to(self, kind: str) -> bool:
        """Children of different initialisations always; spawned children when asked."""
        return kind == "independent" or (self.spawned and kind == "spawn")

    def compute(
        self, ctx: ProbeContext, i: int, j: int, components: list[PairComponent]
    ) -> dict[str, Any]:
        if self.spec is None:
            self.spec = permutation_spec(ctx.template)
        data = ctx.evaluators.get("train") or next(iter(ctx.evaluators.values()))
        aligned_b, how = align(
            ctx.template,
            ctx.states[i],
            ctx.states[j],
            self.method,
            x=data.x,
            spec=self.spec,
            seed=self.seed,
            chunk_size=data.chunk_size,
            reduce=ctx.reduce,
        )
        pair = dataclasses.replace(ctx, states=[ctx.states[i], aligned_b])
        out: dict[str, Any] = {"alignment": how.to_dict()}
        for component in components:
            if component.aligned:
                out[component.key] = component.compute(pair, 0, 1)
        return out


def _param_keys(model: nn.Module) -> list[str]:
    return [name for name, _ in model.named_parameters()]


def _shard(x: Tensor, rank: int, world: int) -> Tensor:
    n = x.shape[0]
    return x[rank * n // world : (rank + 1) * n // world]


class LandscapeProbe(pl.Callback):
    """Runs the components at the spawn point, every n steps / epochs and at the end."""

    def __init__(
        self,
        phase: Phase,
        run: RunLayout,
        components: dict[str, Any],
        settings: ProbeConfig,
        layout: PhaseLayout | None = None,
        aligned: AlignedPair | None = None,
    ) -> None:
        self.phase = phase
        self.layout = layout or run.phase(phase.name)
        self.store = RecordStore(run.records)
        self.components = components
        self.every_n_steps = settings.every_n_steps
        self.every_n_epochs = settings.every_n_epochs
        self.alphas = [float(a) for a in settings.alphas]
        self.profile_alphas = [float(a) for a in settings.profile_alphas]
        self.bn_policy = BNPolicy(settings.bn_policy)
        self.bn_batches = settings.bn_batches
        self.splits = tuple(settings.splits)
        self.chunk_size = settings.chunk_size
        self.use_vmap = use_vmap_of(settings.eval_path)
        self.aligned = aligned if aligned and aligned.applies_to(phase.kind) else None
        self.spawn_state: ParamSet | None = None
        self.theta0: ParamSet | None = None
        self.last_probed: int | None = None
        self.seconds = 0.0

    # --- when -------------------------------------------------------------------------------
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._load_reference_points(trainer, pl_module)
        if trainer.global_step == 0:
            self.probe(trainer, pl_module, "start")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = pl_module.absolute_step
        if self.every_n_steps and step % self.every_n_steps == 0:
            self.probe(trainer, pl_module, "every_n_steps")

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.probe(trainer, pl_module, "every_n_epochs")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.last_probed != pl_module.absolute_step:
            self.probe(trainer, pl_module, "end")
        if trainer.is_global_zero:
            log_phase_end(trainer, self.phase, self.store.read())
        log.info("phase %s: probes took %.1f s", self.phase.name, self.seconds)

    # --- what -------------------------------------------------------------------------------
    def _load_reference_points(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        device = pl_module.device
        template = pl_module.replicas[0]
        if self.phase.parent_checkpoint is not None:
            model = _copy_with_state(
                template, parent_model_state(load_checkpoint(self.phase.parent_checkpoint))
            )
            self.spawn_state = {k: v.to(device) for k, v in state_of(model).items()}
        if self.phase.kind == "parent":
            path = self.layout.theta0
            if trainer.global_step == 0 and trainer.is_global_zero and not path.exists():
                with atomic_path(path) as tmp:
                    torch.save(state_of(template), tmp)
            trainer.strategy.barrier("ridgeline_theta0")
            theta0 = torch.load(path, map_location=device, weights_only=True)
            self.theta0 = theta0

    def _context(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> ProbeContext:
        dm = trainer.datamodule
        template = pl_module.replicas[0]
        rank, world = trainer.global_rank, trainer.world_size
        bn = (
            dm.bn_batches(self.bn_batches, dm.batch_size, seed=0)
            if self.bn_policy is BNPolicy.RESET
            else None
        )
        evaluators = {}
        for split in self.splits:
            x, y = dm.eval_tensors(split)
            x, y = (
                _shard(x, rank, world).to(pl_module.device),
                _shard(y, rank, world).to(pl_module.device),
            )
            evaluators[split] = Evaluator(
                template,
                x,
                y,
                chunk_size=self.chunk_size,
                bn_policy=self.bn_policy,
                bn_batches=bn,
                use_vmap=self.use_vmap,
            )
        reduce = None
        if world > 1:

            def reduce(t: Tensor) -> Tensor:
                return trainer.strategy.reduce(t.to(pl_module.device), reduce_op="sum").cpu()

        return ProbeContext(
            template=template,
            states=[state_of(m) for m in pl_module.replicas],
            spawn_state=self.spawn_state,
            evaluators=evaluators,
            groups=[g for g in layer_groups(template) if g.param_names],
            alphas=self.alphas,
            profile_alphas=self.profile_alphas,
            reduce=reduce,
            extra={"theta0": self.theta0},
        )

    def probe(self, trainer: pl.Trainer, pl_module: pl.LightningModule, reason: str) -> None:
        """Compute every component at the current step; write and log the records."""
        start = time.perf_counter()
        was_training = pl_module.training
        pl_module.eval()
        try:
            ctx = self._context(trainer, pl_module)
            records = self._records(trainer, pl_module, ctx, reason)
        finally:
            pl_module.train(was_training)
        self.last_probed = pl_module.absolute_step
        elapsed = time.perf_counter() - start
        self.seconds += elapsed
        for record in records:
            record["probe_seconds"] = elapsed / len(records)
        if trainer.is_global_zero:
            self.store.append(records)
            for record in records:
                log_record(trainer, record)

    def _base(self, trainer: pl.Trainer, pl_module: pl.LightningModule, reason: str) -> dict:
        return {
            "phase": self.phase.name,
            "kind": self.phase.kind,
            "step": pl_module.absolute_step,
            "local_step": trainer.global_step,
            "epoch": trainer.current_epoch,
            "spawn_step": self.phase.spawn_step,
            "reason": reason,
            "bn_policy": self.bn_policy.value,
            "alphas": self.alphas,
            "barrier_definitions": BARRIER_DEFINITIONS,
            "fresh_optimizer": self.phase.fresh_optimizer,
            "world_size": trainer.world_size,
            "environment": run_environment(),
        }

    def _records(self, trainer, pl_module, ctx: ProbeContext, reason: str) -> list[dict]:
        base = self._base(trainer, pl_module, reason)
        if self.phase.kind == "parent":
            parent = self.components.get("parent")
            if parent is None:
                return []
            return [{**base, "probe": "parent", "pair": None, "parent": parent.compute(ctx)}]
        records = []
        pair_components = [c for k, c in self.components.items() if k != "parent"]
        if not pair_components:
            return []
        for i, j in itertools.combinations(range(len(ctx.states)), 2):
            record = {**base, "probe": "pair", "pair": [i, j]}
            for component in pair_components:
                record[component.key] = component.compute(ctx, i, j)
            if self.aligned is not None:
                record[self.aligned.key] = self.aligned.compute(ctx, i, j, pair_components)
            records.append(record)
        return records


def _copy_with_state(template: nn.Module, state: dict[str, Tensor]) -> nn.Module:
    model = copy.deepcopy(template)
    model.load_state_dict(state)
    return model


def build_probe_callbacks(
    plan: RunPlan, run: RunLayout, phase: Phase, layout: PhaseLayout | None = None
) -> list[pl.Callback]:
    """One LandscapeProbe with the plan's probe components for this phase (the parent's on the
    parent, the pair components on children); none when the plan has no probe.

    Records go to ``run.records``; phase state (θ_0) to ``layout`` (default: the run's phase).
    """
    settings = plan.probe
    if settings is None:
        return []
    components = {key: instantiate(node) for key, node in plan.settings.components.items()}
    on_parent = phase.kind == "parent"
    components = {k: c for k, c in components.items() if isinstance(c, ParentProbe) == on_parent}
    if not components:
        return []
    aligned = AlignedPair(settings.align, settings.align_spawned) if settings.align else None
    return [LandscapeProbe(phase, run, components, settings, layout=layout, aligned=aligned)]
