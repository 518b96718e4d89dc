"""Vision Transformer (Dosovitskiy et al. 2021) with pre-norm blocks, as an ``nn.Sequential``.

Stages: ``embed, block1, ..., block{depth}, norm, pool, head``. ``embed`` cuts the image into
``patch_size`` patches (a strided conv ``embed.proj``), prepends the class token (``pool=cls``)
and adds the learned position embedding; each block is ``x + attn(norm1(x))`` then
``x + mlp(norm2(x))`` with ``attn.qkv, attn.proj`` and ``mlp.fc1, mlp.act, mlp.fc2``; ``norm`` is
the final LayerNorm (or RMSNorm), ``pool`` takes the class token or the mean over the patches,
and ``head`` is the linear classifier.

How attention is computed is :data:`ATTENTION_KERNELS`: ``sdpa`` lets
``torch.nn.functional.scaled_dot_product_attention`` pick its kernel (fast; on CPU the flash
kernel, which has no forward-mode AD, no double backward and no vmap rule), ``math`` pins
SDPA's math backend and ``explicit`` writes softmax(QKᵀ/√d)V in plain ops; the three agree to
float rounding. A block's ``attn.kernel`` pins one; by default every attention follows
:func:`attention_kernel`, a context the landscape code can set around its derivatives.
"""

import math
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from ridgeline.errors import ConfigError
from ridgeline.models.layers import image_shape
from ridgeline.models.registry import register_model

ATTENTION_KERNELS = ("sdpa", "math", "explicit")
NORMS = ("layernorm", "rmsnorm")
POOLS = ("cls", "mean")

_KERNEL: ContextVar[str] = ContextVar("ridgeline_attention_kernel", default="sdpa")


@contextmanager
def attention_kernel(kernel: str) -> Iterator[None]:
    """Inside the block, every :class:`Attention` without its own ``kernel`` computes with
    ``kernel`` (one of :data:`ATTENTION_KERNELS`)."""
    if kernel not in ATTENTION_KERNELS:
        raise ValueError(f"attention kernel {kernel!r}: one of {', '.join(ATTENTION_KERNELS)}")
    token = _KERNEL.set(kernel)
    try:
        yield
    finally:
        _KERNEL.reset(token)


def explicit_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ / √d) v over the last two dims, in plain differentiable ops."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return scores.softmax(dim=-1) @ v


class Attention(nn.Module):
    """Multi-head self-attention: ``qkv`` (one Linear), scaled dot-product attention per head,
    then the output projection ``proj``. ``kernel`` (None: the :func:`attention_kernel`
    context, ``sdpa`` outside one) says how the attention itself is computed."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.kernel: str | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        qkv = self.qkv(x).unflatten(-1, (3, self.heads, -1))  # [B, T, 3, heads, dim / heads]
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each [B, heads, T, dim / heads]
        kernel = self.kernel or _KERNEL.get()
        if kernel == "explicit":
            out = explicit_attention(q, k, v)
        elif kernel == "math":
            with sdpa_kernel(SDPBackend.MATH):
                out = F.scaled_dot_product_attention(q, k, v)
        elif kernel == "sdpa":
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            raise ValueError(f"attention kernel {kernel!r}: one of {', '.join(ATTENTION_KERNELS)}")
        return self.proj(out.transpose(1, 2).flatten(2))


def _dropout(p: float) -> nn.Module:
    """Dropout of rate p, or an Identity at 0 (no random op for vmap to refuse)."""
    return nn.Dropout(p) if p > 0 else nn.Identity()


def _norm(norm: str, dim: int) -> nn.Module:
    return nn.LayerNorm(dim) if norm == "layernorm" else nn.RMSNorm(dim, eps=1e-6)


class MLP(nn.Module):
    """``fc2(drop(act(fc1(x))))`` with GELU, then dropout."""

    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.drop1 = _dropout(dropout)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop2 = _dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop2(self.fc2(self.drop1(self.act(self.fc1(x)))))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + drop(attn(norm1(x)))``, then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, heads: int, hidden: int, norm: str, dropout: float) -> None:
        super().__init__()
        self.norm1 = _norm(norm, dim)
        self.attn = Attention(dim, heads)
        self.drop = _dropout(dropout)
        self.norm2 = _norm(norm, dim)
        self.mlp = MLP(dim, hidden, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x)))
        return x + self.mlp(self.norm2(x))


class PatchEmbedding(nn.Module):
    """Image [B, C, H, W] to tokens [B, T, dim]: patches by a strided conv ``proj``, the class
    token ``cls_token`` first when there is one, plus the position embedding ``pos_embed``."""

    def __init__(
        self, channels: int, patch_size: int, dim: int, patches: int, cls: bool, dropout: float
    ) -> None:
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if cls else None
        self.pos_embed = nn.Parameter(torch.zeros(1, patches + int(cls), dim))
        self.drop = _dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.proj(x).flatten(2).transpose(1, 2)
        if self.cls_token is not None:
            tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        return self.drop(tokens + self.pos_embed)


class Pool(nn.Module):
    """Tokens [B, T, dim] to [B, dim]: the class token (``cls``) or the mean of all (``mean``)."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0] if self.mode == "cls" else x.mean(dim=1)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


def _init(model: nn.Sequential) -> nn.Sequential:
    """Truncated-normal (std 0.02) Linear weights, zero biases, and class token and position
    embedding (as in timm's ViT); the patch conv keeps PyTorch's default."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, PatchEmbedding):
            nn.init.trunc_normal_(m.pos_embed, std=0.02)
            if m.cls_token is not None:
                nn.init.trunc_normal_(m.cls_token, std=0.02)
    return model


def _positive(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"model.{key}", value, "a positive int")
    return value


@register_model("vit")
def vit(
    input_shape: Sequence[int],
    num_classes: int,
    patch_size: int = 7,
    dim: int = 64,
    depth: int = 4,
    heads: int = 4,
    mlp_ratio: float = 4.0,
    mlp_dim: int | None = None,
    norm: str = "layernorm",
    pool: str = "cls",
    dropout: float = 0.0,
) -> nn.Sequential:
    """A pre-norm ViT for images [C, H, W] with H and W multiples of ``patch_size``.

    The MLP's hidden width is ``mlp_dim``, or ``mlp_ratio × dim`` when it is null.
    Stages: ``embed, block1, ..., block{depth}, norm, pool, head``.
    """
    channels, height, width = image_shape(input_shape, "vit")
    for key, value in (("patch_size", patch_size), ("dim", dim), ("depth", depth)):
        _positive(key, value)
    if height % patch_size or width % patch_size:
        raise ConfigError(
            "model.patch_size",
            patch_size,
            f"a divisor of the image height and width {height}x{width} (data.input_shape)",
        )
    if dim % _positive("heads", heads):
        raise ConfigError("model.heads", heads, f"a divisor of model.dim={dim}")
    if mlp_dim is None:
        if isinstance(mlp_ratio, bool) or not isinstance(mlp_ratio, (int, float)):
            raise ConfigError("model.mlp_ratio", mlp_ratio, "a positive number")
        if not mlp_ratio * dim >= 1:
            raise ConfigError("model.mlp_ratio", mlp_ratio, f"a number >= 1/dim = {1 / dim}")
        hidden = round(mlp_ratio * dim)
    else:
        hidden = _positive("mlp_dim", mlp_dim)
    if norm not in NORMS:
        raise ConfigError("model.norm", norm, f"one of {', '.join(NORMS)}")
    if pool not in POOLS:
        raise ConfigError("model.pool", pool, f"one of {', '.join(POOLS)}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ConfigError("model.dropout", dropout, "a number in [0, 1)")
    patches = (height // patch_size) * (width // patch_size)
    stages: OrderedDict[str, nn.Module] = OrderedDict(
        embed=PatchEmbedding(channels, patch_size, dim, patches, pool == "cls", dropout)
    )
    for i in range(1, depth + 1):
        stages[f"block{i}"] = Block(dim, heads, hidden, norm, dropout)
    stages["norm"] = _norm(norm, dim)
    stages["pool"] = Pool(pool)
    stages["head"] = nn.Linear(dim, num_classes)
    model = _init(nn.Sequential(stages))
    # probe.layer_groups=auto: one layer per embedding, norm, attention, MLP and head
    # (ridgeline.landscape.grouping)
    object.__setattr__(model, "layer_grouping", "sublayer")
    return model
