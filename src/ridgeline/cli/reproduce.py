"""``ridgeline-reproduce``: run the CPU-sized experiments over seeds and write the table of the
claims ridgeline reproduces (markdown, CSV, JSON) and its figure.

    ridgeline-reproduce --seeds 3 --out reproduce     # ~30 min on 2 CPU cores
    ridgeline-reproduce --tiny --seeds 2 --out /tmp/r  # a few steps of everything (tests)
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from ridgeline.cli.errors import fail
from ridgeline.errors import RidgelineError

DEFAULT_OUT = "outputs/reproduce"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="ridgeline-reproduce", description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (at least 2; default 3)")
    ap.add_argument("--out", default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    ap.add_argument("--tiny", action="store_true", help="a few steps of every experiment (tests)")
    ap.add_argument(
        "--vit-instability",
        action="store_true",
        help="also claim 7, the ViT's instability analysis (about 8 CPU-minutes per seed)",
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads per job (default: torch's)",
    )
    return ap.parse_args(argv)


def bad_argument(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments (None when nothing), checked before anything runs."""
    if args.seeds < 2:
        return f"--seeds={args.seeds} is not valid: use at least 2 seeds, for a standard deviation"
    if args.threads is not None and args.threads < 1:
        return f"--threads={args.threads} is not valid: use a positive number of threads"
    out = Path(args.out)
    existing = next((p for p in (out, *out.parents) if p.exists()), Path("."))
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        return f"--out={args.out} is not valid: {existing} is not a writable directory"
    return None


def main(argv: list[str] | None = None) -> int:
    """Console script entry point: 0 when the table is written, 2 for bad arguments, 1 when a
    training job failed (its log is named)."""
    args = parse_args(argv)
    problem = bad_argument(args)
    if problem:
        return fail("ridgeline", problem, squeeze=True)
    out = Path(args.out)
    from ridgeline.job.run import load_run
    from ridgeline.reproduce.alignment import LEARNED_STEPS, TINY_LEARNED_STEPS, ensure_alignment
    from ridgeline.reproduce.claims import CLAIMS, Claim
    from ridgeline.reproduce.experiments import EXPERIMENTS, VIT_ALIGNMENT, run_experiments
    from ridgeline.reproduce.figures import prediction_figure
    from ridgeline.reproduce.table import markdown, write_table
    from ridgeline.reproduce.vit_instability import VIT_INSTABILITY, VIT_INSTABILITY_CLAIM
    from ridgeline.tracking.environment import run_environment

    experiments: tuple[str, ...] = EXPERIMENTS
    claims: tuple[Claim, ...] = CLAIMS
    if args.vit_instability:
        experiments, claims = (*experiments, VIT_INSTABILITY), (*claims, VIT_INSTABILITY_CLAIM)

    seeds = list(range(args.seeds))
    start = time.perf_counter()
    try:
        jobs = run_experiments(
            out, seeds, tiny=args.tiny, threads=args.threads, experiments=experiments
        )
    except RidgelineError as exc:
        return fail("ridgeline", exc, code=1, squeeze=True)
    train_s = time.perf_counter() - start
    runs = {e: [load_run(j.run_dir) for j in jobs if j.experiment == e] for e in experiments}
    for run in runs[VIT_ALIGNMENT]:  # claim 6: the aligned barriers, once per run dir
        ensure_alignment(run, learned_steps=TINY_LEARNED_STEPS if args.tiny else LEARNED_STEPS)
    results = [claim.evaluate(runs, seeds) for claim in claims]
    figure = prediction_figure(runs, seeds, out / "predicted_vs_measured_relu_gelu.png")
    wall = time.perf_counter() - start
    extra = {
        "command": shlex.join(["ridgeline-reproduce", *(sys.argv[1:] if argv is None else argv)]),
        "seeds": seeds,
        "tiny": args.tiny,
        "wall_s": wall,
        "train_s": train_s,
        "runs": {e: [str(r.root) for r in rs] for e, rs in runs.items()},
        "figures": [str(figure)],
        "environment": run_environment(),
    }
    paths = write_table(results, out, extra)
    print(markdown(results))
    held = sum(r.holds for r in results)
    print(
        f"{held} of {len(results)} claims hold; {wall:.0f} s wall time; "
        f"table: {', '.join(str(p) for p in paths.values())}; figure: {figure}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
