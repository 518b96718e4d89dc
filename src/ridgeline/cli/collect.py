"""``ridgeline-collect <sweep dir>``: every job's records of a sweep in one CSV.

One row per job × probe point × pair: the job, every config key that varies across the jobs
(``config.<key>``), the probe's identity and every scalar under its logger name.
"""

import argparse
import sys
from pathlib import Path

from ridgeline.cli.errors import fail
from ridgeline.errors import RidgelineError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a multirun dir (or a single run dir)")
    parser.add_argument("-o", "--out", type=Path, help="CSV path (default <sweep dir>/sweep.csv)")
    args = parser.parse_args(argv)
    # after the arguments: they import torch (--help and a usage error need neither)
    from ridgeline.report.collect import collect
    from ridgeline.report.tables import leading_columns, metric_rows, write_csv

    try:
        collection = collect(args.sweep_dir)
        rows = metric_rows(collection)
        out = write_csv(args.out or args.sweep_dir / "sweep.csv", rows, leading_columns(collection))
    except (RidgelineError, OSError) as exc:
        return fail("ridgeline-collect", exc)
    print(f"{len(rows)} rows from {len(collection.jobs)} jobs -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
