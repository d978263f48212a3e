"""Faces for portrait animation: landmarks (MediaPipe or the stage's ground truth), retargeting, rendering.

Every source becomes a canonical (C, 2) pixel shape (`layout`), so retargeting and the landmark renderer treat a
real photo's 478-point mesh and a stage character's ground truth the same way.
"""

from openreels.face.landmarks import (
    FaceDetection,
    VideoLandmarks,
    detect_faces,
    detect_video,
    fill_missing,
    mediapipe_available,
)
from openreels.face.layout import LAYOUT, NUM_POINTS, eye_opening, from_mediapipe, from_parts, mouth_opening
from openreels.face.render import render_frame, render_video
from openreels.face.retarget import fit_similarity, gaussian_smooth, head_motion, retarget
from openreels.face.stage import from_clip, from_stage, neutral_shape

__all__ = [
    "LAYOUT",
    "NUM_POINTS",
    "FaceDetection",
    "VideoLandmarks",
    "detect_faces",
    "detect_video",
    "eye_opening",
    "fill_missing",
    "fit_similarity",
    "from_clip",
    "from_mediapipe",
    "from_stage",
    "from_parts",
    "gaussian_smooth",
    "head_motion",
    "mediapipe_available",
    "mouth_opening",
    "neutral_shape",
    "render_frame",
    "render_video",
    "retarget",
]
