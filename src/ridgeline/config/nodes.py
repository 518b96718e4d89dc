"""Config nodes as plain dicts, typed: OmegaConf types ``to_container`` as any container."""

from typing import Any, cast

from omegaconf import DictConfig, OmegaConf


def as_dict(node: DictConfig, resolve: bool = True) -> dict[str, Any]:
    """``OmegaConf.to_container(node)`` of a dict node: a plain dict (nested nodes plain too)."""
    return cast("dict[str, Any]", OmegaConf.to_container(node, resolve=resolve))
