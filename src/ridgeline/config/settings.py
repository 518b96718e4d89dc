"""The config groups typed by the schema: :func:`read_settings` turns each group into its
schema's dataclass (a user's preset without a schema entry included), once per job."""

from dataclasses import dataclass, field, fields, is_dataclass
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from ridgeline.config.nodes import as_dict
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

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

OPEN_KEYS = {"model", "trainer", "logger", "local"}  # groups without a ridgeline schema


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


def read_group(
    cfg: DictConfig,
    key: str,
    schema: "type[DataclassInstance]",
    values: Any = None,
    context: DictConfig | None = None,
) -> Any:
    """``cfg[key]`` (or ``values`` given for it) as a ``schema`` instance: its own preset's
    schema when it is a typed node; a user's preset that does not start from the schema is
    read through it (its defaults filled in, its types checked: a ConfigError names the key).
    ``key`` "" reads the top-level keys.

    ``context`` (from :func:`read_context`) is where the group is merged, so that the schema's
    own interpolations (e.g. ``${paths.data_dir}``) resolve; a group read replaces its own key
    there, so one context serves every group (not the top-level keys: their read writes the
    schema's top level over it). Without it, a fresh one is made."""
    node = (cfg[key] if key else cfg) if values is None else values
    own = OmegaConf.get_type(node) if isinstance(node, DictConfig) else None
    schema = own if isinstance(own, type) and issubclass(own, schema) else schema
    if OmegaConf.is_config(node):
        node = OmegaConf.to_container(node, resolve=True)
    context = read_context(cfg) if context is None else context
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


def read_context(cfg: DictConfig) -> DictConfig:
    """A writable, unresolved copy of ``cfg``: where :func:`read_group` merges a group."""
    context = OmegaConf.create(as_dict(cfg, resolve=False))
    OmegaConf.set_struct(context, False)
    return context


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value


def _instance(schema: type, values: dict[str, Any]) -> Any:
    """``schema(**values)`` with nested dataclasses built too; keys beyond the schema dropped,
    keys not given left at their defaults."""
    return schema(**{
        f.name: _instance(f.type, values[f.name])
        if isinstance(f.type, type) and is_dataclass(f.type)
        else values[f.name]
        for f in fields(schema) if f.name in values
    })  # fmt: skip


def read_settings(cfg: DictConfig) -> Settings:
    """Every group of ``cfg`` typed by the schema; the probe's components kept as nodes. A value
    the schema refuses, or an interpolation that cannot resolve, is a ConfigError naming it."""
    try:
        return _read_settings(cfg)
    except Exception as exc:
        error = schema_error(exc, cfg=cfg)
        if error is None:
            raise
        raise error from None


def _read_settings(cfg: DictConfig) -> Settings:
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
        probe = {k: v for k, v in as_dict(probe).items() if k in known}
    # The top-level keys first (a bad one is named first), in a context of their own: their
    # merge writes the schema's top level over it. The groups share one.
    top_settings = read_group(cfg, "", TrainConfig, OmegaConf.masked_copy(cfg, list(top)))
    groups = read_context(cfg)
    return Settings(
        top=top_settings,
        data=read_group(cfg, "data", DataConfig, context=groups),
        optim=read_group(cfg, "optim", OptimConfig, context=groups),
        schedule=read_group(cfg, "schedule", ScheduleConfig, context=groups),
        spawn=read_group(cfg, "spawn", SpawnConfig, context=groups),
        paths=read_group(cfg, "paths", PathsConfig, context=groups),
        probe=read_group(cfg, "probe", ProbeConfig, probe, groups) if probe else None,
        components=components,
    )


def complete_data(cfg: DictConfig) -> None:
    """Give a user's ``data`` preset that does not start from the data schema the schema's
    defaults for the settings it leaves out (in place), so its data module receives every
    setting as a shipped preset's does; its own keys are kept (they go to its ``_target_``)."""
    node = cfg.get("data")
    own = OmegaConf.get_type(node) if isinstance(node, DictConfig) else None
    if not isinstance(node, DictConfig) or (isinstance(own, type) and issubclass(own, DataConfig)):
        return
    base = OmegaConf.to_container(OmegaConf.structured(DataConfig), resolve=False)
    assert isinstance(base, dict)
    missing = {k: v for k, v in base.items() if k not in node and v != "???"}
    if missing:
        struct = OmegaConf.is_struct(node)
        OmegaConf.set_struct(node, False)
        node.merge_with(missing)
        OmegaConf.set_struct(node, struct)
