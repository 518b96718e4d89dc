"""Claim 6 (aligned ViT barriers, Theus et al. 2025): its criterion on fabricated tables, both
outcomes, and its measurement on a planted pair (B = a symmetry of A: every aligned row is flat).
No training: hand-built runs."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import Tensor, nn
from torch.func import functional_call

from ridgeline.landscape.transformer_symmetry import (
    apply_transform,
    random_transform,
    transformer_spec,
)
from ridgeline.models.vit import vit
from ridgeline.reproduce.alignment import (
    ALIGNMENTS,
    FILE,
    AlignedBarrier,
    AlignmentTable,
    ensure_alignment,
    read_alignment,
)
from ridgeline.reproduce.experiments import VIT_ALIGNMENT

CLAIM = "6"
PAPER = (1.69, 1.27, 0.36, 0.20, 0.00)  # Table 2 (CIFAR-10), weight matching (orth.) between


def _claim():
    from ridgeline.reproduce.claims import CLAIMS

    return next(c for c in CLAIMS if c.id == CLAIM)


def _table(barriers: tuple[float, ...]) -> AlignmentTable:
    rows = [
        AlignedBarrier(a.key, str(a.method), str(a.group), "original", [0.0, 1.0], [0.0, 0.0], b,
                       b, 0.0)
        for a, b in zip(ALIGNMENTS, barriers, strict=True)
    ]  # fmt: skip
    return AlignmentTable("test", 10, 10, 0, rows)


def _runs(tmp_path: Path, per_seed: list[tuple[float, ...]]) -> dict[str, list[SimpleNamespace]]:
    runs = []
    for seed, barriers in enumerate(per_seed):
        root = tmp_path / f"seed_{seed}"
        root.mkdir()
        (root / FILE).write_text(json.dumps(_table(barriers).to_dict()))
        config = OmegaConf.create({"trainer": {"max_steps": 30}})
        runs.append(SimpleNamespace(root=root, config=config, records=[]))
    return {VIT_ALIGNMENT: runs}


def test_the_paper_order_holds(tmp_path: Path) -> None:
    shifted = tuple(b + 0.1 for b in PAPER)
    measured = _claim().measure(_runs(tmp_path, [PAPER, shifted]))
    assert [q.name for q in measured.quantities] == [a.label for a in ALIGNMENTS]
    assert measured["vanilla"].values == [1.69, pytest.approx(1.79)]
    assert measured["vanilla"].mean == pytest.approx(1.74)
    assert _claim().holds(measured)


@pytest.mark.parametrize(
    "barriers",
    [
        (1.69, 1.27, 0.20, 0.36, 0.00),  # orthogonal weight matching worse than permutations
        (1.27, 1.69, 0.36, 0.20, 0.00),  # activation matching worse than vanilla
        (1.69, 1.27, 0.36, 0.20, 0.20),  # learned no better than its start: strict order
    ],
)
def test_the_paper_order_fails_on_any_swap(tmp_path: Path, barriers: tuple[float, ...]) -> None:
    assert not _claim().holds(_claim().measure(_runs(tmp_path, [barriers, barriers])))


def test_the_order_is_of_the_means_over_seeds(tmp_path: Path) -> None:
    # seed 1 alone is out of order, but the means keep the paper's order
    other = (1.5, 1.3, 0.5, 0.6, 0.1)
    measured = _claim().measure(_runs(tmp_path, [PAPER, other]))
    assert measured["weight_orthogonal"].mean == pytest.approx(0.4)
    assert measured["weight_permutation"].mean == pytest.approx(0.43)
    assert _claim().holds(measured)


def test_the_claim_describes_the_run(tmp_path: Path) -> None:
    text = _claim().experiment(_runs(tmp_path, [PAPER]))
    assert "T = 30" in text and "reparameterised" in text


def _tiny_vit(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = vit([1, 28, 28], 10, dim=16, depth=2, heads=4, mlp_dim=24)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():  # norms' gains and shifts away from 1, 0
            base = 1.0 if "norm" in name and name.endswith("weight") else 0.0
            p.copy_(base + 0.3 * torch.randn(p.shape, generator=g))
    return model.double().eval()


def test_a_planted_symmetry_is_flat_after_every_alignment_and_not_before(tmp_path: Path) -> None:
    """B = a random permutation (stream, heads, MLP units) of A computes A's function: every
    aligned row's barrier is 0 (float64), the vanilla one is not; the table is written once and
    read back as it was measured."""
    model = _tiny_vit(0)
    a = {n: p.detach().clone() for n, p in model.named_parameters()}
    spec = transformer_spec(model)
    b = apply_transform(
        spec, a, random_transform(spec, "permutation", torch.Generator().manual_seed(3))
    )
    x = torch.randn(64, 1, 28, 28, generator=torch.Generator().manual_seed(1)).double()
    with torch.no_grad():
        y = functional_call(model, a, (x,)).argmax(1)
        assert torch.allclose(functional_call(model, b, (x,)), functional_call(model, a, (x,)))
    data = SimpleNamespace(
        eval_tensors=lambda split: (x, y) if split == "test" else (x[:32], y[:32])
    )
    phase = SimpleNamespace(kind="independent", children=lambda: [a, b])
    config = OmegaConf.create({"probe": {"alphas": [0.0, 0.25, 0.5, 0.75, 1.0]}})
    run = SimpleNamespace(
        root=tmp_path, config=config, phases={"independent": phase},
        datamodule=lambda: data, model=lambda: model,
    )  # fmt: skip
    table = ensure_alignment(run, learned_steps=3)  # type: ignore[arg-type]
    rows = {r.key: r for r in table.rows}
    assert list(rows) == [a.key for a in ALIGNMENTS]
    assert rows["vanilla"].loss_barrier > 1e-3
    assert _independent_chord(model, a, b, x, y) == pytest.approx(rows["vanilla"].loss_barrier)
    for key in ("activation", "weight_permutation", "weight_orthogonal", "learned_orthogonal"):
        assert abs(rows[key].loss_barrier) < 1e-9, key
    assert rows["weight_permutation"].coordinates == "original"
    assert rows["weight_orthogonal"].coordinates == "reparameterised"
    assert read_alignment(run).to_dict() == table.to_dict()  # type: ignore[arg-type]
    assert (tmp_path / FILE).is_file()


def _independent_chord(model: nn.Module, a: dict, b: dict, x: Tensor, y: Tensor) -> float:
    """max over α ∈ {0, ¼, ½, ¾, 1} of L(θ_α) − ((1−α)L_A + αL_B), computed here directly."""

    def loss(t: float) -> float:
        ps = {k: (1 - t) * a[k] + t * b[k] for k in a}
        with torch.no_grad():
            return float(F.cross_entropy(functional_call(model, ps, (x,)), y))

    la, lb = loss(0.0), loss(1.0)
    return max(loss(t) - ((1 - t) * la + t * lb) for t in (0.0, 0.25, 0.5, 0.75, 1.0))
