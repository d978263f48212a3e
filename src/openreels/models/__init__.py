"""Model registry, checkpoint location and the tiny checkpoints tests and the demo build in-process."""

from openreels.models.registry import DEFAULT_MODEL, ModelSpec, get_model, list_models
from openreels.models.tiny import build_tiny_checkpoint
from openreels.models.weights import locate_weights, weights_present

__all__ = [
    "DEFAULT_MODEL",
    "ModelSpec",
    "build_tiny_checkpoint",
    "get_model",
    "list_models",
    "locate_weights",
    "weights_present",
]
