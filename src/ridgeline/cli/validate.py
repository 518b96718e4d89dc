"""Checks of the composed config before any data is loaded or any step is trained.

Each failure raises :class:`ConfigError` naming the key, the value and what is allowed.
"""

from collections.abc import Sequence

from omegaconf import DictConfig, ListConfig

from ridgeline.errors import ConfigError

BN_POLICIES = ("reset", "interpolate", "batch")


def _int(key: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(key, value, f"an integer >= {minimum}")
    return value


def validate_alphas(key: str, alphas: object) -> list[float]:
    """An α-grid: numbers in [0, 1], strictly increasing, containing both endpoints 0 and 1."""
    if not isinstance(alphas, (list, tuple, ListConfig)) or len(alphas) < 2:
        raise ConfigError(key, alphas, "a list of at least 2 numbers in [0, 1] including 0 and 1")
    values = []
    for a in alphas:
        if isinstance(a, bool) or not isinstance(a, (int, float)):
            raise ConfigError(key, list(alphas), f"numbers only; {a!r} is not a number")
        values.append(float(a))
    if any(a < 0.0 or a > 1.0 for a in values):
        raise ConfigError(key, values, "every α must lie in [0, 1]")
    if values[0] != 0.0 or values[-1] != 1.0:
        raise ConfigError(key, values, "the grid must start at 0 and end at 1 (both endpoints)")
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ConfigError(key, values, "α values must be strictly increasing")
    return values


def validate_spawn(cfg: DictConfig, total: int) -> None:
    spawn = cfg.spawn
    steps = spawn.at if spawn.at is not None else []
    if isinstance(steps, int):
        steps = [steps]
    if not isinstance(steps, (list, ListConfig)):
        raise ConfigError("spawn.at", steps, "a step or a list of steps (iterations) in [0, T]")
    for k in steps:
        _int("spawn.at", k, 0)
        if k >= total:
            raise ConfigError(
                "spawn.at",
                list(steps),
                f"spawn steps must be < trainer.max_steps={total} (children need steps to train)",
            )
    _int("spawn.children", spawn.children, 1)


def validate_probe(cfg: DictConfig) -> None:
    probe = cfg.get("probe") or {}
    if "alphas" in probe:
        validate_alphas("probe.alphas", probe.alphas)
    if "profile_alphas" in probe:
        validate_alphas("probe.profile_alphas", probe.profile_alphas)
    policy = probe.get("bn_policy", "reset")
    if policy not in BN_POLICIES:
        raise ConfigError("probe.bn_policy", policy, f"one of {', '.join(BN_POLICIES)}")
    every = probe.get("every_n_steps")
    if every is not None:
        _int("probe.every_n_steps", every, 1)
    pair_probes = [k for k in ("barrier", "layerwise", "curvature", "geometry") if probe.get(k)]
    if pair_probes and int(cfg.spawn.children) < 2:
        raise ConfigError(
            "spawn.children",
            cfg.spawn.children,
            f"at least 2 children when pair probes are on ({', '.join(pair_probes)}); "
            "set spawn.children=2 or switch them off with ~probe.<name>",
        )
    splits: Sequence[str] = probe.get("splits", ["train", "test"])
    for split in splits:
        if split not in ("train", "test"):
            raise ConfigError("probe.splits", list(splits), "a list drawn from train, test")


def validate_config(cfg: DictConfig) -> None:
    """Every check that needs only the config; raises ConfigError on the first problem."""
    total = _int("trainer.max_steps", cfg.trainer.max_steps, 1)
    lr = cfg.optim.get("lr")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0:
        raise ConfigError("optim.lr", lr, "a positive number")
    _int("data.batch_size", cfg.data.batch_size, 1)
    from ridgeline.models import list_models

    if cfg.model.get("name") not in list_models():
        raise ConfigError("model.name", cfg.model.get("name"), f"one of {', '.join(list_models())}")
    validate_spawn(cfg, total)
    validate_probe(cfg)
