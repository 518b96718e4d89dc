"""``ridgeline-collect <sweep dir>``: every job's records of a sweep in one CSV."""

import argparse
import sys
from pathlib import Path

from ridgeline.sweep.collect import collect_rows, write_csv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sweep_dir", type=Path, help="a multirun dir (or a single run dir)")
    parser.add_argument("-o", "--out", type=Path, help="CSV path (default <sweep dir>/sweep.csv)")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"ridgeline-collect: error: {args.sweep_dir} is not a directory", file=sys.stderr)
        return 2
    rows = collect_rows(args.sweep_dir)
    if not rows:
        print(
            f"ridgeline-collect: error: no landscape/records.jsonl under {args.sweep_dir}",
            file=sys.stderr,
        )
        return 2
    out = write_csv(rows, args.out or args.sweep_dir / "sweep.csv")
    jobs = len({r["job"] for r in rows})
    print(f"{len(rows)} rows from {jobs} jobs -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
