"""Shared tiny models, data and the "untouched" guard for landscape tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
from torch import nn


def mlp(bn: bool = True, d_in: int = 12, hidden: int = 16, classes: int = 4) -> nn.Sequential:
    """Flatten, Linear, [BN], ReLU, Linear, ReLU, Linear as an nn.Sequential of stages."""
    layers: list[nn.Module] = [nn.Flatten(), nn.Linear(d_in, hidden)]
    if bn:
        layers.append(nn.BatchNorm1d(hidden))
    layers += [nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, classes)]
    return nn.Sequential(*layers)


def warm_bn(model: nn.Module, seed: int) -> nn.Module:
    """Give BN non-trivial running statistics (a few train-mode passes, then eval)."""
    g = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(32, 12, generator=g) * 2 + 0.5)
    return model.eval()


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(123)
    x = torch.randn(103, 12, generator=g)
    y = torch.randint(0, 4, (103,), generator=g)
    return x, y


@pytest.fixture
def pair() -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    a, b = mlp(), mlp()
    return warm_bn(a, 1), warm_bn(b, 2)


@contextmanager
def untouched(model: nn.Module) -> Iterator[None]:
    """Assert weights, buffers, modes, .grad of the live model and the global RNG are unchanged."""
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    rng = torch.get_rng_state()
    yield
    assert torch.equal(torch.get_rng_state(), rng), "global RNG was used"
    assert [m.training for m in model.modules()] == modes, "train/eval mode changed"
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), f"{k} changed"
    for p, g in zip(model.parameters(), grads, strict=True):
        if g is None:
            assert p.grad is None, ".grad was created"
        else:
            assert torch.equal(p.grad, g), ".grad changed"


def live(model: nn.Module) -> nn.Module:
    """Put a model in a 'live training' state: train mode with one eval submodule and a .grad."""
    model.train()
    list(model.modules())[-1].eval()
    for p in model.parameters():
        p.grad = torch.full_like(p, 0.25)
    return model


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny ops: one intra-op thread avoids contention on shared CI cores (restored after)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
