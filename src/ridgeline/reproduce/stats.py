"""Mean ± s.d. over seeds, and the fit of a prediction to a measurement (Pearson r, slope)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n − 1; 0 for one value)."""
    if not values:
        raise ValueError("mean_sd of no values")
    n = len(values)
    m = sum(values) / n
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return m, sd


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Pearson correlation of paired values (nan when either has no spread)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else math.nan


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of y on x: cov(x, y) / var(x) (1 when y = x; nan without spread)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return sxy / sxx if sxx > 0 else math.nan
