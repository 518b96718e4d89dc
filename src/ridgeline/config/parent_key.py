"""The parent key: a hash of exactly the config that determines the parent's weights.

Data (without evaluation settings), model, optimiser, schedule, T, precision, the
init/data/augmentation seeds and the checkpoint steps. Spawn and probe settings are left out,
so a grid over ``spawn.at`` × probes trains each parent once (:mod:`ridgeline.job.parent_store`
keeps the parents under this key).
"""

import hashlib
import json
from typing import Any

from omegaconf import DictConfig, OmegaConf

from ridgeline.config.nodes import as_dict

# Data keys that change what the probes evaluate, never what the parent learns.
EVAL_ONLY_DATA_KEYS = (
    "eval_batch_size",
    "eval_train_size",
    "eval_test_size",
    "eval_seed",
    "device_resident",
    "root",
    "download",
)


def parent_spec(cfg: DictConfig, checkpoint_steps: list[int]) -> dict[str, Any]:
    """The resolved config that determines the parent, as plain data."""
    data = as_dict(cfg.data)
    for key in EVAL_ONLY_DATA_KEYS:
        data.pop(key, None)
    return {
        "data": data,
        "model": OmegaConf.to_container(cfg.model, resolve=True),
        "optim": _optim_spec(cfg.optim),
        "schedule": OmegaConf.to_container(cfg.schedule, resolve=True),
        "max_steps": int(cfg.trainer.max_steps),
        "precision": str(cfg.trainer.get("precision", "32-true")),
        "seeds": {k: int(v) for k, v in cfg.seeds.items()},
        "checkpoint_steps": sorted(int(s) for s in checkpoint_steps),
    }


def _optim_spec(optim: DictConfig) -> Any:
    """The optimiser settings; ``clip_norm`` only when set, so a run without clipping keeps the
    key its parent had before the setting existed."""
    spec = OmegaConf.to_container(optim, resolve=True)
    if isinstance(spec, dict) and spec.get("clip_norm") is None:
        spec.pop("clip_norm", None)
    return spec


def parent_key(spec: dict[str, Any]) -> str:
    """A short stable hash of the parent spec."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
