"""Layer groupings: which parameters form one "layer" of the layer-wise probes.

:func:`~ridgeline.landscape.params.layer_groups` groups the tensors by their owning module
(``block3.attn.qkv``: weight and bias). Coarser groupings merge those module groups by a
prefix of their path (Adilova et al. 2024 call a layer a group of parameters sharing a
module path; the grouping says how long that path is):

- ``module``: the owning module (the finest; the CNNs' convolutions and linear layers);
- ``sublayer``: a top-level stage's direct children (a transformer block's ``norm1``,
  ``attn`` (qkv and output projection), ``norm2``, ``mlp`` (fc1 and fc2)); a stage that owns
  parameters itself (the ViT's ``embed``: class token and position embedding, with its
  patch projection) or has a single parameterised child stays whole;
- ``stage``: the top-level stage (a whole transformer block, ``embed``, ``norm``, ``head``);
- ``auto``: the model's own ``layer_grouping`` attribute when it has one (the ViT:
  ``sublayer``), else ``module``.
"""

from __future__ import annotations

from torch import nn

from ridgeline.landscape.params import LayerGroup, layer_groups

# probe.layer_groups: see the module doc.
LAYER_GROUPINGS = ("auto", "module", "sublayer", "stage")


def resolve_grouping(model: nn.Module, grouping: str = "auto") -> str:
    """The concrete grouping of ``grouping`` for ``model`` (``auto``: the model's own)."""
    if grouping not in LAYER_GROUPINGS:
        raise ValueError(f"layer grouping {grouping!r}: one of {', '.join(LAYER_GROUPINGS)}")
    if grouping != "auto":
        return grouping
    own = getattr(model, "layer_grouping", "module")
    return own if own in LAYER_GROUPINGS[1:] else "module"


def _sublayer_key(name: str, owners: set[str], children: dict[str, set[str]]) -> str:
    parts = name.split(".")
    stage = parts[0]
    if len(parts) == 1 or stage in owners or len(children[stage]) < 2:
        return stage
    return ".".join(parts[:2])


def grouped_layers(model: nn.Module, grouping: str = "auto") -> list[LayerGroup]:
    """The model's layer groups under ``grouping`` (module order; merged groups keep their
    members' parameters, then buffers, in module order, and sit where their first member was)."""
    fine = layer_groups(model)
    how = resolve_grouping(model, grouping)
    if how == "module":
        return fine
    owners = {g.name for g in fine if "." not in g.name}
    children: dict[str, set[str]] = {}
    for g in fine:
        parts = g.name.split(".")
        children.setdefault(parts[0], set()).add(".".join(parts[:2]))
    merged: dict[str, tuple[list[str], list[str]]] = {}
    for g in fine:
        key = g.name.split(".")[0] if how == "stage" else _sublayer_key(g.name, owners, children)
        params, buffers = merged.setdefault(key, ([], []))
        params.extend(g.param_names)
        buffers.extend(g.buffer_names)
    return [LayerGroup(k, tuple(p), tuple(b)) for k, (p, b) in merged.items()]
