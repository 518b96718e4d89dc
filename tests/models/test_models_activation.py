"""The ``activation`` choice of every model, and the CNN's ``pool``: the same parameters, the
same initialisation, only the nonlinearity swapped (ReLU against a smooth one)."""

import pytest
import torch
from torch import nn

from ridgeline.errors import ConfigError
from ridgeline.models import build_model

CIFAR = (3, 32, 32)
MNIST = (1, 28, 28)
# Every registered model with its input shape (resnet18 is left out: 11 M parameters to build
# twice; it shares resnet20's builder).
MODELS = [
    ("mlp", MNIST, {}),
    ("cnn", MNIST, {}),
    ("vgg11", CIFAR, {"batch_norm": True}),
    ("resnet20", CIFAR, {}),
    ("resnet20", CIFAR, {"norm": "none"}),
]


def _build(name: str, shape: tuple, seed: int = 0, **kwargs: object) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(name, shape, 10, **kwargs)


def _count(model: nn.Module, kind: type[nn.Module]) -> int:
    return sum(isinstance(m, kind) for m in model.modules())


@pytest.mark.parametrize(("name", "shape", "kwargs"), MODELS)
def test_activation_replaces_every_relu_and_keeps_the_init(
    name: str, shape: tuple, kwargs: dict
) -> None:
    relu = _build(name, shape, **kwargs)
    gelu = _build(name, shape, activation="gelu", **kwargs)
    n_relu = _count(relu, nn.ReLU)
    assert n_relu > 0
    assert _count(gelu, nn.ReLU) == 0
    assert _count(gelu, nn.GELU) == n_relu
    a, b = relu.state_dict(), gelu.state_dict()
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    x = torch.randn(4, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert not torch.allclose(relu.eval()(x), gelu.eval()(x))


def test_identity_activation_with_average_pooling_makes_the_cnn_affine() -> None:
    """conv, identity, avg-pool and Linear are all affine: f(x + y) = f(x) + f(y) − f(0)."""
    model = _build("cnn", MNIST, activation="identity", pool="avg").eval()
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(3, *MNIST, generator=g), torch.randn(3, *MNIST, generator=g)
    zero = torch.zeros_like(x)
    with torch.no_grad():
        lhs = model(x + y).double()
        rhs = model(x).double() + model(y).double() - model(zero).double()
    torch.testing.assert_close(lhs, rhs, atol=1e-4, rtol=1e-4)
    # with max-pooling the same network is only piecewise affine
    maxpool = _build("cnn", MNIST, activation="identity", pool="max").eval()
    with torch.no_grad():
        gap = maxpool(x + y) - maxpool(x) - maxpool(y) + maxpool(zero)
    assert gap.abs().max() > 1e-2


def test_unknown_pool_and_activation_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"model\.pool.*max, avg"):
        build_model("cnn", MNIST, 10, pool="median")
    with pytest.raises(ConfigError, match=r"model\.activation"):
        build_model("vgg11", CIFAR, 10, activation="swishy")
