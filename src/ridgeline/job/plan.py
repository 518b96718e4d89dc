"""The :class:`RunPlan`: what a checked config means, computed once and read by every part.

``train()``, resume, the probe factory and the parent store read the plan (phases, parent key
and spec, typed probe settings, run layout), never the raw config for a value the plan holds.
:func:`make_plan` builds it from the typed settings (:mod:`ridgeline.config.settings`).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from ridgeline.config.parent_key import parent_key, parent_spec
from ridgeline.config.rules import spawn_schedule
from ridgeline.config.schema import ProbeConfig
from ridgeline.config.seeds import derive_seed
from ridgeline.config.settings import Settings, read_settings
from ridgeline.data.streams import StreamSeeds
from ridgeline.store.layout import ParentStoreLayout, PhaseLayout, RunLayout


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


@dataclass(frozen=True)
class RunPlan:
    """What one ``ridgeline-train`` job does: its phases, the parent it shares, its probes."""

    settings: Settings
    total_steps: int
    spawn_steps: tuple[int, ...]
    parent_checkpoints: tuple[int, ...]
    parent_spec: dict
    parent_key: str
    store: ParentStoreLayout
    run: RunLayout | None  # None where the config was composed outside a Hydra run
    phases: tuple[Phase, ...]

    @property
    def parent(self) -> PhaseLayout:
        """Where the parent lives (its entry in the shared store)."""
        return self.store.phase(self.parent_key)

    @property
    def probe(self) -> ProbeConfig | None:
        return self.settings.probe


def child_streams(seeds: Any, n: int, tag: str) -> tuple[StreamSeeds, ...]:
    """Child i's data-order and augmentation seeds: independent SGD noise per child."""
    return tuple(
        StreamSeeds(derive_seed(seeds.data, tag, "data", i), derive_seed(seeds.aug, tag, "aug", i))
        for i in range(n)
    )


def plan_phases(
    settings: Settings, total: int, spawn_steps: tuple[int, ...], checkpoints: tuple[int, ...],
    parent: PhaseLayout,
) -> tuple[Phase, ...]:  # fmt: skip
    """Parent (if any spawn step), one spawn phase per k, and the independent baseline; the
    children load the parent's checkpoints from ``parent`` (a shared store entry)."""
    seeds, spawn = settings.top.seeds, settings.spawn
    n = spawn.children
    phases: list[Phase] = []
    if spawn_steps:
        parent_streams = StreamSeeds(
            derive_seed(seeds.data, "parent", "data"), derive_seed(seeds.aug, "parent", "aug")
        )
        phases.append(
            Phase(
                name="parent",
                kind="parent",
                total_steps=total,
                init_seeds=(derive_seed(seeds.init, "init", 0),),
                streams=(parent_streams,),
                checkpoint_steps=checkpoints,
            )
        )
    for k in spawn_steps:
        phases.append(
            Phase(
                name=f"spawn_k={k:07d}",
                kind="spawn",
                total_steps=total,
                spawn_step=k,
                streams=child_streams(seeds, n, "child"),
                parent_checkpoint=str(parent.spawn_point(k)),
                fresh_optimizer=spawn.fresh_optimizer,
            )
        )
    if spawn.independent:
        phases.append(
            Phase(
                name="independent",
                kind="independent",
                total_steps=total,
                init_seeds=tuple(derive_seed(seeds.init, "init", i) for i in range(n)),
                streams=child_streams(seeds, n, "child"),
            )
        )
    return tuple(phases)


def make_plan(cfg: DictConfig, settings: Settings | None = None) -> RunPlan:
    """The plan of ``cfg`` (a composed config, or a run's saved ``config.yaml``)."""
    settings = settings or read_settings(cfg)
    total = int(cfg.trainer.max_steps)
    spawn_steps, checkpoints = spawn_schedule(settings.spawn)
    spec = parent_spec(cfg, list(checkpoints))
    key = parent_key(spec)
    store = ParentStoreLayout(Path(settings.paths.parent_dir))
    return RunPlan(
        settings=settings,
        total_steps=total,
        spawn_steps=spawn_steps,
        parent_checkpoints=checkpoints,
        parent_spec=spec,
        parent_key=key,
        store=store,
        run=RunLayout(Path(settings.paths.output_dir)) if settings.paths.output_dir else None,
        phases=plan_phases(settings, total, spawn_steps, checkpoints, store.phase(key)),
    )
