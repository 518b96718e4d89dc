"""ridgeline-toy: the scalar toy L = (w₁w₂ − 1)² of docs/design.md §6 (and the tiny-MLP toy)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ridgeline.cli.errors import fail
from ridgeline.errors import ConfigError


def toy_defaults() -> dict:
    """The scalar toy's defaults, as :class:`ridgeline.toy.scalar.ToySettings` writes them
    (once)."""
    import dataclasses

    from ridgeline.toy.scalar import ToySettings

    return dataclasses.asdict(ToySettings())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    toy = toy_defaults()
    parser = argparse.ArgumentParser(
        prog="ridgeline-toy",
        description="Toy examples of the ridge mechanism: the scalar two-layer model "
        "L = (w1*w2 - 1)^2 (seconds) and, with --mlp, a tiny MLP on synthetic data.",
    )
    parser.add_argument("--out", type=Path, default=Path("toy"), help="output dir (default ./toy)")
    parser.add_argument("--seed", type=int, default=toy["seed"], help="default %(default)s")
    parser.add_argument(
        "--pairs", type=int, default=toy["n_pairs"], help="child pairs per spawn step (%(default)s)"
    )
    parser.add_argument(
        "--noise", type=float, default=toy["noise"], help="gradient-noise scale (%(default)s)"
    )
    parser.add_argument(
        "--spawn-steps",
        type=str,
        default=",".join(map(str, toy["spawn_steps"])),
        help="comma-separated spawn steps (%(default)s)",
    )
    parser.add_argument(
        "--steps", type=int, default=toy["total_steps"], help="total steps T (%(default)s)"
    )
    parser.add_argument("--mlp", action="store_true", help="also run the tiny-MLP toy (~1 min)")
    return parser.parse_args(argv)


def spawn_steps_of(text: str, total: int) -> list[int]:
    """``--spawn-steps``: a non-empty comma-separated list of steps in [0, --steps)."""
    allowed = (
        f"spawn steps as a comma-separated list of integers from 0 to {total - 1} (< --steps), "
        "e.g. 0,5,10"
    )
    items = [k.strip() for k in text.split(",") if k.strip()]
    if not items or not all(k.isdigit() for k in items):
        raise ConfigError("--spawn-steps", text, allowed)
    steps = [int(k) for k in items]
    if max(steps) >= total:
        raise ConfigError("--spawn-steps", text, allowed)
    return steps


def check_args(args: argparse.Namespace) -> list[int]:
    """Every flag before any compute: the spawn steps, counts, and a writable --out."""
    from ridgeline.job.run_dir import check_writable

    for flag, value in (("--steps", args.steps), ("--pairs", args.pairs)):
        if value < 1:
            raise ConfigError(flag, value, "an integer >= 1")
    steps = spawn_steps_of(args.spawn_steps, args.steps)
    check_writable("--out", args.out)
    return steps


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from ridgeline.toy.plots import scalar_figure
    from ridgeline.toy.scalar import ToySettings, format_table, run_toy

    try:
        spawn_steps = check_args(args)
        run = run_toy(
            ToySettings(
                spawn_steps=spawn_steps,
                total_steps=args.steps,
                noise=args.noise,
                n_pairs=args.pairs,
                seed=args.seed,
            )
        )
    except ValueError as exc:
        return fail("ridgeline-toy", exc)
    print(format_table(run))
    path = scalar_figure(run, args.out / "toy_scalar.png")
    print(f"figure: {path}")
    if args.mlp:
        from ridgeline.toy.mlp import MlpToySettings, format_mlp_table, mlp_figure, run_mlp_toy

        res = run_mlp_toy(MlpToySettings(seed=args.seed))
        print(format_mlp_table(res))
        print(f"figure: {mlp_figure(res, args.out / 'toy_mlp.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
