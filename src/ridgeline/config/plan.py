"""The :class:`RunPlan`: what a checked config means, computed once and read by every part.

``train()``, resume, the probe factory and the parent store read the plan (phases, parent key
and spec, typed probe settings, run layout), never the raw config for a value the plan holds.
:func:`read_settings` turns each config group into its schema's dataclass (a user's preset
without a schema entry included); :func:`make_plan` builds the plan from them.
"""

from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ridgeline.config.rules import spawn_schedule
from ridgeline.config.schema import (
    GROUP_SCHEMAS,
    DataConfig,
    OptimConfig,
    PathsConfig,
    ProbeConfig,
    ScheduleConfig,
    SpawnConfig,
    TrainConfig,
)
from ridgeline.config.schema_errors import schema_error
from ridgeline.data.streams import StreamSeeds
from ridgeline.run_layout import ParentStoreLayout, PhaseLayout, RunLayout

OPEN_KEYS = {"model", "trainer", "logger", "local"}  # groups without a ridgeline schema


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
class Settings:
    """The config groups as their schema's dataclasses; ``components`` are the probe's."""

    top: TrainConfig
    data: DataConfig
    optim: OptimConfig
    schedule: ScheduleConfig
    spawn: SpawnConfig
    paths: PathsConfig
    probe: ProbeConfig | None
    components: dict[str, DictConfig] = field(default_factory=dict)


def read_group(cfg: DictConfig, key: str, schema: type, values: Any = None) -> Any:
    """``cfg[key]`` (or ``values`` given for it) as a ``schema`` instance: its own preset's
    schema when it is a typed node; a user's preset that does not start from the schema is
    read through it (its defaults filled in, its types checked: a ConfigError names the key).
    ``key`` "" reads the top-level keys."""
    node = (cfg[key] if key else cfg) if values is None else values
    own = OmegaConf.get_type(node) if isinstance(node, DictConfig) else None
    schema = own if isinstance(own, type) and issubclass(own, schema) else schema
    if OmegaConf.is_config(node):
        node = OmegaConf.to_container(node, resolve=True)
    # Merged where the schema's own interpolations (e.g. ${paths.data_dir}) resolve.
    context = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    OmegaConf.set_struct(context, False)
    try:
        base = OmegaConf.structured(schema)
        OmegaConf.set_struct(base, False)
        if key:
            context[key] = base
            context[key].merge_with(node)
        else:
            base.merge_with(node)
            context.merge_with(base)
        group = context[key] if key else context
        read = {name: _plain(group[name]) for name in node if name in schema.__dataclass_fields__}
        read |= {
            f.name: _plain(group[f.name]) for f in fields(schema) if key and f.name not in read
        }
    except Exception as exc:
        error = schema_error(exc)
        if error is None:
            raise
        raise error from None
    return _instance(schema, read)


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _instance(schema: type, values: dict) -> Any:
    """``schema(**values)`` with nested dataclasses built too; keys beyond the schema dropped,
    keys not given left at their defaults."""
    return schema(**{
        f.name: _instance(f.type, values[f.name]) if is_dataclass(f.type) else values[f.name]
        for f in fields(schema) if f.name in values
    })  # fmt: skip


def read_settings(cfg: DictConfig) -> Settings:
    """Every group of ``cfg`` typed by the schema; the probe's components kept as nodes."""
    names = [f.name for f in fields(TrainConfig) if f.name not in OPEN_KEYS | set(GROUP_SCHEMAS)]
    top = {k: cfg[k] for k in names if k in cfg}
    probe, components = cfg.get("probe"), {}
    if probe:
        known = {f.name for f in fields(ProbeConfig)}
        components = {
            str(k): v
            for k, v in probe.items()
            if k not in known and isinstance(v, DictConfig) and "_target_" in v
        }
        probe = {k: v for k, v in OmegaConf.to_container(probe, resolve=True).items() if k in known}
    return Settings(
        top=read_group(cfg, "", TrainConfig, OmegaConf.masked_copy(cfg, list(top))),
        data=read_group(cfg, "data", DataConfig),
        optim=read_group(cfg, "optim", OptimConfig),
        schedule=read_group(cfg, "schedule", ScheduleConfig),
        spawn=read_group(cfg, "spawn", SpawnConfig),
        paths=read_group(cfg, "paths", PathsConfig),
        probe=read_group(cfg, "probe", ProbeConfig, probe) if probe else None,
        components=components,
    )


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
    from ridgeline.training.seeds import derive_seed

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
    from ridgeline.training.seeds import derive_seed

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
    from ridgeline.sweep.parent_store import parent_key, parent_spec

    settings = settings or read_settings(cfg)
    total = int(cfg.trainer.max_steps)
    spawn_steps, checkpoints = spawn_schedule(settings.spawn)
    spec = parent_spec(cfg, checkpoints)
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
