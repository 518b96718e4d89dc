"""Checks of the composed config and of the run dir, before any step is trained.

Two entry points, both called by ``ridgeline-train`` before training:

- :func:`validate_config` needs only the config (plus building the model once on the CPU): types
  and ranges of every config group, the α-grids, spawn steps against ``trainer.max_steps`` and
  the parent's checkpoint schedule, pair probes against the number of children, the BN policy
  against the model, the batch size against the number of DDP processes.
- :func:`validate_run` needs the data and the run dir: evaluation subsets against the split
  sizes, a run dir that already holds a (finished) run with another config, missing or
  truncated checkpoints that this job would read.

Each failure raises :class:`ConfigError` naming the key, the value and what is allowed (or a
:class:`RidgelineError` naming the file); ``ridgeline-train`` prints it as one line and exits 2.

BatchNorm policy rule: a model without BatchNorm has no running statistics, so ``reset`` (the
default) and ``interpolate`` both reduce to plain weight interpolation and are accepted;
``batch`` promises batch statistics the model never computes and is rejected. With BatchNorm,
``reset`` needs ``probe.bn_batches >= 1`` and ``batch`` needs every evaluation chunk to hold at
least 2 examples.
"""

import math
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from ridgeline.errors import ConfigError, RidgelineError

BN_POLICIES = ("reset", "interpolate", "batch")
PAIR_PROBES = ("barrier", "layerwise", "curvature", "geometry")
ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")
# Lightning's precisions that ridgeline supports: the probes evaluate float32 data, so the
# weights stay float32 (mixed precision computes in 16 bits but keeps them).
PRECISIONS = ("32-true", "32", "16-mixed", "16", "bf16-mixed", "bf16")
# Lightning's other precisions: they change the weights' dtype.
UNSUPPORTED_PRECISIONS = (
    "64-true", "64", "16-true", "bf16-true", "transformer-engine", "transformer-engine-float16",
)  # fmt: skip
# Strategies besides Lightning's registered names.
STRATEGIES = ("auto",)
# Keys that may change between the runs of one run dir without changing its results.
RERUN_FREE_KEYS = (
    "print_config",
    "summary",
    "logger",
    "paths",
    "trainer.enable_progress_bar",
    "trainer.enable_model_summary",
    "trainer.log_every_n_steps",
    "data.root",
    "data.download",
    "data.device_resident",
    "threads",
    "environment",
)


def warn(message: str) -> None:
    """A problem that does not stop the run, printed where the user sees it."""
    print(f"ridgeline: warning: {message}", file=sys.stderr)


def note(message: str) -> None:
    print(f"ridgeline: note: {message}", file=sys.stderr)


def _plain(value: object) -> object:
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int(key: str, value: object, minimum: int) -> int:
    if not _is_int(value) or value < minimum:
        raise ConfigError(key, _plain(value), f"an integer >= {minimum}")
    return value


def _optional_int(key: str, value: object, minimum: int, none_means: str) -> int | None:
    if value is None:
        return None
    if not _is_int(value) or value < minimum:
        raise ConfigError(key, _plain(value), f"an integer >= {minimum}, or null ({none_means})")
    return value


def _bool(key: str, value: object, nullable: bool = False) -> None:
    if isinstance(value, bool) or (nullable and value is None):
        return
    raise ConfigError(key, _plain(value), "true or false" + (" (or null)" if nullable else ""))


def _number(key: str, value: object, low: float, high: float, *, open_low=False, open_high=False):
    ok = _is_number(value) and math.isfinite(value)
    if ok:
        ok = (value > low if open_low else value >= low) and (
            value < high if open_high else value <= high
        )
    if not ok:
        lo, hi = "(" if open_low else "[", ")" if open_high else "]"
        raise ConfigError(key, _plain(value), f"a number in {lo}{low}, {high}{hi}")
    return float(value)


def _steps(key: str, value: object) -> list[int]:
    """One step or a list of steps (ints >= 0)."""
    if value is None:
        return []
    steps = [value] if not isinstance(value, (list, tuple, ListConfig)) else list(value)
    for k in steps:
        if not _is_int(k) or k < 0:
            raise ConfigError(key, _plain(value), "a step or a list of steps (integers >= 0)")
    return sorted(set(steps))


def _cause(exc: BaseException) -> BaseException:
    """The innermost cause of a Hydra InstantiationException."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def _instantiate(key: str, node: DictConfig, what: str) -> Any:
    from hydra.utils import instantiate

    try:
        return instantiate(node)
    except RidgelineError:
        raise
    except Exception as exc:
        cause = _cause(exc)
        if isinstance(cause, RidgelineError):
            raise cause from None
        if str(cause).startswith(key.split(".")[0] + "."):  # already names its key
            raise RidgelineError(str(cause)) from None
        target = node.get("_target_", "?")
        raise ConfigError(key, target, f"{what} ({type(cause).__name__}: {cause})") from None


def _check_arg_types(key: str, node: DictConfig, cls: type) -> None:
    """Arguments whose default is a bool / int / float must be one too (not a string)."""
    import inspect

    for name, param in inspect.signature(cls).parameters.items():
        if name not in node or param.default is inspect.Parameter.empty:
            continue
        value, default = node[name], param.default
        if isinstance(default, bool):
            _bool(f"{key}.{name}", value)
        elif isinstance(default, int) and not _is_int(value):
            raise ConfigError(f"{key}.{name}", _plain(value), "an integer")
        elif isinstance(default, float) and not _is_number(value):
            raise ConfigError(f"{key}.{name}", _plain(value), "a number")


# --- α-grids --------------------------------------------------------------------------------
def validate_alphas(key: str, alphas: object) -> list[float]:
    """An α-grid: numbers in [0, 1], strictly increasing, containing both endpoints 0 and 1."""
    if not isinstance(alphas, (list, tuple, ListConfig)) or len(alphas) < 2:
        raise ConfigError(
            key, _plain(alphas), "a list of at least 2 numbers in [0, 1] including 0 and 1"
        )
    values = []
    for a in alphas:
        if not _is_number(a) or not math.isfinite(a):
            raise ConfigError(key, _plain(alphas), f"numbers only; {a!r} is not a number")
        values.append(float(a))
    if any(a < 0.0 or a > 1.0 for a in values):
        raise ConfigError(key, values, "every α must lie in [0, 1]")
    if values[0] != 0.0 or values[-1] != 1.0:
        raise ConfigError(key, values, "the grid must start at 0 and end at 1 (both endpoints)")
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ConfigError(key, values, "α values must be strictly increasing")
    return values


# --- groups ---------------------------------------------------------------------------------
def world_size(cfg: DictConfig) -> int | None:
    """Number of DDP processes, when the config states it (``devices`` an int)."""
    devices = cfg.trainer.get("devices", 1)
    nodes = cfg.trainer.get("num_nodes", 1)
    if _is_int(devices) and _is_int(nodes):
        return devices * nodes
    if isinstance(devices, (list, ListConfig)) and _is_int(nodes):
        return len(devices) * nodes
    return None


def _closest(name: str, candidates: Sequence[str]) -> str:
    """' (did you mean X?)' for the candidate most like ``name``, else ''."""
    import difflib

    match = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean {match[0]}?)" if match else ""


def validate_trainer_keys(cfg: DictConfig) -> None:
    """Every ``trainer.<key>`` is an argument of Lightning's Trainer; the strategy is known."""
    import inspect

    import pytorch_lightning as pl
    from pytorch_lightning.strategies import StrategyRegistry

    arguments = [p for p in inspect.signature(pl.Trainer.__init__).parameters if p != "self"]
    for key in cfg.trainer:
        if key != "_target_" and key not in arguments:
            raise ConfigError(
                f"trainer.{key}",
                _plain(cfg.trainer[key]),
                "not an argument of pytorch_lightning.Trainer"
                + _closest(f"trainer.{key}", [f"trainer.{a}" for a in arguments]),
            )
    strategy = cfg.trainer.get("strategy", "auto")
    known = [*STRATEGIES, *StrategyRegistry.available_strategies()]
    if not isinstance(strategy, DictConfig) and strategy not in known:
        raise ConfigError(
            "trainer.strategy",
            _plain(strategy),
            f"one of {', '.join(known)}{_closest(str(strategy), known)}",
        )


def validate_trainer(cfg: DictConfig) -> int:
    validate_trainer_keys(cfg)
    t = cfg.trainer
    total = _int("trainer.max_steps", t.get("max_steps"), 1)
    epochs = t.get("max_epochs", -1)
    if epochs is not None and (not _is_int(epochs) or (epochs < 1 and epochs != -1)):
        raise ConfigError(
            "trainer.max_epochs", _plain(epochs), "-1 (stop at trainer.max_steps) or an int >= 1"
        )
    accelerator = t.get("accelerator", "auto")
    if accelerator not in ACCELERATORS:
        raise ConfigError("trainer.accelerator", _plain(accelerator), f"one of {ACCELERATORS}")
    devices = t.get("devices", 1)
    if not (
        devices == "auto"
        or (_is_int(devices) and devices >= 1)
        or (
            isinstance(devices, (list, ListConfig)) and devices and all(_is_int(d) for d in devices)
        )
    ):
        raise ConfigError("trainer.devices", _plain(devices), "an int >= 1, a list of ids or auto")
    _int("trainer.num_nodes", t.get("num_nodes", 1), 1)
    if accelerator in ("gpu", "cuda"):
        import torch

        available = torch.cuda.device_count()
        if available == 0:
            raise ConfigError(
                "trainer.accelerator",
                accelerator,
                "cpu on this machine: no CUDA device is visible (use trainer=cpu)",
            )
        if _is_int(devices) and devices > available:
            raise ConfigError(
                "trainer.devices", devices, f"at most {available} (the CUDA devices visible)"
            )
    precision = str(t.get("precision", "32-true"))
    if precision in UNSUPPORTED_PRECISIONS:
        raise ConfigError(
            "trainer.precision",
            _plain(t.precision),
            f"one of {', '.join(PRECISIONS)}: ridgeline keeps the weights in float32, as the "
            "probes evaluate float32 data (mixed precision computes in 16 bits on a GPU)",
        )
    if precision not in PRECISIONS:
        allowed = f"one of {', '.join(PRECISIONS)}"
        raise ConfigError("trainer.precision", _plain(t.precision), allowed)
    _int("trainer.log_every_n_steps", t.get("log_every_n_steps", 50), 1)
    _optional_int(
        "trainer.check_val_every_n_epoch", t.get("check_val_every_n_epoch", 1), 1, "no validation"
    )
    _int("trainer.num_sanity_val_steps", t.get("num_sanity_val_steps", 0), -1)
    return total


def validate_optim(cfg: DictConfig) -> None:
    import torch

    o = cfg.optim
    lr = o.get("lr")
    if not _is_number(lr) or not math.isfinite(lr) or lr <= 0:
        raise ConfigError("optim.lr", _plain(lr), "a positive number")
    if "momentum" in o:
        _number("optim.momentum", o.momentum, 0.0, 1.0, open_high=True)
    if "weight_decay" in o:
        _number("optim.weight_decay", o.weight_decay, 0.0, math.inf, open_high=True)
    if "betas" in o:
        betas = o.betas
        if (
            not isinstance(betas, (list, ListConfig))
            or len(betas) != 2
            or not all(_is_number(b) and 0.0 <= b < 1.0 for b in betas)
        ):
            raise ConfigError("optim.betas", _plain(betas), "two numbers in [0, 1)")
    if "eps" in o:
        _number("optim.eps", o.eps, 0.0, math.inf, open_low=True, open_high=True)
    factory = _instantiate("optim._target_", o, "an optimiser that accepts these settings")
    try:
        factory([torch.nn.Parameter(torch.zeros(1))])
    except Exception as exc:
        settings = {k: v for k, v in _plain(o).items() if not k.startswith("_")}
        raise ConfigError(
            "optim", settings, f"settings {o.get('_target_')} accepts ({type(exc).__name__}: {exc})"
        ) from None


def validate_schedule(cfg: DictConfig, total: int) -> None:
    s = cfg.schedule
    if "milestones" in s:
        milestones = _steps("schedule.milestones", s.milestones)
        late = [m for m in milestones if m >= total]
        if late:
            warn(
                f"schedule.milestones={milestones} has steps >= trainer.max_steps={total} "
                f"({late}): the learning rate never decays there"
            )
    if "gamma" in s:
        _number("schedule.gamma", s.gamma, 0.0, math.inf, open_low=True, open_high=True)
    if "total_steps" in s:
        _int("schedule.total_steps", s.total_steps, 1)
    if "final_factor" in s:
        _number("schedule.final_factor", s.final_factor, 0.0, 1.0)
    if "warmup_steps" in s:
        warmup = _int("schedule.warmup_steps", s.warmup_steps, 0)
        if warmup >= total:
            warn(
                f"schedule.warmup_steps={warmup} >= trainer.max_steps={total}: "
                "training ends inside the warm-up"
            )
    schedule = _instantiate("schedule._target_", s, "a schedule that accepts these settings")
    for step in (0, total // 2, total - 1):
        try:
            factor = float(schedule(step))
        except Exception as exc:
            raise ConfigError(
                "schedule", _plain(s), f"a schedule defined at step {step}: {exc}"
            ) from None
        if not math.isfinite(factor) or factor < 0:
            raise ConfigError(
                "schedule", _plain(s), f"a finite factor >= 0 at every step; {factor} at {step}"
            )


def validate_data(cfg: DictConfig) -> None:
    from ridgeline.data import DATASETS

    d = cfg.data
    name = d.get("name")
    if name not in DATASETS:
        raise ConfigError(
            "data.name",
            _plain(name),
            f"one of {', '.join(sorted(DATASETS))} (pick it with data=...)",
        )
    target = str(d.get("_target_", ""))
    declared = [n for n, cls in DATASETS.items() if target.endswith("." + cls.__name__)]
    if declared and declared[0] != name:
        raise ConfigError(
            "data.name",
            name,
            f"{declared[0]}, the dataset of this data config; pick another with data={name}",
        )
    _int("data.batch_size", d.get("batch_size"), 1)
    _int("data.eval_batch_size", d.get("eval_batch_size", 1000), 1)
    _optional_int("data.eval_train_size", d.get("eval_train_size"), 1, "the whole train split")
    _optional_int("data.eval_test_size", d.get("eval_test_size"), 1, "the whole test split")
    _int("data.eval_seed", d.get("eval_seed", 0), 0)
    _bool("data.augment", d.get("augment"), nullable=True)
    _bool("data.device_resident", d.get("device_resident", True))
    _bool("data.download", d.get("download", False))
    world = world_size(cfg)
    if world and d.batch_size % world:
        raise ConfigError(
            "data.batch_size",
            d.batch_size,
            f"a multiple of the number of DDP processes (trainer.devices × trainer.num_nodes = "
            f"{world}): every process takes an equal slice of each batch",
        )
    _instantiate("data", d, f"settings the {name} data module accepts")


def build_model_once(cfg: DictConfig, key: str):
    """The model built on the CPU without touching the global RNG; ConfigError if it cannot be."""
    import torch

    with torch.random.fork_rng(devices=[]):
        return _instantiate(key, cfg.model, "a model buildable from these settings")


def validate_model(cfg: DictConfig) -> None:
    import torch

    from ridgeline.landscape.params import has_batchnorm
    from ridgeline.models import build_model, list_models
    from ridgeline.models.registry import model_builder

    # A registered model by model.name, or a user's own builder named by model._target_.
    target = cfg.model.get("_target_")
    registered = model_builder(target) is build_model
    name = cfg.model.get("name") if registered else target
    if registered and name not in list_models():
        raise ConfigError(
            "model.name",
            _plain(name),
            f"one of {', '.join(list_models())} (pick it with model=...)",
        )
    model = build_model_once(cfg, "model.name" if registered else "model._target_")
    if not isinstance(model, torch.nn.Module):
        raise ConfigError("model._target_", target, f"a torch.nn.Module, not {type(model)}")
    shape = tuple(int(s) for s in cfg.data.input_shape)
    classes = int(cfg.data.num_classes)
    try:
        with torch.no_grad():
            out = model.eval()(torch.zeros(2, *shape))
    except Exception as exc:
        raise ConfigError(
            "model",
            name,
            f"a model that takes the {cfg.data.name} inputs of shape {list(shape)} "
            f"({type(exc).__name__}: {exc})",
        ) from None
    if tuple(out.shape) != (2, classes):
        raise ConfigError(
            "model", name, f"a model with {classes} outputs; it gives {list(out.shape[1:])}"
        )
    bn = has_batchnorm(model)
    probe = cfg.get("probe") or {}
    policy = probe.get("bn_policy", "reset")
    if policy == "batch" and not bn:
        raise ConfigError(
            "probe.bn_policy",
            policy,
            f"reset or interpolate: model {name} has no BatchNorm, so there are no batch "
            "statistics to use (pick a model with BatchNorm, e.g. vgg11_bn, for batch)",
        )
    if probe.get("align"):
        from ridgeline.landscape.permutation import UnsupportedModelError, permutation_spec

        try:
            permutation_spec(model)
        except UnsupportedModelError as exc:
            raise ConfigError("probe.align", probe.align, f"null for model {name}: {exc}") from None
    world = world_size(cfg) or 1
    if bn and cfg.data.batch_size // world < 2:
        raise ConfigError(
            "data.batch_size",
            cfg.data.batch_size,
            f"at least 2 examples per process for BatchNorm in {name} ({world} process(es))",
        )


def validate_spawn(cfg: DictConfig, total: int) -> None:
    spawn = cfg.spawn
    steps = _steps("spawn.at", spawn.get("at"))
    late = [k for k in steps if k >= total]
    if late:
        raise ConfigError(
            "spawn.at",
            _plain(spawn.at),
            f"spawn steps < trainer.max_steps={total} (children need steps to train); "
            f"{late} are past the end of training",
        )
    _int("spawn.children", spawn.get("children"), 1)
    _bool("spawn.independent", spawn.get("independent", False))
    _bool("spawn.fresh_optimizer", spawn.get("fresh_optimizer", False))
    if not steps and not spawn.get("independent"):
        raise ConfigError(
            "spawn.at", _plain(spawn.get("at")), "at least one step, or spawn.independent=true"
        )
    if spawn.get("parent_checkpoints") is not None:
        saved = _steps("spawn.parent_checkpoints", spawn.parent_checkpoints)
        if saved and saved[-1] > total:
            raise ConfigError(
                "spawn.parent_checkpoints",
                saved,
                f"steps <= trainer.max_steps={total}",
            )
        missing = [k for k in steps if k not in saved]
        if missing:
            raise ConfigError(
                "spawn.at",
                _plain(spawn.at),
                f"steps on the parent's checkpoint schedule spawn.parent_checkpoints={saved}; "
                f"{missing} are not (add them there or set it to null)",
            )


def validate_probe(cfg: DictConfig) -> None:
    probe = cfg.get("probe") or {}
    if not probe:
        return
    if "alphas" in probe:
        validate_alphas("probe.alphas", probe.alphas)
    if "profile_alphas" in probe:
        validate_alphas("probe.profile_alphas", probe.profile_alphas)
    policy = probe.get("bn_policy", "reset")
    if policy not in BN_POLICIES:
        raise ConfigError("probe.bn_policy", _plain(policy), f"one of {', '.join(BN_POLICIES)}")
    _int("probe.bn_batches", probe.get("bn_batches", 8), 1)
    _int("probe.chunk_size", probe.get("chunk_size", 1000), 1)
    _optional_int("probe.every_n_steps", probe.get("every_n_steps"), 1, "no periodic probe")
    _optional_int("probe.every_n_epochs", probe.get("every_n_epochs"), 1, "no periodic probe")
    splits: Sequence[str] = probe.get("splits", ["train", "test"])
    if (
        not isinstance(splits, (list, ListConfig))
        or not splits
        or any(s not in ("train", "test") for s in splits)
    ):
        raise ConfigError("probe.splits", _plain(splits), "a non-empty list drawn from train, test")
    from ridgeline.landscape.alignment import ALIGNMENT_METHODS

    if probe.get("align") is not None and probe.align not in ALIGNMENT_METHODS:
        known = ", ".join(ALIGNMENT_METHODS)
        raise ConfigError("probe.align", _plain(probe.align), f"null (off) or one of {known}")
    _bool("probe.align_spawned", probe.get("align_spawned", False))
    for key, node in probe.items():
        if isinstance(node, DictConfig) and "_target_" in node:
            component = _instantiate(
                f"probe.{key}", node, "a probe component that accepts these settings"
            )
            _check_arg_types(f"probe.{key}", node, type(component))
    pair_probes = [k for k in PAIR_PROBES if probe.get(k)]
    if pair_probes and _is_int(cfg.spawn.children) and cfg.spawn.children < 2:
        raise ConfigError(
            "spawn.children",
            cfg.spawn.children,
            f"at least 2 children when pair probes are on ({', '.join(pair_probes)}); "
            "set spawn.children=2 or switch them off with ~probe.<name>",
        )


def validate_top_level(cfg: DictConfig) -> None:
    _int("seed", cfg.get("seed"), 0)
    for key in ("init", "data", "aug"):
        if "seeds" in cfg and key in cfg.seeds:
            _int(f"seeds.{key}", cfg.seeds[key], 0)
    if cfg.get("checkpoint_every_n_steps") is not None:
        _int("checkpoint_every_n_steps", cfg.checkpoint_every_n_steps, 1)
    _bool("print_config", cfg.get("print_config", True))
    _bool("summary", cfg.get("summary", True))
    _optional_int("threads", cfg.get("threads"), 1, "torch's default")


def validate_logger(cfg: DictConfig) -> None:
    """ridgeline's own W&B logger keys: ``osh`` (wandb-osh sync triggers) and its command dir."""
    for name, node in (cfg.get("logger") or {}).items():
        if isinstance(node, DictConfig) and "osh" in node:
            _bool(f"logger.{name}.osh", node.get("osh"))
            directory = node.get("osh_command_dir")
            if directory is not None and not (isinstance(directory, str) and directory.strip()):
                raise ConfigError(
                    f"logger.{name}.osh_command_dir",
                    _plain(directory),
                    "a directory path, or null for wandb-osh's default",
                )


def validate_added_keys(cfg: DictConfig) -> None:
    """A key added with ``+`` where no component reads it (top level, spawn, seeds, the probe's
    settings, paths) is a typo: name the closest existing key. Keys of a node with a
    ``_target_`` are checked by building it; a new dict with a ``_target_`` is a new component.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if not HydraConfig.initialized():
        return
    hydra_cfg = HydraConfig.get()
    groups = set(hydra_cfg.runtime.choices)
    added = [
        o
        for o in OverridesParser.create().parse_overrides(list(hydra_cfg.overrides.task))
        if o.is_add() or o.is_force_add()
    ]
    new_keys = {o.key_or_group for o in added}
    for override in added:
        key = override.key_or_group
        parent, _, name = key.rpartition(".")
        if key in groups or key.split(".")[0] == "hydra":
            continue
        node = OmegaConf.select(cfg, parent) if parent else cfg
        value = OmegaConf.select(cfg, key)
        if not isinstance(node, DictConfig) or "_target_" in node or parent.startswith("logger"):
            continue
        if isinstance(value, DictConfig) and "_target_" in value:
            continue
        siblings = [str(k) for k in node if f"{parent}.{k}".lstrip(".") not in new_keys]
        full = [f"{parent}.{k}" if parent else k for k in siblings]
        raise ConfigError(
            key,
            _plain(value),
            f"not a key ridgeline reads{_closest(key, full)}; the known keys "
            f"{'of ' + parent if parent else 'at the top level'} are {', '.join(siblings)}",
        )


def validate_config(cfg: DictConfig) -> None:
    """Every check that needs only the config; raises ConfigError on the first problem."""
    validate_added_keys(cfg)
    total = validate_trainer(cfg)
    validate_top_level(cfg)
    validate_logger(cfg)
    validate_optim(cfg)
    validate_schedule(cfg, total)
    validate_spawn(cfg, total)
    validate_probe(cfg)
    validate_data(cfg)
    validate_model(cfg)


# --- data and run dir -----------------------------------------------------------------------
def split_sizes(datamodule) -> tuple[int, int]:
    """Sizes of the train and test splits (loads the data once if the module has not yet)."""
    if getattr(datamodule, "train_x", None) is not None:
        return len(datamodule.train_x), len(datamodule.test_x)
    train_x, _, test_x, _ = datamodule.load()
    return len(train_x), len(test_x)


def validate_sizes(cfg: DictConfig, n_train: int, n_test: int) -> None:
    """Evaluation subsets, batch size and epochs against the sizes of the splits."""
    d, name = cfg.data, cfg.data.name
    for key, n, split in (
        ("eval_train_size", n_train, "train"),
        ("eval_test_size", n_test, "test"),
    ):
        size = d.get(key)
        if size is not None and size > n:
            raise ConfigError(
                f"data.{key}",
                size,
                f"at most the size of the {name} {split} split ({n}), or null for all of it",
            )
    if d.batch_size > n_train:
        raise ConfigError(
            "data.batch_size", d.batch_size, f"at most the {name} train split size ({n_train})"
        )
    epochs = cfg.trainer.get("max_epochs", -1)
    per_epoch = n_train // d.batch_size
    if epochs not in (None, -1) and epochs * per_epoch < cfg.trainer.max_steps:
        raise ConfigError(
            "trainer.max_epochs",
            epochs,
            f"-1, or at least {math.ceil(cfg.trainer.max_steps / per_epoch)} so that "
            f"trainer.max_steps={cfg.trainer.max_steps} are reached ({per_epoch} steps per epoch)",
        )
    probe = cfg.get("probe") or {}
    if probe.get("bn_policy") == "batch":
        chunk = int(probe.get("chunk_size", 1000))
        world = world_size(cfg) or 1
        for split in probe.get("splits", ["train", "test"]):
            n = d.get(f"eval_{split}_size") or (n_train if split == "train" else n_test)
            shards = [n * (r + 1) // world - n * r // world for r in range(world)]
            if any(s % chunk == 1 or s == 1 for s in shards):
                raise ConfigError(
                    "probe.chunk_size",
                    chunk,
                    f"a size that leaves no evaluation chunk of 1 example: bn_policy=batch needs "
                    f"2 or more per chunk ({split}: {n} examples over {world} process(es))",
                )


def _first_difference(old: Any, new: Any, prefix: str = "") -> tuple[str, Any, Any] | None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}{key}"
            if any(path == k or path.startswith(k + ".") for k in RERUN_FREE_KEYS):
                continue
            diff = _first_difference(old.get(key, "<absent>"), new.get(key, "<absent>"), path + ".")
            if diff:
                return diff
        return None
    return None if old == new else (prefix.rstrip("."), old, new)


def check_checkpoint(path: Path) -> None:
    """A cheap integrity check of a torch zip checkpoint: a truncated file has no directory."""
    try:
        with zipfile.ZipFile(path) as archive:
            archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise RidgelineError(
            f"checkpoint {path} is truncated or corrupt ({type(exc).__name__}: {exc}); "
            "delete it and re-run to recreate it"
        ) from None


def validate_run_dir(cfg: DictConfig, run_dir: Path) -> None:
    """A run dir that holds a run is resumed only with the same config; say what is skipped."""
    from ridgeline.record_store import RecordStore
    from ridgeline.run_layout import ParentStoreLayout, RunLayout
    from ridgeline.sweep.parent_store import parent_key, parent_spec
    from ridgeline.training.phases import parent_checkpoint_steps, plan_phases

    saved = RunLayout(run_dir).config
    if saved.exists():
        try:
            old = OmegaConf.to_container(OmegaConf.load(saved), resolve=False)
        except Exception as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise RidgelineError(
                f"{saved} is damaged{where} ({type(exc).__name__}); restore it, or choose a new "
                "hydra.run.dir"
            ) from None
        if not isinstance(old, dict):
            raise RidgelineError(
                f"{saved} is damaged (not a config mapping); restore it, or choose a new "
                "hydra.run.dir"
            )
        new = {k: _plain(v) for k, v in cfg.items() if k != "hydra"}
        diff = _first_difference(old, new)
        if diff:
            key, was, now = diff
            raise ConfigError(
                key,
                now,
                f"the run dir {run_dir} already holds a run with {key}={was!r}; re-run with the "
                "same config to resume or finish it, or choose a new hydra.run.dir",
            )
    store, run = ParentStoreLayout(cfg.paths.parent_dir), RunLayout(run_dir)
    key = parent_key(parent_spec(cfg, parent_checkpoint_steps(cfg)))
    parent = store.phase(key)
    for records in (run.records, store.run(key).records):
        RecordStore(records).read()  # names a damaged line before anything is trained
    done, todo = [], []
    for phase in plan_phases(cfg, parent):
        layout = parent if phase.kind == "parent" else run.phase(phase.name)
        if layout.done.exists():
            done.append(phase.name)
        else:
            todo.append(phase.name)
            if layout.last_checkpoint.exists():
                check_checkpoint(layout.last_checkpoint)
        if phase.parent_checkpoint is not None and parent.done.exists():
            path = Path(phase.parent_checkpoint)
            if not run.phase(phase.name).done.exists():
                if not path.is_file():
                    raise RidgelineError(
                        f"parent checkpoint {path} is missing although the stored parent "
                        f"{parent.root} is finished; delete {parent.root} to train it again"
                    )
                check_checkpoint(path)
    if done and not todo:
        note(
            f"the run dir {run_dir} already holds a finished run (phases {', '.join(done)}); "
            "nothing is trained again. Choose a new hydra.run.dir for a new run."
        )
    elif done:
        note(
            f"resuming in {run_dir}: finished phases {', '.join(done)} are skipped; "
            f"training {', '.join(todo)}"
        )


def check_writable(key: str, directory: Path) -> None:
    """``directory`` (existing, or to be created) can be written: a temporary file is made in
    it, or in its nearest existing ancestor, and removed."""
    import tempfile

    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        problem = f"{existing} is a file, not a directory"
    else:
        try:
            with tempfile.TemporaryFile(dir=existing):
                problem = None
        except OSError as exc:
            problem = f"{existing} is not writable ({exc.strerror or exc})"
    if problem:
        raise ConfigError(key, str(directory), f"a directory this job can write; {problem}")


def validate_writable(cfg: DictConfig, run_dir: Path) -> None:
    """The run dir (with its landscape/ and figures/) and the parent store can be written."""
    check_writable("hydra.run.dir", run_dir)
    for sub in ("landscape", "figures"):
        if (run_dir / sub).exists():
            check_writable("hydra.run.dir", run_dir / sub)
    check_writable("paths.parent_dir", Path(cfg.paths.parent_dir))


def validate_run(cfg: DictConfig, datamodule, run_dir: Path) -> None:
    """Checks that need the data or the run dir; call after check_available, before training."""
    n_train, n_test = split_sizes(datamodule)
    validate_sizes(cfg, n_train, n_test)
    validate_writable(cfg, Path(run_dir))
    validate_run_dir(cfg, Path(run_dir))
