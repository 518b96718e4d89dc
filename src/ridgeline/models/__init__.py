"""Model registry; importing this package registers every built-in model."""

from ridgeline.models import cnn, mlp, resnet, vgg, vit  # noqa: F401  (registers the models)
from ridgeline.models.registry import build_model, list_models, register_model

__all__ = ["build_model", "list_models", "register_model"]
