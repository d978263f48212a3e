"""A tiny anti-aliased 2-D rasteriser, vectorised over frames.

Written by hand because no installed library draws rotated, animated vector shapes for a whole clip in
one numpy pass: every shape is a signed distance function evaluated in its own local frame, whose
per-frame affine map from pixels is the product of camera, layer, body and part transforms. Coverage is
the distance divided by the pixel size (0.5 - d/px, clipped), which is exact box-filter anti-aliasing
for straight edges. Each shape is only evaluated inside the pixel box it can reach during the clip.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Sdf = Callable[[np.ndarray, np.ndarray], np.ndarray]


def affine(a: float = 1.0, b: float = 0.0, c: float = 0.0, d: float = 1.0, e: float = 0.0, f: float = 0.0):
    """One 3x3 affine matrix [[a, b, c], [d, e, f]] as (3, 3); use with np.broadcast_to for clips."""
    return np.array([[a, b, c], [d, e, f], [0.0, 0.0, 1.0]], dtype=np.float64)


def translate(tx, ty) -> np.ndarray:
    """(T, 3, 3) translations from per-frame (or scalar) offsets."""
    tx, ty = np.broadcast_arrays(np.asarray(tx, float), np.asarray(ty, float))
    m = np.zeros(tx.shape + (3, 3))
    m[..., 0, 0] = m[..., 1, 1] = m[..., 2, 2] = 1.0
    m[..., 0, 2], m[..., 1, 2] = tx, ty
    return m


def scale(sx, sy=None) -> np.ndarray:
    sy = sx if sy is None else sy
    sx, sy = np.broadcast_arrays(np.asarray(sx, float), np.asarray(sy, float))
    m = np.zeros(sx.shape + (3, 3))
    m[..., 0, 0], m[..., 1, 1], m[..., 2, 2] = sx, sy, 1.0
    return m


def rotate(theta) -> np.ndarray:
    """Rotation by `theta` radians in y-down image coordinates (positive = clockwise on screen)."""
    theta = np.asarray(theta, float)
    c, s = np.cos(theta), np.sin(theta)
    m = np.zeros(theta.shape + (3, 3))
    m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1], m[..., 2, 2] = c, -s, s, c, 1.0
    return m


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Map points (..., K, 2) through (..., 3, 3) matrices."""
    return np.einsum("...ij,...kj->...ki", m[..., :2, :2], pts) + m[..., None, :2, 2]


# ---- signed distance functions (local units; negative inside) -------------------------------------------


def ellipse(rx: float, ry: float, cx: float = 0.0, cy: float = 0.0) -> Sdf:
    def sdf(x, y):
        px, py = (x - cx) / rx, (y - cy) / ry
        k0 = np.sqrt(px * px + py * py)
        k1 = np.sqrt((px / rx) ** 2 + (py / ry) ** 2) + 1e-9
        return k0 * (k0 - 1.0) / k1  # first-order distance estimate (Quilez), exact for circles

    return sdf


def bent_ellipse(rx: float, up: float, down: float, bend: float, cx: float = 0.0, cy: float = 0.0) -> Sdf:
    """An ellipse with different upper/lower heights whose centre line sags by `bend` in the middle
    (positive = U-shaped smile, negative = frown); the mouth, eyelids and closed eyes use it."""

    def sdf(x, y):
        px = (x - cx) / rx
        t = np.minimum(px * px, 1.0)
        py = y - cy - bend * (1.0 - t)
        ry = np.where(py < 0, up, down)
        qy = py / ry
        k0 = np.sqrt(px * px + qy * qy)
        k1 = np.sqrt((px / rx) ** 2 + (qy / ry) ** 2) + 1e-9
        return k0 * (k0 - 1.0) / k1

    return sdf


def bent_point(rx, up, down, bend, cx, cy, angle: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Boundary points of bent_ellipse at parametric angles (for landmarks): (..., K, 2); the size
    parameters may be (T, 1) arrays for per-frame shapes."""
    px = np.cos(angle)
    py = np.where(upper, -np.asarray(up), np.asarray(down)) * np.abs(np.sin(angle)) + np.asarray(bend) * (
        1.0 - px * px
    )
    x = np.broadcast_to(cx + rx * px, py.shape)
    return np.stack([x, cy + py], axis=-1)


def capsule(ax: float, ay: float, bx: float, by: float, r: float) -> Sdf:
    dx, dy = bx - ax, by - ay
    ll = dx * dx + dy * dy + 1e-12

    def sdf(x, y):
        px, py = x - ax, y - ay
        h = np.clip((px * dx + py * dy) / ll, 0.0, 1.0)
        ex, ey = px - dx * h, py - dy * h
        return np.sqrt(ex * ex + ey * ey) - r

    return sdf


def box(hx: float, hy: float, r: float = 0.0, cx: float = 0.0, cy: float = 0.0) -> Sdf:
    def sdf(x, y):
        qx = np.abs(x - cx) - hx + r
        qy = np.abs(y - cy) - hy + r
        outside = np.sqrt(np.maximum(qx, 0.0) ** 2 + np.maximum(qy, 0.0) ** 2)
        return outside + np.minimum(np.maximum(qx, qy), 0.0) - r

    return sdf


def halfplane(nx: float, ny: float, c: float) -> Sdf:
    """Inside where nx*x + ny*y < c (n a unit vector)."""

    def sdf(x, y):
        return nx * x + ny * y - c

    return sdf


def intersect(*fs: Sdf) -> Sdf:
    def sdf(x, y):
        d = fs[0](x, y)
        for f in fs[1:]:
            d = np.maximum(d, f(x, y))
        return d

    return sdf


def subtract(a: Sdf, b: Sdf) -> Sdf:
    def sdf(x, y):
        return np.maximum(a(x, y), -b(x, y))

    return sdf


def union(*fs: Sdf) -> Sdf:
    def sdf(x, y):
        d = fs[0](x, y)
        for f in fs[1:]:
            d = np.minimum(d, f(x, y))
        return d

    return sdf


def repeat_x(f: Sdf, period: float) -> Sdf:
    """Tile a shape every `period` along x (windows, fence posts)."""

    def sdf(x, y):
        return f(np.mod(x + period / 2, period) - period / 2, y)

    return sdf


def repeat_xy(f: Sdf, px: float, py: float) -> Sdf:
    def sdf(x, y):
        return f(np.mod(x + px / 2, px) - px / 2, np.mod(y + py / 2, py) - py / 2)

    return sdf


# ---- canvas ---------------------------------------------------------------------------------------------


class Canvas:
    """T frames of H x W float32 RGB in [0, 1], stored planar (3, T, H, W) because numpy is slow on a
    trailing axis of 3; shapes are painted back to front. `rgb()` gives (T, H, W, 3)."""

    def __init__(self, frames: int, height: int, width: int, color=(1.0, 1.0, 1.0)) -> None:
        self.t, self.h, self.w = frames, height, width
        self.img = np.empty((3, frames, height, width), np.float32)
        self.fill(color)
        self._u = np.arange(width, dtype=np.float32) + 0.5
        self._v = np.arange(height, dtype=np.float32) + 0.5

    def fill(self, color) -> None:
        for k in range(3):
            self.img[k] = color[k]

    def rgb(self) -> np.ndarray:
        return self.img.transpose(1, 2, 3, 0)

    def _boxes(self, fwd: np.ndarray, bbox) -> np.ndarray:
        """Per-frame pixel boxes (T, 4) = r0, r1, c0, c1 that a local bbox reaches, clipped to the frame."""
        if bbox is None:
            return np.tile(np.array([0, self.h, 0, self.w]), (fwd.shape[0], 1))
        x0, y0, x1, y1 = bbox
        corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], np.float64)
        pts = apply(fwd, corners)  # (T, 4, 2)
        lo, hi = pts.min(axis=1), pts.max(axis=1)
        out = np.empty((fwd.shape[0], 4), np.int64)
        out[:, 0] = np.clip(np.floor(lo[:, 1]) - 1, 0, self.h)
        out[:, 1] = np.clip(np.ceil(hi[:, 1]) + 1, 0, self.h)
        out[:, 2] = np.clip(np.floor(lo[:, 0]) - 1, 0, self.w)
        out[:, 3] = np.clip(np.ceil(hi[:, 0]) + 1, 0, self.w)
        return out

    def draw(
        self,
        fwd: np.ndarray,
        sdf: Sdf,
        color,
        bbox: tuple[float, float, float, float] | None = None,
        alpha: float | np.ndarray = 1.0,
        mask_out: np.ndarray | None = None,
        per_frame_shape: bool = False,
    ) -> None:
        """Paint shape `sdf` (local coordinates) mapped to pixels by per-frame `fwd` (T, 3, 3).

        `alpha` may be per frame (T,); `mask_out`, when given, receives max(coverage) (T, H, W).
        `per_frame_shape` says the sdf holds (T, 1, 1) parameters, so frames cannot be split.
        """
        if np.ndim(alpha) and not np.any(alpha):
            return
        if not np.ptp(fwd, axis=0).any():
            # the same map every frame: evaluate once and broadcast (unless the shape itself changes)
            boxes = self._boxes(fwd[:1], bbox)
            self._draw(0, self.t, boxes[0], fwd[:1], sdf, color, alpha, mask_out)
            return
        boxes = self._boxes(fwd, bbox)
        self._split(0, self.t, boxes, fwd, sdf, color, alpha, mask_out, per_frame_shape)

    def _split(self, t0, t1, boxes, fwd, sdf, color, alpha, mask_out, fixed) -> None:
        """Evaluate frames t0..t1 in one window, or in halves when the union window of a moving
        shape is much bigger than its per-frame windows (a fast camera move)."""
        b = boxes[t0:t1]
        union = np.array([b[:, 0].min(), b[:, 1].max(), b[:, 2].min(), b[:, 3].max()])
        area = max(union[1] - union[0], 0) * max(union[3] - union[2], 0) * (t1 - t0)
        parts = (np.maximum(b[:, 1] - b[:, 0], 0) * np.maximum(b[:, 3] - b[:, 2], 0)).sum()
        if not fixed and t1 - t0 > 1 and area > 1.6 * parts + 400:
            mid = (t0 + t1) // 2
            self._split(t0, mid, boxes, fwd, sdf, color, alpha, mask_out, fixed)
            self._split(mid, t1, boxes, fwd, sdf, color, alpha, mask_out, fixed)
            return
        a = alpha[t0:t1] if np.ndim(alpha) else alpha
        self._draw(t0, t1, union, fwd[t0:t1], sdf, color, a, mask_out)

    def _draw(self, t0, t1, box, fwd, sdf, color, alpha, mask_out) -> None:
        r0, r1, c0, c1 = (int(v) for v in box)
        if r1 <= r0 or c1 <= c0:
            return
        if np.ndim(alpha) and not np.any(alpha):
            return
        # closed-form inverse of the 2x3 affine part (cheaper than np.linalg.inv for small batches)
        a, b, c = fwd[:, 0, 0], fwd[:, 0, 1], fwd[:, 0, 2]
        d, e, f = fwd[:, 1, 0], fwd[:, 1, 1], fwd[:, 1, 2]
        det = a * e - b * d
        ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
        ic, if_ = -(ia * c + ib * f), -(id_ * c + ie * f)
        px = np.sqrt(np.abs(1.0 / det)).astype(np.float32)[:, None, None]  # local units per pixel
        u, v = self._u[c0:c1], self._v[r0:r1, None]
        col = lambda k: k.astype(np.float32)[:, None, None]  # noqa: E731
        x = col(ia) * u + col(ib) * v + col(ic)
        y = col(id_) * u + col(ie) * v + col(if_)
        cov = sdf(x, y)
        cov = 0.5 - cov / px
        np.clip(cov, 0.0, 1.0, out=cov)
        if np.ndim(alpha):
            cov = cov * np.asarray(alpha, np.float32)[:, None, None]
        elif alpha != 1.0:
            cov *= alpha
        if mask_out is not None:
            m = mask_out[t0:t1, r0:r1, c0:c1]
            np.maximum(m, cov, out=m)
        for k in range(3):
            region = self.img[k, t0:t1, r0:r1, c0:c1]
            region += cov * (np.float32(color[k]) - region)
