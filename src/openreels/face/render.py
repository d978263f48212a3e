"""The landmark video the pose guider sees: face-mesh lines and pupils on black, drawn the way SkyReels-A1 does.

A1 draws eye contours, both brow strokes, the lips in eight coloured segments (1 px lines), the pupils as 3x3
squares and the nose tip as a white 5x5 square, with no face oval, in its driving frames (its reference frame
uses a grey 4x4 nose and 2x2 pupils; the driving-frame convention is used for every frame here, the reference
frame's included). The colours below are A1's (one per part, RGB) so a published pose guider sees the input it
was trained on. Drawing uses Pillow because it is already a core dependency.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from openreels.face.layout import CLOSED_PARTS, LAYOUT

# Part -> RGB colour (A1's palette).
COLORS: dict[str, tuple[int, int, int]] = {
    "face_oval": (10, 200, 10),
    "right_eye": (10, 200, 180),
    "left_eye": (180, 200, 10),
    "right_brow_lower": (10, 220, 180),
    "right_brow_upper": (10, 220, 180),
    "left_brow_lower": (180, 220, 10),
    "left_brow_upper": (180, 220, 10),
    "right_pupil": (10, 200, 250),
    "left_pupil": (250, 200, 10),
    "nose_tip": (255, 255, 255),
}
# Lip loops are drawn in four runs of five segments each: bottom (image-left half, right half), top (right, left).
LIP_COLORS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "lips_outer": ((10, 180, 20), (20, 10, 180), (80, 100, 20), (20, 80, 100)),
    "lips_inner": ((100, 100, 30), (100, 150, 50), (150, 120, 100), (120, 100, 200)),
}


def render_frame(
    shape: np.ndarray, size: tuple[int, int], draw_oval: bool = False, line_width: int | None = None
) -> np.ndarray:
    """Draw one (C, 2) pixel-space canonical shape on a black (H, W, 3) uint8 canvas; size is (H, W)."""
    height, width = size
    lw = line_width or max(1, round(min(height, width) / 512))
    canvas = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(canvas)
    pts = np.asarray(shape, dtype=np.float64)
    for name, sl in LAYOUT.slices.items():
        if name == "face_oval" and not draw_oval:
            continue
        seg = [tuple(p) for p in pts[sl]]
        if len(seg) == 1:
            half = 2 * lw if name == "nose_tip" else lw  # 5x5 nose, 3x3 pupils at line width 1
            x, y = round(seg[0][0]), round(seg[0][1])
            if 0 <= x < width and 0 <= y < height:
                draw.rectangle([x - half, y - half, x + half, y + half], fill=COLORS[name])
            continue
        if name in CLOSED_PARTS:
            seg = seg + seg[:1]
        if name in LIP_COLORS:
            for k, color in enumerate(LIP_COLORS[name]):
                draw.line(seg[5 * k : 5 * k + 6], fill=color, width=lw)
        else:
            draw.line(seg, fill=COLORS[name], width=lw)
    return np.asarray(canvas, dtype=np.uint8)


def render_video(shapes: np.ndarray, size: tuple[int, int], draw_oval: bool = False) -> np.ndarray:
    """Draw (T, C, 2) shapes as a (T, H, W, 3) uint8 landmark video."""
    return np.stack([render_frame(s, size, draw_oval=draw_oval) for s in shapes])
