"""Rules across groups: loggers, schedule, optimizer, spawn steps, probe splits, the batch
over the DDP processes, keys nothing reads, and :func:`check_config`, which runs them all."""

from dataclasses import fields, is_dataclass
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from ridgeline.config.rules.groups import alpha_grid, check_ranges, steps, unknown_keys
from ridgeline.config.rules.helpers import closest, plain, warn
from ridgeline.config.rules.trainer import (
    check_threads,
    check_trainer,
    check_trainer_keys,
    world_size,
)
from ridgeline.config.schema import GROUP_SCHEMAS, SPLITS, SeedsConfig, TrainConfig
from ridgeline.errors import ConfigError

if TYPE_CHECKING:
    from ridgeline.config.settings import Settings


def locate(path: str) -> Any:
    """The object a dotted ``_target_`` names (module, then attributes), as Hydra finds it."""
    import importlib

    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(f"no module of {path!r} can be imported")


def check_logger_target(name: str, node: DictConfig) -> None:
    """A logger's ``_target_`` is an importable Lightning logger; its keys are its arguments."""
    import inspect

    from pytorch_lightning.loggers import Logger

    target = node.get("_target_")
    try:
        cls = locate(str(target))
    except Exception as exc:
        raise ConfigError(
            f"logger.{name}._target_",
            plain(target),
            "an importable Lightning logger class, e.g. pytorch_lightning.loggers.CSVLogger "
            f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})",
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Logger)):
        raise ConfigError(
            f"logger.{name}._target_",
            plain(target),
            "a subclass of pytorch_lightning.loggers.Logger, e.g. pytorch_lightning.loggers."
            "CSVLogger",
        )
    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for key in node:
        if not str(key).startswith("_") and key not in params:
            raise ConfigError(
                f"logger.{name}.{key!s}",
                plain(node[key]),
                f"not an argument of {target}{closest(str(key), list(params))}",
            )


def check_logger(cfg: DictConfig) -> None:
    """Each logger's ``_target_`` and arguments; ridgeline's own W&B logger keys: ``osh``
    (wandb-osh sync triggers) and its command dir."""
    for name, node in (cfg.get("logger") or {}).items():
        if isinstance(node, DictConfig) and "_target_" in node:
            check_logger_target(str(name), node)
        if isinstance(node, DictConfig) and "osh" in node:
            if not isinstance(node.get("osh"), bool):
                raise ConfigError(f"logger.{name}.osh", plain(node.get("osh")), "true or false")
            directory = node.get("osh_command_dir")
            if directory is not None and not (isinstance(directory, str) and directory.strip()):
                raise ConfigError(
                    f"logger.{name}.osh_command_dir",
                    plain(directory),
                    "a directory path, or null for wandb-osh's default",
                )


def check_schedule(s: Any, total: int) -> None:
    """Milestones are steps; a warm-up or milestone past T is almost surely a mistake (warned)."""
    if hasattr(s, "milestones"):
        milestones = list(steps("schedule.milestones", s.milestones))
        late = [m for m in milestones if m >= total]
        if late:
            warn(
                f"schedule.milestones={milestones} has steps >= trainer.max_steps={total} "
                f"({late}): the learning rate never decays there"
            )
    if getattr(s, "warmup_steps", 0) >= total:
        warn(
            f"schedule.warmup_steps={s.warmup_steps} >= trainer.max_steps={total}: "
            "training ends inside the warm-up"
        )


def check_optim(o: Any) -> None:
    """Adam-style ``betas``, when the optimizer has them: two numbers in [0, 1)."""
    betas = getattr(o, "betas", None)
    if betas is not None and (len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas)):
        raise ConfigError("optim.betas", list(betas), "two numbers in [0, 1)")


def spawn_schedule(spawn: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(spawn steps, the parent's checkpoint steps): the one normalised form of ``spawn.at``
    and ``spawn.parent_checkpoints`` (null: the spawn steps) that every consumer reads."""
    at = steps("spawn.at", spawn.at)
    if spawn.parent_checkpoints is None:
        return at, at
    return at, steps("spawn.parent_checkpoints", spawn.parent_checkpoints)


def check_spawn(spawn: Any, total: int) -> None:
    """Spawn steps < T and on the parent's checkpoint schedule, which ends by T."""
    at, saved = spawn_schedule(spawn)
    late = [k for k in at if k >= total]
    if late:
        raise ConfigError(
            "spawn.at",
            plain(spawn.at),
            f"spawn steps < trainer.max_steps={total} (children need steps to train); "
            f"{late} are past the end of training",
        )
    if not at and not spawn.independent:
        raise ConfigError(
            "spawn.at", plain(spawn.at), "at least one step, or spawn.independent=true"
        )
    if saved and saved[-1] > total:
        raise ConfigError(
            "spawn.parent_checkpoints", list(saved), f"steps <= trainer.max_steps={total}"
        )
    missing = [k for k in at if k not in saved]
    if missing:
        raise ConfigError(
            "spawn.at",
            plain(spawn.at),
            f"steps on the parent's checkpoint schedule spawn.parent_checkpoints={list(saved)}; "
            f"{missing} are not (add them there or set it to null)",
        )


def check_splits(probe: Any) -> None:
    """The probe's splits are drawn from the data's splits; aligning spawned children needs an
    alignment method, and so does a transformer's orthogonal group."""
    if not probe.splits or any(s not in SPLITS for s in probe.splits):
        raise ConfigError(
            "probe.splits", list(probe.splits), f"a non-empty list drawn from {', '.join(SPLITS)}"
        )
    if probe.align_spawned and not probe.align:
        raise ConfigError(
            "probe.align_spawned",
            probe.align_spawned,
            "false while probe.align is null: set probe.align (e.g. probe.align=weight) to "
            "align children at all",
        )
    if getattr(probe, "align_group", "permutation") != "permutation" and not probe.align:
        raise ConfigError(
            "probe.align_group",
            probe.align_group,
            "permutation while probe.align is null: set probe.align (e.g. probe.align=weight) "
            "to align children at all",
        )


def check_component_splits(key: str, splits: object, probe: Any) -> None:
    """A component's ``splits`` (null: all of the probe's) are among ``probe.splits``."""
    if splits is None:
        return
    listed = list(splits) if isinstance(splits, (list, tuple, ListConfig)) else None
    if not listed or any(s not in probe.splits for s in listed):
        raise ConfigError(
            f"probe.{key}.splits",
            plain(splits),
            f"null (all of probe.splits) or a non-empty list drawn from probe.splits="
            f"{list(probe.splits)}",
        )


def check_ridge_splits(key: str, component: object, probe: Any) -> None:
    """A component's ``ridge_splits`` (null: every split of the component) is a list drawn from
    the splits the component evaluates (its ``splits``, else ``probe.splits``)."""
    ridge = getattr(component, "ridge_splits", None)
    if ridge is None:
        return
    own = getattr(component, "splits", None)
    allowed = list(own) if own is not None else list(probe.splits)
    listed = list(ridge) if isinstance(ridge, (list, tuple, ListConfig)) else None
    if not listed or any(s not in allowed for s in listed):
        where = f"probe.{key}.splits" if own is not None else "probe.splits"
        raise ConfigError(
            f"probe.{key}.ridge_splits",
            plain(ridge),
            f"null (every split of the component) or a non-empty list drawn from {where}="
            f"{allowed}, e.g. [{allowed[0]}]",
        )


def check_switched_off(cfg: DictConfig, overrides: list[str]) -> None:
    """An option set on the command line for a probe component that is switched off
    (``~probe.geometry probe.geometry.plane=all``) would be dropped without a word: refused.
    A preset may still set options of a component another preset switched off."""
    probe = cfg.get("probe")
    if not isinstance(probe, DictConfig):
        return
    known = {f.name for f in fields(GROUP_SCHEMAS["probe"])}
    off = {
        str(k)
        for k in probe
        if str(k) not in known
        and (probe[k] is None or isinstance(probe[k], DictConfig))
        and not _has_target(probe, str(k))
    }
    for arg in overrides:
        key, _, value = arg.lstrip("+~").partition("=")
        parts = key.split(".")
        if arg.startswith("~") or len(parts) < 3 or parts[0] != "probe" or parts[1] not in off:
            continue
        raise ConfigError(
            key,
            value,
            f"no option here: the component probe.{parts[1]} is switched off (by "
            f"~probe.{parts[1]}, probe.{parts[1]}=null or a preset), so this option would be "
            f"ignored; drop it, or keep the component on to use it",
        )


def _has_target(probe: DictConfig, key: str) -> bool:
    node = probe[key]
    return isinstance(node, DictConfig) and "_target_" in node


def check_batch(batch_size: int, world: int | None) -> None:
    """The batch splits evenly over the DDP processes."""
    if world and batch_size % world:
        raise ConfigError(
            "data.batch_size",
            batch_size,
            f"a multiple of the number of DDP processes (trainer.devices × trainer.num_nodes = "
            f"{world}): every process takes an equal slice of each batch",
        )


def check_keys(cfg: DictConfig) -> None:
    """No key that nothing reads: at the top level, in seeds, spawn, paths and probe (the
    groups without a ``_target_``, whose keys no builder checks)."""
    unknown_keys("", cfg, TrainConfig)
    if isinstance(cfg.get("seeds"), DictConfig):
        unknown_keys("seeds.", cfg.seeds, SeedsConfig)
    for group in ("spawn", "paths", "probe"):
        node = cfg.get(group)
        if isinstance(node, DictConfig):
            own = OmegaConf.get_type(node)
            schema = own if is_dataclass(own) else GROUP_SCHEMAS[group]
            unknown_keys(f"{group}.", node, schema, group == "probe")


def check_values(settings: "Settings") -> None:
    """The values of each typed group within their schema's ranges and choices, the spawn steps,
    the α-grids and the probe's splits: no torch or Lightning needed (run before those are
    imported)."""
    check_ranges("", settings.top)
    for group in ("optim", "schedule", "spawn", "data"):
        check_ranges(f"{group}.", getattr(settings, group))
    spawn_schedule(settings.spawn)  # the steps are integers >= 0
    if settings.probe is not None:
        check_ranges("probe.", settings.probe)
        alpha_grid("probe.alphas", settings.probe.alphas)
        alpha_grid("probe.profile_alphas", settings.probe.profile_alphas)
        check_splits(settings.probe)


def check_lightning_classes(cfg: DictConfig) -> None:
    """The ``trainer`` keys against Lightning's Trainer and each logger against its class: the
    rules that import Lightning (about 3 s), run after those that do not."""
    check_trainer_keys(cfg.trainer)
    check_logger(cfg)


def check_config(cfg: DictConfig, settings: "Settings") -> int:
    """Every rule that needs only the config and the typed settings, and neither torch nor
    Lightning; returns T. (The trainer's keys against Lightning's Trainer and the loggers against
    Lightning's loggers: :func:`check_lightning_classes`.)"""
    total = check_trainer(cfg.trainer)
    check_values(settings)
    check_threads(settings.top.threads)
    check_optim(settings.optim)
    check_schedule(settings.schedule, total)
    check_spawn(settings.spawn, total)
    check_batch(settings.data.batch_size, world_size(cfg.trainer))
    return total
