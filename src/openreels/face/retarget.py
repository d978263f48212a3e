"""Retargeting: the reference face's identity with the driving video's expressions and head motion.

All shapes are canonical (C, 2) pixel arrays (see `layout`). For driving frame i, head motion is the similarity
transform (rotation, scale, translation) that carries frame 0's rigid points onto frame i's; the expression is
what is left of frame i once that motion is undone, measured against frame 0. The reference keeps its own
geometry: each part's expression displacement is rotated into the reference's pose and scaled by the ratio of
that part's size in the reference to its size in the driving face, added to the reference shape, and the
relative head motion is applied about the reference face's centre. Motion and expression are smoothed in time
(zero-phase Gaussian) so landmark jitter does not become flicker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openreels.face.layout import CLOSED_PARTS, LAYOUT, RIGID_INDEX


@dataclass(frozen=True)
class Similarity:
    """x -> scale * R(angle) @ x + shift, on row-vector points."""

    scale: float
    angle: float
    shift: np.ndarray

    @property
    def matrix(self) -> np.ndarray:
        c, s = np.cos(self.angle), np.sin(self.angle)
        return self.scale * np.array([[c, -s], [s, c]])

    def apply(self, points: np.ndarray) -> np.ndarray:
        return points @ self.matrix.T + self.shift


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> Similarity:
    """Least-squares similarity carrying src points onto dst points (Umeyama's closed form, 2-D)."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    # In 2-D the optimal rotation angle and scale have a closed form through complex numbers.
    za, zb = a[:, 0] + 1j * a[:, 1], b[:, 0] + 1j * b[:, 1]
    cross = np.vdot(za, zb)  # sum(conj(a) * b)
    var = float(np.sum(np.abs(za) ** 2))
    angle = float(np.angle(cross))
    scale = float(np.abs(cross) / var) if var > 0 else 1.0
    sim = Similarity(scale, angle, np.zeros(2))
    return Similarity(scale, angle, mu_d - sim.apply(mu_s[None])[0])


def gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing along axis 0 with edge padding (sigma in frames; 0 leaves x unchanged)."""
    if sigma <= 0 or len(x) < 2:
        return x.copy()
    radius = max(1, int(round(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    k /= k.sum()
    pad = np.concatenate([np.repeat(x[:1], radius, 0), x, np.repeat(x[-1:], radius, 0)])
    flat = pad.reshape(len(pad), -1)
    out = np.stack([np.convolve(flat[:, j], k, mode="valid") for j in range(flat.shape[1])], axis=1)
    return out.reshape(x.shape)


def _part_size(shape: np.ndarray, sl: slice) -> float:
    pts = shape[sl]
    if len(pts) == 1:
        return 0.0
    return float(np.sqrt(np.mean(np.sum((pts - pts.mean(0)) ** 2, axis=1))))


def head_motion(driving: np.ndarray) -> list[Similarity]:
    """Per-frame head motion of a (T, C, 2) driving shape sequence relative to its first frame."""
    return [fit_similarity(driving[0, RIGID_INDEX], frame[RIGID_INDEX]) for frame in driving]


def _align(shape: np.ndarray, onto: np.ndarray) -> np.ndarray:
    """`shape` moved rigidly (similarity on the rigid points) onto `onto`'s head pose."""
    return fit_similarity(shape[RIGID_INDEX], onto[RIGID_INDEX]).apply(shape)


def retarget(
    reference: np.ndarray,
    driving: np.ndarray,
    smooth_motion: float = 1.5,
    smooth_expression: float = 0.75,
    expression_scale: float = 1.0,
    driving_neutral: np.ndarray | None = None,
    reference_neutral: np.ndarray | None = None,
) -> np.ndarray:
    """Move the (C, 2) reference shape with the (T, C, 2) driving shapes; returns (T, C, 2).

    Head motion is always relative to the driving video's first frame. Expressions are measured against
    `driving_neutral` (default: the first frame, so a driving video that does not move returns the reference
    unchanged) and added to `reference_neutral` (default: the reference as it is). Giving both neutral faces
    (e.g. the stage renders any character with a neutral face) replaces the reference's expression with the
    driving one outright, as A1 does with FLAME expression codes, so an expression held for the whole
    driving video carries over too.
    """
    reference = np.asarray(reference, dtype=np.float64)
    driving = np.asarray(driving, dtype=np.float64)
    if reference.shape != driving.shape[1:]:
        raise ValueError(f"reference {reference.shape} and driving {driving.shape} layouts differ")
    neutral = (
        driving[0] if driving_neutral is None else _align(np.asarray(driving_neutral, float), driving[0])
    )
    if reference_neutral is not None:
        reference = _align(np.asarray(reference_neutral, float), reference)

    # 1. Head motion relative to frame 0, smoothed as (log scale, angle, shift) so it stays a similarity.
    motions = head_motion(driving)
    params = np.array([[np.log(m.scale), m.angle, *m.shift] for m in motions])
    params[:, 1] = np.unwrap(params[:, 1])
    params = gaussian_smooth(params, smooth_motion)

    # 2. Expression: frame i with its head motion undone, minus the neutral face; smoothed.
    expression = np.stack([_undo(m, frame) - neutral for m, frame in zip(motions, driving, strict=True)])
    expression = gaussian_smooth(expression, smooth_expression)

    # 3. Carry displacements into the reference's pose, scaled part by part to the reference's own proportions.
    to_ref = fit_similarity(neutral[RIGID_INDEX], reference[RIGID_INDEX])
    rot = to_ref.matrix / to_ref.scale
    gains = np.ones(len(reference))
    for name, sl in LAYOUT.slices.items():
        # Single points (pupils, nose) and open strokes follow their closed neighbours' global scale.
        ref_size, drv_size = _part_size(reference, sl), _part_size(neutral, sl)
        if name in CLOSED_PARTS and drv_size > 0:
            gains[sl] = np.clip(ref_size / drv_size, 0.5 * to_ref.scale, 2.0 * to_ref.scale)
        else:
            gains[sl] = to_ref.scale
    moved = reference + expression_scale * gains[None, :, None] * (expression @ rot.T)

    # 4. Relative head motion about the reference face's rigid centre; shifts scale with the face size.
    center_drv = neutral[RIGID_INDEX].mean(0)
    center_ref = reference[RIGID_INDEX].mean(0)
    out = np.empty_like(moved)
    for i, (log_s, angle, sx, sy) in enumerate(params):
        m = Similarity(float(np.exp(log_s)), float(angle), np.array([sx, sy]))
        shift_drv = m.apply(center_drv[None])[0] - center_drv  # how far the driving face centre moved
        local = Similarity(m.scale, m.angle, np.zeros(2))
        out[i] = local.apply(moved[i] - center_ref) + center_ref + to_ref.scale * (rot @ shift_drv)
    return out


def _undo(motion: Similarity, points: np.ndarray) -> np.ndarray:
    return (points - motion.shift) @ np.linalg.inv(motion.matrix).T
