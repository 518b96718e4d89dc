"""Checks by building: every component with a ``_target_`` is instantiated once, on the CPU,
without touching the global RNG, so a setting its class or function refuses is named before
any compute. The model's own rules follow: it takes the data's inputs and gives one output per
class; ``probe.bn_policy=batch`` needs BatchNorm and ``probe.bn_policy=repair`` a BN-free model
whose corrected layers have biases; ``probe.align`` needs a model whose symmetries are derived;
BatchNorm needs 2 examples per process.
"""

import contextlib
import inspect
import math
from typing import Any

from omegaconf import DictConfig

from ridgeline.config.nodes import as_dict
from ridgeline.config.rules import (
    check_component_splits,
    check_ridge_splits,
    locate,
    plain,
    world_size,
)
from ridgeline.config.schema import optimizer_node
from ridgeline.config.settings import Settings
from ridgeline.errors import ConfigError, RidgelineError


def _cause(exc: BaseException) -> BaseException:
    """The innermost cause of a Hydra InstantiationException."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def build(key: str, node: DictConfig, what: str) -> Any:
    """``instantiate(node)``; a failure is a ConfigError naming ``key`` and the cause."""
    from hydra.utils import instantiate

    try:
        return instantiate(node)
    except RidgelineError:
        raise
    except Exception as exc:
        cause = _cause(exc)
        if isinstance(cause, RidgelineError):
            raise cause from None
        if str(cause).startswith(key.split(".")[0] + "."):  # already names its key
            raise RidgelineError(str(cause)) from None
        target = node.get("_target_", "?")
        raise ConfigError(key, target, f"{what} ({type(cause).__name__}: {cause})") from None


def data_config(preset: str, **overrides: Any) -> DictConfig:
    """The data preset ``conf/data/<preset>.yaml`` over its schema with ``overrides``, resolved
    as a job in the current directory resolves it: every default the schema's."""
    import os
    from importlib.resources import files

    from omegaconf import OmegaConf

    from ridgeline.config.schema import SCHEMAS, PathsConfig

    text = files("ridgeline.conf").joinpath("data").joinpath(f"{preset}.yaml").read_text()
    node = OmegaConf.create(text)
    assert isinstance(node, DictConfig), f"conf/data/{preset}.yaml is not a mapping"
    (entry,) = [str(d) for d in node.pop("defaults") if d != "_self_"]
    schema = SCHEMAS[entry.removeprefix("/schema/").removesuffix("@_here_")]
    job = OmegaConf.create({"paths": {"root_dir": os.getcwd(), "data_dir": PathsConfig.data_dir}})
    job.data = OmegaConf.merge(OmegaConf.structured(schema), node, overrides)
    return OmegaConf.create(as_dict(job.data))


def data_module(preset: str, **overrides: Any) -> Any:
    """The data module of ``preset`` (e.g. ``"synthetic"``) with ``overrides``, built as a job
    builds it: for tests, scripts and toys that need a data module without a config."""
    from ridgeline.config.rules import locate

    settings = {str(k): v for k, v in data_config(preset, **overrides).items()}
    return locate(settings.pop("_target_"))(**settings)


def check_arg_types(key: str, node: DictConfig, cls: type) -> None:
    """Arguments whose default is a bool / int / float must be one too (not a string)."""
    for name, param in inspect.signature(cls).parameters.items():
        if name not in node or param.default is inspect.Parameter.empty:
            continue
        value, default = node[name], param.default
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{key}.{name}", plain(value), "true or false")
        if isinstance(default, bool):
            continue
        if isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{key}.{name}", plain(value), "an integer")
        if isinstance(default, float) and (
            isinstance(value, bool) or not isinstance(value, (int, float))
        ):
            raise ConfigError(f"{key}.{name}", plain(value), "a number")


def check_optim(cfg: DictConfig) -> None:
    import torch

    node = optimizer_node(cfg.optim)
    factory = build("optim._target_", node, "an optimiser that accepts these settings")
    try:
        factory([torch.nn.Parameter(torch.zeros(1))])
    except Exception as exc:
        settings = {k: v for k, v in as_dict(node).items() if not k.startswith("_")}
        raise ConfigError(
            "optim",
            settings,
            f"settings {cfg.optim.get('_target_')} accepts ({type(exc).__name__}: {exc})",
        ) from None


def check_schedule(cfg: DictConfig, total: int) -> None:
    schedule = build("schedule._target_", cfg.schedule, "a schedule that accepts these settings")
    for step in (0, total // 2, total - 1):
        try:
            factor = float(schedule(step))
        except Exception as exc:
            raise ConfigError(
                "schedule", plain(cfg.schedule), f"a schedule defined at step {step}: {exc}"
            ) from None
        if not math.isfinite(factor) or factor < 0:
            raise ConfigError(
                "schedule",
                plain(cfg.schedule),
                f"a finite factor >= 0 at every step; {factor} at {step}",
            )


def check_data(cfg: DictConfig, name: str) -> None:
    """``data.name`` is a registered dataset, the one of its data module; the module builds."""
    # A user's data module registers its dataset when its module is imported; one that cannot
    # be imported is named by building it below.
    with contextlib.suppress(Exception):
        locate(str(cfg.data.get("_target_", "")))
    from ridgeline.data import DATASETS  # a copy: taken after the import above

    if name not in DATASETS:
        raise ConfigError(
            "data.name", name, f"one of {', '.join(sorted(DATASETS))} (pick it with data=...)"
        )
    target = str(cfg.data.get("_target_", ""))
    declared = [n for n, cls in DATASETS.items() if target.endswith("." + cls.__name__)]
    if declared and declared[0] != name:
        raise ConfigError(
            "data.name",
            name,
            f"{declared[0]}, the dataset of this data config; pick another with data={name}",
        )
    build("data", cfg.data, f"settings the {name} data module accepts")


def build_model_once(cfg: DictConfig, key: str):
    """The model built on the CPU without touching the global RNG; ConfigError if it cannot be."""
    import torch

    with torch.random.fork_rng(devices=[]):
        return build(key, cfg.model, "a model buildable from these settings")


def check_model(cfg: DictConfig, settings: Settings) -> None:
    """The model builds, takes the data's inputs, has one output per class; the probe's BN
    policy and alignment suit it; BatchNorm gets 2 examples per process."""
    import torch

    from ridgeline.landscape.params import has_batchnorm
    from ridgeline.models import build_model, list_models
    from ridgeline.models.registry import model_builder

    # A registered model by model.name, or a user's own builder named by model._target_.
    target = cfg.model.get("_target_")
    registered = model_builder(target) is build_model
    name = cfg.model.get("name") if registered else target
    if registered and name not in list_models():
        raise ConfigError(
            "model.name", plain(name), f"one of {', '.join(list_models())} (pick it with model=...)"
        )
    model = build_model_once(cfg, "model.name" if registered else "model._target_")
    if not isinstance(model, torch.nn.Module):
        raise ConfigError("model._target_", target, f"a torch.nn.Module, not {type(model)}")
    data = settings.data
    shape = tuple(int(s) for s in data.input_shape)
    try:
        with torch.no_grad():
            out = model.eval()(torch.zeros(2, *shape))
    except Exception as exc:
        raise ConfigError(
            "model",
            name,
            f"a model that takes the {data.name} inputs of shape {list(shape)} "
            f"({type(exc).__name__}: {exc})",
        ) from None
    if tuple(out.shape) != (2, data.num_classes):
        raise ConfigError(
            "model",
            name,
            f"a model with {data.num_classes} outputs; it gives {list(out.shape[1:])}",
        )
    bn = has_batchnorm(model)
    probe = settings.probe
    if probe is not None and probe.bn_policy == "batch" and not bn:
        raise ConfigError(
            "probe.bn_policy",
            probe.bn_policy,
            f"reset or interpolate: model {name} has no BatchNorm, so there are no batch "
            "statistics to use (pick a model with BatchNorm, e.g. vgg11_bn, for batch)",
        )
    if probe is not None and probe.bn_policy == "repair":
        from ridgeline.landscape.normalization import repair_layers

        if bn:
            raise ConfigError(
                "probe.bn_policy",
                probe.bn_policy,
                f"reset, interpolate or batch: model {name} has BatchNorm, and REPAIR (Jordan et "
                "al. 2023) corrects BN-free models (use probe.bn_policy=reset with BatchNorm, or "
                "a norm-free model, e.g. model=resnet20_nf, for repair)",
            )
        params = dict(model.named_parameters())
        no_bias = [m for m in repair_layers(model) if f"{m}.bias" not in params]
        if no_bias:
            raise ConfigError(
                "probe.bn_policy",
                probe.bn_policy,
                f"reset or interpolate: REPAIR folds each channel's mean shift into its layer's "
                f"bias, and layer {no_bias[0]} of model {name} has none",
            )
    if probe is not None and probe.align:
        check_alignment(model, name, probe, shape)
    world = world_size(cfg.trainer) or 1
    if bn and data.batch_size // world < 2:
        raise ConfigError(
            "data.batch_size",
            data.batch_size,
            f"at least 2 examples per process for BatchNorm in {name} ({world} process(es))",
        )


def check_alignment(model: Any, name: object, probe: Any, shape: Any) -> None:
    """``probe.align`` needs a model whose symmetries are derived (permutations, or a
    transformer's group); ``probe.align_group=orthogonal`` a transformer; a derived transformer
    spec must keep the model's function on a random element (float64, random inputs)."""
    import torch

    from ridgeline.landscape.permutation import UnsupportedModelError
    from ridgeline.landscape.transformer_matching import symmetry_spec
    from ridgeline.landscape.transformer_symmetry import TransformerSpec, check_symmetry

    try:
        spec = symmetry_spec(model, "permutation")
    except UnsupportedModelError as exc:
        raise ConfigError("probe.align", probe.align, f"null for model {name}: {exc}") from None
    if probe.align_group == "orthogonal" and not isinstance(spec, TransformerSpec):
        raise ConfigError(
            "probe.align_group",
            probe.align_group,
            f"permutation for model {name}: only a transformer (LayerNorm or RMSNorm on a "
            "residual stream) has an orthogonal symmetry",
        )
    if isinstance(spec, TransformerSpec):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(2, *shape, generator=g)
        error = check_symmetry(model, spec, x, g)
        if not error < 1e-6:
            raise ConfigError(
                "probe.align",
                probe.align,
                f"null for model {name}: its derived transformer symmetries change its outputs "
                f"by {error:.3g} (not a pre-norm transformer as the spec assumes)",
            )


def check_components(settings: Settings) -> None:
    """Every probe component builds from its settings, typed as its class's defaults; a pair
    component needs two children."""
    pair = []
    for key, node in settings.components.items():
        try:
            cls = locate(str(node.get("_target_")))
        except Exception:
            cls = None  # building it names the target that cannot be imported
        if isinstance(cls, type):  # the key named before the class sees a string as a number
            check_arg_types(f"probe.{key}", node, cls)
        component = build(f"probe.{key}", node, "a probe component that accepts these settings")
        check_arg_types(f"probe.{key}", node, type(component))
        check_component_splits(key, getattr(component, "splits", None), settings.probe)
        check_ridge_splits(key, component, settings.probe)
        if getattr(component, "pair", False):
            pair.append(key)
    if pair and settings.spawn.children < 2:
        raise ConfigError(
            "spawn.children",
            settings.spawn.children,
            f"at least 2 children when pair probes are on ({', '.join(pair)}); "
            "set spawn.children=2 or switch them off with ~probe.<name>",
        )


def check_builds(cfg: DictConfig, settings: Settings, total: int) -> None:
    """Build the optimiser, schedule, probe components, model and data module once (the data
    module last: it is a LightningDataModule, and the others need no Lightning)."""
    check_optim(cfg)
    check_schedule(cfg, total)
    check_components(settings)
    check_model(cfg, settings)
    check_data(cfg, settings.data.name)
