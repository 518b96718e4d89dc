"""The Vision Transformer: its logits against an independent float64 implementation, the
attention kernels against each other, its layer names, pooling, norms and its presets."""

import math
from importlib.resources import files
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import Tensor, nn
from torch.func import functional_call, jvp, vmap

from ridgeline.errors import ConfigError
from ridgeline.models import build_model, list_models
from ridgeline.models.vit import ATTENTION_KERNELS, Attention, attention_kernel

CONF = Path(str(files("ridgeline.conf"))) / "model"
MNIST = (1, 28, 28)
SMALL = {"patch_size": 7, "dim": 16, "depth": 2, "heads": 4, "mlp_dim": 24}


def small_vit(seed: int = 0, **kwargs: object) -> nn.Sequential:
    torch.manual_seed(seed)
    model = build_model("vit", MNIST, 10, **(SMALL | kwargs)).double().eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # no parameter at its initial value (zero biases, unit norm gains)
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def images(n: int = 3, seed: int = 2, dtype: torch.dtype = torch.float64) -> Tensor:
    return torch.randn(n, *MNIST, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --- an independent reference, in float64 and plain tensor algebra ----------------------------
def reference_logits(
    w: dict[str, Tensor], x: Tensor, cfg: dict, norm: str, pool: str, eps: float
) -> Tensor:
    """The ViT written out from the parameters by name: patches by reshaping (no conv), heads
    by explicit loops, LayerNorm / RMSNorm, erf-GELU and softmax from their formulas."""
    p, dim, heads = cfg["patch_size"], cfg["dim"], cfg["heads"]
    n, c, h, wd = x.shape
    patches = x.reshape(n, c, h // p, p, wd // p, p).permute(0, 2, 4, 1, 3, 5)
    patches = patches.reshape(n, (h // p) * (wd // p), c * p * p)
    proj = w["embed.proj.weight"].reshape(dim, c * p * p)
    tokens = patches @ proj.T + w["embed.proj.bias"]
    if pool == "cls":
        tokens = torch.cat([w["embed.cls_token"].expand(n, 1, dim), tokens], dim=1)
    tokens = tokens + w["embed.pos_embed"]

    def normed(t: Tensor, name: str) -> Tensor:
        if norm == "layernorm":
            mu = t.mean(-1, keepdim=True)
            var = ((t - mu) ** 2).mean(-1, keepdim=True)
            return (t - mu) / torch.sqrt(var + eps) * w[f"{name}.weight"] + w[f"{name}.bias"]
        return t / torch.sqrt((t**2).mean(-1, keepdim=True) + eps) * w[f"{name}.weight"]

    def linear(t: Tensor, name: str) -> Tensor:
        return t @ w[f"{name}.weight"].T + w[f"{name}.bias"]

    d_head = dim // heads
    for b in range(1, cfg["depth"] + 1):
        qkv = linear(normed(tokens, f"block{b}.norm1"), f"block{b}.attn.qkv")
        q, k, v = qkv[..., :dim], qkv[..., dim : 2 * dim], qkv[..., 2 * dim :]
        outs = []
        for i in range(heads):
            s = slice(i * d_head, (i + 1) * d_head)
            scores = q[..., s] @ k[..., s].transpose(1, 2) / math.sqrt(d_head)
            e = torch.exp(scores - scores.max(-1, keepdim=True).values)
            outs.append((e / e.sum(-1, keepdim=True)) @ v[..., s])
        tokens = tokens + linear(torch.cat(outs, -1), f"block{b}.attn.proj")
        hidden = linear(normed(tokens, f"block{b}.norm2"), f"block{b}.mlp.fc1")
        hidden = 0.5 * hidden * (1 + torch.erf(hidden / math.sqrt(2)))
        tokens = tokens + linear(hidden, f"block{b}.mlp.fc2")
    tokens = normed(tokens, "norm")
    pooled = tokens[:, 0] if pool == "cls" else tokens.mean(1)
    return linear(pooled, "head")


@pytest.mark.parametrize("kernel", ATTENTION_KERNELS)
@pytest.mark.parametrize(("norm", "pool"), [("layernorm", "cls"), ("rmsnorm", "mean")])
def test_logits_equal_an_independent_float64_implementation(norm, pool, kernel):
    model = small_vit(norm=norm, pool=pool)
    x = images()
    weights = dict(model.named_parameters())
    eps = model.norm.eps
    expected = reference_logits(weights, x, SMALL, norm, pool, eps)
    with attention_kernel(kernel), torch.no_grad():
        got = model(x)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, expected.detach(), rtol=0, atol=1e-10)


def test_flash_and_math_kernels_agree_to_float32_rounding():
    torch.manual_seed(0)
    model = build_model("vit", MNIST, 10, mlp_dim=128).eval()  # the vit_tiny shape, float32
    x = images(64, dtype=torch.float32)
    with torch.no_grad():
        logits = {k: _logits(model, x, k) for k in ATTENTION_KERNELS}
    scale = logits["math"].abs().max()
    for kernel in ("sdpa", "explicit"):
        # measured: 1.9e-7 at a logit scale of 0.36 (5e-7 relative; float32 eps is 1.2e-7)
        assert (logits[kernel] - logits["math"]).abs().max() <= 1e-5 * scale, kernel


def _logits(model: nn.Module, x: Tensor, kernel: str) -> Tensor:
    with attention_kernel(kernel):
        return model(x)


def test_the_math_kernel_supports_forward_ad_double_backward_and_vmap():
    """What the landscape code needs (nested jvp, Hessian-vector products, vmapped evaluation);
    the CPU flash kernel behind ``sdpa`` supports none of them (torch 2.14)."""
    model = small_vit()
    x = images()
    ps = {k: v.detach() for k, v in model.named_parameters()}
    tangent = {k: torch.randn_like(v) for k, v in ps.items()}

    def loss(p: dict[str, Tensor]) -> Tensor:
        return functional_call(model, p, (x,)).square().sum()

    with attention_kernel("math"):
        _, hvp = jvp(torch.func.grad(loss), (ps,), (tangent,))  # forward over reverse
        stacked = {k: torch.stack([v, v + 0.01]) for k, v in ps.items()}
        batched = vmap(lambda p: functional_call(model, p, (x,)))(stacked)
    with attention_kernel("explicit"):
        _, hvp_explicit = jvp(torch.func.grad(loss), (ps,), (tangent,))
        second = functional_call(model, {k: v + 0.01 for k, v in ps.items()}, (x,))
    for k in ps:
        torch.testing.assert_close(hvp[k], hvp_explicit[k], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(batched[1], second, rtol=0, atol=1e-12)


def test_kernel_context_restores_and_a_module_can_pin_its_own():
    model = small_vit()
    x = images()
    attn = model.block1.attn
    assert isinstance(attn, Attention) and attn.kernel is None
    calls: list[str] = []
    original = torch.nn.functional.scaled_dot_product_attention

    def spy(*args: Tensor, **kwargs: object) -> Tensor:
        calls.append("sdpa")
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
        with attention_kernel("explicit"):
            model(x)
        assert calls == []
        model(x)  # back to sdpa after the block
        assert calls == ["sdpa", "sdpa"]
        calls.clear()
        attn.kernel = "explicit"  # a pinned module ignores the context
        with attention_kernel("math"):
            model(x)
        assert calls == ["sdpa"]
    with pytest.raises(ValueError, match="attention kernel 'flash'"), attention_kernel("flash"):
        pass


# --- structure ------------------------------------------------------------------------------
def test_registered_and_named_as_layers():
    assert "vit" in list_models()
    model = small_vit(depth=3)
    stages = [name for name, _ in model.named_children()]
    assert stages == ["embed", "block1", "block2", "block3", "norm", "pool", "head"]
    names = [n for n, _ in model.named_parameters()]
    assert names[:4] == [
        "embed.cls_token",
        "embed.pos_embed",
        "embed.proj.weight",
        "embed.proj.bias",
    ]
    block3 = [n.removeprefix("block3.") for n in names if n.startswith("block3.")]
    assert block3 == [
        f"{layer}.{kind}"
        for layer in ("norm1", "attn.qkv", "attn.proj", "norm2", "mlp.fc1", "mlp.fc2")
        for kind in ("weight", "bias")
    ]
    assert names[-4:] == ["norm.weight", "norm.bias", "head.weight", "head.bias"]
    x = images()
    staged = x
    for stage in model:  # the stages compose to the model, as prefix reuse assumes
        staged = stage(staged)
    torch.testing.assert_close(staged, model(x), rtol=0, atol=0)


def test_cls_and_mean_pooling_and_rmsnorm():
    cls, mean = small_vit(pool="cls"), small_vit(pool="mean")
    assert cls.embed.pos_embed.shape == (1, 17, 16) and cls.embed.cls_token is not None
    assert mean.embed.pos_embed.shape == (1, 16, 16) and mean.embed.cls_token is None
    x = images()
    tokens = mean[:-2](x)  # up to the final norm
    torch.testing.assert_close(mean(x), mean.head(tokens.mean(1)), rtol=0, atol=1e-12)
    tokens = cls[:-2](x)
    torch.testing.assert_close(cls(x), cls.head(tokens[:, 0]), rtol=0, atol=1e-12)
    rms = small_vit(norm="rmsnorm")
    assert all(isinstance(m, nn.RMSNorm) for n, m in rms.named_modules() if "norm" in n[-5:])
    assert not any(isinstance(m, nn.LayerNorm) for m in rms.modules())
    assert "norm.bias" not in dict(rms.named_parameters())


def test_mlp_width_from_ratio_or_dim_and_dropout():
    assert small_vit(mlp_dim=None, mlp_ratio=2.0).block1.mlp.fc1.out_features == 32
    assert small_vit(mlp_dim=40).block1.mlp.fc1.out_features == 40
    plain = small_vit()
    assert not any(isinstance(m, nn.Dropout) for m in plain.modules())  # vmap-safe at rate 0
    dropped = small_vit(dropout=0.5).train()
    x = images()
    assert not torch.equal(dropped(x), dropped(x))
    assert torch.equal(dropped.eval()(x), dropped(x))


@pytest.mark.parametrize(
    ("shape", "kwargs", "key"),
    [
        ((784,), {}, "model.input_shape"),
        ((3, 32, 32), {"patch_size": 7}, "model.patch_size"),
        (MNIST, {"patch_size": 0}, "model.patch_size"),
        (MNIST, {"dim": 64, "heads": 5}, "model.heads"),
        (MNIST, {"depth": 0}, "model.depth"),
        (MNIST, {"norm": "batch"}, "model.norm"),
        (MNIST, {"pool": "max"}, "model.pool"),
        (MNIST, {"dropout": 1.0}, "model.dropout"),
        (MNIST, {"dropout": -0.1}, "model.dropout"),
        (MNIST, {"mlp_dim": 0}, "model.mlp_dim"),
        (MNIST, {"mlp_ratio": float("nan")}, "model.mlp_ratio"),
        (MNIST, {"mlp_ratio": -1.0}, "model.mlp_ratio"),
        (MNIST, {"patch": 7}, "model.patch"),
    ],
)
def test_bad_settings_name_their_key(shape, kwargs, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        build_model("vit", shape, 10, **kwargs)


# --- presets --------------------------------------------------------------------------------
def preset(name: str, shape: list[int]) -> nn.Module:
    node = OmegaConf.load(CONF / f"{name}.yaml")
    cfg = OmegaConf.create({"data": {"input_shape": shape, "num_classes": 10}, "model": node})
    OmegaConf.resolve(cfg)
    return instantiate(cfg.model)


def test_vit_tiny_preset_fits_mnist():
    model = preset("vit_tiny", [1, 28, 28])
    assert sum(p.numel() for p in model.parameters()) == 139_018
    assert model.embed.pos_embed.shape == (1, 17, 64) and len(model) == 8
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_vit_cifar_preset_is_the_glmc_setup():
    """Theus et al. 2025, App. B: 6 blocks, 8 heads, d = 256, MLP 512, patch 4."""
    model = preset("vit_cifar", [3, 32, 32])
    blocks = [m for name, m in model.named_children() if name.startswith("block")]
    assert len(blocks) == 6 and all(b.attn.heads == 8 for b in blocks)
    assert blocks[0].mlp.fc1.weight.shape == (512, 256)
    assert model.embed.proj.kernel_size == (4, 4) and model.embed.pos_embed.shape == (1, 65, 256)
    assert sum(p.numel() for p in model.parameters()) == 3_195_146
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
