"""The phases of an instability analysis: parent, children spawned at k, independent children.

Each phase is one Lightning ``fit`` of a :class:`ReplicaClassifier` in its own directory under
the run dir, with its own loggers; a phase that finished is skipped when the job runs again,
and one that was killed resumes from its ``last.ckpt``.
"""

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from pytorch_lightning.utilities.exceptions import SIGTERMException
from torch import nn

from ridgeline.data.base import TensorDataModule
from ridgeline.job.plan import Phase, RunPlan
from ridgeline.job.ranks import Ranks, cluster_plugins
from ridgeline.store.checkpoints import (
    AtomicCheckpointIO,
    PhaseCheckpoint,
    StepCheckpoint,
    load_checkpoint,
)
from ridgeline.store.layout import PhaseLayout, RunLayout, atomic_write_text
from ridgeline.tracking.loggers import build_loggers, finish_loggers
from ridgeline.training.module import ReplicaClassifier
from ridgeline.training.preemption import Preempted
from ridgeline.training.progress import progress_callbacks
from ridgeline.training.spawn import SpawnOptimizerState, parent_model_state, replicate_model

log = logging.getLogger(__name__)


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
    plan: RunPlan,
    phase: Phase,
    run: RunLayout,
    datamodule: TensorDataModule,
    extra_callbacks: Sequence[pl.Callback] = (),
    group: str = "ridgeline",
    layout: PhaseLayout | None = None,
    ranks: Ranks | None = None,
) -> ReplicaClassifier | None:
    """Train one phase of ``plan`` to its total step, resuming from its own last checkpoint if
    present. The model, optimiser, schedule and Trainer are built from their nodes in ``cfg``.

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
        num_classes=plan.settings.data.num_classes,
        schedule=instantiate(cfg.schedule),
        step_offset=phase.step_offset,
    )
    datamodule.set_streams(list(phase.streams))
    callbacks: list[pl.Callback] = [
        PhaseCheckpoint(layout, plan.settings.top.checkpoint_every_n_steps),
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
