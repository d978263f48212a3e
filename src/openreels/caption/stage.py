"""The stage captioner: captions a stage clip by analysis by synthesis, the probes' method run without a
caption to check against. Starting from a default scene, every field in turn is set to the value whose
render comes closest to the clip (coordinate descent on the squared pixel error): first the place and
light, then framing and the people, their looks and the objects, then (over the whole clip) the action and
the camera motion. No training and no weights; it only knows the stage, so it is for stage clips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from openreels.eval.probes import _frames
from openreels.world import vocab as V
from openreels.world.caption import scene_to_caption
from openreels.world.renderer import layout, render
from openreels.world.scene import Character, Scene, SceneObject

# A render costs about the same at 64 and 128 px for one frame (drawing overhead dominates), not for nine.
SIDE, CLIP_SIDE = 128, 64  # the first frame is analysed at about this short side, the whole clip at this
MAX_STEPS = 9  # frames rendered per candidate for actions and camera motion


def _shrink(frames: np.ndarray, side: int) -> np.ndarray:
    """Box-downsample by a whole factor so the short side is about `side` (float32)."""
    t, h, w, _ = frames.shape
    k = max(min(h, w) // side, 1)
    if k > 1:
        h2, w2 = h // k, w // k
        frames = frames[:, : h2 * k, : w2 * k].reshape(t, h2, k, w2, k, 3).mean(axis=(2, 4))
    return frames.astype(np.float32)


def _steps(t: int, fps: float) -> tuple[np.ndarray, float]:
    """Frame indices whose instants a shorter render at a lower fps hits exactly (the renderer's camera runs
    over the clip's length and actions over seconds, so every k-th frame is a k-times slower clip)."""
    if t <= MAX_STEPS:
        return np.arange(t), fps
    k = next((k for k in range(1, t) if (t - 1) % k == 0 and (t - 1) // k + 1 <= MAX_STEPS), t - 1)
    return np.arange(0, t, k), fps / k


class _Search:
    def __init__(self, frames: np.ndarray, fps: float) -> None:
        self.first = _shrink(frames[:1], SIDE)
        idx, self.step_fps = _steps(len(frames), fps)
        self.clip = _shrink(frames[idx], CLIP_SIDE)
        self.scene = Scene(seed=0)
        self.error = self._error(self.scene)

    def _error(self, scene: Scene, whole: bool = False) -> float:
        target = self.clip if whole else self.first
        got = render(scene, len(target), target.shape[1:3], self.step_fps, caption=False).frames
        return float(((got.astype(np.float32) - target) ** 2).mean())

    def choose(
        self, values: Iterable, apply: Callable[[Scene, object], bool], whole: bool = False, keep: int = 1
    ) -> list:
        """Keep the value (applied to a copy of the scene) with the lowest error; `apply` returns False for a
        value that does not make a valid scene. Returns the `keep` best values."""
        ranked = []
        for value in values:
            s = self.scene.replace()
            if apply(s, value) is False:
                continue
            err = self._error(s, whole)
            ranked.append((err, len(ranked), value))
            if err < self.error:
                self.scene, self.error = s, err
        return [v for _, _, v in sorted(ranked)[:keep]]


def _set_char(i: int, key: str) -> Callable[[Scene, object], bool]:
    def apply(s: Scene, v) -> bool:
        if i >= len(s.characters):
            return False
        c = s.characters[i]
        if key == "position" and any(o.position == v for j, o in enumerate(s.characters) if j != i):
            return False
        setattr(c, key, v)
        if key == "hair_style":
            c.hair_color = None if v == "bald" else (c.hair_color or "brown")
        return not (key == "hair_color" and c.hair_style == "bald")

    return apply


def _set_obj(j: int, key: str) -> Callable[[Scene, object], bool]:
    def apply(s: Scene, v) -> bool:
        if j >= len(s.objects):
            return False
        setattr(s.objects[j], key, v)
        return True

    return apply


def _place(s: Scene, v) -> bool:
    env, backdrop = v
    s.environment, s.backdrop = env, backdrop
    return True


def _place_and_light(s: Scene, v) -> bool:
    s.lighting = v[1]
    return _place(s, v[0])


def _framing(s: Scene, v) -> bool:
    s.shot.shot_type, pos = v
    return _set_char(0, "position")(s, pos)


def _people(s: Scene, v) -> bool:
    s.characters = s.characters[:1]
    if v is not None:
        if v == s.characters[0].position:
            return False
        s.characters.append(Character(position=v))
    return True


def _objects(j: int) -> Callable[[Scene, object], bool]:
    def apply(s: Scene, v) -> bool:
        s.objects = s.objects[:j]
        if v is not None:
            kind, pos = v
            s.objects.append(SceneObject(kind, "red", pos))
        return True

    return apply


def caption_stage(frames: np.ndarray, fps: float = 8.0) -> dict:
    """The structured caption (SkyCaptioner shape) of a stage clip (T, H, W, 3) uint8."""
    q = _Search(_frames(frames), fps)
    places = [(e, None) for e in V.ENVIRONMENTS if e not in V.BACKDROP_ENVIRONMENTS]
    places += [(e, c) for e in V.BACKDROP_ENVIRONMENTS for c in V.COLOR_NAMES]
    for _ in range(2):  # everything again once the rest is known
        q.choose([(t, p) for t in V.SHOT_TYPES for p in V.POSITIONS], _framing)
        # light and place are searched together among the likeliest places: a dim grey studio and a night
        # sky look alike until the light is right too
        best = q.choose(places, _place, keep=4)
        q.choose([(p, light) for p in best for light in V.LIGHTINGS], _place_and_light)
        q.choose(V.SHOT_ANGLES, lambda s, v: setattr(s.shot, "angle", v))
        q.choose([None, *V.POSITIONS], _people)
        for i in range(len(q.scene.characters)):
            for key, values in (
                ("kind", V.KINDS),
                ("hair_style", V.HAIR_STYLES),
                ("hair_color", V.HAIR_COLORS),
                ("skin", V.SKINS),
                ("shirt_color", V.COLOR_NAMES),
                ("expression", V.EXPRESSIONS),
                ("intensity", V.INTENSITIES),
            ):
                q.choose(values, _set_char(i, key))
        for j in range(V.MAX_OBJECTS):
            if j > len(q.scene.objects):
                break
            q.choose([None, *((k, p) for k in V.OBJECTS for p in V.POSITIONS)], _objects(j))
            q.choose(V.COLOR_NAMES, _set_obj(j, "color"))
    q.error = q._error(q.scene, whole=True)  # from here on the whole clip counts
    motion = lambda s, v: setattr(s.shot, "camera_motion", v)  # noqa: E731
    q.choose(V.CAMERA_MOTIONS, motion, whole=True)
    for i in range(len(q.scene.characters)):
        q.choose(V.ACTIONS, _set_char(i, "action"), whole=True)
    q.choose(V.CAMERA_MOTIONS, motion, whole=True)  # again, with the people moving as they do
    if q.scene.environment not in V.BACKDROP_ENVIRONMENTS:
        q.scene.backdrop = None
    return scene_to_caption(q.scene, layout(q.scene, (256, 256)))
