"""Probe cost as a fraction of the whole main job (issue 7, item 4; target ≤ 25 %).

Runs ``ridgeline-train logger=none [overrides]`` in a fresh temporary directory (no parent store
to reuse), reads the ``phase <name>: probes took X s`` log lines and divides their sum by the
wall time of the whole command. ``--full`` runs the default main job with no overrides (several
minutes); the default is a shortened job (fewer steps and spawn points) that runs in < 2 min.
Usage: python scripts/bench_mainjob.py --full
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import load

SHORT = "trainer.max_steps=200 spawn.at=[0,40]"
PROBES = re.compile(r"phase (\S+): probes took ([0-9.]+) s")


def main() -> None:
    """Run the job and print the per-phase table; the last line is the headline fraction."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true", help="the default main job, no overrides")
    ap.add_argument("--overrides", default=SHORT, help="Hydra overrides (ignored with --full)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary run directory")
    ap.add_argument(
        "--threads", type=int, default=0, help="OMP_NUM_THREADS for the job (0: inherit)"
    )
    args = ap.parse_args()
    exe = shutil.which("ridgeline-train") or str(Path(sys.executable).with_name("ridgeline-train"))
    overrides = [] if args.full else shlex.split(args.overrides)
    cmd = [exe, "logger=none", *overrides]
    threads = args.threads or os.environ.get("OMP_NUM_THREADS", "unset (torch default)")
    print(f"{load()}\nOMP_NUM_THREADS={threads}\n$ {' '.join(cmd)}")
    tmp = tempfile.mkdtemp(prefix="ridgeline_bench_")
    env = {k: v for k, v in os.environ.items() if k != "RIDGELINE_ROOT"}
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    text = proc.stdout + proc.stderr
    if proc.returncode != 0:
        print(text[-4000:])
        raise SystemExit(f"ridgeline-train failed with exit code {proc.returncode}")
    phases = [(name, float(sec)) for name, sec in PROBES.findall(text)]
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"run directory kept: {tmp}")
    print(f"{'phase':40} {'probe s':>10}")
    for name, sec in phases:
        print(f"{name:40} {sec:10.1f}")
    probes = sum(sec for _, sec in phases)
    print(f"{'all probes':40} {probes:10.1f}")
    print(f"{'whole job (wall)':40} {wall:10.1f}")
    job = "default main job" if args.full else f"main job with {' '.join(overrides)}"
    print(f"headline: probes / wall time = {probes / wall:.3f} ({job})")


if __name__ == "__main__":
    main()
