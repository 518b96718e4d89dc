"""Rules on the trainer: Lightning's own keys, steps, precision, devices, and the threads."""

from omegaconf import DictConfig, ListConfig

from ridgeline.config.rules.helpers import at_least, closest, is_int, plain
from ridgeline.errors import ConfigError

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
                f"trainer.{key!s}",
                plain(trainer[key]),
                "not an argument of pytorch_lightning.Trainer"
                + closest(f"trainer.{key!s}", [f"trainer.{a}" for a in arguments]),
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
    """The Trainer keys ridgeline relies on; returns T (``trainer.max_steps``).

    Whether every key is an argument of Lightning's Trainer is :func:`check_trainer_keys`, which
    imports Lightning: :func:`ridgeline.job.validate.validate_config` runs it last
    (:func:`~ridgeline.config.rules.across.check_lightning_classes`).
    """
    total = at_least("trainer.max_steps", t.get("max_steps"), 1)
    epochs = t.get("max_epochs", -1)
    if epochs is not None and (not is_int(epochs) or (epochs < 1 and epochs != -1)):
        raise ConfigError(
            "trainer.max_epochs", plain(epochs), "-1 (stop at trainer.max_steps) or an int >= 1"
        )
    check_fast_dev_run(t.get("fast_dev_run"))
    check_stops_early(t)
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


def check_stops_early(t: DictConfig) -> None:
    """Lightning keys that end ``fit`` before ``trainer.max_steps``: the phase would be marked
    done short of its steps (``limit_train_batches=0`` trains nothing, so a parent without its
    spawn point; ``max_time`` stops mid-phase). ``max_epochs`` is checked against the dataset's
    size (:func:`ridgeline.config.rules.dataset.check_sizes`)."""
    limit = t.get("limit_train_batches")
    if limit is not None and not (isinstance(limit, float) and limit == 1.0):
        raise ConfigError(
            "trainer.limit_train_batches",
            plain(limit),
            "null or 1.0 (every batch of each epoch): a phase trains trainer.max_steps steps "
            "over whole epochs; shorten a run with trainer.max_steps",
        )
    if t.get("max_time") is not None:
        raise ConfigError(
            "trainer.max_time",
            plain(t.max_time),
            "null: Lightning would stop a phase before trainer.max_steps; a cluster's time limit "
            "(SIGTERM) saves the phase and the same command resumes it",
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
    """At most THREADS_PER_CORE threads per usable core (more is surely a typo)."""
    cores = usable_cores()
    if threads is not None and threads > THREADS_PER_CORE * cores:
        raise ConfigError(
            "threads",
            threads,
            f"an integer from 1 to {THREADS_PER_CORE * cores} ({THREADS_PER_CORE} x the {cores} "
            "CPU cores this process may use), or null for torch's default",
        )
