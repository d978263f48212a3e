"""The tasks (t2v, i2v, start/end frame, extension, long video) as thin orchestration over diffusers."""

from openreels.pipelines.generate import Plan, generate, plan
from openreels.pipelines.loader import load_pipeline
from openreels.pipelines.request import GenerateRequest, Video

__all__ = ["GenerateRequest", "Plan", "Video", "generate", "load_pipeline", "plan"]
