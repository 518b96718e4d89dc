"""Re-measure the README's performance table: every row's benchmark at 1 and 2 threads.

Runs each script below as its own process (each runs one subprocess per thread count with
OMP_NUM_THREADS set) and prints, last, the headline of every row per thread count with the load
averages before and after. ``--quick`` uses fewer repeats (about 8 min on an idle 2-core machine);
``--only landscape,probe`` runs a subset.
Usage: python scripts/bench_all.py [--quick] [--threads 1,2] [--only NAME,...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bench_common import load

HERE = Path(__file__).parent
# name: (script, arguments, arguments with --quick)
ROWS: dict[str, tuple[str, list[str], list[str]]] = {
    "training": ("bench_training.py", ["--repeats", "5"], ["--repeats", "3"]),
    "lockstep": ("bench_lockstep.py", ["--repeats", "5"], ["--repeats", "3"]),
    "lockstep_cnn": (
        "bench_lockstep.py",
        ["--model", "cnn", "--steps", "20", "--repeats", "5"],
        ["--model", "cnn", "--steps", "20", "--repeats", "3"],
    ),
    "probe": ("bench_probe.py", ["--repeats", "3", "--naive"], ["--repeats", "1", "--naive"]),
    "landscape": (
        "bench_landscape.py",
        ["--repeats", "5"],
        ["--repeats", "3", "--lw-repeats", "1"],
    ),
    "vs_plain": ("bench_vs_plain.py", [], []),
}


def main() -> None:
    """Run the selected rows; print every headline per thread count at the end."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--only", default=",".join(ROWS), help=f"comma-separated of {list(ROWS)}")
    args = ap.parse_args()
    summary = [f"before: {load()}"]
    start = time.perf_counter()
    for name in args.only.split(","):
        script, full, quick = ROWS[name]
        cmd = [sys.executable, str(HERE / script), *(quick if args.quick else full)]
        cmd += ["--threads", args.threads]
        print(f"$ {' '.join(cmd[1:])}", flush=True)
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        print(done.stdout, end="", flush=True)
        if done.returncode != 0:
            print(done.stderr[-3000:])
            summary.append(f"{name}: failed (exit {done.returncode})")
            continue
        summary += [f"{name}, {line}" for line in done.stdout.splitlines() if " threads: " in line]
    summary.append(f"after: {load()}; {time.perf_counter() - start:.0f} s in all")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
