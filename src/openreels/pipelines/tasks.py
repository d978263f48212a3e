"""Text/image/video -> video for every SkyReels-V1/V2 task: plan the settings, run the diffusers pipeline.

`plan()` turns a request into concrete settings (registry defaults, sizes and frame counts snapped to what
the model takes, with a note for each change) and `generate()` runs them. Nothing here changes the
numerics of diffusers' pipelines except the DF tail-frame fix (see df.py) and extension output, which
drops the overlap frames diffusers decodes twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from openreels.errors import OpenreelsError, RunError
from openreels.models.registry import ModelSpec, get_model
from openreels.models.tiny import is_random_standin
from openreels.models.weights import locate_weights
from openreels.pipelines.df import count_rows, plan_windows
from openreels.pipelines.loader import load_pipeline, resolve_device, resolve_dtype
from openreels.pipelines.request import GenerateRequest, Video, check_finite_frames

Progress = Callable[[int, int, str], None]
PipelineHook = Callable[[object], "bool | None"]

# Largest relative change of width/height ratio accepted when snapping a size to the model's multiple.
MAX_ASPECT_CHANGE = 0.10


@dataclass
class Plan:
    """Concrete settings for one request: what runs, with which values, and what was changed."""

    spec: ModelSpec
    model_dir: Path
    task: str
    pipeline: str
    frames: int
    size: tuple[int, int]
    fps: int
    steps: int
    guidance: float
    shift: float
    negative_prompt: str
    prompt: str
    long: bool = False
    ar_step: int = 0
    causal_block_size: int = 1
    overlap_history: int | None = None
    addnoise_condition: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def is_df(self) -> bool:
        return self.pipeline.startswith("SkyReelsV2DiffusionForcing")


def snap_frames(frames: int) -> int:
    """Nearest count of the form 4k+1 (what the 4x temporal VAE takes)."""
    return max(1, 4 * round((frames - 1) / 4) + 1)


def snap_size(size: tuple[int, int], multiple: int) -> tuple[int, int]:
    """Nearest (h, w) in multiples of `multiple`; rejects a rounding that distorts the aspect ratio."""
    h, w = size
    new = (max(multiple, multiple * round(h / multiple)), max(multiple, multiple * round(w / multiple)))
    if abs((new[1] / new[0]) / (w / h) - 1) > MAX_ASPECT_CHANGE:
        raise OpenreelsError(
            f"size {h}x{w} cannot be rounded to multiples of {multiple} without changing its shape "
            f"(it would become {new[0]}x{new[1]}); pass --size with multiples of {multiple}"
        )
    return new


def _task(request: GenerateRequest) -> str:
    if request.video is not None:
        if request.image is not None or request.end_image is not None:
            raise OpenreelsError("--video (extension) cannot be combined with --image/--end-image; pass one")
        return "extend"
    if request.end_image is not None and request.image is None:
        raise OpenreelsError("--end-image needs --image for the first frame")
    if request.image is not None:
        return "flf2v" if request.end_image is not None else "i2v"
    return "t2v"


def plan(request: GenerateRequest) -> Plan:
    """Resolve a request against its model's defaults and limits (no weights are loaded)."""
    spec = get_model(request.model)
    task = _task(request)
    if task not in spec.tasks:
        need = {
            "t2v": "a prompt only",
            "i2v": "--image",
            "flf2v": "--image and --end-image",
            "extend": "--video",
        }
        does = ", ".join(need.get(t, t) for t in spec.tasks)
        raise OpenreelsError(
            f"model {spec.id} cannot take {need[task]}; it takes {does} (see `openreels models`)"
        )
    notes: list[str] = []

    size = request.size
    if size is None and task == "extend":
        size = request.video.shape[1:3]
    size = tuple(size or spec.size)
    snapped = snap_size(size, spec.size_multiple)
    if snapped != size:
        notes.append(
            f"size {size[0]}x{size[1]} is not a multiple of {spec.size_multiple}; using {snapped[0]}x{snapped[1]}"
        )

    overlap = None
    if spec.is_df:
        overlap = request.overlap_history if request.overlap_history is not None else spec.overlap_history
        if snap_frames(overlap) != overlap:
            notes.append(f"--overlap-history {overlap} is not 4k+1; using {snap_frames(overlap)}")
            overlap = snap_frames(overlap)
        if overlap >= spec.frames:
            raise OpenreelsError(
                f"--overlap-history must be below the model's window of {spec.frames} frames"
            )

    if task == "extend":
        total = request.video.shape[0]
        if overlap > total:
            overlap = max(1, 4 * ((total - 1) // 4) + 1)
            notes.append(f"the input video has {total} frames; using --overlap-history {overlap}")
        asked = request.frames or (spec.frames - overlap)
        frames = max(4, 4 * round(asked / 4))
        if frames != asked:
            notes.append(f"--frames {asked} new frames is not a multiple of 4; adding {frames}")
    else:
        asked = request.frames or spec.frames
        frames = snap_frames(asked)
        if frames != asked:
            notes.append(f"--frames {asked} is not 4k+1; using {frames}")
    long = task != "extend" and frames > spec.frames
    if long and not spec.is_df:
        raise OpenreelsError(
            f"model {spec.id} makes at most {spec.frames} frames; ask for fewer --frames or use a "
            "diffusion-forcing model (e.g. skyreels-v2-df-1.3b-540p or openreels-tiny) for longer videos"
        )
    if long and task == "flf2v":
        # diffusers 0.42's DF image-to-video mixes up the end-frame and overlap latent counts past one window.
        raise OpenreelsError(
            f"start/end frames work within one window ({spec.frames} frames) of {spec.id}; ask for fewer --frames"
        )
    if not spec.is_df and (
        request.ar_step or request.causal_block_size or request.overlap_history is not None
    ):
        raise OpenreelsError(
            f"--ar-step/--causal-block-size/--overlap-history need a diffusion-forcing model; {spec.id} is not one"
        )
    addnoise = request.addnoise_condition
    if addnoise is None:
        addnoise = spec.addnoise_condition if (long or task == "extend") else 0.0

    prompt = request.prompt.strip()
    if spec.prompt_prefix and not prompt.startswith(spec.prompt_prefix):
        prompt = spec.prompt_prefix + prompt
    return Plan(
        spec=spec,
        model_dir=Path(),
        task=task,
        pipeline=spec.pipeline_for(task),
        frames=frames,
        size=snapped,
        fps=request.fps or spec.fps,
        steps=request.steps or spec.steps,
        guidance=spec.guidance if request.guidance is None else request.guidance,
        shift=spec.shift if request.shift is None else request.shift,
        negative_prompt=spec.negative_prompt if request.negative_prompt is None else request.negative_prompt,
        prompt=prompt,
        long=long,
        ar_step=request.ar_step if spec.is_df else 0,
        causal_block_size=request.causal_block_size or 1,
        overlap_history=overlap if (long or task == "extend") else None,
        addnoise_condition=float(addnoise) if spec.is_df else 0.0,
        notes=notes,
    )


def fit_image(image: np.ndarray, size: tuple[int, int]):
    """Centre-crop `image` to the aspect of (h, w) and resize it there, as a PIL image."""
    from PIL import Image

    h, w = size
    pil = Image.fromarray(image)
    if (pil.height, pil.width) == (h, w):
        return pil
    scale = max(w / pil.width, h / pil.height)
    crop_w, crop_h = round(w / scale), round(h / scale)
    left, top = (pil.width - crop_w) // 2, (pil.height - crop_h) // 2
    return pil.crop((left, top, left + crop_w, top + crop_h)).resize((w, h), Image.Resampling.LANCZOS)


def _rows_per_video(p: Plan) -> list[int]:
    """Denoising rows of each window, so the progress bar knows its total before it starts."""
    if not p.is_df:
        return [p.steps]
    latents = (p.frames - 1) // 4 + 1
    if p.task == "extend":
        overlap_latents = (p.overlap_history - 1) // 4 + 1
        latents = ((p.overlap_history + p.frames) - 1) // 4 + 1
        windows = plan_windows(latents, min(latents, (p.spec.frames - 1) // 4 + 1), overlap_latents, 0, True)
    else:
        first = 1 if p.task in ("i2v", "flf2v") else 0
        overlap_latents = (p.overlap_history - 1) // 4 + 1 if p.long else 0
        windows = plan_windows(latents, (p.spec.frames - 1) // 4 + 1, overlap_latents, first)
    rows = []
    for k, (n, prefix) in enumerate(windows):
        end = 1 if p.task == "flf2v" and k == len(windows) - 1 else 0
        rows.append(count_rows(n, prefix, p.steps, p.ar_step, p.causal_block_size, end))
    return rows


# One loaded pipeline is kept so repeated calls (studio, server) skip loading.
_cache: dict = {}


def clear_pipeline_cache() -> None:
    """Drop the pipeline kept between `generate` calls (frees its memory; the next call loads again)."""
    _cache.clear()


def _get_pipeline(p: Plan, device: torch.device, dtype: torch.dtype, hook: PipelineHook | None):
    key = (str(p.model_dir), device, dtype, id(hook) if hook else None)
    from openreels.pipelines.loader import pipeline_class

    cls = pipeline_class(p.pipeline)
    cached = _cache.get(key)
    if cached is not None:
        if type(cached) is cls:
            return cached
        if p.is_df and type(cached).__name__.startswith("DiffusionForcing"):
            pipe = cls(**cached.components)  # the DF pipelines share all components
            pipe.set_progress_bar_config(disable=True)
            _cache[key] = pipe
            return pipe
    _cache.clear()
    pipe = load_pipeline(p.model_dir, p.task, "cpu" if hook else device, dtype, spec=p.spec)
    if hook is not None and not hook(pipe):
        pipe = pipe.to(device)
    _cache[key] = pipe
    return pipe


def _set_shift(pipe, shift: float) -> None:
    config = pipe.scheduler.config
    key = "flow_shift" if "flow_shift" in config else "shift"
    if config.get(key) != shift:
        pipe.scheduler = type(pipe.scheduler).from_config(config, **{key: shift})


def _call_kwargs(p: Plan, request: GenerateRequest) -> dict:
    h, w = p.size
    kw: dict = {
        "prompt": p.prompt,
        "negative_prompt": p.negative_prompt,
        "height": h,
        "width": w,
        "num_frames": p.frames,
        "num_inference_steps": p.steps,
        "output_type": "np",
    }
    if p.spec.family == "skyreels-v1":
        kw["true_cfg_scale"] = p.guidance
        kw["guidance_scale"] = p.spec.embedded_guidance or 1.0
    else:
        kw["guidance_scale"] = p.guidance
        msl = request.max_sequence_length or p.spec.max_sequence_length
        if msl:
            kw["max_sequence_length"] = msl
    if request.image is not None:
        kw["image"] = fit_image(request.image, p.size)
    if request.end_image is not None:
        kw["last_image"] = fit_image(request.end_image, p.size)
    if p.is_df:
        kw |= {
            "overlap_history": p.overlap_history,
            "addnoise_condition": p.addnoise_condition,
            "base_num_frames": p.spec.frames,
            "ar_step": p.ar_step,
            "fps": p.fps,
        }
    if p.task == "extend":
        kw["video"] = [fit_image(f, p.size) for f in request.video]
        kw["num_frames"] = p.overlap_history + p.frames
        kw["base_num_frames"] = min(p.spec.frames, kw["num_frames"])
    return kw


def _prompt_tokens_note(pipe, p: Plan, kwargs: dict) -> str | None:
    """A note when the prompt is longer than the text encoder reads: the tail would vanish silently."""
    limit = kwargs.get("max_sequence_length")
    tokenizer = getattr(pipe, "tokenizer", None)
    if not limit or tokenizer is None:
        return None
    count = len(tokenizer(p.prompt, add_special_tokens=True, truncation=False)["input_ids"])
    if count <= limit:
        return None
    return f"the prompt is {count} tokens; {p.spec.id} reads only the first {limit}, the rest is ignored"


def _to_uint8(frames) -> np.ndarray:
    return (np.clip(np.asarray(frames, dtype=np.float32), 0.0, 1.0) * 255.0).round().astype(np.uint8)


def generate(
    request: GenerateRequest,
    *,
    pipeline_hook: PipelineHook | None = None,
    progress: Progress | None = None,
    on_note: Callable[[str], None] | None = None,
) -> list[Video]:
    """Run a request and return `num_videos` videos.

    `pipeline_hook(pipe)` runs once after loading, with the pipeline still on the CPU (the runtime room applies
    offload, quantization, attention backends and caching there); return True if the hook placed the pipeline
    on its device itself (e.g. offloading), otherwise it is moved to the request's device afterwards.
    `progress(done, total, label)` is called after every denoising row; `on_note(text)` for every setting
    openreels changed (also recorded in each video's metadata).
    """
    from openreels import __version__

    p = plan(request)
    p.model_dir = locate_weights(p.spec)
    random_model = is_random_standin(p.model_dir)
    if random_model:
        p.notes.append("output is from an untrained random model (the bundled tiny model has not landed yet)")
    for note in p.notes:
        if on_note:
            on_note(note)
    device = resolve_device(request.device)
    dtype = resolve_dtype(request.dtype, device)
    rows = _rows_per_video(p)
    total = sum(rows) * request.num_videos
    kwargs = _call_kwargs(p, request)
    videos = []
    if progress:  # every check has passed: from here on it is work
        progress(0, total, "loading model")
    try:
        pipe = _get_pipeline(p, device, dtype, pipeline_hook)
        _set_shift(pipe, p.shift)
        long_prompt = _prompt_tokens_note(pipe, p, kwargs)
        if long_prompt:
            p.notes.append(long_prompt)
            if on_note:
                on_note(long_prompt)
        if p.is_df:
            pipe.step_block_size = p.causal_block_size
        done = 0
        window_ends = np.cumsum(rows)
        for index in range(request.num_videos):
            seed = request.seed + index  # video i reproduces alone with --seed seed+i

            def on_step(_pipe, _i, _t, _kw, index=index):
                nonlocal done
                done += 1
                row = done - index * sum(rows)
                window = int(np.searchsorted(window_ends, row, side="left")) + 1
                label = f"video {index + 1}/{request.num_videos}" if request.num_videos > 1 else "denoising"
                if len(rows) > 1:
                    label += f", window {min(window, len(rows))}/{len(rows)}"
                if progress:
                    progress(done, total, label)
                return {}

            start = time.perf_counter()
            # DF's addnoise_condition draws from the global RNG (torch.randn_like): seed it too, restored after.
            with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                torch.manual_seed(seed)
                out = pipe(
                    **kwargs, generator=torch.Generator("cpu").manual_seed(seed), callback_on_step_end=on_step
                ).frames[0]
            check_finite_frames(out, f"the checkpoint {p.spec.id}")
            frames = _to_uint8(out)
            if p.task == "extend":
                # diffusers returns input + re-decoded overlap + new frames; keep the input and the new ones.
                original = np.stack([np.asarray(f) for f in kwargs["video"]])
                frames = np.concatenate([original, frames[len(original) + p.overlap_history :]])
            videos.append(
                Video(frames, float(p.fps), _metadata(p, request, seed, index, random_model, __version__))
            )
            videos[-1].metadata["elapsed_s"] = round(time.perf_counter() - start, 3)
    except torch.OutOfMemoryError as exc:
        h, w = p.size
        raise RunError(
            f"the GPU ran out of memory at {h}x{w}x{p.frames}; try --offload, --dtype bfloat16 or a smaller --size/--frames"
        ) from exc
    return videos


def _metadata(
    p: Plan, request: GenerateRequest, seed: int, index: int, random_model: bool, version: str
) -> dict:
    return {
        "openreels_version": version,
        "prompt": request.prompt,
        "model": p.spec.id,
        "model_dir": str(p.model_dir),
        "random_model": random_model,
        "task": p.task,
        "pipeline": p.pipeline,
        "seed": seed,
        "index": index,
        "num_videos": request.num_videos,
        "frames": p.frames,
        "size": list(p.size),
        "fps": p.fps,
        "steps": p.steps,
        "guidance": p.guidance,
        "shift": p.shift,
        "negative_prompt": p.negative_prompt,
        # Diffusion-forcing settings only where they apply, so a sidecar replays on any model.
        "ar_step": p.ar_step if p.is_df else None,
        "causal_block_size": p.causal_block_size if p.is_df else None,
        "overlap_history": p.overlap_history,
        "addnoise_condition": p.addnoise_condition if p.is_df else None,
        "max_sequence_length": request.max_sequence_length or p.spec.max_sequence_length,
        "device": request.device,
        "dtype": request.dtype,
        "notes": list(p.notes),
    }
