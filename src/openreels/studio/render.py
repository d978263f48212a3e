"""Shot rendering: the one place that picks the generation task for a storyboard shot.

- t2v for shots with nobody in them, or when consistency is "none";
- i2v from a keyframe the stage renderer draws from the cast sheets ("keyframe", the tiny model's default:
  the same person looks the same in every shot because every keyframe is drawn from the same sheet), or
  from the character's reference image ("reference", for models outside the synthetic stage);
- long video for shots longer than one generation window: each further window continues from the last
  frame of the one before (image-to-video), so any length renders in window-sized steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from openreels.errors import OpenreelsError
from openreels.studio.cast import Cast, Character
from openreels.studio.storyboard import Shot, caption_prompt

ShotRenderer = Callable[[Shot, Cast, "Settings", dict[str, np.ndarray]], np.ndarray]
ReferenceRenderer = Callable[[Character, "Settings"], np.ndarray]


class Settings(BaseModel):
    """How a project renders; stored in project.yaml and editable there or by `drama render` options."""

    model: str = "openreels-tiny"
    size: tuple[int, int] = (128, 128)  # (height, width) of generated shots
    fps: float = Field(8.0, gt=0)  # episode frame rate (the tiny model's own)
    window: int = Field(33, ge=5)  # frames one generation call makes
    steps: int | None = None  # None: the model's default
    guidance: float | None = None
    seed: int = 0
    consistency: Literal["keyframe", "reference", "none"] = "keyframe"
    tts: Literal["auto", "piper", "espeak"] = "auto"
    crossfade: float = Field(0.5, ge=0)  # seconds a DISSOLVE TO: overlaps
    fade: float = Field(0.5, ge=0)  # seconds of FADE IN: / FADE OUT.
    burn_subtitles: bool = False
    scale: int = Field(2, ge=1, le=8)  # the episode is the shots enlarged by this factor


def frames_for(seconds: float, fps: float) -> int:
    return max(1, math.ceil(seconds * fps - 1e-6))


def _request_frames(n: int, window: int) -> int:
    """Frames to ask for: 4k+1 (the video VAE's temporal stride) covering n, at most one window."""
    return min(window, 4 * math.ceil(max(n - 1, 0) / 4) + 1)


def _generate(
    prompt: str, image: np.ndarray | None, frames: int, seed: int, settings: Settings
) -> np.ndarray:
    from openreels.pipelines import GenerateRequest, generate

    fields = {"prompt": prompt, "model": settings.model, "image": image, "frames": frames}
    fields |= {"size": tuple(settings.size), "seed": seed}
    fields |= {k: v for k, v in (("steps", settings.steps), ("guidance", settings.guidance)) if v is not None}
    video = generate(GenerateRequest(**fields))[0]
    return _to_fps(np.asarray(video.frames), float(video.fps), settings.fps)


def _to_fps(frames: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Retime by repeating or dropping frames so a model with another frame rate keeps shot durations."""
    if abs(fps_in - fps_out) < 1e-3:
        return frames
    n_out = max(1, round(len(frames) * fps_out / fps_in))
    return frames[np.minimum((np.arange(n_out) * fps_in / fps_out).astype(int), len(frames) - 1)]


def _keyframe(prompt: str, seed: int, settings: Settings) -> np.ndarray:
    from openreels import world

    scene = world.scene_from_prompt(prompt, seed)
    return np.asarray(world.render(scene, 1, tuple(settings.size), settings.fps).frames[0])


def render_shot(shot: Shot, cast: Cast, settings: Settings, references: dict[str, np.ndarray]) -> np.ndarray:
    """Frames (n, H, W, 3) uint8 for a shot, n = its duration at the episode frame rate."""
    n = frames_for(shot.duration, settings.fps)
    prompt = shot.prompt or caption_prompt(shot.caption)
    image = None
    if shot.caption.subjects and settings.consistency == "keyframe":
        image = _keyframe(prompt, shot.seed, settings)
    elif shot.caption.subjects and settings.consistency == "reference":
        main = next((s for s in shot.caption.subjects if s.is_main_subject), shot.caption.subjects[0])
        image = references.get(main.name)
    pieces = [_generate(prompt, image, _request_frames(n, settings.window), shot.seed, settings)]
    got = len(pieces[0])
    while got < n:  # long video: continue from the last frame, one window at a time
        more = _generate(
            prompt, pieces[-1][-1], _request_frames(n - got + 1, settings.window), shot.seed + got, settings
        )
        if len(more) < 2:
            raise OpenreelsError(f"model {settings.model} returned {len(more)} frame(s); raise --window")
        pieces.append(more[1:])
        got += len(more) - 1
    return np.concatenate(pieces)[:n]


render_shot.cache_id = "render_shot-v1"  # bump when the task choice or request changes


def render_reference(character: Character, settings: Settings) -> np.ndarray:
    """A character's reference image, drawn once and reused: the stage renderer draws WORLD-described
    characters on white; a free-text character is the first frame of a text-to-video shot of them."""
    h, w = settings.size
    if character.description:
        prompt = f"Full shot, eye level, static shot. {character.description}, standing on a plain white background."
        return _generate(prompt, None, 1, settings.seed, settings)[0]
    from openreels import world

    prompt = (
        f"Full shot, eye level, static shot. {character.phrase()[0].upper()}{character.phrase()[1:]} is standing, "
        "center of frame. Studio with a plain white backdrop, daylight."
    )
    scene = world.scene_from_prompt(prompt, settings.seed)
    return np.asarray(world.render_reference(scene, "character", 0, (h, w)))


render_reference.cache_id = "render_reference-v1"
