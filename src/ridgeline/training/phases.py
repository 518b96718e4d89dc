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

from ridgeline.config.schema import optimizer_node
from ridgeline.data.base import TensorDataModule
from ridgeline.errors import RidgelineError
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
        optimizer=instantiate(optimizer_node(cfg.optim)),
        num_classes=plan.settings.data.num_classes,
        schedule=instantiate(cfg.schedule),
        step_offset=phase.step_offset,
        clip_norm=cfg.optim.get("clip_norm"),
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
    check_reached_end(trainer, phase, layout)
    if ranks.is_zero:
        done = {"phase": asdict(phase), "global_step": trainer.global_step}
        atomic_write_text(layout.done, json.dumps(done))
    ranks.barrier()
    return module


class StoppedEarly(RidgelineError):
    """``fit`` returned before the phase's last step (a callback such as EarlyStopping, or a
    trainer key the validation does not know): the phase is not marked done."""


def check_reached_end(trainer: pl.Trainer, phase: Phase, layout: PhaseLayout) -> None:
    """Raise :class:`StoppedEarly` when ``fit`` ended before ``trainer.max_steps``, so that a
    phase is marked done only at its total step. Under ``ddp_spawn`` the launching process's
    trainer does not get the workers' step back; the config rules alone guard that case."""
    launcher = getattr(trainer.strategy, "launcher", None)
    if type(launcher).__name__ == "_MultiProcessingLauncher":
        return
    if trainer.global_step < trainer.max_steps:
        reached = phase.step_offset + trainer.global_step
        raise StoppedEarly(
            f"phase {phase.name} stopped at step {reached} of {phase.total_steps}: something "
            "ended Lightning's fit early (a callback such as EarlyStopping, or a trainer key); "
            f"it is not marked done and its state is in {layout.last_checkpoint}; remove what "
            "stopped it and run the same command to continue"
        )


def _resume_point(layout: PhaseLayout) -> str | None:
    """The phase's ``last.ckpt`` when there is one (checked readable), else None."""
    last = layout.last_checkpoint
    if not last.exists():
        return None
    load_checkpoint(last)  # clear error for a truncated file before Lightning touches it
    return str(last)
