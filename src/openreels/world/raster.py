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
        dx, dy = np.abs(x - cx), np.abs(y - cy)
        px, py = dx / rx, dy / ry
        k0 = np.sqrt(px * px + py * py)
        k1 = np.sqrt((px / rx) ** 2 + (py / ry) ** 2) + 1e-9
        d = k0 * (k0 - 1.0) / k1  # first-order distance estimate (Quilez), exact for circles
        # the estimate collapses beyond the ends of thin ellipses: the bounding box distance bounds it
        return np.maximum(d, np.maximum(dx - rx, dy - ry))

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
        d = k0 * (k0 - 1.0) / k1
        return np.maximum(d, np.maximum((np.abs(px) - 1.0) * rx, np.abs(py) - ry))  # see ellipse()

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
    trailing axis of 3. Shapes are queued with `draw` and painted back to front by `flush`, which does
    the bookkeeping (inverse maps, pixel boxes) for all shapes in a few batched numpy calls: with small
    windows, per-call overhead and not pixel work is what costs."""

    def __init__(self, frames: int, height: int, width: int, color=(1.0, 1.0, 1.0)) -> None:
        self.t, self.h, self.w = frames, height, width
        self.img = np.empty((3, frames, height, width), np.float32)
        self.fill(color)
        self._u = np.arange(width, dtype=np.float32) + 0.5
        self._v = (np.arange(height, dtype=np.float32) + 0.5)[:, None]
        self._queue: list[tuple] = []

    def fill(self, color) -> None:
        """Paint the whole canvas one colour (before any queued shape)."""
        for k in range(3):
            self.img[k] = color[k]

    def rgb(self) -> np.ndarray:
        return self.img.transpose(1, 2, 3, 0)

    def draw(
        self,
        fwd: np.ndarray,
        sdf: Sdf,
        color,
        bbox: tuple[float, float, float, float] | None = None,
        alpha: float | np.ndarray = 1.0,
        label: str | None = None,
        per_frame_shape: bool = False,
    ) -> None:
        """Queue shape `sdf` (local coordinates) mapped to pixels by per-frame `fwd` (T, 3, 3) or (3, 3).

        `bbox` bounds the shape locally (None = anywhere); `alpha` may be per frame (T,);
        `per_frame_shape` says the sdf holds (T, 1, 1) parameters, so its frames are never split.
        """
        if isinstance(alpha, np.ndarray) and not alpha.any():
            return
        fwd = np.broadcast_to(fwd, (self.t, 3, 3))
        self._queue.append((fwd, sdf, np.asarray(color, np.float32), bbox, alpha, label, per_frame_shape))

    def flush(self, masks: dict[str, np.ndarray] | None = None) -> None:
        """Paint every queued shape in order. With `masks`, also track each label's visible coverage
        (T, H, W): later shapes hide earlier ones."""
        queue, self._queue = self._queue, []
        if not queue:
            return
        t = self.t
        fwd = np.stack([q[0] for q in queue])  # (N, T, 3, 3)
        a, b, c = fwd[..., 0, 0], fwd[..., 0, 1], fwd[..., 0, 2]
        d, e, f = fwd[..., 1, 0], fwd[..., 1, 1], fwd[..., 1, 2]
        det = a * e - b * d
        ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
        inv = np.stack([ia, ib, -(ia * c + ib * f), id_, ie, -(id_ * c + ie * f), np.sqrt(np.abs(det))])
        inv = inv.astype(np.float32)[..., None, None]  # (7, N, T, 1, 1); [6] = pixels per local unit
        static = ~np.ptp(fwd, axis=1).any(axis=(1, 2))
        bb = np.array([q[3] if q[3] is not None else (np.nan,) * 4 for q in queue], np.float64)
        corners = np.stack([bb[:, [0, 1]], bb[:, [2, 1]], bb[:, [0, 3]], bb[:, [2, 3]]], 1)  # (N, 4, 2)
        pts = np.einsum("ntij,nkj->ntki", fwd[..., :2, :2], corners) + fwd[:, :, None, :2, 2]
        lo, hi = pts.min(axis=2), pts.max(axis=2)  # (N, T, 2)
        boxes = np.stack(
            [
                np.floor(lo[..., 1]) - 1,
                np.ceil(hi[..., 1]) + 1,
                np.floor(lo[..., 0]) - 1,
                np.ceil(hi[..., 0]) + 1,
            ],
            -1,
        )
        full = np.isnan(bb[:, 0])
        boxes[full] = (0, self.h, 0, self.w)
        boxes = np.clip(boxes, 0, np.array([self.h, self.h, self.w, self.w])).astype(np.int64)  # (N, T, 4)
        union = np.stack(
            [boxes[..., 0].min(1), boxes[..., 1].max(1), boxes[..., 2].min(1), boxes[..., 3].max(1)], 1
        )
        side = np.maximum(boxes[..., 1::2] - boxes[..., 0::2], 0)  # (N, T, 2) heights and widths
        parts = (side[..., 0] * side[..., 1]).sum(1)
        area = np.maximum(union[:, 1] - union[:, 0], 0) * np.maximum(union[:, 3] - union[:, 2], 0) * t
        split = (area > 1.6 * parts + 400) & ~static & (t > 1)
        for i, (_, sdf, color, _, alpha, label, fixed) in enumerate(queue):
            if static[i]:
                self._paint(inv[:, i, :1], boxes[i, 0], 0, t, sdf, color, alpha, label, masks)
            elif split[i] and not fixed:
                self._split(inv[:, i], boxes[i], sdf, color, alpha, label, masks)
            else:
                self._paint(inv[:, i], union[i], 0, t, sdf, color, alpha, label, masks)

    def _split(self, inv, boxes, sdf, color, alpha, label, masks) -> None:
        """Paint a fast-moving shape in chunks of 4 frames, each in its own (smaller) union window."""
        starts = np.arange(0, self.t, 4)
        lo = np.minimum.reduceat(boxes[:, [0, 2]], starts)
        hi = np.maximum.reduceat(boxes[:, [1, 3]], starts)
        for (r0, c0), (r1, c1), t0 in zip(lo.tolist(), hi.tolist(), starts.tolist(), strict=True):
            t1 = min(t0 + 4, self.t)
            a = alpha[t0:t1] if isinstance(alpha, np.ndarray) else alpha
            self._paint(inv[:, t0:t1], (r0, r1, c0, c1), t0, t1, sdf, color, a, label, masks)

    def _paint(self, inv, box, t0, t1, sdf, color, alpha, label, masks) -> None:
        r0, r1, c0, c1 = (int(v) for v in box)
        varying = isinstance(alpha, np.ndarray)
        if r1 <= r0 or c1 <= c0 or (varying and not alpha.any()):
            return
        u, v = self._u[c0:c1], self._v[r0:r1]
        x = inv[0] * u + inv[1] * v + inv[2]
        y = inv[3] * u + inv[4] * v + inv[5]
        cov = sdf(x, y)
        cov *= -inv[6]  # coverage = 0.5 - distance in pixels, clipped to [0, 1]
        cov += 0.5
        np.maximum(cov, 0.0, out=cov)
        np.minimum(cov, 1.0, out=cov)
        if varying:
            cov = cov * alpha.astype(np.float32)[:, None, None]
        elif alpha != 1.0:
            cov *= alpha
        region = self.img[:, t0:t1, r0:r1, c0:c1]
        region += cov * (color[:, None, None, None] - region)
        if masks is not None:
            full = np.broadcast_to(cov, region.shape[1:])
            for name, m in masks.items():
                if name != label:
                    m[t0:t1, r0:r1, c0:c1] *= 1.0 - full  # later shapes hide earlier ones
            if label is not None:
                m = masks.setdefault(label, np.zeros((self.t, self.h, self.w), np.float32))
                w = m[t0:t1, r0:r1, c0:c1]
                w += full * (1.0 - w)
