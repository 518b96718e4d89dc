"""``load_run(run_dir)``: a finished (or interrupted) ``ridgeline-train`` run, back in Python.

The config (``config.yaml``), every probe record of ``landscape/records.jsonl`` with its results
as the landscape core's typed records, and per phase the spawn point (the parent at k, from the
parent store) and the children at T (``<phase>/checkpoints/last.ckpt``) as models or as the
parameter sets the landscape core takes. Paths come from :mod:`ridgeline.store.layout`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from ridgeline.errors import RidgelineError
from ridgeline.landscape.params import ParamSet, state_of
from ridgeline.landscape.records import (
    BarrierRecord,
    GeometryRecord,
    LayerwiseRecord,
    ProfileRecord,
    TaylorRecord,
)
from ridgeline.store.layout import PhaseLayout, RunLayout
from ridgeline.store.records import RecordStore

REPLICAS = "replicas."  # the replicas' prefix in a ReplicaClassifier's state_dict


@dataclass(frozen=True)
class ProbeRecord:
    """One line of ``records.jsonl``: which probe point, and its results as typed records.

    ``barrier``, ``layerwise`` and ``taylor`` map a split ("train", "test") to the core's record;
    ``profiles`` maps a split to the loss profiles θ_s → child ("a", "b"), ``parent_profiles``
    a split to the parent's profile θ_0 → θ_t. ``raw`` is the line as stored (environment,
    probe settings, anything not typed here).
    """

    phase: str
    kind: str
    probe: str
    step: int
    spawn_step: int | None
    pair: tuple[int, int] | None
    barrier: dict[str, BarrierRecord] = field(default_factory=dict)
    layerwise: dict[str, LayerwiseRecord] = field(default_factory=dict)
    taylor: dict[str, TaylorRecord] = field(default_factory=dict)
    geometry: GeometryRecord | None = None
    profiles: dict[str, dict[str, ProfileRecord]] = field(default_factory=dict)
    parent_profiles: dict[str, ProfileRecord] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbeRecord:
        """The typed view of one stored record (the inverse of the probes' ``to_dict``)."""
        geometry = data.get("geometry") or {}
        parent = data.get("parent") or {}
        pair = data.get("pair")
        return cls(
            phase=data["phase"],
            kind=data.get("kind", data["phase"]),
            probe=data["probe"],
            step=int(data["step"]),
            spawn_step=data.get("spawn_step"),
            pair=tuple(pair) if pair is not None else None,
            barrier={s: BarrierRecord.from_dict(r) for s, r in (data.get("barrier") or {}).items()},
            layerwise={
                s: LayerwiseRecord.from_dict(r) for s, r in (data.get("layerwise") or {}).items()
            },
            taylor={s: TaylorRecord.from_dict(r) for s, r in (data.get("taylor") or {}).items()},
            geometry=GeometryRecord.from_dict(geometry) if "angle_deg" in geometry else None,
            profiles={
                s: {c: ProfileRecord.from_dict(p) for c, p in children.items()}
                for s, children in (geometry.get("profiles") or {}).items()
            },
            parent_profiles={
                s: ProfileRecord.from_dict(p) for s, p in (parent.get("profiles") or {}).items()
            },
            raw=data,
        )


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

    def datamodule(self):
        """The run's data module, set up on the CPU; ``eval_tensors(split)``: the probes' data."""
        from hydra.utils import instantiate

        datamodule = instantiate(self.config.data)
        datamodule.prepare_data()
        datamodule.setup()
        return datamodule

    def final_records(self, phase: str) -> list[ProbeRecord]:
        """The records of ``phase`` at its last probed step (one per pair of children)."""
        mine = [r for r in self.records if r.phase == phase]
        if not mine:
            raise RidgelineError(f"{self.root} has no probe records of phase {phase}")
        last = max(r.step for r in mine)
        return [r for r in mine if r.step == last]


def _read_config(path: Path) -> DictConfig:
    if not path.is_file():
        raise RidgelineError(f"{path} does not exist: give a run dir of ridgeline-train")
    try:
        config = OmegaConf.load(path)
    except Exception as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise RidgelineError(f"{path} is damaged{where} ({type(exc).__name__})") from None
    if not isinstance(config, DictConfig):
        raise RidgelineError(f"{path} is damaged (not a config mapping)")
    return config


def load_run(run_dir: str | Path) -> LoadedRun:
    """Config, typed probe records and phases of the ``ridgeline-train`` run in ``run_dir``."""
    from ridgeline.store.plan import make_plan

    run = RunLayout(Path(run_dir))
    config = _read_config(run.config)
    records = [ProbeRecord.from_dict(r) for r in RecordStore(run.records).read()]
    plan = make_plan(config)
    phases = {}
    for phase in plan.phases:
        layout = plan.parent if phase.kind == "parent" else run.phase(phase.name)
        spawn = Path(phase.parent_checkpoint) if phase.parent_checkpoint else None
        phases[phase.name] = LoadedPhase(
            phase.name, phase.kind, phase.spawn_step, layout, spawn, config
        )
    return LoadedRun(run.root, config, records, phases)
