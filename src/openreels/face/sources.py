"""Canonical face shapes for a reference image and a driving video, from MediaPipe or stage ground truth,
with the problems found along the way reported as notes (no face, several faces, frames without a face)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from openreels.errors import OpenreelsError
from openreels.face.landmarks import detect_faces, detect_video
from openreels.face.layout import from_mediapipe
from openreels.face.stage import from_stage


@dataclass
class Shapes:
    """Canonical shapes (reference: (C, 2); driving: (T, C, 2)) and human-readable notes about them."""

    shapes: np.ndarray
    notes: list[str] = field(default_factory=list)


def _ranges(indices: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7' (frame numbers as the user counts them, from 1)."""
    out, start = [], None
    for k, i in enumerate(indices):
        if start is None:
            start = i
        if k + 1 == len(indices) or indices[k + 1] != i + 1:
            out.append(f"{start + 1}" if start == i else f"{start + 1}-{i + 1}")
            start = None
    return ", ".join(out)


def reference_shape(image: np.ndarray, landmarks: np.ndarray | None = None, character: int = 0) -> Shapes:
    """The reference face: from stage landmarks (C, 70, 2) when given, else the largest MediaPipe face."""
    if landmarks is not None:
        if not 0 <= character < len(landmarks):
            raise OpenreelsError(
                f"the reference clip has {len(landmarks)} characters; choose --character 0-{len(landmarks) - 1}"
            )
        return Shapes(from_stage(landmarks[character]))
    faces = detect_faces(image)
    if not faces:
        raise OpenreelsError(
            "no face found in the reference image; use a photo with a clear, roughly frontal face"
        )
    notes = [f"{len(faces)} faces in the reference image; animating the largest"] if len(faces) > 1 else []
    return Shapes(from_mediapipe(faces[0].points), notes)


def driving_shapes(
    frames: np.ndarray,
    landmarks: np.ndarray | None = None,
    character: int = 0,
    progress: Callable[[], None] | None = None,
) -> Shapes:
    """Driving faces per frame: stage landmarks (T, C, 70, 2) when given, else MediaPipe tracking of the
    largest face, with frames that have no face filled by interpolation and named in the notes."""
    if landmarks is not None:
        if landmarks.shape[0] != len(frames) or not 0 <= character < landmarks.shape[1]:
            raise OpenreelsError(
                f"driving landmarks {landmarks.shape} do not match {len(frames)} frames / character {character}"
            )
        return Shapes(from_stage(landmarks[:, character]))
    found = detect_video(frames, progress=progress)
    notes = []
    if found.missing:
        notes.append(
            f"no face in driving frame(s) {_ranges(found.missing)} of {len(frames)}; filled by interpolation"
        )
    if found.multi:
        notes.append(f"several faces in driving frame(s) {_ranges(found.multi)}; following the largest")
    return Shapes(from_mediapipe(found.points), notes)
