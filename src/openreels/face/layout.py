"""The face layout every source is converted to before retargeting and drawing.

MediaPipe's 478-point mesh and the stage's few ground-truth points describe the same parts (face oval, eyes,
brows, lips, pupils, nose tip) with different point counts. Each source is mapped onto one fixed layout whose
parts have MediaPipe's counts and order, so a mesh maps by plain indexing and the stage's curves are resampled
by arc length; retargeting and the landmark renderer then treat both sources the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# MediaPipe face-mesh indices of each part, in drawing order (subject's left/right, as MediaPipe names them).
# Closed loops come back to their first point when drawn; brows are two open strokes each.
MEDIAPIPE_PARTS: dict[str, tuple[int, ...]] = {
    "face_oval": (
        10,
        338,
        297,
        332,
        284,
        251,
        389,
        356,
        454,
        323,
        361,
        288,
        397,
        365,
        379,
        378,
        400,
        377,
        152,
        148,
        176,
        149,
        150,
        136,
        172,
        58,
        132,
        93,
        234,
        127,
        162,
        21,
        54,
        103,
        67,
        109,
    ),
    "right_eye": (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
    "left_eye": (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466),
    "right_brow_lower": (46, 53, 52, 65, 55),
    "right_brow_upper": (70, 63, 105, 66, 107),
    "left_brow_lower": (276, 283, 282, 295, 285),
    "left_brow_upper": (300, 293, 334, 296, 336),
    # Lips start at the subject's right corner, run along the bottom, then back along the top.
    "lips_outer": (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185),
    "lips_inner": (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191),
    "right_pupil": (468,),
    "left_pupil": (473,),
    "nose_tip": (4,),
}
CLOSED_PARTS = frozenset({"face_oval", "right_eye", "left_eye", "lips_outer", "lips_inner"})


@dataclass(frozen=True)
class FaceLayout:
    """Where each part lives in a (C, 2) canonical shape array."""

    slices: dict[str, slice]

    @property
    def size(self) -> int:
        return max(s.stop for s in self.slices.values())

    def count(self, part: str) -> int:
        s = self.slices[part]
        return s.stop - s.start


def _build_layout() -> FaceLayout:
    slices, start = {}, 0
    for name, idx in MEDIAPIPE_PARTS.items():
        slices[name] = slice(start, start + len(idx))
        start += len(idx)
    return FaceLayout(slices)


LAYOUT = _build_layout()
NUM_POINTS = LAYOUT.size
_MEDIAPIPE_INDEX = np.concatenate([np.asarray(v) for v in MEDIAPIPE_PARTS.values()])


def from_mediapipe(points: np.ndarray) -> np.ndarray:
    """(..., 478, D) MediaPipe mesh points -> (..., C, 2) canonical shape (pixel x, y)."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape[-2] != 478:
        raise ValueError(f"expected 478 MediaPipe points, got {points.shape[-2]}")
    return points[..., _MEDIAPIPE_INDEX, :2].copy()


def resample_curve(points: np.ndarray, n: int, closed: bool) -> np.ndarray:
    """Resample a polyline to n points evenly spaced by arc length (start point kept)."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) == 1 or n == 1:
        return np.repeat(points.mean(axis=0, keepdims=True), n, axis=0)
    path = np.concatenate([points, points[:1]]) if closed else points
    seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    if cum[-1] == 0:
        return np.repeat(points[:1], n, axis=0)
    targets = np.linspace(0.0, cum[-1], n, endpoint=not closed)
    return np.stack([np.interp(targets, cum, path[:, d]) for d in range(path.shape[1])], axis=1)


def loop_from_halves(first: np.ndarray, second: np.ndarray, n: int) -> np.ndarray:
    """A closed loop of n points from two open halves that meet at their ends (first: corner A -> corner B,
    second: B -> A), each resampled on its own so the corners land on points 0 and n/2."""
    half = n // 2
    a = resample_curve(first, half + 1, closed=False)
    b = resample_curve(second, n - half + 1, closed=False)
    return np.concatenate([a[:-1], b[:-1]])


def from_parts(parts: dict[str, np.ndarray | tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Build a canonical shape from named part curves of any point count (e.g. the stage's ground truth).

    A closed part is either one loop (resampled by arc length) or a pair of halves (see `loop_from_halves`).
    It must start where MediaPipe's does and run the same way: eyes at the outer corner along the lower lid,
    lips at the image-left corner along the lower lip, the oval at the top of the forehead towards the image
    right. Brow strokes run from the outer end to the inner end. A missing `*_brow_upper` reuses the lower
    stroke; a missing `face_oval` becomes an ellipse around the other points (the default renderer does not
    draw the oval).
    """
    have: dict = {}
    for k, v in parts.items():
        if isinstance(v, tuple):
            have[k] = tuple(np.asarray(h, dtype=np.float64).reshape(-1, 2) for h in v)
        else:
            have[k] = np.asarray(v, dtype=np.float64).reshape(-1, 2)
    for side in ("left", "right"):
        if f"{side}_brow_upper" not in have and f"{side}_brow_lower" in have:
            have[f"{side}_brow_upper"] = have[f"{side}_brow_lower"]
    if "face_oval" not in have:
        pts = np.concatenate([np.concatenate(v) if isinstance(v, tuple) else v for v in have.values()])
        center, half = (pts.max(0) + pts.min(0)) / 2, (pts.max(0) - pts.min(0)) / 2 * 1.3
        t = -np.pi / 2 + np.linspace(0, 2 * np.pi, LAYOUT.count("face_oval"), endpoint=False)
        have["face_oval"] = center + half * np.stack([np.cos(t), np.sin(t)], axis=1)
    missing = [k for k in MEDIAPIPE_PARTS if k not in have]
    if missing:
        raise ValueError(f"face parts missing: {', '.join(missing)}")
    out = np.zeros((NUM_POINTS, 2))
    for name, sl in LAYOUT.slices.items():
        v = have[name]
        if isinstance(v, tuple):
            out[sl] = loop_from_halves(v[0], v[1], LAYOUT.count(name))
        else:
            out[sl] = resample_curve(v, LAYOUT.count(name), name in CLOSED_PARTS)
    return out


def part(shape: np.ndarray, name: str) -> np.ndarray:
    """The points of one part of a (..., C, 2) shape."""
    return shape[..., LAYOUT.slices[name], :]


# Points that move with the head but not with expressions: upper face oval, eye corners, nose tip.
_oval = LAYOUT.slices["face_oval"]
RIGID_INDEX = np.array(
    [_oval.start + i for i in (*range(0, 6), *range(31, 36), 6, 30)]
    + [LAYOUT.slices["right_eye"].start, LAYOUT.slices["right_eye"].start + 8]
    + [LAYOUT.slices["left_eye"].start, LAYOUT.slices["left_eye"].start + 8]
    + [LAYOUT.slices["nose_tip"].start]
)


def mouth_opening(shape: np.ndarray) -> np.ndarray:
    """Inner-lip gap over mouth width, per frame: 0 closed, about 0.5 wide open. Shape (..., C, 2) -> (...)."""
    inner, outer = part(shape, "lips_inner"), part(shape, "lips_outer")
    gap = np.linalg.norm(
        inner[..., 15, :] - inner[..., 5, :], axis=-1
    )  # top centre (13) to bottom centre (14)
    width = np.linalg.norm(outer[..., 10, :] - outer[..., 0, :], axis=-1)
    return gap / np.maximum(width, 1e-6)


def eye_opening(shape: np.ndarray) -> np.ndarray:
    """Mean eye aspect ratio (lid gap over eye width) of both eyes, per frame: about 0.3 open, 0 closed."""
    ratios = []
    for side in ("left_eye", "right_eye"):
        eye = part(shape, side)
        gap = np.linalg.norm(eye[..., 12, :] - eye[..., 4, :], axis=-1)  # upper mid-lid to lower mid-lid
        width = np.linalg.norm(eye[..., 8, :] - eye[..., 0, :], axis=-1)
        ratios.append(gap / np.maximum(width, 1e-6))
    return (ratios[0] + ratios[1]) / 2
