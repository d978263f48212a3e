"""Temporal consistency: does a clip keep its people and its background from frame to frame and from
one window of frames to the next (long videos drift in colour and identity)?

Measures, all in [0, 1] with 1 = perfectly stable:
* frame_similarity: mean over consecutive frame pairs of 1 - mean |difference| after undoing the global
  camera motion (so pans and zooms do not count as instability);
* palette_persistence: the first frame's dominant colours (its people and background) still present in
  each later window, as the mean histogram intersection of a 4x4x4 colour histogram;
* background_stability: the same intersection restricted to the border of the frame (mostly background);
* window_similarity: like palette_persistence but between consecutive windows;
* color_drift: mean RGB of the last window minus the first, as a fraction of 255 (0 = no drift).
"""

from __future__ import annotations

import numpy as np

from openreels.errors import OpenreelsError


def _hist(frames: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    q = frames.astype(np.int32) // 64
    idx = (q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]).reshape(len(frames), -1)
    if mask is not None:
        idx = idx[:, mask.reshape(-1)]
    h = np.bincount(idx.reshape(-1), minlength=64).astype(np.float64)
    return h / max(h.sum(), 1.0)


def _warp_back(prev: np.ndarray, cur: np.ndarray) -> float:
    """Mean |cur - prev| / 255 after aligning prev to cur with the fitted global motion."""
    from scipy.ndimage import map_coordinates

    from openreels.eval.probes import _fit_similarity, _gray

    g = _gray(np.stack([prev, cur]).astype(np.float32))
    h, w = g.shape[1:]
    (tx, ty, s, r), _ = _fit_similarity(g[0], g[1], np.ones((h, w)))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    xc, yc = xx - (w - 1) / 2, yy - (h - 1) / 2
    # content moved by (t, s, r): sample prev where each pixel of cur came from
    sx = xx - tx - s * xc + r * yc
    sy = yy - ty - r * xc - s * yc
    valid = (sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)
    if valid.sum() < 0.25 * h * w:
        return float(np.abs(cur.astype(np.float32) - prev).mean() / 255.0)
    err = [
        np.abs(map_coordinates(prev[..., k].astype(np.float32), [sy, sx], order=1) - cur[..., k])[
            valid
        ].mean()
        for k in range(3)
    ]
    return float(np.mean(err) / 255.0)


def consistency(frames: np.ndarray, window: int = 8) -> dict[str, float]:
    """Frame-to-frame and window-to-window stability of a clip (T, H, W, 3) uint8; see module doc."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) < 2:
        raise OpenreelsError("consistency needs at least 2 frames shaped (T, H, W, 3)")
    if window < 1:
        raise OpenreelsError(f"window must be at least 1 frame, got {window}")
    t, h, w = frames.shape[:3]
    step = max(1, (t - 1) // 16)  # at most 16 pairs: enough for a mean, bounded cost on long videos
    pairs = range(0, t - 1, step)
    frame_sim = 1.0 - float(np.mean([_warp_back(frames[i], frames[i + 1]) for i in pairs]))
    border = np.zeros((h, w), bool)
    b = max(2, min(h, w) // 8)
    border[:b], border[-b:], border[:, :b], border[:, -b:] = True, True, True, True
    windows = [frames[i : i + window] for i in range(0, t, window)]
    first, first_bg = _hist(windows[0]), _hist(windows[0], border)
    persist = [np.minimum(first, _hist(win)).sum() for win in windows[1:]] or [1.0]
    bg = [np.minimum(first_bg, _hist(win, border)).sum() for win in windows[1:]] or [1.0]
    hists = [_hist(win) for win in windows]
    consecutive = [np.minimum(a, b).sum() for a, b in zip(hists, hists[1:], strict=False)] or [1.0]
    drift = np.abs(windows[-1].reshape(-1, 3).mean(0) - windows[0].reshape(-1, 3).mean(0)).mean() / 255.0
    return {
        "frame_similarity": frame_sim,
        "palette_persistence": float(np.mean(persist)),
        "background_stability": float(np.mean(bg)),
        "window_similarity": float(np.mean(consecutive)),
        "color_drift": float(drift),
        "windows": len(windows),
    }
