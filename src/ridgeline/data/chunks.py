"""Fixed-order evaluation batches over tensors, sharded across ranks by contiguous slices."""

from collections.abc import Iterator

from torch import Tensor


class TensorChunks:
    """Iterates ``(x, y)`` chunks of ``batch_size`` over this rank's contiguous slice."""

    def __init__(
        self, x: Tensor, y: Tensor, batch_size: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"data.eval_batch_size={batch_size} must be at least 1")
        lo, hi = len(x) * rank // world_size, len(x) * (rank + 1) // world_size
        self.x, self.y, self.batch_size = x[lo:hi], y[lo:hi], batch_size

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for i in range(0, len(self.x), self.batch_size):
            yield self.x[i : i + self.batch_size], self.y[i : i + self.batch_size]
