"""Independent, reproducible seeds for initialisation, data order and augmentation."""

import hashlib


def derive_seed(base: int, *tags: object) -> int:
    """A 63-bit seed from a base seed and tags, e.g. derive_seed(seed, "child", 2).

    Hashing keeps streams of different (base, tags) disjoint, so seed=1 of one run never
    reproduces a child stream of seed=0.
    """
    text = "/".join([str(int(base)), *map(str, tags)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1
