"""Claim 6 of ``ridgeline-reproduce`` alone: the aligned-ViT barrier table (Theus et al. 2025).

Trains ``conf/experiment/repro_vit_alignment.yaml`` for seeds 0..N−1 exactly as
``ridgeline-reproduce`` does (same multirun, same run dirs, finished jobs are skipped on a
rerun), measures each run's table (:mod:`ridgeline.reproduce.alignment`, written once to
``<run dir>/alignment.json``), decides claim 6 with its fixed criterion and writes
``reproduce.md/.csv/.json`` for that claim into ``--out``; prints the per-seed barriers too.

    python scripts/transformer_alignment_table.py --seeds 3 --out outputs/vit_alignment --threads 1
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from ridgeline.job.run import load_run
from ridgeline.reproduce.alignment import ALIGNMENTS, ensure_alignment
from ridgeline.reproduce.claims import CLAIMS
from ridgeline.reproduce.experiments import VIT_ALIGNMENT, run_experiments
from ridgeline.reproduce.table import markdown, write_table
from ridgeline.tracking.environment import run_environment


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default="outputs/vit_alignment")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--tiny", action="store_true")
    args = ap.parse_args(argv)
    if args.seeds < 2:
        print(f"error: --seeds={args.seeds} is not valid: use at least 2", file=sys.stderr)
        return 2
    out, seeds = Path(args.out), list(range(args.seeds))
    start = time.perf_counter()
    jobs = run_experiments(out, seeds, args.tiny, args.threads, experiments=(VIT_ALIGNMENT,))
    train_s = time.perf_counter() - start
    runs = [load_run(j.run_dir) for j in jobs]
    tables = [ensure_alignment(r, learned_steps=5 if args.tiny else 100) for r in runs]
    claim = next(c for c in CLAIMS if c.id == "6")
    result = claim.evaluate({VIT_ALIGNMENT: runs}, seeds)
    wall = time.perf_counter() - start
    command = ["python", "scripts/transformer_alignment_table.py", *(argv or sys.argv[1:])]
    extra = {
        "command": shlex.join(command),
        "seeds": seeds,
        "tiny": args.tiny,
        "wall_s": wall,
        "train_s": train_s,
        "runs": {VIT_ALIGNMENT: [str(r.root) for r in runs]},
        "environment": run_environment(),
    }
    write_table([result], out, extra)
    print(markdown([result]))
    print("| alignment | coordinates | " + " | ".join(f"seed {s}" for s in seeds) + " |")
    print("|---|---|" + "---|" * len(seeds))
    for a in ALIGNMENTS:
        row = [t.rows[[r.key for r in t.rows].index(a.key)] for t in tables]
        values = " | ".join(f"{r.loss_barrier:.3f}" for r in row)
        print(f"| {a.label} | {row[0].coordinates} | {values} |")
    ends = [f"{t.rows[0].loss[0]:.3f}/{t.rows[0].loss[-1]:.3f}" for t in tables]
    print(f"endpoint test losses L_A/L_B per seed: {', '.join(ends)}; {wall:.0f} s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
