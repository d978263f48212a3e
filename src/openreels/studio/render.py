"""Shot rendering: the one place that picks the generation task for a storyboard shot.

- t2v for shots with nobody in them, or when consistency is "none";
- i2v from a keyframe the stage renderer draws from the shot's caption and the cast sheets ("keyframe", the
  tiny model's default: the same person looks the same in every shot because every keyframe is drawn from
  the same sheet), or from the character's reference image ("reference", for models outside the stage);
- elements-to-video ("compose"): the shot's characters' reference images and the scene's empty background
  plate go to a SkyReels-A2 model (`compose_model`), so characters and sets look the same in every shot;
- long video for shots longer than one window: a diffusion-forcing model (openreels-tiny, SkyReels-V2 DF)
  makes them in one request; any other model continues from the last frame, one window at a time.

`render_stage_shot` skips the model and draws the storyboard with the stage renderer itself: an animatic,
seconds for a whole episode.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from openreels.errors import OpenreelsError
from openreels.limits import MAX_SEED
from openreels.studio.cast import Cast, Character
from openreels.studio.storyboard import Shot

ShotRenderer = Callable[[Shot, Cast, "Settings", dict[str, np.ndarray]], np.ndarray]
ReferenceRenderer = Callable[[Character, "Settings"], np.ndarray]


# Frame shapes a project or a shot can ask for by name, as width:height (short dramas are 9:16, vertical).
ASPECTS = {"16:9": (9, 16), "9:16": (16, 9), "1:1": (1, 1)}  # name -> (height, width) ratio
Aspect = Literal["16:9", "9:16", "1:1"]


def aspect_size(native: tuple[int, int], aspect: str | None, multiple: int = 16) -> tuple[int, int]:
    """(height, width) with about the native size's pixel count in `aspect`, each side a multiple of
    `multiple`; the native size itself when `aspect` is None."""
    if aspect is None:
        return tuple(native)
    rh, rw = ASPECTS[aspect]
    height = math.sqrt(native[0] * native[1] * rh / rw)
    return tuple(max(multiple, round(side / multiple) * multiple) for side in (height, height * rw / rh))


class Settings(BaseModel):
    """How a project renders; stored in project.yaml and editable there or by `drama render` options.
    Unset (None) size, fps and window take the model's own (see `resolve`)."""

    model_config = ConfigDict(allow_inf_nan=False)  # NaN/Inf settings are refused, not stored

    model: str = "openreels-tiny"
    renderer: Literal["model", "stage"] = "model"  # "stage": draw the storyboard itself (an animatic)
    size: tuple[int, int] | None = None  # (height, width) of generated shots
    aspect: Aspect | None = None  # with size unset: the model's pixel count in this shape (e.g. "9:16")
    fps: float | None = Field(None, gt=0)  # episode frame rate
    window: int | None = Field(None, ge=5)  # frames one generation call makes
    long_in_one: bool = False  # the model makes shots longer than a window itself (diffusion forcing)
    steps: int | None = Field(None, ge=1)  # None: the model's default
    guidance: float | None = Field(None, ge=0)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    consistency: Literal["keyframe", "reference", "compose", "none"] = "keyframe"
    compose_model: str = "openreels-a2-tiny"  # the A2 model of consistency "compose"
    tts: Literal["auto", "piper", "espeak"] = "auto"
    crossfade: float = Field(0.5, ge=0)  # seconds a DISSOLVE TO: overlaps
    fade: float = Field(0.5, ge=0)  # seconds of FADE IN: / FADE OUT.
    burn_subtitles: bool = False
    scale: int | None = Field(
        None, ge=1, le=16
    )  # episode = shots enlarged this much; None: to >= 360 px tall

    @classmethod
    def checked(cls, **fields) -> Settings:
        """Settings from user input; a bad value is one OpenreelsError line naming the option."""
        from pydantic import ValidationError

        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = "--" + str(err["loc"][0]).replace("_", "-")
            raise OpenreelsError(f"{name}: {err['msg']}") from exc

    def resolve(self) -> Settings:
        """These settings with size, fps and window filled in from the model registry."""
        done = self
        if self.size is None or self.fps is None or self.window is None:
            from openreels.models import get_model

            spec = get_model(self.model)
            done = self.model_copy(
                update={
                    "size": self.size or aspect_size(spec.size, self.aspect, spec.size_multiple),
                    "fps": self.fps or float(spec.fps),
                    "window": self.window or spec.frames,
                    "long_in_one": spec.is_df,
                }
            )
        if done.scale is None:
            done = done.model_copy(update={"scale": max(1, math.ceil(360 / done.size[0]))})
        return done


def frames_for(seconds: float, fps: float) -> int:
    return max(1, math.ceil(seconds * fps - 1e-6))


def _snap_up(n: int) -> int:
    """Smallest 4k+1 >= n: the frame counts a 4x temporal video VAE takes."""
    return 4 * math.ceil(max(n - 1, 0) / 4) + 1


def _generate(
    prompt: str, image: np.ndarray | None, frames: int, seed: int, settings: Settings
) -> np.ndarray:
    from openreels.pipelines import GenerateRequest, generate

    request = GenerateRequest(
        prompt=prompt,
        model=settings.model,
        image=image,
        frames=frames,
        size=tuple(settings.size),
        seed=seed,
        steps=settings.steps,
        guidance=settings.guidance,
    )
    video = generate(request)[0]
    return _to_fps(np.asarray(video.frames), float(video.fps), settings.fps)


def _to_fps(frames: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Retime by repeating or dropping frames so a model with another frame rate keeps shot durations."""
    if abs(fps_in - fps_out) < 1e-3:
        return frames
    n_out = max(1, round(len(frames) * fps_out / fps_in))
    return frames[np.minimum((np.arange(n_out) * fps_in / fps_out).astype(int), len(frames) - 1)]


def _stage(shot: Shot, frames: int, settings: Settings) -> np.ndarray:
    from openreels import world

    scene = world.scene_from_caption(shot.caption.world(), shot.seed)
    return np.asarray(world.render(scene, frames, tuple(settings.size), settings.fps, caption=False).frames)


def render_shot(shot: Shot, cast: Cast, settings: Settings, references: dict[str, np.ndarray]) -> np.ndarray:
    """Frames (n, H, W, 3) uint8 for a shot through the video model, n = its duration at the episode rate."""
    n = frames_for(shot.duration, settings.fps)
    image = None
    if shot.caption.subjects and settings.consistency == "compose":
        return _continue(shot, [_compose(shot, references, n, settings)], n, settings)
    if shot.caption.subjects and settings.consistency == "keyframe":
        image = _stage(shot, 1, settings)[0]
    elif shot.caption.subjects and settings.consistency == "reference":
        main = next((s for s in shot.caption.subjects if s.is_main_subject), shot.caption.subjects[0])
        image = references.get(main.name)
    if settings.long_in_one:
        return _generate(shot.prompt, image, _snap_up(n), shot.seed, settings)[:n]
    first = _generate(shot.prompt, image, min(_snap_up(n), settings.window), shot.seed, settings)
    return _continue(shot, [first], n, settings)


def _continue(shot: Shot, pieces: list[np.ndarray], n: int, settings: Settings) -> np.ndarray:
    """Extend the shot from its last frame until it has n frames: in one request for a diffusion-forcing
    model, else one window at a time."""
    got = sum(len(piece) for piece in pieces)
    while got < n:
        frames = _snap_up(n - got + 1)
        if not settings.long_in_one:
            frames = min(frames, settings.window)
        more = _generate(shot.prompt, pieces[-1][-1], frames, shot.seed + got, settings)
        if len(more) < 2:
            raise OpenreelsError(f"model {settings.model} returned {len(more)} frame(s); set a larger window")
        pieces.append(more[1:])
        got += len(more) - 1
    return np.concatenate(pieces)[:n]


_compose_pipelines: dict[str, object] = {}  # loaded once per process: every shot of an episode uses it


def _compose(shot: Shot, references: dict[str, np.ndarray], n: int, settings: Settings) -> np.ndarray:
    """Up to n frames (at most the A2 model's default length) of a shot composed from its characters'
    reference images (main subject first, at most two) and the empty plate of its set."""
    from openreels import world
    from openreels.pipelines.a2 import Reference
    from openreels.pipelines.compose import load_compose_pipeline, locate_a2

    if settings.compose_model not in _compose_pipelines:
        _compose_pipelines.clear()
        _compose_pipelines[settings.compose_model] = load_compose_pipeline(locate_a2(settings.compose_model))
    pipe = _compose_pipelines[settings.compose_model]
    d = pipe.defaults
    subjects = sorted(shot.caption.subjects, key=lambda sub: not sub.is_main_subject)
    refs = [
        Reference(references[sub.name], "character", sub.name) for sub in subjects if sub.name in references
    ]
    scene = world.scene_from_caption(shot.caption.world(), shot.seed)
    plate = np.asarray(world.render_reference(scene, "background", 0, tuple(settings.size)))
    refs = [*refs[:2], Reference(plate, "background", "set")]
    model_frames = max(1, min(d.frames, round(n * d.fps / settings.fps)))
    out = pipe(shot.prompt, refs, num_frames=model_frames, num_inference_steps=settings.steps, seed=shot.seed)
    return _resize(_to_fps(out.frames, float(out.fps), settings.fps), tuple(settings.size))


def _resize(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Frames at (height, width) = size; a model with another native size keeps the episode's."""
    if frames.shape[1:3] == size:
        return frames
    from PIL import Image

    return np.stack(
        [np.asarray(Image.fromarray(f).resize((size[1], size[0]), Image.Resampling.BICUBIC)) for f in frames]
    )


render_shot.cache_id = "render_shot-v2"  # bump when the task choice or request changes


def render_stage_shot(
    shot: Shot, cast: Cast, settings: Settings, references: dict[str, np.ndarray]
) -> np.ndarray:
    """The shot drawn by the stage renderer from its caption (an animatic; no video model)."""
    return _stage(shot, frames_for(shot.duration, settings.fps), settings)


render_stage_shot.cache_id = "render_stage_shot-v1"


def render_reference(character: Character, settings: Settings) -> np.ndarray:
    """A character's reference image, drawn once and reused: the stage renderer draws a sheet in WORLD
    words on white; a free-text character is the first frame of a text-to-video shot of them."""
    if character.description:
        prompt = f"Medium shot, eye level, static shot. {character.description}, standing on a plain white background."
        return _generate(prompt, None, 1, settings.seed, settings)[0]
    from openreels import world

    scene = world.scene_from_caption({"subjects": [character.world_subject()]}, settings.seed)
    return np.asarray(world.render_reference(scene, "character", 0, tuple(settings.size)))


render_reference.cache_id = "render_reference-v1"
