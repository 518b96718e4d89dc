"""Probe callbacks: the landscape core at the spawn point, every n steps/epochs and at the end.

``LandscapeProbe`` decides *when* to probe and where the numbers go (records.jsonl first, then
the loggers); its components decide *what* to compute for each pair of children. Evaluation is
sharded across DDP ranks and summed with an all-reduce, so every rank gets the numbers a single
process would. Probing reads copies of the children's weights, never the global RNG.
"""

import copy
import itertools
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from torch import Tensor, nn

from ridgeline.config.schema import ProbeConfig
from ridgeline.job.plan import Phase, RunPlan
from ridgeline.landscape import (
    BNPolicy,
    Evaluator,
    ParamSet,
    state_of,
)
from ridgeline.landscape.eval_path import use_vmap_of
from ridgeline.landscape.grouping import grouped_layers
from ridgeline.probes.aligned import AlignedPair
from ridgeline.probes.component import ProbeContext
from ridgeline.probes.registry import runs_on_parent
from ridgeline.records.probe_record import ProbeRecord, read_records
from ridgeline.store.checkpoints import load_checkpoint
from ridgeline.store.layout import PhaseLayout, RunLayout, atomic_path
from ridgeline.store.record_store import RecordStore
from ridgeline.tracking.environment import run_environment
from ridgeline.tracking.probe_logging import log_phase_end, log_record
from ridgeline.training.spawn import parent_model_state

if TYPE_CHECKING:
    from ridgeline.training.module import ReplicaClassifier

log = logging.getLogger(__name__)

BARRIER_DEFINITIONS = {
    "midpoint": "L(θ_½) − ½(L(θ_A) + L(θ_B))",
    "chord": "max_α L(θ_α) − ((1−α)L(θ_A) + αL(θ_B))",
    "endpoint_mean": "max_α L(θ_α) − ½(L(θ_A) + L(θ_B))",
    "predicted": "−⅛ ΔᵀH(θ_½)Δ",
}


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
        self.layer_grouping = settings.layer_groups
        self.aligned = aligned if aligned and aligned.applies_to(phase.kind) else None
        self.spawn_state: ParamSet | None = None
        self.theta0: ParamSet | None = None
        self.inits: list[ParamSet] | None = None  # independent children's θ_0 (the plane)
        self.last_probed: int | None = None
        self.seconds = 0.0

    # --- when -------------------------------------------------------------------------------
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        module = _replicas(pl_module)
        self._load_reference_points(trainer, module)
        if trainer.global_step == 0:
            self.probe(trainer, module, "start")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = pl_module.absolute_step
        if self.every_n_steps and step % self.every_n_steps == 0:
            self.probe(trainer, pl_module, "every_n_steps")

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.probe(trainer, _replicas(pl_module), "every_n_epochs")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        module = _replicas(pl_module)
        if self.last_probed != module.absolute_step:
            self.probe(trainer, module, "end")
        if trainer.is_global_zero:
            log_phase_end(trainer, self.phase, read_records(self.store.path))
        log.info("phase %s: probes took %.1f s", self.phase.name, self.seconds)

    # --- what -------------------------------------------------------------------------------
    def _load_reference_points(self, trainer: pl.Trainer, pl_module: "ReplicaClassifier") -> None:
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
        if self.phase.kind == "independent":
            # the children's inits, kept in the phase's theta0.pt (a list, one state per child)
            # so that a resumed phase still has them; the loss plane goes through their midpoint
            path = self.layout.theta0
            if trainer.global_step == 0 and trainer.is_global_zero and not path.exists():
                with atomic_path(path) as tmp:
                    torch.save([state_of(m) for m in pl_module.replicas], tmp)
            trainer.strategy.barrier("ridgeline_inits")
            if path.exists():
                self.inits = torch.load(path, map_location=device, weights_only=True)

    def _context(self, trainer: pl.Trainer, pl_module: "ReplicaClassifier") -> ProbeContext:
        dm = trainer.datamodule  # type: ignore[attr-defined]  # set by fit(datamodule=...)
        template = pl_module.replicas[0]
        rank, world = trainer.global_rank, trainer.world_size
        bn = (
            dm.bn_batches(self.bn_batches, dm.batch_size, seed=0)
            if self.bn_policy in (BNPolicy.RESET, BNPolicy.REPAIR)
            else None
        )
        evaluation: dict[str, Any] = {  # the same for every split
            "chunk_size": self.chunk_size,
            "bn_policy": self.bn_policy,
            "bn_batches": bn,
            "use_vmap": self.use_vmap,
        }
        evaluators = {}
        for split in self.splits:
            x, y = dm.eval_tensors(split)
            n_total = len(x)  # records count the whole split; this rank evaluates its shard
            x, y = (
                _shard(x, rank, world).to(pl_module.device),
                _shard(y, rank, world).to(pl_module.device),
            )
            evaluators[split] = Evaluator(template, x, y, n_total=n_total, **evaluation)
        reduce = None
        if world > 1:

            def reduce(t: Tensor) -> Tensor:
                return trainer.strategy.reduce(t.to(pl_module.device), reduce_op="sum").cpu()

        return ProbeContext(
            template=template,
            states=[state_of(m) for m in pl_module.replicas],
            spawn_state=self.spawn_state,
            evaluators=evaluators,
            groups=[g for g in grouped_layers(template, self.layer_grouping) if g.param_names],
            alphas=self.alphas,
            profile_alphas=self.profile_alphas,
            reduce=reduce,
            extra={"theta0": self.theta0},
        )

    def probe(self, trainer: pl.Trainer, pl_module: "ReplicaClassifier", reason: str) -> None:
        """Compute every component at the current step; write and log the records."""
        start = time.perf_counter()
        was_training = pl_module.training
        pl_module.eval()
        try:
            ctx = self._context(trainer, pl_module)
            ctx.extra.update(self._where(pl_module, reason))
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
                log_record(trainer, ProbeRecord.from_dict(record))

    def _where(self, pl_module: "ReplicaClassifier", reason: str) -> dict[str, Any]:
        """What components may read of the probe point: its step, whether it is the phase's
        final probe, the parent's directory (spawned children) and the children's inits."""
        step = pl_module.absolute_step
        parent = self.phase.parent_checkpoint  # <parent phase dir>/spawn_points/step=<k>.ckpt
        return {
            "step": step,
            "final": reason == "end" or step >= self.phase.total_steps,
            "parent_dir": Path(parent).parent.parent if parent is not None else None,
            "inits": self.inits,
        }

    def _base(self, trainer: pl.Trainer, pl_module: "ReplicaClassifier", reason: str) -> dict:
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
        # the registry says which components probe the parent, whatever their config key
        parents = [c for c in self.components.values() if runs_on_parent(c)]
        if self.phase.kind == "parent":
            if not parents:
                return []
            record = {**base, "probe": "parent", "pair": None}
            for component in parents:
                record[component.key] = component.compute(ctx)
            return [record]
        records = []
        pair_components = [c for c in self.components.values() if not runs_on_parent(c)]
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


def _replicas(pl_module: pl.LightningModule) -> "ReplicaClassifier":
    """The module a probe reads: the job's replica classifier (its children, its step)."""
    return cast("ReplicaClassifier", pl_module)


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
    components = {k: c for k, c in components.items() if runs_on_parent(c) == on_parent}
    if not components:
        return []
    aligned = (
        AlignedPair(settings.align, settings.align_spawned, group=settings.align_group)
        if settings.align
        else None
    )
    return [LandscapeProbe(phase, run, components, settings, layout=layout, aligned=aligned)]
