"""Batched tensor augmentation (random crop with padding, horizontal flip) and normalisation."""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


def normalize(x: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """(x - mean) / std per channel of a [B, C, H, W] tensor."""
    shape = (1, -1, 1, 1)
    mean_t = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(shape)
    std_t = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(shape)
    return (x - mean_t) / std_t


def crop_flip(
    x: Tensor,
    params: Tensor,
    padding: int = 4,
    fill: Sequence[float] | None = None,
) -> Tensor:
    """Crop every image of x [B, C, H, W] from its padded version, then flip it if asked.

    ``params`` [B, 3] holds per sample the crop's row and column offset in the padded image
    (0..2*padding) and a flip flag. Padding pixels take the per-channel ``fill`` (default 0).
    One gather, no per-sample loop; the result equals torchvision's RandomCrop + flip.
    """
    b, c, h, w = x.shape
    params = params.to(x.device)
    dy, dx, flip = params[:, 0:1], params[:, 1:2], params[:, 2:3].bool()
    rows = dy - padding + torch.arange(h, device=x.device)
    j = torch.arange(w, device=x.device)
    cols = dx - padding + torch.where(flip, w - 1 - j, j)
    valid = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    index = rows.clamp(0, h - 1)[:, :, None] * w + cols.clamp(0, w - 1)[:, None, :]
    out = x.reshape(b, c, h * w).gather(2, index.view(b, 1, h * w).expand(b, c, h * w))
    out = out.view(b, c, h, w)
    value = torch.zeros(c) if fill is None else torch.as_tensor(fill)
    value = value.to(dtype=x.dtype, device=x.device).view(1, c, 1, 1)
    return torch.where(valid[:, None], out, value)


@dataclass(frozen=True)
class CropFlip:
    """Random crop of a ``padding``-padded image and (optionally) a random horizontal flip."""

    padding: int = 4
    flip: bool = True
    fill: tuple[float, ...] | None = None

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """Parameters [n, 3] (row offset, column offset, flip) drawn from ``generator`` only."""
        offsets = torch.randint(0, 2 * self.padding + 1, (n, 2), generator=generator)
        if self.flip:
            flips = torch.randint(0, 2, (n, 1), generator=generator)
        else:
            flips = torch.zeros(n, 1, dtype=torch.long)
        return torch.cat([offsets, flips], dim=1)

    def apply(self, x: Tensor, params: Tensor) -> Tensor:
        """Augment x [B, C, H, W] with parameters from :meth:`sample`."""
        return crop_flip(x, params, self.padding, self.fill)

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Augment x [B, C, H, W] with fresh parameters from ``generator``."""
        return self.apply(x, self.sample(len(x), generator))
