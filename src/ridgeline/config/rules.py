"""What the schema cannot say: ranges, cross-field rules and sizes, each failure one ConfigError.

Ranges come from the schema's :class:`~ridgeline.config.schema.Allowed`; the rules here relate
keys: spawn steps < T and on the parent's checkpoint schedule, α-grids with both endpoints,
pair probes need 2 children, the batch splits evenly over the DDP processes, evaluation subsets
fit the dataset, ``bn_policy=batch`` leaves no 1-example chunk. Lightning's Trainer keys are
checked against Lightning's own signature and registry.

BatchNorm policy rule (needs the model, :mod:`ridgeline.config.builds`): a model without
BatchNorm has no running statistics, so ``reset`` and ``interpolate`` both reduce to plain
weight interpolation and are accepted; ``batch`` is rejected.
"""

import difflib
import math
import sys
from collections.abc import Sequence
from dataclasses import fields, is_dataclass
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from ridgeline.config.schema import GROUP_SCHEMAS, SPLITS, SeedsConfig, TrainConfig
from ridgeline.errors import ConfigError

if TYPE_CHECKING:
    from ridgeline.config.settings import Settings

ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")
# Lightning's precisions that ridgeline supports: the probes evaluate float32 data, so the
# weights stay float32 (mixed precision computes in 16 bits but keeps them).
PRECISIONS = ("32-true", "32", "16-mixed", "16", "bf16-mixed", "bf16")
# Lightning's other precisions: they change the weights' dtype.
UNSUPPORTED_PRECISIONS = (
    "64-true", "64", "16-true", "bf16-true", "transformer-engine", "transformer-engine-float16",
)  # fmt: skip
STRATEGIES = ("auto",)  # strategies besides Lightning's registered names
# threads above this many times the CPU cores this process may use are a typo: more threads than
# cores are allowed (to repeat a run's thread count, and so its bits, on a smaller machine).
THREADS_PER_CORE = 4


def warn(message: str) -> None:
    """A problem that does not stop the run, printed where the user sees it."""
    print(f"ridgeline: warning: {message}", file=sys.stderr)


def plain(value: object) -> object:
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def at_least(key: str, value: object, minimum: int, none_means: str | None = None) -> int | None:
    """An integer >= minimum (or None, when ``none_means`` says what null means)."""
    if value is None and none_means is not None:
        return None
    if not is_int(value) or value < minimum:
        null = f", or null ({none_means})" if none_means else ""
        raise ConfigError(key, plain(value), f"an integer >= {minimum}{null}")
    return value


def closest(name: str, candidates: Sequence[str]) -> str:
    """' (did you mean X?)' for the candidate most like ``name``, else ''."""
    match = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {match[0]}?)" if match else ""


# --- values of one group --------------------------------------------------------------------
def check_ranges(prefix: str, settings: Any) -> None:
    """Every field of a typed group within what its schema field allows."""
    for f in fields(settings):
        allowed = f.metadata.get("allowed")
        value = getattr(settings, f.name)
        if is_dataclass(value):
            check_ranges(f"{prefix}{f.name}.", value)
        elif allowed is not None and not allowed.admits(value):
            kind = next((t for t in (bool, int, float, str) if t in _members(f.type)), object)
            raise ConfigError(f"{prefix}{f.name}", value, allowed.describe(kind))


def _members(annotation: Any) -> tuple:
    return getattr(annotation, "__args__", None) or (annotation,)


def alpha_grid(key: str, alphas: object) -> tuple[float, ...]:
    """An α-grid: numbers in [0, 1], strictly increasing, containing both endpoints 0 and 1."""
    if not isinstance(alphas, (list, tuple, ListConfig)) or len(alphas) < 2:
        raise ConfigError(
            key, plain(alphas), "a list of at least 2 numbers in [0, 1] including 0 and 1"
        )
    values = []
    for a in alphas:
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not math.isfinite(a):
            raise ConfigError(key, plain(alphas), f"numbers only; {a!r} is not a number")
        values.append(float(a))
    if any(a < 0.0 or a > 1.0 for a in values):
        raise ConfigError(key, values, "every α must lie in [0, 1]")
    if values[0] != 0.0 or values[-1] != 1.0:
        raise ConfigError(key, values, "the grid must start at 0 and end at 1 (both endpoints)")
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ConfigError(key, values, "α values must be strictly increasing")
    return tuple(values)


def steps(key: str, value: object) -> tuple[int, ...]:
    """One step or a list of steps (integers >= 0), sorted without repeats; null is none."""
    if value is None:
        return ()
    listed = list(value) if isinstance(value, (list, tuple, ListConfig)) else [value]
    if not all(is_int(k) and k >= 0 for k in listed):
        raise ConfigError(key, plain(value), "a step or a list of steps (integers >= 0)")
    return tuple(sorted(set(listed)))


def unknown_keys(prefix: str, node: DictConfig, schema: type, components: bool = False) -> None:
    """A key the schema lacks (added with ``+``, or by a user's preset) is a typo: name the
    closest key. In ``probe`` a dict (or null) is a component, built when it has a
    ``_target_`` (an experiment may set options of a component a preset switched off)."""
    known = [f.name for f in fields(schema)]
    for key in node:
        key = str(key)
        if key in known or (not prefix and key == "hydra"):
            continue
        value = node[key]
        if components and (value is None or isinstance(value, DictConfig)):
            continue  # a component (built when it has a _target_), or one switched off
        if isinstance(value, DictConfig) and "_target_" in value:
            continue  # a component: building it checks it
        full = [f"{prefix}{k}" for k in known]
        where = f"of {prefix.rstrip('.')}" if prefix else "at the top level"
        raise ConfigError(
            f"{prefix}{key}",
            plain(node[key]),
            f"not a key ridgeline reads{closest(prefix + key, full)}; the known keys {where} "
            f"are {', '.join(known)}",
        )


# --- the trainer (Lightning's keys) ---------------------------------------------------------
def world_size(trainer: DictConfig) -> int | None:
    """Number of DDP processes, when the config states it (``devices`` an int or a list)."""
    devices, nodes = trainer.get("devices", 1), trainer.get("num_nodes", 1)
    if is_int(devices) and is_int(nodes):
        return devices * nodes
    if isinstance(devices, (list, ListConfig)) and is_int(nodes):
        return len(devices) * nodes
    return None


def check_trainer_keys(trainer: DictConfig) -> None:
    """Every ``trainer.<key>`` is an argument of Lightning's Trainer; the strategy is known."""
    import inspect

    import pytorch_lightning as pl
    from pytorch_lightning.strategies import StrategyRegistry

    arguments = [p for p in inspect.signature(pl.Trainer.__init__).parameters if p != "self"]
    for key in trainer:
        if key != "_target_" and key not in arguments:
            raise ConfigError(
                f"trainer.{key}",
                plain(trainer[key]),
                "not an argument of pytorch_lightning.Trainer"
                + closest(f"trainer.{key}", [f"trainer.{a}" for a in arguments]),
            )
    strategy = trainer.get("strategy", "auto")
    known = [*STRATEGIES, *StrategyRegistry.available_strategies()]
    if not isinstance(strategy, DictConfig) and strategy not in known:
        raise ConfigError(
            "trainer.strategy",
            plain(strategy),
            f"one of {', '.join(known)}{closest(str(strategy), known)}",
        )


def check_trainer(t: DictConfig) -> int:
    """The Trainer keys ridgeline relies on; returns T (``trainer.max_steps``)."""
    check_trainer_keys(t)
    total = at_least("trainer.max_steps", t.get("max_steps"), 1)
    epochs = t.get("max_epochs", -1)
    if epochs is not None and (not is_int(epochs) or (epochs < 1 and epochs != -1)):
        raise ConfigError(
            "trainer.max_epochs", plain(epochs), "-1 (stop at trainer.max_steps) or an int >= 1"
        )
    check_fast_dev_run(t.get("fast_dev_run"))
    accelerator = t.get("accelerator", "auto")
    if accelerator not in ACCELERATORS:
        raise ConfigError("trainer.accelerator", plain(accelerator), f"one of {ACCELERATORS}")
    devices = t.get("devices", 1)
    listed = isinstance(devices, (list, ListConfig)) and devices and all(map(is_int, devices))
    if not (devices == "auto" or (is_int(devices) and devices >= 1) or listed):
        raise ConfigError("trainer.devices", plain(devices), "an int >= 1, a list of ids or auto")
    at_least("trainer.num_nodes", t.get("num_nodes", 1), 1)
    check_devices(accelerator, devices)
    precision = str(t.get("precision", "32-true"))
    if precision in UNSUPPORTED_PRECISIONS:
        raise ConfigError(
            "trainer.precision",
            plain(t.precision),
            f"one of {', '.join(PRECISIONS)}: ridgeline keeps the weights in float32, as the "
            "probes evaluate float32 data (mixed precision computes in 16 bits on a GPU)",
        )
    if precision not in PRECISIONS:
        raise ConfigError(
            "trainer.precision", plain(t.precision), f"one of {', '.join(PRECISIONS)}"
        )
    at_least("trainer.log_every_n_steps", t.get("log_every_n_steps", 50), 1)
    at_least(
        "trainer.check_val_every_n_epoch", t.get("check_val_every_n_epoch", 1), 1, "no validation"
    )
    at_least("trainer.num_sanity_val_steps", t.get("num_sanity_val_steps", 0), -1)
    return total


def check_fast_dev_run(value: object) -> None:
    """Lightning's ``fast_dev_run`` switches off checkpoints and loggers: no phase could resume
    or spawn children, no record would be logged."""
    if value not in (None, False, 0):
        raise ConfigError(
            "trainer.fast_dev_run",
            plain(value),
            "false: it switches off Lightning's checkpoints and loggers, which the phases need; "
            "for a quick run set trainer.max_steps (e.g. trainer.max_steps=20, or debug=fast) "
            "and trainer.limit_val_batches",
        )


def resolved_accelerator(accelerator: str) -> str:
    """What Lightning runs on: ``cuda``, ``mps`` or ``cpu`` (``auto`` takes the first there)."""
    import torch

    if accelerator in ("gpu", "cuda"):
        return "cuda"
    if accelerator == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if torch.backends.mps.is_available() else "cpu"
    return accelerator


def check_devices(accelerator: str, devices: object) -> None:
    """The accelerator exists on this machine and ``devices`` suits it."""
    import torch

    kind = resolved_accelerator(accelerator)
    if kind == "cuda":
        available = torch.cuda.device_count()
        if available == 0:
            raise ConfigError(
                "trainer.accelerator",
                accelerator,
                "cpu on this machine: no CUDA device is visible (use trainer=cpu)",
            )
        if is_int(devices) and devices > available:
            raise ConfigError(
                "trainer.devices", devices, f"at most {available} (the CUDA devices visible)"
            )
        if isinstance(devices, (list, ListConfig)) and any(d >= available for d in devices):
            raise ConfigError(
                "trainer.devices",
                plain(devices),
                f"ids from 0 to {available - 1} (the CUDA devices visible)",
            )
    elif kind == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(
            "trainer.accelerator",
            accelerator,
            "cpu on this machine: no MPS (Apple GPU) device is available (use trainer=cpu)",
        )
    elif kind == "cpu" and isinstance(devices, (list, ListConfig)):
        raise ConfigError(
            "trainer.devices",
            plain(devices),
            f"a number of processes on the CPU, e.g. trainer.devices={len(devices)}: a list of "
            "device ids is for GPUs",
        )


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def check_threads(threads: int | None) -> None:
    cores = usable_cores()
    if threads is not None and threads > THREADS_PER_CORE * cores:
        raise ConfigError(
            "threads",
            threads,
            f"an integer from 1 to {THREADS_PER_CORE * cores} ({THREADS_PER_CORE} x the {cores} "
            "CPU cores this process may use), or null for torch's default",
        )


# --- across groups --------------------------------------------------------------------------
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
                f"logger.{name}.{key}",
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
    alignment method."""
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


def check_batch(batch_size: int, world: int | None) -> None:
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


def check_config(cfg: DictConfig, settings: "Settings") -> int:
    """Every rule that needs only the config and the typed settings; returns T."""
    total = check_trainer(cfg.trainer)
    check_ranges("", settings.top)
    check_threads(settings.top.threads)
    check_logger(cfg)
    for group in ("optim", "schedule", "spawn", "data"):
        check_ranges(f"{group}.", getattr(settings, group))
    check_optim(settings.optim)
    check_schedule(settings.schedule, total)
    check_spawn(settings.spawn, total)
    if settings.probe is not None:
        check_ranges("probe.", settings.probe)
        alpha_grid("probe.alphas", settings.probe.alphas)
        alpha_grid("probe.profile_alphas", settings.probe.profile_alphas)
        check_splits(settings.probe)
    check_batch(settings.data.batch_size, world_size(cfg.trainer))
    return total


# --- against the dataset --------------------------------------------------------------------
def check_sizes(settings: "Settings", trainer: DictConfig, n_train: int, n_test: int) -> None:
    """Evaluation subsets, batch size and epochs against the sizes of the splits."""
    d, probe, total = settings.data, settings.probe, trainer.max_steps
    for key, size, n, split in (
        ("eval_train_size", d.eval_train_size, n_train, "train"),
        ("eval_test_size", d.eval_test_size, n_test, "test"),
    ):
        if size is not None and size > n:
            raise ConfigError(
                f"data.{key}",
                size,
                f"at most the size of the {d.name} {split} split ({n}), or null for all of it",
            )
    if d.batch_size > n_train:
        raise ConfigError(
            "data.batch_size", d.batch_size, f"at most the {d.name} train split size ({n_train})"
        )
    epochs = trainer.get("max_epochs", -1)
    per_epoch = n_train // d.batch_size
    if epochs not in (None, -1) and epochs * per_epoch < total:
        raise ConfigError(
            "trainer.max_epochs",
            epochs,
            f"-1, or at least {math.ceil(total / per_epoch)} so that "
            f"trainer.max_steps={total} are reached ({per_epoch} steps per epoch)",
        )
    if probe is not None and probe.bn_policy == "batch":
        world = world_size(trainer) or 1
        for split in probe.splits:
            size = d.eval_train_size if split == "train" else d.eval_test_size
            n = size or (n_train if split == "train" else n_test)
            shards = [n * (r + 1) // world - n * r // world for r in range(world)]
            if any(s % probe.chunk_size == 1 or s == 1 for s in shards):
                raise ConfigError(
                    "probe.chunk_size",
                    probe.chunk_size,
                    f"a size that leaves no evaluation chunk of 1 example: bn_policy=batch needs "
                    f"2 or more per chunk ({split}: {n} examples over {world} process(es))",
                )
