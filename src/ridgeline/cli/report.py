"""ridgeline-report: the paper's figures, CSV tables and report.md of a run dir or sweep dir."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ridgeline.cli.errors import fail
from ridgeline.errors import RidgelineError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ridgeline-report",
        description="Figures (PNG), CSV tables of every number behind them, and report.md, from "
        "the probe records of a ridgeline-train run dir or a multirun sweep dir.",
    )
    parser.add_argument("source", type=Path, help="run dir or sweep dir (holds landscape/ records)")
    parser.add_argument(
        "--out", type=Path, default=None, help="output directory (default: <source>/report)"
    )
    parser.add_argument(
        "--wandb",
        choices=("auto", "on", "off"),
        default="auto",
        help="log the figures and tables to W&B as a run of job_type 'report': auto (default) "
        "when the jobs trained with a W&B logger (same project and group; offline when not "
        "logged in), on, or off",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from ridgeline.report.build import make_report

    try:
        report = make_report(args.source, args.out, args.wandb)
    except (RidgelineError, OSError) as exc:
        return fail("ridgeline-report", exc)
    print(f"report: {report.markdown}")
    for name, path in report.figures.items():
        print(f"  figure {name}: {path}")
    for name, path in report.tables.items():
        print(f"  table {name}: {path}")
    if report.wandb_run:
        print(f"W&B run {report.wandb_run} (job_type report) under {report.out_dir / 'wandb'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
