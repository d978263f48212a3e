"""What a caller asks for (`GenerateRequest`) and what comes back (`Video`)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from openreels.errors import OpenreelsError, RunError
from openreels.limits import check_fits, check_seed
from openreels.models.registry import DEFAULT_MODEL


def check_finite_frames(frames, source: str) -> None:
    """NaN/Inf in decoded frames (a numpy array or torch tensor) means the weights are broken; without this
    check they silently become a black video."""
    finite = bool(frames.isfinite().all()) if hasattr(frames, "isfinite") else np.isfinite(frames).all()
    if not finite:
        raise RunError(
            f"{source} produced NaN/Inf values; its weights may be corrupt (download or "
            "export it again); nothing was written"
        )


def one_line(exc: ValidationError, prefix: str = "--") -> str:
    """A pydantic error as one line naming the option (or field) and what it must be."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    name = f"{prefix}{loc.replace('_', '-')}" if prefix == "--" else f"{prefix}{loc}"
    value = err.get("input")
    given = f", got {value!r}" if isinstance(value, (str, int, float)) else ""
    return f"{name}: {err['msg'].lower()}{given}"


def _check_array(value, name: str, ndim: int) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.asarray(value)
    shape = "(H, W, 3)" if ndim == 3 else "(T, H, W, 3)"
    if arr.ndim != ndim or arr.shape[-1] != 3 or 0 in arr.shape:
        raise OpenreelsError(f"{name} must be an RGB array shaped {shape}, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise OpenreelsError(f"{name} must be uint8 (0-255), got {arr.dtype}")
    return arr


class GenerateRequest(BaseModel):
    """One generation job. Unset settings (None) take the model's defaults from the registry."""

    # allow_inf_nan=False: NaN or infinity in any setting is refused before anything runs.
    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", allow_inf_nan=False)

    prompt: str
    model: str = DEFAULT_MODEL
    image: np.ndarray | None = Field(None, description="first frame (H, W, 3) uint8: image-to-video")
    end_image: np.ndarray | None = Field(None, description="last frame (H, W, 3) uint8: start/end frames")
    video: np.ndarray | None = Field(None, description="(T, H, W, 3) uint8 video to extend (DF models)")
    frames: int | None = Field(None, description="frames to make; for extension, new frames to add")
    size: tuple[int, int] | None = Field(None, description="(height, width)")
    steps: int | None = None
    guidance: float | None = None
    shift: float | None = None
    seed: int = 0
    negative_prompt: str | None = None
    ar_step: int = Field(
        0, description="DF: 0 synchronous; >0 each block lags the previous by this many steps"
    )
    causal_block_size: int | None = Field(None, description="DF: latent frames per block (default 1)")
    overlap_history: int | None = Field(None, description="DF long video/extension: frames shared by windows")
    addnoise_condition: float | None = Field(
        None, description="DF: noise added to conditioning frames (0-50)"
    )
    num_videos: int = 1
    fps: int | None = None
    max_sequence_length: int | None = None
    device: str = "auto"
    dtype: str = "auto"

    def __init__(self, **data) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:  # a wrongly typed setting: one line naming it, like every other check
            raise OpenreelsError(one_line(exc)) from exc

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        if not v or not v.strip():
            raise OpenreelsError("the prompt is empty; describe the video to generate")
        return v

    @field_validator("image", "end_image")
    @classmethod
    def _image(cls, v, info):
        return _check_array(v, f"--{info.field_name.replace('_', '-')}", 3)

    @field_validator("video")
    @classmethod
    def _video(cls, v):
        return _check_array(v, "--video", 4)

    @field_validator("frames", "steps", "num_videos", "fps", "max_sequence_length")
    @classmethod
    def _positive(cls, v, info):
        if v is not None and v < 1:
            raise OpenreelsError(f"--{info.field_name.replace('_', '-')} must be at least 1, got {v}")
        return v

    @field_validator("ar_step", "overlap_history", "causal_block_size")
    @classmethod
    def _non_negative(cls, v, info):
        if v is not None and v < (1 if info.field_name == "causal_block_size" else 0):
            raise OpenreelsError(f"--{info.field_name.replace('_', '-')} is out of range: {v}")
        return v

    @field_validator("size")
    @classmethod
    def _size(cls, v):
        if v is not None and (v[0] < 1 or v[1] < 1):
            raise OpenreelsError(f"--size must be positive HxW, got {v[0]}x{v[1]}")
        return v

    @field_validator("addnoise_condition")
    @classmethod
    def _addnoise(cls, v):
        if v is not None and not 0 <= v <= 1000:
            raise OpenreelsError(f"--addnoise-condition must be within 0-1000 (20 recommended), got {v}")
        return v

    @field_validator("shift")
    @classmethod
    def _shift(cls, v):
        if v is not None and v <= 0:
            raise OpenreelsError(f"--shift must be positive (the model's default is usually 5-8), got {v}")
        return v

    @model_validator(mode="after")
    def _fits(self) -> GenerateRequest:
        """Model-derived bounds, checked before any weights load: the model and its weights exist, the
        seeds are valid, and the frames and latents of the whole video fit in this machine's memory."""
        from openreels.models.registry import get_model
        from openreels.models.weights import locate_weights

        check_seed(self.seed, self.num_videos)
        spec = get_model(self.model)
        locate_weights(spec)  # a missing download is named now, not after a progress bar has started
        height, width = self.size or (self.video.shape[1:3] if self.video is not None else spec.size)
        frames = self.frames or spec.frames
        if self.video is not None:
            frames += len(self.video)
        check_fits(frames, height, width, self.device)
        return self

    def settings(self) -> dict:
        """The request without its arrays (what a sidecar records)."""
        return self.model_dump(exclude={"image", "end_image", "video"})


# Request fields a sidecar may carry back into a new run, and the inputs it may name.
SIDECAR_FIELDS = (
    "prompt",
    "model",
    "frames",
    "size",
    "steps",
    "guidance",
    "shift",
    "seed",
    "negative_prompt",
    "ar_step",
    "causal_block_size",
    "overlap_history",
    "addnoise_condition",
    "fps",
    "max_sequence_length",
    "device",
    "dtype",
)
SIDECAR_INPUTS = ("image", "end_image", "video")
_SidecarSettings = create_model(
    "_SidecarSettings",
    __config__=ConfigDict(allow_inf_nan=False),
    **{name: (GenerateRequest.model_fields[name].annotation | None, None) for name in SIDECAR_FIELDS},
)


def load_sidecar(path: str | os.PathLike) -> tuple[dict, dict[str, str]]:
    """(settings, inputs) a JSON sidecar recorded, each setting checked for its type: settings a
    GenerateRequest takes, inputs a map of image/end_image/video to file paths."""
    path = Path(path)
    if not path.is_file():
        raise OpenreelsError(f"sidecar not found: {path}; pass the .json written next to a video")
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise OpenreelsError(
            f"sidecar {path} is not valid JSON ({exc}); pass the .json next to a video"
        ) from exc
    except OSError as exc:
        raise OpenreelsError(f"cannot read sidecar {path}: {exc.strerror}") from exc
    if not isinstance(recorded, dict):
        raise OpenreelsError(
            f"sidecar {path} holds a JSON {type(recorded).__name__}, not an object of settings; "
            "pass the .json written next to a video"
        )
    given = {k: recorded[k] for k in SIDECAR_FIELDS if recorded.get(k) is not None}
    try:
        checked = _SidecarSettings.model_validate(given)
    except ValidationError as exc:
        raise OpenreelsError(f"sidecar {path}: {one_line(exc, prefix='')}; fix or remove that field") from exc
    settings = {k: getattr(checked, k) for k in given}
    if recorded.get("task") == "extend" and recorded.get("frames"):
        settings["frames"] = checked.frames
    inputs = recorded.get("inputs") or {}
    if not isinstance(inputs, dict) or not all(
        k in SIDECAR_INPUTS and isinstance(v, str) and v for k, v in inputs.items()
    ):
        raise OpenreelsError(
            f"sidecar {path}: 'inputs' must map {', '.join(SIDECAR_INPUTS)} to file paths; fix or remove it"
        )
    return settings, dict(inputs)


@dataclass
class Video:
    """Generated frames (T, H, W, 3) uint8, their rate and everything needed to reproduce them."""

    frames: np.ndarray
    fps: float
    metadata: dict = field(default_factory=dict)

    def save(self, path: str | os.PathLike, crf: int = 18) -> Path:
        """Write an .mp4 (H.264, `crf`) or lossless .npz with a JSON sidecar, atomically."""
        from openreels.media import write_video

        return write_video(path, self.frames, self.fps, metadata=self.metadata, crf=crf)
