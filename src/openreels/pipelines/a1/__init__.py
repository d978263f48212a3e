"""SkyReels-A1 model code that diffusers lacks (the face-token projection) and a random-checkpoint writer."""

from openreels.pipelines.a1.checkpoint import A1Size, create_random_a1
from openreels.pipelines.a1.transformer import A1Transformer3DModel

__all__ = ["A1Size", "A1Transformer3DModel", "create_random_a1"]
