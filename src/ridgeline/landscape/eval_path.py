"""Which evaluation path runs a workload: vmap over stacked sets, or a loop of forward passes.

Which of the two is faster depends on the model, the chunk size, the number of sets and the
thread count, so it is measured, once per workload (``PathCache``), and records name the path
they used. Trials on slices of the first chunk run both ways first: at most one vmap group of
sets (``vmap_max_sets``) per group of the workload, on ``TRIAL_EXAMPLES`` examples, then
``TRIAL_GROWTH`` times more while below the chunk size. Where the loop is ``CLEAR_WIN`` times
faster it is taken; otherwise the whole first chunk is evaluated both ways, in interleaved
rounds, and vmap is kept (its result used) only when it is ``VMAP_MARGIN`` times faster in
every round's best; otherwise the loop. Only the loop can win a trial: on a slice, per-call
overheads (one call per set in the loop, one per group under vmap) weigh more than on the whole
chunk, so a trial favours vmap (the quickstart's CNN at 2 threads: vmap clearly ahead on 64
examples, 5.5x the loop's time on 2,000).

Noise: a loaded machine only adds time to a reading (other processes, preemption), never
removes it, so the best of several interleaved readings is the least disturbed one. vmap wins
only if all ``VMAP_ROUNDS`` readings of the loop were slowed past ``VMAP_MARGIN`` times vmap's
best; the rounds stop at the first round that does not show that, and the loop is kept. The loop
is the prior because the two mistakes cost differently: the quickstart CNN's curve ran at
2.2-4.0x its floor under vmap and 1.02-1.11x under the loop, and a single pair of readings at
load 4 on 2 cores picked vmap (1.59x the floor); a mistaken loop loses at most ``VMAP_MARGIN``.

:func:`run_chunks` is the one chunk loop of every evaluation: first chunk, path choice (with
its trials), then the other chunks on the chosen path. Timings read an injectable ``clock``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict, TypeVar

import torch
from torch import Tensor

from ridgeline.landscape.sums import Reduce

EvalPath = Literal["vmap", "loop"]
# probe.eval_path: "auto" measures (the module doc), "vmap" or "loop" pins that path.
EVAL_PATH_CHOICES = ("auto", "vmap", "loop")
PathCache = dict[Hashable, EvalPath]
Clock = Callable[[], float]
Chunk = tuple[Tensor, Tensor]
T = TypeVar("T")

# Measured choices of this process, keyed by model, data shape, chunk size, threads and workload
# (the default cache of every Evaluator; pass ``path_cache={}`` for a fresh measurement).
MEASURED_PATHS: PathCache = {}
# The second round of timings runs only when neither path took CLEAR_WIN times the other and
# both together took under SECOND_ROUND_S seconds (short runs are the noisy ones; on long ones a
# second round would cost more than a close call can lose).
CLEAR_WIN = 1.5
SECOND_ROUND_S = 0.25
# The trials: so few examples that a slow vmap (grouped convolutions on a CPU run up to 6x the
# loop) costs a fraction of the workload's first chunk instead of several times it; a trial the
# loop does not clearly win is repeated on TRIAL_GROWTH times the examples before the whole chunk.
TRIAL_EXAMPLES = 64
TRIAL_GROWTH = 4
# vmap is taken only when VMAP_MARGIN times faster than the loop, confirmed by the best of
# VMAP_ROUNDS interleaved rounds on the whole first chunk (the module doc: noise).
VMAP_MARGIN = 1.25
VMAP_ROUNDS = 5


@dataclass
class PathTuning:
    """How an Evaluator picks its path: ``use_vmap`` None measures, True/False pins vmap/loop.

    ``vmap_max_sets`` and ``vmap_memory_mb`` bound one vmap group; ``path_cache`` keeps the
    measured choices (default: this process's ``MEASURED_PATHS``); ``clock`` times the trials.
    """

    use_vmap: bool | None = None
    vmap_max_sets: int = 32
    vmap_memory_mb: float = 512.0
    path_cache: PathCache | None = None
    clock: Clock = field(default=time.perf_counter)


class TuningKeywords(TypedDict, total=False):
    """The fields of :class:`PathTuning` as keywords of ``Evaluator(...)``."""

    use_vmap: bool | None
    vmap_max_sets: int
    vmap_memory_mb: float
    path_cache: PathCache | None
    clock: Clock


def use_vmap_of(eval_path: str) -> bool | None:
    """``Evaluator(use_vmap=...)`` of an ``EVAL_PATH_CHOICES`` name: None measures, else pins."""
    if eval_path not in EVAL_PATH_CHOICES:
        raise ValueError(f"eval_path must be one of {EVAL_PATH_CHOICES}, got {eval_path!r}")
    return None if eval_path == "auto" else eval_path == "vmap"


def measure_path(
    key: Hashable,
    cache: PathCache,
    chunk_size: int,
    first_chunk: Callable[[bool], T] | None,
    reduce: Reduce | None,
    trial: Callable[[bool, int], object] | None,
    device: torch.device,
    clock: Clock = time.perf_counter,
) -> tuple[EvalPath, T | None]:
    """The measured path of workload ``key`` (kept in ``cache``) and the first chunk's result.

    ``trial(use_vmap, n)`` is timed for n = ``TRIAL_EXAMPLES``, then ``TRIAL_GROWTH`` times
    more while n is below ``chunk_size``; a loop ``CLEAR_WIN`` times faster than vmap is taken
    without touching the first chunk (result None). Otherwise ``first_chunk(use_vmap)`` is timed
    in rounds (:func:`time_rounds`) and the chosen path's result returned. Under ``reduce`` (a
    sum over processes) every process adds up the same times, so all take the same path after
    the same reductions; a process with no data passes ``first_chunk=None`` and ``trial=None``
    and still takes part in them.
    """
    n = TRIAL_EXAMPLES
    while (trial is not None or reduce is not None) and n < chunk_size:
        run = None if trial is None else (lambda use, n=n: trial(use, n))
        quick = reduced_times(time_paths(run, {}, device, clock), reduce)
        if quick[0] > 0 and quick[1] > CLEAR_WIN * quick[0]:  # only the loop wins a trial
            return remember(cache, key, quick), None
        n *= TRIAL_GROWTH
    results: dict[bool, T] = {}
    times = time_rounds(first_chunk, results, device, clock, reduce)
    path = remember(cache, key, times)
    return path, results.get(path == "vmap")


def time_paths(
    run: Callable[[bool], T] | None,
    results: dict[bool, T],
    device: torch.device,
    clock: Clock = time.perf_counter,
) -> list[float]:
    """Best wall time of ``run(use_vmap)`` per path [loop, vmap] (inf where vmap raises;
    zeros without ``run``), results kept in ``results``; a second round only when close
    and cheap (``CLEAR_WIN``, ``SECOND_ROUND_S``)."""
    if run is None:
        return [0.0, 0.0]
    best = [math.inf, math.inf]
    for i, use in enumerate((False, True, True, False)):
        if i == 2 and (max(best) > CLEAR_WIN * min(best) or sum(best) > SECOND_ROUND_S):
            break  # clearly decided, or a second round would cost too much
        best[use] = min(best[use], _timed_run(run, use, results, device, clock))
    return best


def _timed_run(
    run: Callable[[bool], T], use: bool, results: dict[bool, T], device: torch.device, clock: Clock
) -> float:
    """Wall time of one ``run(use)``, its result kept in ``results``; inf where vmap raises (an
    op without a vmap rule: the loop wins); a failing loop raises."""
    start = clock()
    try:
        results[use] = run(use)
    except (RuntimeError, NotImplementedError):
        if not use:
            raise
        return math.inf
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return clock() - start


def _time_once(
    run: Callable[[bool], T] | None,
    results: dict[bool, T],
    device: torch.device,
    clock: Clock,
    order: tuple[bool, bool],
) -> list[float]:
    """Wall time [loop, vmap] of one ``run(use_vmap)`` per path, in ``order`` (inf where vmap
    raises; zeros without ``run``)."""
    times = [0.0, 0.0]
    if run is None:
        return times
    for use in order:
        times[use] = _timed_run(run, use, results, device, clock)
    return times


def time_rounds(
    run: Callable[[bool], T] | None,
    results: dict[bool, T],
    device: torch.device,
    clock: Clock = time.perf_counter,
    reduce: Reduce | None = None,
) -> list[float]:
    """Best [loop, vmap] times (summed over processes by ``reduce``) of up to ``VMAP_ROUNDS``
    rounds of ``run(use_vmap)`` both ways, interleaved (loop first, then vmap first, ...).

    The rounds go on only while vmap's best is ``VMAP_MARGIN`` times below the loop's (one
    ``reduce`` call per round, so every process runs the same rounds); results kept in
    ``results``.
    """
    best = [math.inf, math.inf]
    for r in range(VMAP_ROUNDS):
        order = (False, True) if r % 2 == 0 else (True, False)
        times = reduced_times(_time_once(run, results, device, clock, order), reduce)
        best = [min(b, t) for b, t in zip(best, times, strict=True)]
        if not vmap_wins(best):
            break
    return best


def vmap_wins(times: list[float]) -> bool:
    """vmap's time ``VMAP_MARGIN`` times below the loop's in [loop, vmap] ``times``."""
    return VMAP_MARGIN * times[1] < times[0]


def reduced_times(times: list[float], reduce: Reduce | None) -> list[float]:
    """[loop, vmap] seconds summed over processes by ``reduce`` (as they are without)."""
    if reduce is None:
        return times
    out: list[float] = reduce(torch.tensor(times, dtype=torch.float64)).tolist()
    return out


def remember(cache: PathCache, key: Hashable, times: list[float]) -> EvalPath:
    """vmap where it wins by the margin in [loop, vmap] ``times`` (:func:`vmap_wins`), else
    the loop; kept in ``cache`` under ``key``."""
    path: EvalPath = "vmap" if vmap_wins(times) else "loop"
    cache[key] = path
    return path


@dataclass
class ChunkTotal:
    """Sums over all chunks (None without a chunk), the path they ran on, the example count."""

    sums: Tensor | None
    path: EvalPath
    n: int


class ChunkSource(Protocol):
    """What :func:`run_chunks` reads of an :class:`~ridgeline.landscape.evaluate.Evaluator`: its
    data chunks and its path choice (``choose_path(workload, first_chunk, reduce, trial)``)."""

    def chunks(self) -> Iterable[Chunk]: ...

    @property
    def choose_path(self) -> Callable[..., tuple[EvalPath, Any]]: ...


def run_chunks(
    source: ChunkSource,
    workload: Hashable | None,
    run: Callable[[Chunk, bool], Tensor],
    trial: Callable[[Chunk, bool], Tensor],
    reduce: Reduce | None = None,
    loop_on_vmap_error: bool = False,
) -> ChunkTotal:
    """Σ over the source's chunks of ``run(chunk, use_vmap)``, added in chunk order.

    With a ``workload`` the path is chosen by ``source.choose_path`` on the first chunk
    (``trial(slice, use_vmap)`` on its first examples first); without one the loop runs.
    ``loop_on_vmap_error``: a chunk whose vmap raises (no batching rule) runs the loop, and
    so do all after it.
    """
    chunks = iter(source.chunks())
    first = next(chunks, None)
    path: EvalPath = "loop"
    sums: Tensor | None = None
    if workload is not None:
        if first is not None:
            head = first

            def run_first(use_vmap: bool) -> Tensor:
                return run(head, use_vmap)

            def run_trial(use_vmap: bool, k: int) -> Tensor:
                return trial((head[0][:k], head[1][:k]), use_vmap)

            path, sums = source.choose_path(workload, run_first, reduce, trial=run_trial)
        else:
            path, sums = source.choose_path(workload, None, reduce, trial=None)

    def one(chunk: Chunk) -> Tensor:
        nonlocal path
        if loop_on_vmap_error and path == "vmap":
            try:
                return run(chunk, True)
            except (RuntimeError, NotImplementedError):
                path = "loop"  # vmap pinned, but an op has no batching rule
        return run(chunk, path == "vmap")

    n = 0
    if first is not None:
        if sums is None:
            sums = one(first)
        n += len(first[1])
    for chunk in chunks:
        sums = one(chunk) if sums is None else sums + one(chunk)
        n += len(chunk[1])
    return ChunkTotal(sums, path, n)
