"""SkyReels-Infer: speed and memory options applied to any loaded diffusers pipeline.

from openreels.runtime import RuntimeOptions, apply_runtime, choose_profile, detect_device
opts = choose_profile(detect_device())            # or RuntimeOptions(quant="fp8", attention="auto", ...)
pipe = apply_runtime(pipe, opts)                  # also usable as core's pipeline_hook
"""

from openreels.runtime.apply import apply_runtime, resolve_attention
from openreels.runtime.options import ParallelSpec, RuntimeOptions
from openreels.runtime.profile import DeviceInfo, choose_profile, detect_device

__all__ = [
    "DeviceInfo",
    "ParallelSpec",
    "RuntimeOptions",
    "apply_runtime",
    "choose_profile",
    "detect_device",
    "resolve_attention",
]
