"""Registry behaviour: names, registration and the errors a user sees."""

import pytest
from torch import nn

from ridgeline.models import build_model, list_models, register_model
from ridgeline.models.registry import _MODELS


def test_registered_names() -> None:
    assert list_models() == ["cnn", "mlp", "resnet18", "resnet20", "vgg11", "vgg16", "vit"]


def test_unknown_name_lists_known_models_and_names_the_key() -> None:
    with pytest.raises(ValueError, match="model.name") as err:
        build_model("resnet9000", (3, 32, 32), 10)
    for name in list_models():
        assert name in str(err.value)


def test_unknown_hyperparameter_names_the_key() -> None:
    with pytest.raises(ValueError, match=r"model\.depht.*depth"):
        build_model("mlp", (1, 28, 28), 10, depht=3)


@pytest.mark.parametrize(
    ("name", "shape", "kwargs", "key"),
    [
        ("vgg11", (3, 28, 28), {}, "model.input_shape"),
        ("resnet20", (1, 28, 28), {}, "model.input_shape"),
        ("resnet18", (3, 64, 64), {}, "model.input_shape"),
        ("cnn", (784,), {}, "model.input_shape"),
        ("cnn", (1, 4, 4), {"depth": 3, "width": 8}, "model.depth"),
        ("resnet20", (3, 32, 32), {"norm": "layer"}, "model.norm"),
        ("resnet20", (3, 32, 32), {"width": 0}, "model.width"),
        ("mlp", (1, 28, 28), {"depth": 3, "width": [300, 100]}, "model.width"),
        ("mlp", (1, 28, 28), {"activation": "swish2"}, "model.activation"),
    ],
)
def test_invalid_config_names_the_key(name: str, shape: tuple, kwargs: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        build_model(name, shape, 10, **kwargs)


def test_register_model_adds_a_builder_and_rejects_duplicates() -> None:
    @register_model("_test_linear")
    def _test_linear(input_shape: tuple[int, ...], num_classes: int) -> nn.Sequential:
        return nn.Sequential(nn.Flatten(), nn.Linear(input_shape[-1], num_classes))

    try:
        assert "_test_linear" in list_models()
        assert isinstance(build_model("_test_linear", [5], 3), nn.Sequential)
        with pytest.raises(ValueError, match="already registered"):
            register_model("_test_linear")(_test_linear)
    finally:
        del _MODELS["_test_linear"]
