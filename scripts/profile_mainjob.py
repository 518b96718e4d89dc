"""Where the main job's wall time goes: imports, validation, data, training, each probe
component, the figures and W&B at the end, and start-up by imported package.

Runs ``python -m cProfile -m ridgeline logger=none [overrides]`` in a fresh temporary directory
(no parent store to reuse) and reads the profile back: the cumulative time of the functions
that bound each part. cProfile slows Python-heavy code more than torch kernels, so the table
gives shares of the profiled run next to its own wall time; the un-profiled wall time of the
same command is measured first (``--no-plain`` skips it).
Usage: python scripts/profile_mainjob.py [--overrides "trainer.max_steps=200"] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import pstats
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import load

# (label, module path suffix, function name): the cumulative time of each, summed over calls.
PARTS = [
    ("imports (all modules)", "<frozen importlib._bootstrap>", "_find_and_load"),
    ("validate_config", "store/validate.py", "validate_config"),
    ("validate_run (data sizes, run dir)", "store/validate.py", "validate_run"),
    ("data: prepare_data", "data/base.py", "prepare_data"),
    ("parent phase (training + its probes)", "cli/train.py", "train_parent"),
    ("child phases (training + probes)", "training/phases.py", "run_phase"),
    ("probes: all", "probes/callback.py", "probe"),
    ("  barrier", "probes/barrier.py", "compute"),
    ("  layerwise", "probes/layerwise.py", "compute"),
    ("  curvature", "probes/curvature.py", "compute"),
    ("  geometry", "probes/geometry.py", "compute"),
    ("  parent", "probes/parent.py", "compute"),
    ("  aligned", "probes/aligned.py", "compute"),
    ("phase-end figures and W&B tables", "tracking/probe_logging.py", "log_phase_end"),
    ("run summary (table, figures)", "report/summary.py", "summarise_run"),
    ("run summary to loggers", "tracking/loggers.py", "log_run_summary"),
]


# Start-up by import: what ridgeline-train imports, in its order; a module first imported by an
# earlier one is counted there too (torchvision comes in through Lightning: lightning_fabric
# checks torchmetrics' version by importing it, and torchmetrics imports torchvision's models).
STARTUP = ["ridgeline.cli.train", "torch", "pytorch_lightning", "matplotlib.pyplot"]
INSIDE = ["hydra", "lightning_fabric", "torchvision", "scipy"]


def import_times(env: dict[str, str]) -> dict[str, float]:
    """Cumulative import seconds of the STARTUP and INSIDE modules in a fresh interpreter
    (``python -X importtime``), each counted where it was first imported."""
    code = "; ".join(f"import {m}" for m in STARTUP)
    cmd = [sys.executable, "-X", "importtime", "-c", code]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    out: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|")
            if name.strip() in STARTUP + INSIDE and cumulative.strip().isdigit():
                out[name.strip()] = int(cumulative) / 1e6
    return out


def part_times(stats: pstats.Stats) -> dict[str, float]:
    """Cumulative seconds of each part (0.0 where the function never ran)."""
    out = {label: 0.0 for label, _, _ in PARTS}
    for (path, _, name), (_, _, _, cum, _) in stats.stats.items():  # type: ignore[attr-defined]
        for label, suffix, fn in PARTS:
            if name == fn and path.replace(os.sep, "/").endswith(suffix):
                out[label] += cum
    return out


def run(cmd: list[str], env: dict[str, str]) -> float:
    tmp = tempfile.mkdtemp(prefix="ridgeline_profile_")
    try:
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            print((proc.stdout + proc.stderr)[-4000:])
            raise SystemExit(f"{cmd[0]} failed with exit code {proc.returncode}")
        return wall
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--overrides", default="", help="Hydra overrides of the main job")
    ap.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS for the job")
    ap.add_argument("--no-plain", action="store_true", help="skip the un-profiled run")
    ap.add_argument("--out", default=None, help="keep the .prof file here")
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "RIDGELINE_ROOT"}
    env["OMP_NUM_THREADS"] = str(args.threads)
    job = ["logger=none", *shlex.split(args.overrides)]
    print(f"{load()}\nOMP_NUM_THREADS={args.threads}\n$ ridgeline-train {' '.join(job)}")
    if not args.no_plain:
        plain = run([sys.executable, "-m", "ridgeline", *job], env)
        print(f"wall time, not profiled: {plain:.1f} s")
    prof = Path(args.out or tempfile.mkstemp(suffix=".prof")[1]).resolve()
    wall = run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "ridgeline", *job], env)
    times = part_times(pstats.Stats(str(prof)))
    print(f"wall time, profiled: {wall:.1f} s\n")
    print(f"{'part':40} {'s':>8} {'share':>7}")
    for label, seconds in times.items():
        print(f"{label:40} {seconds:8.2f} {seconds / wall:7.1%}")
    if args.out is None:
        prof.unlink(missing_ok=True)
    print(
        "\nstart-up by import (fresh interpreter, python -X importtime; nested: within the above)"
    )
    times = import_times(env)
    for name in STARTUP + INSIDE:
        if name in times:
            print(f"  {'  ' * (name in INSIDE)}{name:36} {times[name]:8.2f}")


if __name__ == "__main__":
    main()
