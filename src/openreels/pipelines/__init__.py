"""The tasks (t2v, i2v, start/end frame, extension, long video) as thin orchestration over diffusers.

The names below load on first use: `openreels.pipelines.animate` or `.compose` (which import this package
first) then do not pay for diffusers' SkyReels-V2 pipelines, seconds of start-up on a CPU."""

from __future__ import annotations

import importlib

_NAMES = {
    "load_pipeline": "openreels.pipelines.loader",
    "GenerateRequest": "openreels.pipelines.request",
    "Video": "openreels.pipelines.request",
    "Plan": "openreels.pipelines.tasks",
    "clear_pipeline_cache": "openreels.pipelines.tasks",
    "generate": "openreels.pipelines.tasks",
    "plan": "openreels.pipelines.tasks",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_NAMES[name]), name)
    globals()[name] = value
    return value
