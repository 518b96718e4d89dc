"""``ridgeline-connect``: bent paths between the children of a finished ``ridgeline-train`` run.

ridgeline-connect outputs/runs/<date>/<time>                       # every spawn phase + independent
ridgeline-connect <run_dir> --phase spawn_k=0000000 --kind polychain --steps 400
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from typing import NoReturn

from ridgeline.cli.errors import fail
from ridgeline.errors import RidgelineError


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line ``ridgeline: error: ...`` and exit 2."""

    def error(self, message: str) -> NoReturn:
        sys.exit(fail("ridgeline", f"{message} (see ridgeline-connect --help)", squeeze=True))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from ridgeline.connect.options import DEFAULT_POINTS, ConnectOptions

    d = ConnectOptions()
    ap = _Parser(prog="ridgeline-connect", description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", help="a run dir of ridgeline-train (holds config.yaml)")
    ap.add_argument(
        "--phase",
        dest="phases",
        action="append",
        default=None,
        metavar="NAME",
        help="a phase to connect, e.g. spawn_k=0000000 or independent (repeat for several; "
        "default: every spawn phase and the independent one)",
    )
    ap.add_argument("--kind", default=d.kind, help="bezier (default) or polychain")
    ap.add_argument("--steps", type=int, default=d.steps, help=f"fit steps (default {d.steps})")
    ap.add_argument("--lr", type=float, default=d.lr, help=f"learning rate (default {d.lr})")
    ap.add_argument("--optimizer", default=d.optimizer, help="adam (default) or sgd")
    ap.add_argument(
        "--t-per-step", type=int, default=d.t_per_step, help="t draws per fit step (default 1)"
    )
    ap.add_argument(
        "--train-batches",
        type=int,
        default=d.train_batches,
        help=f"un-augmented training batches the bend trains on (default {d.train_batches})",
    )
    ap.add_argument(
        "--batch-size", type=int, default=None, help="their size (default: data.batch_size)"
    )
    ap.add_argument(
        "--split", default=d.split, help="where loss and error are measured: test (default), train"
    )
    ap.add_argument(
        "--points",
        type=int,
        default=DEFAULT_POINTS,
        help=f"evenly spaced t values measured, ends included (default {DEFAULT_POINTS})",
    )
    ap.add_argument("--seed", type=int, default=d.seed, help="batches, t draws (default 0)")
    ap.add_argument(
        "--bn-policy",
        default=None,
        help="BN policy of the measurement: reset, interpolate, batch, repair (default: the "
        "run's probe.bn_policy; a repair run is measured with interpolate, as the bend is "
        "trained uncorrected)",
    )
    ap.add_argument(
        "--max-hours",
        type=float,
        default=d.max_hours,
        help="refuse when the estimated cost (timed on one batch before the first fit) is "
        f"larger (default {d.max_hours:g})",
    )
    ap.add_argument("--no-figure", action="store_true", help="write the records only")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """0 when the records (and figure) are written; 2 for bad input, nothing written."""
    args = parse_args(argv)
    from ridgeline.connect.fit import connect_run, format_table
    from ridgeline.connect.options import ConnectOptions

    # every option is the flag of the same name (``--phase`` is stored as ``phases``)
    options = ConnectOptions(**{f.name: getattr(args, f.name) for f in fields(ConnectOptions)})
    try:
        result = connect_run(
            args.run_dir,
            options,
            figure=not args.no_figure,
            progress=lambda line: print(line, file=sys.stderr),
        )
    except (RidgelineError, OSError) as exc:
        return fail("ridgeline", exc, keys="the run dir", squeeze=True)
    print(format_table(result.records))
    print(f"records: {result.path}")
    if result.figure is not None:
        print(f"figure: {result.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
