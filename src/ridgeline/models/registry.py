"""Model registry: every model is built by name from the ``model`` config node.

Builders take ``input_shape`` and ``num_classes`` plus their own hyper-parameters and return an
``nn.Sequential`` of top-level stages, so the landscape code can reuse prefix computations.
A user's own builder of the same form needs no registration: ``model._target_`` names it.
"""

import importlib
import inspect
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ridgeline.errors import ConfigError

ModelBuilder = Callable[..., nn.Sequential]

_MODELS: dict[str, ModelBuilder] = {}


def register_model(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register a builder ``fn(input_shape, num_classes, **hparams)`` under ``name``."""

    def decorator(fn: ModelBuilder) -> ModelBuilder:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered")
        _MODELS[name] = fn
        return fn

    return decorator


def model_builder(target: object) -> Callable[..., nn.Module]:
    """The callable a ``model._target_`` names as ``module.function``: :func:`build_model` for the
    registered models, or a user's own builder. ConfigError when it cannot be imported."""
    module_name, _, attr = str(target).rpartition(".")
    try:
        builder = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(
            "model._target_",
            target,
            f"an importable model builder, module.function ({type(exc).__name__}: {exc}); "
            "put its module on PYTHONPATH, or run `python -m ridgeline` in its directory",
        ) from None
    if not callable(builder):
        raise ConfigError("model._target_", target, "a callable model builder")
    return builder


def list_models() -> list[str]:
    """Sorted names of all registered models."""
    return sorted(_MODELS)


def build_model(
    name: str,
    input_shape: Sequence[int],
    num_classes: int,
    channels_last: bool = False,
    **kwargs: object,
) -> nn.Sequential:
    """Build the registered model ``name`` for inputs of ``input_shape`` (no batch dim).

    ``channels_last`` stores 4-d (conv) weights in the channels-last memory format, after the
    initialisation: the same numbers, and conv, pooling and their gradients run faster on CPU.
    """
    if name not in _MODELS:
        raise ConfigError("model.name", name, f"known models are {', '.join(list_models())}")
    if not isinstance(channels_last, bool):
        raise ConfigError("model.channels_last", channels_last, "use true or false")
    fn = _MODELS[name]
    accepted = [
        p for p in inspect.signature(fn).parameters if p not in ("input_shape", "num_classes")
    ]
    for key in kwargs:
        if key not in accepted:
            raise ConfigError(
                f"model.{key}", kwargs[key], f"{name} takes only {', '.join(accepted) or 'no keys'}"
            )
    shape = tuple(int(d) for d in input_shape)
    model = fn(input_shape=shape, num_classes=int(num_classes), **kwargs)
    return model.to(memory_format=torch.channels_last) if channels_last else model
