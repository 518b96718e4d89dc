"""Shapes, exact parameter counts and the nn.Sequential stage contract of every model."""

import pytest
import torch
from torch import nn

from ridgeline.models import build_model, list_models

MNIST = (1, 28, 28)
CIFAR = (3, 32, 32)

# (name, input shape, kwargs) covering every registered model and its variants.
CASES = [
    ("mlp", MNIST, {}),
    ("mlp", CIFAR, {"depth": 3, "width": 64, "activation": "gelu"}),
    ("mlp", MNIST, {"depth": 2, "width": [300, 100], "activation": "tanh"}),
    ("cnn", MNIST, {}),
    ("cnn", CIFAR, {"depth": 3, "width": 16}),
    ("vgg11", CIFAR, {"batch_norm": True}),
    ("vgg11", (1, 32, 32), {}),
    ("vgg16", CIFAR, {"batch_norm": True}),
    ("vgg16", CIFAR, {}),
    ("resnet20", CIFAR, {}),
    ("resnet20", (1, 32, 32), {"norm": "none", "width": 2}),
    ("resnet18", CIFAR, {}),
    ("resnet18", CIFAR, {"norm": "none"}),
    ("vit", MNIST, {}),
    ("vit", CIFAR, {"patch_size": 4, "pool": "mean", "norm": "rmsnorm", "mlp_dim": 32}),
]


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def conv(c_in: int, c_out: int, k: int, bias: bool) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


def linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def vgg_count(plan: list[int], batch_norm: bool) -> int:
    total, c_in = 0, 3
    for c_out in plan:
        total += conv(c_in, c_out, 3, True) + (2 * c_out if batch_norm else 0)
        c_in = c_out
    return total + linear(512, 10)


def resnet_count(stage_widths: list[int], blocks: int, batch_norm: bool) -> int:
    """Basic blocks, 1x1-conv + BN projection where the shape changes; SkipInit gain if no BN."""

    def conv_norm(c_in: int, c_out: int, k: int) -> int:
        return conv(c_in, c_out, k, not batch_norm) + (2 * c_out if batch_norm else 0)

    total, c_in = conv_norm(3, stage_widths[0], 3), stage_widths[0]
    for c_out in stage_widths:
        for _ in range(blocks):
            total += conv_norm(c_in, c_out, 3) + conv_norm(c_out, c_out, 3)
            total += conv_norm(c_in, c_out, 1) if c_in != c_out else 0
            total += 0 if batch_norm else 1
            c_in = c_out
    return total + linear(stage_widths[-1], 10)


LENET = linear(784, 300) + linear(300, 100) + linear(100, 10)
VGG11 = [64, 128, 256, 256, 512, 512, 512, 512]
VGG16 = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]


@pytest.mark.parametrize(
    ("name", "kwargs", "expected", "formula"),
    [
        ("mlp", {"width": [300, 100]}, 266_610, LENET),
        ("vgg11", {"batch_norm": True}, 9_231_114, vgg_count(VGG11, True)),
        ("vgg11", {}, 9_225_610, vgg_count(VGG11, False)),
        ("vgg16", {"batch_norm": True}, 14_728_266, vgg_count(VGG16, True)),
        ("vgg16", {}, 14_719_818, vgg_count(VGG16, False)),
        ("resnet20", {}, 272_474, resnet_count([16, 32, 64], 3, True)),
        ("resnet20", {"norm": "none"}, 271_699, resnet_count([16, 32, 64], 3, False)),
        ("resnet18", {}, 11_173_962, resnet_count([64, 128, 256, 512], 2, True)),
        ("resnet18", {"norm": "none"}, 11_169_170, resnet_count([64, 128, 256, 512], 2, False)),
    ],
)
def test_parameter_counts(name: str, kwargs: dict, expected: int, formula: int) -> None:
    shape = MNIST if name == "mlp" else CIFAR
    assert formula == expected
    assert n_params(build_model(name, shape, 10, **kwargs)) == expected


def test_resnet20_width_multiplier_scales_channels() -> None:
    model = build_model("resnet20", CIFAR, 10, width=4)
    assert n_params(model) == resnet_count([64, 128, 256], 3, True)
    assert model.fc.in_features == 256


def test_cases_cover_every_registered_model() -> None:
    assert {name for name, _, _ in CASES} == set(list_models())


@pytest.mark.parametrize(("name", "shape", "kwargs"), CASES)
def test_forward_is_the_sequential_of_top_level_stages(
    name: str, shape: tuple[int, ...], kwargs: dict
) -> None:
    torch.manual_seed(0)
    model = build_model(name, shape, 10, **kwargs).eval()
    assert isinstance(model, nn.Sequential)
    x = torch.randn(2, *shape)
    out = x
    for stage in model.children():
        out = stage(out)
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (2, 10)
    assert torch.equal(logits, out)


@pytest.mark.parametrize(("name", "shape", "kwargs"), CASES)
def test_init_is_deterministic_given_the_seed(
    name: str, shape: tuple[int, ...], kwargs: dict
) -> None:
    torch.manual_seed(1)
    a = build_model(name, shape, 10, **kwargs).state_dict()
    torch.manual_seed(1)
    b = build_model(name, shape, 10, **kwargs).state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", ["resnet20", "resnet18"])
def test_norm_free_resnets_have_no_batchnorm_and_train(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, CIFAR, 10, norm="none")
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    loss = nn.functional.cross_entropy(model(torch.randn(2, *CIFAR)), torch.tensor([0, 1]))
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.layer1_0.gain.grad.abs().sum() > 0


def test_parameter_names_are_readable() -> None:
    names = {n for n, _ in build_model("mlp", MNIST, 10, width=[300, 100]).named_parameters()}
    assert names == {f"fc{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")}
    resnet = dict(build_model("resnet20", CIFAR, 10).named_parameters())
    for key in ("stem.conv.weight", "layer1_0.conv1.weight", "layer2_0.shortcut.0.weight"):
        assert key in resnet
    assert "fc.weight" in resnet
    vgg = dict(build_model("vgg11", CIFAR, 10, batch_norm=True).named_parameters())
    assert {"block1.conv.weight", "block1.bn.weight", "fc.weight"} <= set(vgg)
    assert vgg["fc.weight"].shape == (10, 512)


@pytest.mark.parametrize("name,kwargs", [("cnn", {"depth": 2, "width": [4, 8]}), ("resnet20", {})])
def test_channels_last_keeps_the_init_and_the_function(name: str, kwargs: dict) -> None:
    torch.manual_seed(0)
    plain = build_model(name, (3, 32, 32), 10, **kwargs)
    torch.manual_seed(0)
    fast = build_model(name, (3, 32, 32), 10, channels_last=True, **kwargs)
    convs = [p for p in fast.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    assert not all(p.is_contiguous() for p in convs)
    for (n1, p1), (n2, p2) in zip(plain.named_parameters(), fast.named_parameters(), strict=True):
        assert n1 == n2 and torch.equal(p1, p2)
    x = torch.randn(5, 3, 32, 32)
    plain.eval(), fast.eval()
    with torch.no_grad():
        assert torch.allclose(plain(x), fast(x), atol=1e-5, rtol=1e-5)
