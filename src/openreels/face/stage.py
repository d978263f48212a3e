"""Stage characters' ground-truth landmarks -> canonical face shapes.

The stage (`openreels.world`) gives 70 points per character and frame: the iBUG-68 layout plus two pupils,
with "left" meaning image left (see `openreels.world.face`). Each part is mapped onto the MediaPipe-ordered
canonical layout: eyes and lips as lower and upper halves between their corners (so corners land on the same
canonical points as a MediaPipe mesh), brows as both strokes, the jaw as the lower face oval with a forehead
arc above it, iBUG's nose-bridge bottom (30) as the nose tip. MediaPipe names sides from the subject's view,
so the stage's image-left eye is the canonical `right_eye`.
"""

from __future__ import annotations

import numpy as np

from openreels.face.layout import LAYOUT, NUM_POINTS, from_parts, resample_curve

NUM_STAGE_POINTS = 70
_JAW = list(range(0, 17))
_OVAL_FOREHEAD = 1.0  # forehead arc height over the jaw's half-width


def _forehead_oval(jaw: np.ndarray) -> np.ndarray:
    """36 oval points, MediaPipe order (top, image right, chin, image left), from the 17 jaw points."""
    n = LAYOUT.count("face_oval")
    left, right, chin = jaw[0], jaw[16], jaw[8]
    center, half = (left + right) / 2, (right - left) / 2
    up = np.array([half[1], -half[0]])
    if np.dot(center - chin, up) < 0:
        up = -up
    theta = np.linspace(0, np.pi, 17)[:, None]
    arc = center - np.cos(theta) * half + np.sin(theta) * up * _OVAL_FOREHEAD  # image left -> top -> right
    lower = resample_curve(jaw[::-1], 21, closed=False)  # image right -> chin -> image left
    oval = np.zeros((n, 2))
    oval[8:29] = lower
    oval[28:36] = arc[:8]
    oval[0:9] = arc[8:]
    return oval


def from_stage(points: np.ndarray) -> np.ndarray:
    """(..., 70, 2) stage landmarks -> (..., C, 2) canonical shapes."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape[-2:] != (NUM_STAGE_POINTS, 2):
        raise ValueError(f"expected (..., {NUM_STAGE_POINTS}, 2) stage landmarks, got {points.shape}")
    flat = points.reshape(-1, NUM_STAGE_POINTS, 2)
    out = np.stack([_one(p) for p in flat])
    return out.reshape(*points.shape[:-2], NUM_POINTS, 2)


def _one(p: np.ndarray) -> np.ndarray:
    def idx(*i):
        return p[list(i)]

    return from_parts(
        {
            "face_oval": _forehead_oval(p[_JAW]),
            "right_eye": (idx(36, 41, 40, 39), idx(39, 38, 37, 36)),
            "left_eye": (idx(45, 46, 47, 42), idx(42, 43, 44, 45)),
            "right_brow_lower": idx(17, 18, 19, 20, 21),
            "left_brow_lower": idx(26, 25, 24, 23, 22),
            "lips_outer": (idx(48, 59, 58, 57, 56, 55, 54), idx(54, 53, 52, 51, 50, 49, 48)),
            "lips_inner": (idx(60, 67, 66, 65, 64), idx(64, 63, 62, 61, 60)),
            "right_pupil": idx(68),
            "left_pupil": idx(69),
            "nose_tip": idx(30),
        }
    )


def from_clip(clip, character: int = 0) -> np.ndarray:
    """Canonical (T, C, 2) shapes of one character of a rendered stage clip (`openreels.world.render`)."""
    marks = np.asarray(clip.landmarks)
    if marks.ndim != 4 or not 0 <= character < marks.shape[1]:
        raise ValueError(f"clip has landmarks {marks.shape}; no character {character}")
    return from_stage(marks[:, character])


def neutral_shape(scene, character: int = 0, size: tuple[int, int] = (64, 64)) -> np.ndarray:
    """The canonical (C, 2) face of a stage character with a neutral expression, standing still, in the first
    frame of `scene` at `size` (H, W): the identity geometry that retargeting measures expressions against."""
    from openreels.world import render

    calm = scene.replace()
    calm.characters[character].expression = "neutral"
    calm.characters[character].action = "standing"
    return from_clip(render(calm, frames=1, size=size, caption=False), character)[0]
