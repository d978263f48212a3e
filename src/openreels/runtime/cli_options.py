"""The runtime flags shared by CLI commands (`openreels generate` and friends), added by one decorator.

    @with_runtime_options
    def generate_command(..., runtime=None): ...    # runtime: RuntimeOptions | None (None: plain diffusers)

and pass `pipeline_hook=runtime_hook(runtime, device)` to `openreels.pipelines.generate`."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from typing import Any

import typer

from openreels.runtime.options import RuntimeOptions

# name -> (type, typer option)
FLAGS: dict[str, tuple[type, Any]] = {
    "profile": (
        str,
        typer.Option(None, "--profile", help="auto, h100, 24gb, 16gb or cpu: pick the options below."),
    ),
    "offload": (
        str,
        typer.Option(None, "--offload", help="none, model, group (CUDA-stream prefetch) or sequential."),
    ),
    "quant": (str, typer.Option(None, "--quant", help="fp8: float8 transformer blocks (torchao; lossy).")),
    "attention": (
        str,
        typer.Option(None, "--attention", help="auto, sdpa, cudnn, flash, or sage (int8: lossy)."),
    ),
    "compile": (
        bool,
        typer.Option(None, "--compile/--no-compile", help="Regional torch.compile of the blocks."),
    ),
    "cache": (str, typer.Option(None, "--cache", help="teacache, fbc or magcache step caching (lossy).")),
    "cache_threshold": (
        float,
        typer.Option(None, "--cache-threshold", help="Cache threshold (default per family)."),
    ),
    "vae_tiling": (
        bool,
        typer.Option(None, "--vae-tiling/--no-vae-tiling", help="Decode in tiles (less memory)."),
    ),
    "cfg_batching": (
        bool,
        typer.Option(None, "--cfg-batching/--no-cfg-batching", help="Both guidance branches in one batch."),
    ),
    "parallel": (str, typer.Option(None, "--parallel", help="Under torchrun: ulysses=N,ring=M,cfg=2.")),
}


def options_from_flags(values: dict[str, Any], device_index: int = 0) -> RuntimeOptions | None:
    """RuntimeOptions from the given flags (a --profile first, explicit flags on top); None if none given."""
    given = {k: v for k, v in values.items() if v is not None}
    if not given:
        return None
    profile = given.pop("profile", None)
    if profile is not None:
        from openreels.runtime.profile import choose_profile, detect_device

        base = choose_profile(detect_device(device_index), profile)
    else:
        base = RuntimeOptions()
    return RuntimeOptions(**{**base.model_dump(exclude={"parallel"}), "parallel": base.parallel, **given})


def with_runtime_options(fn: Callable) -> Callable:
    """Add the runtime flags to a typer command; the command receives them as `runtime=RuntimeOptions|None`."""
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values() if p.name != "runtime"]
    extra = [
        inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=o, annotation=t)
        for n, (t, o) in FLAGS.items()
    ]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        # Less fragmentation near the memory limit (2.5 GiB sat reserved but unusable in a capped H100 run).
        os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")
        values = {name: kwargs.pop(name, None) for name in FLAGS}
        runtime = options_from_flags(values)
        if runtime is not None and runtime.parallel is not None:
            from openreels.runtime.parallel import init_distributed

            init_distributed()  # before loading, so each rank's default CUDA device is its own
        return fn(*args, runtime=runtime, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=params + extra)
    wrapper.__annotations__ = {
        **{k: v for k, v in fn.__annotations__.items() if k != "runtime"},
        **{n: t for n, (t, _) in FLAGS.items()},
    }
    return wrapper


def runtime_hook(runtime: RuntimeOptions | None, device: str | None = None) -> Callable[[Any], bool] | None:
    """A `pipeline_hook` for openreels.pipelines.generate: apply `runtime` and place the pipeline (returns True)."""
    if runtime is None:
        return None
    from openreels.runtime.apply import apply_runtime

    target = None
    if device not in (None, "auto"):
        target = device

    def hook(pipe: Any) -> bool:
        apply_runtime(pipe, runtime, device=target)
        return True

    return hook


def is_writer() -> bool:
    """False on every torchrun rank but 0: only rank 0 writes files and prints results."""
    from openreels.runtime.parallel import is_writer as _is_writer

    return _is_writer()
