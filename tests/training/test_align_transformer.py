"""probe.align on a ViT: the transformer group (permutation / orthogonal) end to end, and bad
settings named before compute."""

import math

import pytest
from omegaconf import OmegaConf, open_dict
from torch import nn

from helpers.cli import run_train
from helpers.compose import compose_groups as compose_cfg
from ridgeline.config.builds import check_model
from ridgeline.config.settings import read_settings
from ridgeline.errors import ConfigError
from ridgeline.job.validate import validate_config

VIT = [
    "debug=fast",
    "logger=csv",
    "summary=false",
    "model=vit_tiny",
    # two blocks of width 32 (four heads of 8): the residual stream's transform is shared by
    # more than one block; the 4-block width-64 ViT's layer-wise entries only cost more
    "model.depth=2",
    "model.dim=32",
    "model.mlp_dim=64",
    "data.eval_train_size=64",
    "data.eval_test_size=64",
    "trainer.max_steps=6",
    "spawn.at=[3]",
    "probe.every_n_steps=null",
    "~probe.curvature",
    # the endpoints and the midpoint, a 3 × 3 plane: the alignment's cost stays, the grids' goes
    "probe.alphas=[0,0.5,1]",
    "probe.profile_alphas=[0,0.5,1]",
    "probe.geometry.plane_resolution=3",
    "probe.eval_path=loop",  # no timing of loop against vmap (the path choice has its own tests)
    "probe.align=weight",
]


@pytest.mark.slow
@pytest.mark.parametrize("group", ["orthogonal", "permutation"])
def test_a_vit_pair_is_aligned_in_the_coordinates_its_group_needs(tiny_run_factory, group):
    job = tiny_run_factory(f"vit_{group}", *VIT, f"probe.align_group={group}")
    records = [r for r in job.records() if r["probe"] == "pair" and "aligned" in r]
    assert {r["phase"] for r in records} == {"independent"}
    for r in records:
        how = r["aligned"]["alignment"]
        assert how["group"] == group
        assert how["coordinates"] == ("reparameterised" if group == "orthogonal" else "original")
        assert how["dist_after"] < how["dist_before"] and how["moved_units"] > 0
        assert set(r["aligned"]) == {"alignment", "barrier", "layerwise"}
        for split in ("train", "test"):
            plain, aligned = r["barrier"][split]["loss"], r["aligned"]["barrier"][split]["loss"]
            # both endpoints keep their function in either coordinates (float32 evaluation)
            assert aligned[0] == pytest.approx(plain[0], rel=1e-5)
            assert aligned[-1] == pytest.approx(plain[-1], rel=1e-5)
        layers = r["aligned"]["layerwise"]["test"]["entries"]
        names = " ".join(str(e) for e in layers)
        assert ("norm1" in names) == (group == "permutation")  # no norm tensors once folded


@pytest.mark.slow  # over 3 s
def test_align_group_settings_are_checked_before_compute():
    with pytest.raises(ConfigError, match=r"probe.align_group='orthogonal'.*probe.align is null"):
        validate_config(compose_cfg("model=vit_tiny", "probe.align_group=orthogonal"))
    cfg = compose_cfg("probe.align=weight", "probe.align_group=orthogonal")  # the default MLP
    with pytest.raises(ConfigError) as info:
        check_model(cfg, read_settings(cfg))
    message = str(info.value)
    assert message.startswith("probe.align_group='orthogonal' is not valid: permutation for")
    assert "only a transformer" in message and "\n" not in message
    vit = compose_cfg("model=vit_tiny", "probe.align=weight", "probe.align_group=orthogonal")
    check_model(vit, read_settings(vit))  # a ViT passes, its derived spec verified


class PostNorm(nn.Module):
    """A user's post-norm encoder layer: x → norm(x + attn(x)), then pooled and classified."""

    def __init__(self, input_shape, num_classes) -> None:
        super().__init__()
        width = math.prod(input_shape)
        self.embed = nn.Linear(width, 8)
        self.attn = nn.Module()
        self.attn.heads = 2
        self.attn.qkv = nn.Linear(8, 24)
        self.attn.proj = nn.Linear(8, 8)
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, num_classes)

    def forward(self, x):
        h = self.embed(x.flatten(1))
        q, k, v = self.attn.qkv(h).chunk(3, dim=-1)
        h = self.norm(h + self.attn.proj(v * (q * k).sum(-1, keepdim=True).sigmoid()))
        return self.head(h)


def test_a_model_without_a_derivable_symmetry_names_its_module():
    cfg = compose_cfg("probe.align=weight")
    with open_dict(cfg):
        cfg.model = OmegaConf.create(
            {
                "_target_": f"{__name__}.PostNorm",
                "input_shape": "${data.input_shape}",
                "num_classes": "${data.num_classes}",
            }
        )
    with pytest.raises(ConfigError) as info:
        check_model(cfg, read_settings(cfg))
    message = str(info.value)
    assert message.startswith("probe.align='weight' is not valid: null for model")
    assert "module 'attn.qkv' (Linear)" in message and "\n" not in message


@pytest.mark.slow
def test_the_cli_refuses_orthogonal_alignment_of_an_mlp_with_one_line(tmp_path):
    result = run_train(tmp_path, "probe.align=weight", "probe.align_group=orthogonal")
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if "probe.align_group" in line]
    assert len(errors) == 1 and "permutation for model" in errors[0]
    assert not (tmp_path / "run" / "landscape").exists()
