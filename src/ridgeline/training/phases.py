"""The phases of an instability analysis: parent, children spawned at k, independent children.

Each phase is one Lightning ``fit`` of a :class:`ReplicaClassifier` in its own directory under
the run dir, with its own loggers; a phase that finished is skipped when the job runs again,
and one that was killed resumes from its ``last.ckpt``.
"""

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.utilities.exceptions import SIGTERMException
from torch import nn

from ridgeline.data import StreamSeeds
from ridgeline.run_layout import PhaseLayout, RunLayout, atomic_write_text
from ridgeline.training.checkpoints import (
    AtomicCheckpointIO,
    PhaseCheckpoint,
    StepCheckpoint,
    load_checkpoint,
)
from ridgeline.training.loggers import build_loggers, finish_loggers
from ridgeline.training.module import ReplicaClassifier
from ridgeline.training.preemption import Preempted
from ridgeline.training.progress import progress_callbacks
from ridgeline.training.ranks import Ranks, cluster_plugins
from ridgeline.training.seeds import derive_seed
from ridgeline.training.spawn import SpawnOptimizerState, parent_model_state, replicate_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Phase:
    """One training run of N replicas: what they start from and which streams they see."""

    name: str
    kind: str  # "parent" | "spawn" | "independent"
    total_steps: int
    spawn_step: int | None = None
    init_seeds: tuple[int, ...] = ()
    streams: tuple[StreamSeeds, ...] = ()
    parent_checkpoint: str | None = None
    fresh_optimizer: bool = False
    checkpoint_steps: tuple[int, ...] = ()

    @property
    def step_offset(self) -> int:
        return self.spawn_step or 0

    @property
    def n_replicas(self) -> int:
        return len(self.streams)


def child_streams(cfg: DictConfig, n: int, tag: str) -> tuple[StreamSeeds, ...]:
    """Child i's data-order and augmentation seeds: independent SGD noise per child."""
    return tuple(
        StreamSeeds(
            data_seed=derive_seed(cfg.seeds.data, tag, "data", i),
            aug_seed=derive_seed(cfg.seeds.aug, tag, "aug", i),
        )
        for i in range(n)
    )


def spawn_steps_of(cfg: DictConfig) -> list[int]:
    """The spawn steps k of this job (``spawn.at`` may be one step or a list)."""
    at = cfg.spawn.at
    if at is None:
        return []
    return sorted({int(k) for k in ([at] if isinstance(at, int) else at)})


def parent_checkpoint_steps(cfg: DictConfig) -> list[int]:
    """Where the parent saves checkpoints: ``spawn.parent_checkpoints``, else the spawn steps."""
    steps = cfg.spawn.get("parent_checkpoints")
    if steps is None:
        return spawn_steps_of(cfg)
    return sorted({int(k) for k in ([steps] if isinstance(steps, int) else steps)})


def plan_phases(cfg: DictConfig, parent: PhaseLayout) -> list[Phase]:
    """Parent (if any spawn step), one spawn phase per k, and the independent baseline.

    ``parent`` is where the parent lives (a shared store entry); children load from it.
    """
    total = int(cfg.trainer.max_steps)
    spawn_steps = spawn_steps_of(cfg)
    n = int(cfg.spawn.children)
    phases: list[Phase] = []
    if spawn_steps:
        phases.append(
            Phase(
                name="parent",
                kind="parent",
                total_steps=total,
                init_seeds=(derive_seed(cfg.seeds.init, "init", 0),),
                streams=(
                    StreamSeeds(
                        derive_seed(cfg.seeds.data, "parent", "data"),
                        derive_seed(cfg.seeds.aug, "parent", "aug"),
                    ),
                ),
                checkpoint_steps=tuple(parent_checkpoint_steps(cfg)),
            )
        )
    for k in spawn_steps:
        phases.append(
            Phase(
                name=f"spawn_k={k:07d}",
                kind="spawn",
                total_steps=total,
                spawn_step=k,
                streams=child_streams(cfg, n, "child"),
                parent_checkpoint=str(parent.spawn_point(k)),
                fresh_optimizer=bool(cfg.spawn.fresh_optimizer),
            )
        )
    if cfg.spawn.independent:
        phases.append(
            Phase(
                name="independent",
                kind="independent",
                total_steps=total,
                init_seeds=tuple(derive_seed(cfg.seeds.init, "init", i) for i in range(n)),
                streams=child_streams(cfg, n, "child"),
            )
        )
    return phases


def build_replicas(
    model_factory: Callable[[], nn.Module], phase: Phase
) -> tuple[list[nn.Module], dict | None]:
    """The phase's N models: copies of the parent at k, or fresh models from their init seeds."""
    if phase.parent_checkpoint is not None:
        checkpoint = load_checkpoint(phase.parent_checkpoint)
        replicas = replicate_model(
            model_factory(), parent_model_state(checkpoint), phase.n_replicas
        )
        return replicas, checkpoint
    replicas = []
    for seed in phase.init_seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            replicas.append(model_factory())
    return replicas, None


def run_phase(
    cfg: DictConfig,
    phase: Phase,
    run: RunLayout,
    datamodule: pl.LightningDataModule,
    extra_callbacks: Sequence[pl.Callback] = (),
    group: str = "ridgeline",
    layout: PhaseLayout | None = None,
    ranks: Ranks | None = None,
) -> ReplicaClassifier | None:
    """Train one phase to its total step, resuming from its own last checkpoint if present.

    The phase lives in ``layout`` (default: ``run.phase(phase.name)``). Whether it is finished
    and where it resumes is decided on global rank 0 and followed by every rank.
    """
    layout = layout or run.phase(phase.name)
    ranks = ranks or Ranks()
    if ranks.decide(layout.done.exists):
        log.info("phase %s already finished; skipping", phase.name)
        return None
    replicas, parent_checkpoint = build_replicas(lambda: instantiate(cfg.model), phase)
    module = ReplicaClassifier(
        replicas=replicas,
        optimizer=instantiate(cfg.optim),
        num_classes=int(cfg.data.num_classes),
        schedule=instantiate(cfg.schedule),
        step_offset=phase.step_offset,
    )
    datamodule.set_streams(list(phase.streams))
    callbacks: list[pl.Callback] = [
        PhaseCheckpoint(layout, int(cfg.get("checkpoint_every_n_steps", 100))),
        *extra_callbacks,
        *progress_callbacks(cfg.trainer, phase),
    ]
    if phase.checkpoint_steps:
        callbacks.append(StepCheckpoint(phase.checkpoint_steps, layout))
    if parent_checkpoint is not None:
        callbacks.append(SpawnOptimizerState(parent_checkpoint, phase.fresh_optimizer))
    loggers = build_loggers(cfg, run.root, phase, group)
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        plugins=[AtomicCheckpointIO(), *cluster_plugins()],
        max_steps=phase.total_steps - phase.step_offset,
        callbacks=callbacks,
        logger=loggers or False,
        default_root_dir=str(layout.root),
    )
    resume = ranks.decide(lambda: _resume_point(layout))
    if resume:
        log.info("phase %s resumes from %s", phase.name, resume)
    log.info(
        "phase %s: %d replica(s), steps %d -> %d",
        phase.name,
        phase.n_replicas,
        phase.step_offset,
        phase.total_steps,
    )
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
    except SIGTERMException:
        raise Preempted(phase.name, module.absolute_step, layout.last_checkpoint) from None
    finally:
        finish_loggers(loggers)
    if ranks.is_zero:
        done = {"phase": asdict(phase), "global_step": trainer.global_step}
        atomic_write_text(layout.done, json.dumps(done))
    ranks.barrier()
    return module


def _resume_point(layout: PhaseLayout) -> str | None:
    """The phase's ``last.ckpt`` when there is one (checked readable), else None."""
    last = layout.last_checkpoint
    if not last.exists():
        return None
    load_checkpoint(last)  # clear error for a truncated file before Lightning touches it
    return str(last)
