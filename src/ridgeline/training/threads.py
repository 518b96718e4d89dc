"""The ``threads`` config key: torch's intra-op CPU threads, the same in every process of a job."""

import os


def set_threads(threads: int | None) -> None:
    """``torch.set_num_threads(threads)``, and ``OMP_NUM_THREADS`` for the processes a job starts
    (DDP workers; Lightning then leaves their count alone). None keeps torch's default."""
    if threads is None:
        return
    import torch

    os.environ["OMP_NUM_THREADS"] = str(int(threads))
    torch.set_num_threads(int(threads))
