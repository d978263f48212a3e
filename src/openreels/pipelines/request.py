"""What a caller asks for (`GenerateRequest`) and what comes back (`Video`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from openreels.errors import OpenreelsError
from openreels.models.registry import DEFAULT_MODEL


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

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

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

    @field_validator("frames", "steps", "num_videos", "fps")
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

    def settings(self) -> dict:
        """The request without its arrays (what a sidecar records)."""
        return self.model_dump(exclude={"image", "end_image", "video"})


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
