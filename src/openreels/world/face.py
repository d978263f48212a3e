"""Faces: expression parameters and the fixed 70-point landmark layout.

Landmark order (K = 70), in the iBUG-68 convention plus two pupils; "left" means image left:
  0-16  face outline, image-left ear -> chin (8) -> image-right ear
  17-21 image-left brow, outer -> inner      22-26 image-right brow, inner -> outer
  27-30 nose bridge, top -> tip              31-35 nose base, image-left -> image-right
  36-41 image-left eye: outer corner, upper outer, upper inner, inner corner, lower inner, lower outer
  42-47 image-right eye: inner corner, upper inner, upper outer, outer corner, lower outer, lower inner
  48-59 outer lips: left corner, upper lip left -> right (51 = top centre), right corner (54),
        lower lip right -> left (57 = bottom centre)
  60-67 inner lips: left corner, upper left/centre/right (62 = upper centre), right corner (64),
        lower right/centre/left (66 = lower centre)
  68 image-left pupil, 69 image-right pupil
Mouth opening = |p66 - p62|; eye opening = mean(|p37 - p41|, |p38 - p40|) (and 43-47, 44-46).
"""

from __future__ import annotations

from openreels.world import vocab as V

NUM_LANDMARKS = 70
JAW = slice(0, 17)
LEFT_BROW, RIGHT_BROW = slice(17, 22), slice(22, 27)
NOSE = slice(27, 36)
LEFT_EYE, RIGHT_EYE = slice(36, 42), slice(42, 48)
OUTER_LIPS, INNER_LIPS = slice(48, 60), slice(60, 68)
PUPILS = slice(68, 70)

# Head units: head half-width = 1, y down, origin at the head centre.
NEUTRAL = {
    "brow_y": 0.0,  # brows raised (+) / lowered (-)
    "brow_tilt": 0.0,  # inner ends up (+, sad/fear) or down (-, anger)
    "brow_asym": 0.0,  # image-right brow raised extra
    "eye_open": 1.0,
    "eye_bend": 0.0,  # curvature of closed eyes (negative = happy arcs)
    "pupil_x": 0.0,
    "pupil_y": 0.0,
    "pupil_r": 1.0,
    "mouth_w": 1.0,
    "mouth_bend": 0.05,  # + smile (corners up), - frown
    "mouth_open": 0.0,
    "mouth_up": 0.5,  # share of the opening above the lip line
    "mouth_angle": 0.0,  # radians; one-sided smirk
    "mouth_dx": 0.0,
    "teeth": 0.0,
    "tears": 0.0,
    "blush": 0.0,
    "wrinkle": 0.0,
}
_TARGETS = {
    "neutral": {},
    "happy": {
        "brow_y": 0.06,
        "eye_open": 0.8,
        "mouth_w": 1.25,
        "mouth_bend": 0.24,
        "mouth_open": 0.16,
        "mouth_up": 0.1,
        "teeth": 1.0,
        "blush": 0.5,
    },
    "laughing": {
        "brow_y": 0.12,
        "eye_open": 0.05,
        "eye_bend": -0.12,
        "mouth_w": 1.35,
        "mouth_bend": 0.22,
        "mouth_open": 0.55,
        "mouth_up": 0.05,
        "teeth": 1.0,
        "blush": 0.8,
    },
    "sad": {
        "brow_y": 0.02,
        "brow_tilt": 1.0,
        "eye_open": 0.7,
        "pupil_y": 0.5,
        "mouth_w": 0.85,
        "mouth_bend": -0.2,
    },
    "crying": {
        "brow_tilt": 1.1,
        "eye_open": 0.08,
        "eye_bend": 0.07,
        "mouth_w": 1.15,
        "mouth_bend": -0.22,
        "mouth_open": 0.38,
        "mouth_up": 0.9,
        "tears": 1.0,
    },
    "angry": {
        "brow_y": -0.14,
        "brow_tilt": -1.1,
        "eye_open": 0.72,
        "mouth_w": 1.05,
        "mouth_bend": -0.12,
        "mouth_open": 0.14,
        "mouth_up": 0.5,
        "teeth": 1.0,
    },
    "surprised": {
        "brow_y": 0.3,
        "eye_open": 1.5,
        "pupil_r": 0.7,
        "mouth_w": 0.5,
        "mouth_bend": 0.0,
        "mouth_open": 0.5,
        "mouth_up": 0.45,
    },
    "fearful": {
        "brow_y": 0.2,
        "brow_tilt": 0.9,
        "eye_open": 1.45,
        "pupil_x": 0.5,
        "pupil_r": 0.8,
        "mouth_w": 1.35,
        "mouth_bend": -0.1,
        "mouth_open": 0.22,
        "mouth_up": 0.5,
        "teeth": 0.6,
    },
    "disgusted": {
        "brow_y": -0.08,
        "brow_tilt": -0.6,
        "eye_open": 0.5,
        "mouth_w": 0.95,
        "mouth_bend": -0.14,
        "mouth_open": 0.1,
        "mouth_up": 0.3,
        "mouth_angle": 0.28,
        "teeth": 0.8,
        "wrinkle": 1.0,
    },
    "contemptuous": {
        "brow_asym": 0.2,
        "eye_open": 0.8,
        "mouth_w": 0.9,
        "mouth_bend": 0.0,
        "mouth_angle": -0.4,
        "mouth_dx": 0.14,
    },
    "thoughtful": {
        "brow_asym": 0.22,
        "pupil_x": 0.6,
        "pupil_y": -0.6,
        "mouth_w": 0.6,
        "mouth_bend": -0.04,
        "mouth_dx": -0.16,
        "mouth_angle": 0.12,
    },
}
assert set(_TARGETS) == set(V.EXPRESSIONS)


def expression_params(expression: str, intensity: str) -> dict[str, float]:
    """Face parameters for an expression at an intensity (linear from neutral)."""
    w = V.INTENSITY_WEIGHT[intensity]
    target = _TARGETS[expression]
    return {k: v + w * (target.get(k, v) - v) for k, v in NEUTRAL.items()}
