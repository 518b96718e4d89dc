import math

import pytest
import torch
from torch import nn

from ridgeline.landscape import (
    Evaluator,
    delta,
    distance,
    layer_groups,
    lerp,
    lerp_groups,
    state_of,
)
from ridgeline.landscape.params import (
    affine,
    angle_at,
    cosine,
    flatten,
    group_distances,
    has_batchnorm,
    unflatten,
)

from .conftest import mlp


def test_state_of_clones_params_and_float_buffers(pair):
    a, _ = pair
    s = state_of(a)
    assert "2.running_mean" in s and "2.num_batches_tracked" not in s
    s["1.weight"].add_(1.0)
    assert not torch.equal(s["1.weight"], a[1].weight)
    assert has_batchnorm(a) and not has_batchnorm(mlp(bn=False))


def test_layer_groups_module_order():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 2, 3)
            self.bn1 = nn.BatchNorm2d(2)

    model = nn.Sequential(Block(), nn.Flatten(), nn.Linear(8, 2))
    groups = layer_groups(model)
    assert [g.name for g in groups] == ["0.conv1", "0.bn1", "2"]
    assert groups[0].param_names == ("0.conv1.weight", "0.conv1.bias")
    assert groups[1].buffer_names == ("0.bn1.running_mean", "0.bn1.running_var")


def test_lerp_exact_endpoints_and_groups(pair):
    a, b = (state_of(m) for m in pair)
    for k in a:
        assert torch.equal(lerp(a, b, 0.0)[k], a[k])
        assert torch.equal(lerp(a, b, 1.0)[k], b[k])
    groups = layer_groups(pair[0])
    mixed = lerp_groups(a, b, 0.5, ["4"], groups)
    assert torch.allclose(mixed["4.weight"], 0.5 * (a["4.weight"] + b["4.weight"]))
    assert torch.equal(mixed["1.weight"], a["1.weight"])
    mixed_b = lerp_groups(a, b, 0.5, ["4"], groups, rest="b")
    assert torch.equal(mixed_b["1.weight"], b["1.weight"])
    with pytest.raises(ValueError, match="unknown layer group"):
        lerp_groups(a, b, 0.5, ["nope"], groups)


def test_flatten_roundtrip_and_distances(pair):
    a, b = (state_of(m) for m in pair)
    v = flatten(a)
    back = unflatten(v, a)
    assert all(torch.equal(back[k], a[k]) for k in a)
    d = delta(a, b)
    assert math.isclose(distance(a, b), flatten(d).double().norm().item(), rel_tol=1e-9)
    groups = layer_groups(pair[0])
    per = group_distances(a, b, groups)
    total = sum(per[g.name] ** 2 for g in groups if g.param_names)
    names = [n for g in groups for n in g.param_names]
    assert math.isclose(total, distance(a, b, names) ** 2, rel_tol=1e-9)


def test_angle_and_cosine():
    base = {"w": torch.zeros(2)}
    a = {"w": torch.tensor([1.0, 0.0])}
    b = {"w": torch.tensor([1.0, 1.0])}
    assert math.isclose(angle_at(base, a, b), 45.0, rel_tol=1e-9)
    assert math.isclose(cosine(a, a), 1.0)
    assert math.isnan(cosine(base, a))


def test_lerp_keeps_non_float_buffers_of_a(pair):
    sa, sb = pair[0].state_dict(), pair[1].state_dict()
    mid = lerp(sa, sb, 0.5)
    assert mid["2.num_batches_tracked"] is sa["2.num_batches_tracked"]


def test_endpoints_are_exact_even_when_the_other_endpoint_is_nan():
    import math

    import torch

    from ridgeline.landscape.params import lerp

    a = {"w": torch.tensor([1.0, 2.0])}
    b = {"w": torch.tensor([math.nan, 4.0])}
    assert torch.equal(lerp(a, b, 0.0)["w"], a["w"])
    assert torch.isnan(lerp(a, b, 0.5)["w"][0])
    assert torch.equal(lerp(b, a, 1.0)["w"], a["w"])


def test_sets_keep_the_models_layout_where_element_wise_results_would_not():
    """A channels-last conv weight with one input channel has strides (9, 1, 3, 1); lerp,
    affine and delta keep them (plain element-wise ops return (9, 9, 3, 1)), and the Evaluator
    runs any set in its model's layout: the convolution's output stays channels-last."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3))
    model[0].weight.data = torch.empty_strided((4, 1, 3, 3), (9, 1, 3, 1)).copy_(model[0].weight)
    a = state_of(model)
    b = {k: v * 1.5 for k, v in a.items()}
    w = "0.weight"
    assert a[w].stride() == (9, 1, 3, 1) and (a[w] + b[w]).stride() == (9, 9, 3, 1)
    assert lerp(a, b, 0.3)[w].stride() == (9, 1, 3, 1)
    assert affine(a, b, b, 0.3, 0.2)[w].stride() == (9, 1, 3, 1)
    assert delta(a, b)[w].stride() == (9, 1, 3, 1)
    assert torch.equal(lerp(a, b, 0.3)[w], torch.lerp(a[w], b[w], 0.3))  # the same numbers
    x, y = torch.randn(8, 1, 4, 4), torch.randint(0, 3, (8,))
    ev = Evaluator(model, x, y, use_vmap=False)
    seen = []
    ev.template[0].register_forward_hook(lambda m, i, out: seen.append(out.stride()))
    contiguous = {k: torch.empty(v.shape).copy_(v) for k, v in lerp(a, b, 0.3).items()}
    assert contiguous[w].stride() == (9, 9, 3, 1)
    ev.evaluate([contiguous])
    assert seen == [(64, 1, 16, 4)]  # channels-last output, as for the model's own weights
