"""SkyReels-Infer: speed and memory options applied to any loaded diffusers pipeline.

from openreels.runtime import RuntimeOptions, apply_runtime, choose_profile, detect_device
opts = choose_profile(detect_device())            # or RuntimeOptions(quant="fp8", attention="auto", ...)
pipe = apply_runtime(pipe, opts)                  # also usable as core's pipeline_hook
"""

import importlib

from openreels.runtime.options import ParallelSpec, RuntimeOptions

# The rest import torch: loaded on first use, so the CLI starts (and answers --help or a usage error)
# without paying for torch.
_LAZY = {
    "apply_runtime": "apply",
    "resolve_attention": "apply",
    "DeviceInfo": "profile",
    "choose_profile": "profile",
    "detect_device": "profile",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"openreels.runtime.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'openreels.runtime' has no attribute {name!r}")


__all__ = [
    "DeviceInfo",
    "ParallelSpec",
    "RuntimeOptions",
    "apply_runtime",
    "choose_profile",
    "detect_device",
    "resolve_attention",
]
