"""Rules on the values of one group: schema ranges, α-grids, step lists and unknown keys."""

import math
from dataclasses import fields, is_dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig

from ridgeline.config.rules.helpers import closest, is_int, plain
from ridgeline.config.schema import plain_kind
from ridgeline.errors import ConfigError


def check_ranges(prefix: str, settings: Any) -> None:
    """Every field of a typed group within what its schema field allows."""
    for f in fields(settings):
        allowed = f.metadata.get("allowed")
        value = getattr(settings, f.name)
        if is_dataclass(value):
            check_ranges(f"{prefix}{f.name}.", value)
        elif allowed is not None and not allowed.admits(value):
            raise ConfigError(f"{prefix}{f.name}", value, allowed.describe(plain_kind(f.type)))


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
    valid = [k for k in listed if is_int(k) and k >= 0]
    if len(valid) != len(listed):
        raise ConfigError(key, plain(value), "a step or a list of steps (integers >= 0)")
    return tuple(sorted(set(valid)))


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
