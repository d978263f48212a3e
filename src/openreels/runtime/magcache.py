"""MagCache for every step count, and its per-checkpoint calibration.

MagCache (diffusers' `MagCacheConfig` hooks) skips transformer steps while the accumulated change in the
residual's magnitude stays under a threshold. The magnitude ratios it needs are checkpoint-specific:
`calibrate_model` measures them with one uncached generation without guidance, and `enable_magcache`
applies them to a pipeline, re-fitting them to whatever step count each generation asks for (diffusers
fixes the count when the hook is made). Ratios live in the model folder's openreels.json as "mag_ratios".
"""

from __future__ import annotations

from typing import Any

import torch

from openreels.errors import OpenreelsError


def transformer_blocks(transformer: torch.nn.Module) -> torch.nn.ModuleList:
    """The block list whose first input and last output make the residual (Wan and SkyReels-V2)."""
    blocks = getattr(transformer, "blocks", None)
    if not isinstance(blocks, torch.nn.ModuleList) or len(blocks) == 0:
        raise OpenreelsError(
            f"MagCache calibration supports Wan and SkyReels-V2 transformers, not {type(transformer).__name__}"
        )
    return blocks


class ResidualRecorder:
    """Records, per transformer forward, the per-token norm of the residual the blocks add to their input
    (what MagCache compares); norms only, so a 14B model's 60 forwards cost kilobytes, not gigabytes."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        blocks = transformer_blocks(transformer)
        self.norms: list[torch.Tensor] = []
        self._input: torch.Tensor | None = None
        self._handles = [
            blocks[0].register_forward_pre_hook(self._head, with_kwargs=True),
            blocks[-1].register_forward_hook(self._tail, with_kwargs=True),
        ]

    def _head(self, module, args, kwargs) -> None:
        self._input = args[0] if args else kwargs["hidden_states"]

    def _tail(self, module, args, kwargs, output) -> None:
        out = output[0] if isinstance(output, tuple) else output
        self.norms.append((out - self._input).float().norm(dim=-1).detach())
        self._input = None

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()

    def ratios(self, stride: int = 1) -> list[float]:
        """Mean over tokens of |r_t| / |r_(t-1)| per step; the first step's ratio is 1. `stride` forwards make
        one step (2 when a pipeline calls the conditional and then the unconditional branch)."""
        norms = self.norms[::stride]
        out = [1.0]
        for prev, cur in zip(norms, norms[1:], strict=False):
            out.append(float((cur / (prev + 1e-8)).mean()))
        return [round(r, 5) for r in out]


def calibrate_model(request: Any) -> list[float]:
    """The ratios of `request.model`, measured by generating `request` (a GenerateRequest) without guidance, so
    that consecutive transformer forwards are consecutive steps of one branch."""
    from openreels.pipelines import clear_pipeline_cache, generate

    recorders: list[ResidualRecorder] = []

    def install(pipe: Any) -> bool:
        recorders.append(ResidualRecorder(pipe.transformer))
        return False  # generate places the pipeline itself

    clear_pipeline_cache()  # the hook runs on a fresh load only
    try:
        generate(request.model_copy(update={"guidance": 1.0}), pipeline_hook=install)
    finally:
        for recorder in recorders:
            recorder.remove()
        clear_pipeline_cache()
    return recorders[0].ratios()


def enable_magcache(
    pipe: Any,
    transformer: torch.nn.Module,
    ratios: list[float],
    threshold: float,
    num_inference_steps: int | None = None,
) -> None:
    """Install diffusers' MagCache hooks with `ratios`, re-fitted to each generation's step count."""
    from diffusers.hooks import MagCacheConfig
    from diffusers.hooks.mag_cache import nearest_interp

    base = torch.tensor(ratios, dtype=torch.float32)
    config = MagCacheConfig(threshold=threshold, mag_ratios=base.clone(), num_inference_steps=len(ratios))

    def fit(steps: int) -> None:  # the hooks read the config on every call
        config.num_inference_steps = steps
        config.mag_ratios = base if len(base) == steps else nearest_interp(base, steps)

    if num_inference_steps:
        fit(num_inference_steps)
    transformer.enable_cache(config)
    scheduler = getattr(pipe, "scheduler", None)
    if scheduler is None:
        return
    set_timesteps = scheduler.set_timesteps

    def fit_then_set(steps: int | None = None, *args, **kwargs):
        if steps and steps != config.num_inference_steps:
            fit(steps)
        return set_timesteps(steps, *args, **kwargs)

    scheduler.set_timesteps = fit_then_set


def mag_ratios_for(pipe: Any) -> list[float] | None:
    """The calibrated ratios of the checkpoint `pipe` was loaded from (its openreels.json), if any."""
    from pathlib import Path

    from openreels.models.registry import read_openreels_json

    folder = getattr(getattr(pipe, "config", None), "_name_or_path", None)
    if not folder or not Path(folder).is_dir():
        return None
    return read_openreels_json(Path(folder)).get("mag_ratios")
