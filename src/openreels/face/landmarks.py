"""478-point face landmarks from images and videos with MediaPipe's face mesh (the optional `[animate]` extra).

MediaPipe 0.10.21 is the last release that ships the face-mesh model inside the wheel; it is imported lazily so
the rest of openreels works without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from openreels.errors import OpenreelsError

INSTALL_HINT = "install the animate extra: pip install 'openreels[animate]' (mediapipe==0.10.21)"


def mediapipe_available() -> bool:
    """True when MediaPipe's face mesh can be imported here."""
    try:
        _face_mesh_module()
    except OpenreelsError:
        return False
    return True


def _face_mesh_module():
    try:
        from mediapipe.python.solutions import face_mesh
    except Exception as exc:  # ImportError, or a numpy-2 ABI failure inside mediapipe
        raise OpenreelsError(
            f"face landmarks need MediaPipe ({type(exc).__name__}); {INSTALL_HINT}"
        ) from None
    return face_mesh


@dataclass
class FaceDetection:
    """One face: (478, 3) pixel landmarks (x, y, z with z in x's pixel scale) and its box area."""

    points: np.ndarray

    @property
    def area(self) -> float:
        lo, hi = self.points[:, :2].min(0), self.points[:, :2].max(0)
        return float(np.prod(hi - lo))


@dataclass
class VideoLandmarks:
    """Per-frame landmarks of the largest face: (T, 478, 3), with frames that had no face filled in."""

    points: np.ndarray
    missing: list[int] = field(default_factory=list)  # frames without a face (filled by interpolation)
    multi: list[int] = field(default_factory=list)  # frames with several faces (the largest was kept)


def _to_pixels(landmarks, width: int, height: int) -> np.ndarray:
    arr = np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float64)
    return arr * np.array([width, height, width])


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    return np.ascontiguousarray(image)


def detect_faces(image: np.ndarray, max_faces: int = 4) -> list[FaceDetection]:
    """All faces in one RGB image, largest first (empty list when none is found)."""
    image = _check_image(image)
    face_mesh = _face_mesh_module()
    with face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=max_faces, refine_landmarks=True, min_detection_confidence=0.5
    ) as mesh:
        result = mesh.process(image)
    faces = [
        FaceDetection(_to_pixels(lm, image.shape[1], image.shape[0]))
        for lm in (result.multi_face_landmarks or [])
    ]
    return sorted(faces, key=lambda f: f.area, reverse=True)


def detect_video(frames: np.ndarray, max_faces: int = 4, progress=None) -> VideoLandmarks:
    """Landmarks of the largest face in every frame of a (T, H, W, 3) uint8 video.

    Uses MediaPipe's tracking mode (detection once, then tracking) for temporally steady points. Frames with
    no face are filled by linear interpolation from their neighbours; raises OpenreelsError when no frame has
    a face. `progress`, if given, is called once per frame.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or len(frames) == 0:
        raise ValueError(f"expected (T, H, W, 3) frames, got {frames.shape}")
    face_mesh = _face_mesh_module()
    height, width = frames.shape[1:3]
    found: list[np.ndarray | None] = []
    multi: list[int] = []
    with face_mesh.FaceMesh(
        static_image_mode=False,
        max_num_faces=max_faces,
        refine_landmarks=True,
        min_detection_confidence=0.5,
        min_tracking_confidence=0.5,
    ) as mesh:
        for t, frame in enumerate(frames):
            result = mesh.process(_check_image(frame))
            faces = [
                FaceDetection(_to_pixels(lm, width, height)) for lm in (result.multi_face_landmarks or [])
            ]
            if len(faces) > 1:
                multi.append(t)
            found.append(max(faces, key=lambda f: f.area).points if faces else None)
            if progress is not None:
                progress()
    missing = [t for t, p in enumerate(found) if p is None]
    if len(missing) == len(found):
        raise OpenreelsError("no face found in any frame of the driving video; use a video that shows a face")
    return VideoLandmarks(fill_missing(found), missing, multi)


def fill_missing(frames: list[np.ndarray | None]) -> np.ndarray:
    """Stack per-frame point arrays, filling None entries by linear interpolation in time (held at the ends)."""
    known = [t for t, p in enumerate(frames) if p is not None]
    if not known:
        raise ValueError("no frame has points")
    stack = np.stack([frames[t] for t in known])
    flat = stack.reshape(len(known), -1)
    times = np.arange(len(frames))
    filled = np.stack([np.interp(times, known, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    return filled.reshape(len(frames), *stack.shape[1:])
