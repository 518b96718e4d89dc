"""Cost of aligning θ_B to θ_A (probe.align) against one forward pass over the evaluation set.

Two independently initialised copies of each model (seeds 0 and 1; a worst case: trained
networks start closer). Method: weight matching (Git Re-Basin coordinate descent, float64 cost
matrices, until no group improves) or activation matching on ``--match-size`` examples,
including the spec derivation and applying the permutation. Floor: one eval-mode forward pass
of one network over ``--eval-size`` CIFAR-shaped inputs in chunks of 1000 (the unit of every
barrier-curve point). Ratio = method / floor; medians over repeats, run back to back.
Usage: python scripts/bench_alignment.py --models resnet20,vgg16 --eval-size 10000
"""

from __future__ import annotations

import argparse

import torch

from bench_common import paired, start, table
from ridgeline.landscape import align, permutation_spec, state_of
from ridgeline.models import build_model

MODELS = {
    "resnet20": ("resnet20", {}),
    "resnet20_nf": ("resnet20", {"norm": "none"}),
    "vgg16": ("vgg16", {}),
    "vgg16_bn": ("vgg16", {"batch_norm": True}),
    "resnet18": ("resnet18", {}),
}
SHAPE = (3, 32, 32)


def forward_pass(model: torch.nn.Module, x: torch.Tensor, chunk: int = 1000) -> None:
    """One eval-mode forward pass over ``x`` without autograd."""
    with torch.no_grad():
        for i in range(0, x.shape[0], chunk):
            model(x[i : i + chunk])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet20,vgg16", help=f"from {', '.join(MODELS)}")
    ap.add_argument("--method", default="weight", choices=["weight", "activation"])
    ap.add_argument("--eval-size", type=int, default=10000, help="examples of the forward pass")
    ap.add_argument("--match-size", type=int, default=1000, help="activation-matching examples")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: default)")
    args = ap.parse_args()
    start(args.threads)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.eval_size, *SHAPE, generator=g)
    rows = []
    for name in args.models.split(","):
        arch, kwargs = MODELS[name]
        torch.manual_seed(0)
        model = build_model(arch, SHAPE, 10, **kwargs).eval()
        torch.manual_seed(1)
        other = build_model(arch, SHAPE, 10, **kwargs).eval()
        a, b = state_of(model), state_of(other)
        spec = permutation_spec(model)
        records = []

        def method(model=model, a=a, b=b, records=records) -> None:
            records.append(
                align(model, a, b, args.method, x=x[: args.match_size], chunk_size=1000)[1]
            )

        t, f, ratio = paired(method, lambda model=model: forward_pass(model, x), args.repeats)
        rec = records[-1]
        n_params = sum(p.numel() for p in model.parameters())
        what = (
            f"{name} ({n_params / 1e6:.2f} M params, {len(spec.groups)} groups): "
            f"{rec.sweeps} sweeps"
        )
        rows.append((what, t, f, ratio))
        print(
            f"{name}: {args.method} matching {t:.2f} s, forward pass over {args.eval_size} "
            f"examples {f:.2f} s, ratio {ratio:.3g}; ‖θA−θB‖ {rec.dist_before:.2f} → "
            f"{rec.dist_after:.2f}, {rec.moved_units}/{rec.units} units moved",
            flush=True,
        )
    table(
        rows,
        f"{args.method} matching (s) vs one forward pass over {args.eval_size} examples (s); "
        "ratio = matching / forward",
    )


if __name__ == "__main__":
    main()
