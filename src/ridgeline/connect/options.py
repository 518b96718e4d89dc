"""What ``ridgeline-connect`` fits and measures, and its defaults: plain values (no torch), so
that the console script parses its arguments, and prints ``--help``, before anything heavy is
imported."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SPLITS = ("test", "train")
DEFAULT_POINTS = 25  # t = 0, 1/24, ..., 1: the probes' default α-grid
DEFAULT_MAX_HOURS = 24.0


@dataclass
class ConnectOptions:
    """What to fit and where to measure it (defaults: the ``ridgeline-connect`` defaults)."""

    phases: Sequence[str] | None = None  # None: every spawn phase and the independent one
    kind: str = "bezier"
    steps: int = 200
    lr: float = 1e-2
    optimizer: str = "adam"
    t_per_step: int = 1
    split: str = "test"
    train_batches: int = 8
    batch_size: int | None = None  # None: the run's data.batch_size
    points: int = DEFAULT_POINTS
    seed: int = 0
    bn_policy: str | None = None  # None: the run's probe.bn_policy (repair: interpolate)
    max_hours: float = DEFAULT_MAX_HOURS  # refuse a larger estimated cost
