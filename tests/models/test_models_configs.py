"""Every conf/model/*.yaml instantiates through Hydra to a working model."""

from importlib.resources import files
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

CONF = Path(str(files("ridgeline.conf"))) / "model"
FILES = sorted(CONF.glob("*.yaml"))
COMMON = {"_target_", "name", "input_shape", "num_classes"}


def test_expected_presets_exist() -> None:
    names = {f.stem for f in FILES}
    expected = {"mlp", "lenet_300_100", "cnn", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn"}
    assert expected | {"resnet20", "resnet20_nf", "resnet18"} <= names


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_config_composes_to_a_working_model(path: Path) -> None:
    node = OmegaConf.load(path)
    assert set(node) >= COMMON
    assert node._target_ == "ridgeline.models.build_model"
    shape = [1, 28, 28] if node.name in ("mlp", "cnn") or path.stem == "vit_tiny" else [3, 32, 32]
    cfg = OmegaConf.create({"data": {"input_shape": shape, "num_classes": 10}, "model": node})
    OmegaConf.resolve(cfg)
    model = instantiate(cfg.model)
    assert isinstance(model, nn.Sequential)
    assert model(torch.randn(2, *shape)).shape == (2, 10)


def test_lenet_preset_has_266610_parameters_on_mnist() -> None:
    cfg = OmegaConf.create(
        {
            "data": {"input_shape": [1, 28, 28], "num_classes": 10},
            "model": OmegaConf.load(CONF / "lenet_300_100.yaml"),
        }
    )
    model = instantiate(cfg.model)
    assert sum(p.numel() for p in model.parameters()) == 266_610
