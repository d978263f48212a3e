"""The tasks (t2v, i2v, start/end frame, extension, long video) as thin orchestration over diffusers."""

from openreels.pipelines.loader import load_pipeline
from openreels.pipelines.request import GenerateRequest, Video
from openreels.pipelines.tasks import Plan, clear_pipeline_cache, generate, plan

__all__ = ["GenerateRequest", "Plan", "Video", "clear_pipeline_cache", "generate", "load_pipeline", "plan"]
