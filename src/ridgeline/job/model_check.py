"""The model and the data checked together on a real batch, once, before any step is trained.

:func:`ridgeline.config.builds.check_model` runs the model on zeros of the declared input shape;
a user's model or data module can still pass that and fail only in the first probe, after the
parent trained. Here, on the first :data:`N_CHECK` train examples, normalised as training sees
them:

- the labels are integers in ``[0, data.num_classes)`` and the train split holds at least 2
  classes (a barrier between classifiers of one class means nothing);
- the model gives one row of ``data.num_classes`` logits per example (a model that fixes its
  batch size, or reshapes over the batch, is refused);
- when a probe takes directional derivatives (the curvature component, the barrier's ridge),
  one forward-mode product ``torch.func.jvp`` of the model in eval mode along a random tangent
  works: a custom ``torch.autograd.Function`` without ``setup_context``/``jvp`` is refused,
  naming the innermost module that raised (there is no fallback: the record would mix methods).

Each failure is a ConfigError naming the key, the value and the fix.
"""

import os
from typing import Any

import torch
from omegaconf import DictConfig

from ridgeline.config.builds import build_model_once
from ridgeline.config.rules.helpers import warn
from ridgeline.config.settings import Settings
from ridgeline.errors import ConfigError

# Examples of the real batch: odd, and not the 2 of the build check, so a model that hard-codes
# either batch size is caught.
N_CHECK = 3
# Probe classes that take forward-mode derivatives of the model, and the option that switches
# the derivative off (None: the whole component needs it).
JVP_PROBES = {"CurvatureProbe": None, "BarrierProbe": "ridge"}


def jvp_probes(settings: Settings) -> list[str]:
    """The probe components (by key) that take a forward-mode derivative of the model."""
    keys = []
    for key, node in settings.components.items():
        cls = str(node.get("_target_", "")).rpartition(".")[2]
        if cls in JVP_PROBES:
            option = JVP_PROBES[cls]
            if option is None or node.get(option, True) is not False:
                keys.append(key)
    return keys


def model_name(cfg: DictConfig) -> str:
    """The model as the user chose it: a registered model's ``model.name``, or a user
    builder's ``_target_``."""
    from ridgeline.models import build_model
    from ridgeline.models.registry import model_builder

    target = cfg.model.get("_target_")
    return str(cfg.model.get("name") if model_builder(target) is build_model else target)


def check_labels(settings: Settings, train_y: torch.Tensor) -> None:
    """Integer labels in [0, num_classes), at least 2 classes in the train split."""
    data, classes = settings.data, settings.data.num_classes
    if train_y.is_floating_point() or train_y.is_complex():
        raise ConfigError(
            "data", data.name, f"integer labels; the data module gives {train_y.dtype}"
        )
    low, high = int(train_y.min()), int(train_y.max())
    if low < 0 or high >= classes:
        raise ConfigError(
            "data.num_classes",
            classes,
            f"more than every label of the {data.name} train split (labels span {low}..{high}); "
            "set data.num_classes to the number of classes, labels 0..num_classes-1",
        )
    present = torch.unique(train_y).numel()
    if present < 2:
        raise ConfigError(
            "data",
            data.name,
            f"a train split with at least 2 classes; it holds only class {low}, so every "
            "classifier is perfect and there is no barrier to measure",
        )


def _innermost_failing_module(model: torch.nn.Module, run: Any) -> tuple[str, Exception]:
    """Run ``run()``; the dotted name of the innermost module being called when it raised."""
    stack: list[str] = []
    failed: list[str] = []
    handles = []
    for name, module in model.named_modules():

        def enter(m: Any, _a: Any, name: str = name) -> None:
            stack.append(f"{name} ({type(m).__name__})" if name else type(m).__name__)

        def leave(_m: Any, _a: Any, _o: Any) -> None:
            stack.pop()

        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave))
    try:
        run()
    except Exception as exc:
        failed.append(stack[-1] if stack else type(model).__name__)
        return failed[0], exc
    finally:
        for handle in handles:
            handle.remove()
    raise AssertionError("the call did not raise")


def check_model_on_batch(cfg: DictConfig, settings: Settings, x: torch.Tensor) -> None:
    """The model's output on the real batch ``x``, and its forward-mode derivative when a probe
    needs one (see the module's docstring)."""
    from torch.func import functional_call, jvp
    from torch.nn.attention import SDPBackend, sdpa_kernel

    name, classes, n = model_name(cfg), settings.data.num_classes, len(x)
    model = build_model_once(cfg, "model").eval()
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as exc:
        raise ConfigError(
            "model",
            name,
            f"a model that takes a batch of any size: on a real batch of {n} "
            f"{settings.data.name} train examples it raised {type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:200]}",
        ) from None
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (n, classes):
        shape = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ConfigError(
            "model",
            name,
            f"a model that gives one row of {classes} logits per example: on a real batch of "
            f"{n} {settings.data.name} train examples it gives {shape}, not [{n}, {classes}] "
            "(a batch size fixed inside the model, or a reshape across examples?)",
        )
    needs = jvp_probes(settings)
    if not needs:
        return
    params = {k: p.detach() for k, p in model.named_parameters()}
    generator = torch.Generator().manual_seed(0)
    tangents = {
        k: torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device)
        for k, p in params.items()
    }

    def forward_mode() -> None:
        with sdpa_kernel(SDPBackend.MATH):  # as the probes' derivatives run attention
            jvp(lambda p: functional_call(model, p, (x,)), (params,), (tangents,))

    try:
        forward_mode()
    except Exception:
        where, failure = _innermost_failing_module(model, forward_mode)
        reason = " ".join(str(failure).split()).split(". ")[0][:200]
        raise ConfigError(
            "model",
            name,
            f"a model with forward-mode AD, which probe.{needs[0]} needs (torch.func.jvp); its "
            f"module {where} raised {type(failure).__name__}: {reason}. Give its custom "
            "autograd.Function a setup_context and a jvp, or switch the derivative off "
            "(~probe.curvature, probe.barrier.ridge=false)",
        ) from None


def warn_non_finite(name: str, splits: dict[str, torch.Tensor]) -> None:
    """One warning per split whose inputs hold NaN or ±inf: every loss and error evaluated on
    such an example is non-finite, so the split's records would hold null without a word."""
    if any(os.environ.get(v, "0") != "0" for v in ("RANK", "LOCAL_RANK", "NODE_RANK")):
        return  # said once, by the job's first process
    for split, x in splits.items():
        if x.is_floating_point():
            bad = int((~torch.isfinite(x)).flatten(1).any(1).sum())
            if bad:
                warn(
                    f"data: {bad} of {len(x)} {name} {split} examples have NaN or inf inputs; "
                    f"every {split} loss and error evaluated on them is non-finite (stored as "
                    "null): clean the data module's inputs"
                )


def check_model_and_data(cfg: DictConfig, settings: Settings, datamodule: Any) -> None:
    """Labels and the model on the first :data:`N_CHECK` train examples, and a warning for
    non-finite inputs (the data read once, kept for the module's setup)."""
    train_x, train_y = getattr(datamodule, "train_x", None), getattr(datamodule, "train_y", None)
    test_x = getattr(datamodule, "test_x", None)
    if train_x is None or train_y is None or test_x is None:
        train_x, train_y, test_x, _ = getattr(datamodule, "loaded", datamodule.load)()
        normalise = getattr(datamodule, "_normalised", lambda t: t.float())
        x = normalise(train_x[:N_CHECK])
    else:  # set up: already normalised, maybe on the training device
        x = train_x[:N_CHECK]
    check_labels(settings, train_y)
    warn_non_finite(settings.data.name, {"train": train_x, "test": test_x})
    check_model_on_batch(cfg, settings, x.cpu())
