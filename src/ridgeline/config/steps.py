"""Step lists for spawn points and checkpoint schedules (no heavy imports: used by configs)."""


def log_spaced_steps(first: int, last: int, count: int, with_zero: bool = True) -> list[int]:
    """``count`` integer steps spaced evenly in log between ``first`` and ``last`` (and 0).

    E.g. log_spaced_steps(10, 1000, 3) == [0, 10, 100, 1000]; duplicates after rounding are merged.
    """
    if first < 1 or last < first or count < 1:
        raise ValueError(f"need 1 <= first <= last and count >= 1, got {first}, {last}, {count}")
    if count == 1:
        steps = [first]
    else:
        ratio = (last / first) ** (1 / (count - 1))
        steps = [round(first * ratio**i) for i in range(count)]
    return sorted({0, *steps} if with_zero else set(steps))
