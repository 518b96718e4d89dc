"""``load_run(run_dir)``: a finished (or interrupted) ``ridgeline-train`` run, back in Python.

The config (``config.yaml``), every probe record of ``landscape/records.jsonl`` as a typed
:class:`~ridgeline.records.ProbeRecord` (read by :func:`~ridgeline.records.read_records`, as
every reader of records does), and per phase the spawn point (the parent at k, from the
parent store) and the children at T (``<phase>/checkpoints/last.ckpt``) as models or as the
parameter sets the landscape core takes. Paths come from :mod:`ridgeline.store.layout`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from ridgeline.config.schema import GROUP_SCHEMAS
from ridgeline.data.base import TensorDataModule
from ridgeline.errors import ConfigError, RidgelineError
from ridgeline.landscape.params import ParamSet, state_of
from ridgeline.records.probe_record import ProbeRecord, read_records
from ridgeline.records.statistics import final_probe
from ridgeline.store.damaged import damaged_file
from ridgeline.store.layout import PhaseLayout, RunLayout

__all__ = ["LoadedPhase", "LoadedRun", "ProbeRecord", "load_run"]

REPLICAS = "replicas."  # the replicas' prefix in a ReplicaClassifier's state_dict
# the groups load_run reads from a saved config (the plan's, the model and the data)
SAVED_GROUPS = ("model", *(group for group in GROUP_SCHEMAS if group != "probe"))


def _load(path: Path) -> dict:
    from ridgeline.store.checkpoints import load_checkpoint

    return load_checkpoint(path)


def replica_states(state_dict: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    """Split a ReplicaClassifier state_dict into one model state_dict per replica."""
    states: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state_dict.items():
        if key.startswith(REPLICAS):
            index, _, name = key[len(REPLICAS) :].partition(".")
            states.setdefault(int(index), {})[name] = value
    return [states[i] for i in sorted(states)]


@dataclass(frozen=True)
class LoadedPhase:
    """One phase of a run: where its children at T and its spawn point are kept.

    Nothing is read until asked: :meth:`children` / :meth:`models` load ``last.ckpt``,
    :meth:`spawn_point` the parent's checkpoint at k.
    """

    name: str
    kind: str  # "parent" | "spawn" | "independent"
    spawn_step: int | None
    layout: PhaseLayout
    spawn_checkpoint: Path | None
    config: DictConfig = field(repr=False)

    @property
    def checkpoint(self) -> Path:
        """``last.ckpt``: the phase's training state at T (at its last save if unfinished)."""
        return self.layout.last_checkpoint

    def _model(self, state: dict[str, torch.Tensor]) -> nn.Module:
        from hydra.utils import instantiate

        with torch.random.fork_rng(devices=[]):
            model = instantiate(self.config.model)
        model.load_state_dict(state)
        return model.eval()

    def step(self) -> int:
        """The absolute step of the children in :attr:`checkpoint` (T for a finished phase)."""
        return (self.spawn_step or 0) + int(_load(self.checkpoint)["global_step"])

    def models(self) -> list[nn.Module]:
        """The children at T as models of the run's architecture (eval mode, on the CPU)."""
        checkpoint = _load(self.checkpoint)
        return [self._model(s) for s in replica_states(checkpoint["state_dict"])]

    def children(self) -> list[ParamSet]:
        """The children at T as the landscape core's parameter sets (as the probes used them)."""
        return [state_of(m) for m in self.models()]

    def spawn_point(self) -> ParamSet | None:
        """The parent at k these children started from (None for the parent and independent)."""
        if self.spawn_checkpoint is None:
            return None
        if not self.spawn_checkpoint.is_file():
            raise RidgelineError(
                f"spawn point {self.spawn_checkpoint} of phase {self.name} is missing: the parent "
                "store (paths.parent_dir) was moved or deleted"
            )
        (state,) = replica_states(_load(self.spawn_checkpoint)["state_dict"])
        return state_of(self._model(state))


@dataclass(frozen=True)
class LoadedRun:
    """A run dir: its config, its probe records (typed) and its phases."""

    root: Path
    config: DictConfig
    records: list[ProbeRecord]
    phases: dict[str, LoadedPhase]

    def model(self) -> nn.Module:
        """A fresh model of the run's architecture (``config.model``), for an Evaluator."""
        from hydra.utils import instantiate

        with torch.random.fork_rng(devices=[]):
            return instantiate(self.config.model).eval()

    def datamodule(self) -> TensorDataModule:
        """The run's data module, set up on the CPU; ``eval_tensors(split)``: the probes' data."""
        from hydra.utils import instantiate

        datamodule = instantiate(self.config.data)
        datamodule.prepare_data()
        datamodule.setup()
        return datamodule

    def final_records(self, phase: str) -> list[ProbeRecord]:
        """The records of ``phase`` at its last probed step (one per pair of children)."""
        mine = [r for r in final_probe(self.records) if r.phase == phase]
        if not mine:
            raise RidgelineError(f"{self.root} has no probe records of phase {phase}")
        return mine


def _read_config(path: Path) -> DictConfig:
    if not path.is_file():
        raise RidgelineError(f"{path} does not exist: give a run dir of ridgeline-train")
    try:
        config = OmegaConf.load(path)
    except Exception as exc:
        raise damaged_file(path, exc) from None
    if not isinstance(config, DictConfig):
        raise RidgelineError(f"{path} is damaged (not a config mapping)")
    return config


def _check_groups(config: DictConfig, path: Path) -> None:
    missing = [key for key in SAVED_GROUPS if not isinstance(config.get(key), DictConfig)]
    if missing:
        raise RidgelineError(
            f"{path} has no {missing[0]} group (every ridgeline-train run saves "
            f"{', '.join(SAVED_GROUPS)}): it is not a run's config, or it was edited; restore it "
            "from a copy (Hydra keeps one in .hydra/config.yaml of the run dir)"
        )


def load_run(run_dir: str | Path) -> LoadedRun:
    """Config, typed probe records and phases of the ``ridgeline-train`` run in ``run_dir``."""
    from ridgeline.job.plan import make_plan

    run = RunLayout(Path(run_dir))
    config = _read_config(run.config)
    records = read_records(run.records)
    _check_groups(config, run.config)
    try:
        plan = make_plan(config)
    except ConfigError as exc:
        raise RidgelineError(f"{run.config}: {exc}") from None
    phases = {}
    for phase in plan.phases:
        layout = plan.parent if phase.kind == "parent" else run.phase(phase.name)
        spawn = Path(phase.parent_checkpoint) if phase.parent_checkpoint else None
        phases[phase.name] = LoadedPhase(
            phase.name, phase.kind, phase.spawn_step, layout, spawn, config
        )
    return LoadedRun(run.root, config, records, phases)
