"""Kernels under derivatives and vmap: SDPA's math backend and a composite LayerNorm.

Two traps of torch 2.14 (CPU), measured on the ViT (issue 32; docs/guide/transformers.md):

- ``torch.nn.functional.scaled_dot_product_attention`` dispatches to a flash kernel with no
  forward-mode AD (nested jvp: ΔᵀHΔ, the Gauss–Newton split, the ridge), no double backward
  and no vmap batching rule (a per-set fallback with a warning). Its math backend,
  softmax(QKᵀ/√d)V in differentiable ops, supports all three.
- ``torch.nn.functional.layer_norm``'s forward-mode derivative is right to first order but its
  second (forward-over-forward) is wrong: d²/dt² Σ w ⊙ LN(x + tv) comes out −13.07 where finite
  differences, reverse-over-reverse and forward-over-reverse give −17.54 (no affine; 3×5×8
  float64). :class:`CompositeLayerNorm` computes LN from its formula,
  (x − mean x)·(var x + ε)^(−½)·γ + β with the biased variance (Ba et al. 2016), whose nested
  jvp is exact.

:func:`derivative_kernels` (both) wraps every jvp of the core
(:func:`ridgeline.landscape.derivatives.jvp_pair`), :func:`math_vmap` every vmapped
evaluation (SDPA only: first-order LN is right). Any model that calls these functions is
covered without the core knowing the model; training keeps the fast kernels. The kernels agree
to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch.func import vmap
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.overrides import TorchFunctionMode


def composite_layer_norm(
    x: torch.Tensor,
    normalized_shape: Any,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """``F.layer_norm`` from its formula: (x − μ)/√(σ² + ε)·γ + β over the last
    ``len(normalized_shape)`` dims, σ² the biased variance (Ba et al. 2016)."""
    n = 1 if isinstance(normalized_shape, int) else len(normalized_shape)
    dims = tuple(range(-n, 0))
    mu = x.mean(dim=dims, keepdim=True)
    var = (x - mu).square().mean(dim=dims, keepdim=True)
    out = (x - mu) * torch.rsqrt(var + eps)
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


class CompositeLayerNorm(TorchFunctionMode):
    """Inside this mode every ``F.layer_norm`` / ``torch.layer_norm`` call runs
    :func:`composite_layer_norm` (exact nested forward-mode AD)."""

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if func is F.layer_norm or func is torch.layer_norm:
            kw = dict(kwargs or {})
            kw.pop("cudnn_enable", None)
            return composite_layer_norm(*args[:5], **kw)
        return func(*args, **(kwargs or {}))


@contextmanager
def math_attention() -> Iterator[None]:
    """Inside the block, ``scaled_dot_product_attention`` runs its math backend (nests; the
    previous backend set is restored on exit)."""
    with sdpa_kernel(SDPBackend.MATH):
        yield


@contextmanager
def derivative_kernels() -> Iterator[None]:
    """SDPA's math backend and :class:`CompositeLayerNorm`: kernels whose forward-mode AD,
    double backward and vmap rules are all exact."""
    with math_attention(), CompositeLayerNorm():
        yield


def math_vmap(func: Callable[..., Any], in_dims: Any = 0) -> Callable[..., Any]:
    """``torch.func.vmap(func, in_dims)`` whose calls run inside :func:`math_attention`."""
    batched = vmap(func, in_dims=in_dims)

    def call(*args: Any) -> Any:
        with math_attention():
            return batched(*args)

    return call
