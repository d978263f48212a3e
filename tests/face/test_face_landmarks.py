import numpy as np
import pytest
from PIL import Image

from openreels.errors import OpenreelsError
from openreels.face import (
    detect_faces,
    detect_video,
    eye_opening,
    fill_missing,
    from_mediapipe,
    mediapipe_available,
    mouth_opening,
)
from openreels.face.layout import CLOSED_PARTS, LAYOUT, MEDIAPIPE_PARTS

HAVE_MEDIAPIPE = mediapipe_available()
needs_mediapipe = pytest.mark.skipif(
    not HAVE_MEDIAPIPE, reason="the [animate] extra (mediapipe) is not installed"
)


def test_fill_missing_interpolates_gaps_and_holds_the_ends():
    a, b = np.zeros((3, 2)), np.full((3, 2), 4.0)
    out = fill_missing([None, a, None, None, b, None])
    np.testing.assert_allclose(out[:, 0, 0], [0, 0, 4 / 3, 8 / 3, 4, 4])
    with pytest.raises(ValueError):
        fill_missing([None, None])


def test_without_mediapipe_detection_names_the_extra_to_install(hide_mediapipe):
    with pytest.raises(OpenreelsError, match=r"openreels\[animate\]"):
        detect_faces(np.zeros((64, 64, 3), np.uint8))


@pytest.fixture(scope="module")
def astronaut():
    from skimage.data import astronaut

    return astronaut()


@needs_mediapipe
def test_layout_strokes_are_mediapipe_mesh_edges():
    from mediapipe.python.solutions import face_mesh_connections as fmc

    sets = {
        "face_oval": fmc.FACEMESH_FACE_OVAL,
        "left_eye": fmc.FACEMESH_LEFT_EYE,
        "right_eye": fmc.FACEMESH_RIGHT_EYE,
        "left_brow": fmc.FACEMESH_LEFT_EYEBROW,
        "right_brow": fmc.FACEMESH_RIGHT_EYEBROW,
        "lips": fmc.FACEMESH_LIPS,
    }
    for name, idx in MEDIAPIPE_PARTS.items():
        if len(idx) == 1:
            continue
        loop = list(idx) + ([idx[0]] if name in CLOSED_PARTS else [])
        edges = {frozenset(e) for e in zip(loop[:-1], loop[1:], strict=True)}
        key = next(k for k in sets if name.startswith(k))
        assert edges <= {frozenset(e) for e in sets[key]}, name


@needs_mediapipe
def test_astronaut_has_one_face_with_478_plausible_points(astronaut):
    faces = detect_faces(astronaut)
    assert len(faces) == 1
    pts = faces[0].points
    assert pts.shape == (478, 3)
    assert (
        (pts[:, 0] > 0).all()
        and (pts[:, 0] < 512).all()
        and (pts[:, 1] > 0).all()
        and (pts[:, 1] < 512).all()
    )
    shape = from_mediapipe(pts)
    eyes_y = shape[LAYOUT.slices["left_eye"], 1].mean()
    mouth_y = shape[LAYOUT.slices["lips_outer"], 1].mean()
    nose_y = shape[LAYOUT.slices["nose_tip"], 1].mean()
    assert eyes_y < nose_y < mouth_y
    # Subject's right eye is on the image's left, and each pupil sits inside its eye.
    for side, other in (("right", "left"), ("left", "right")):
        pupil = shape[LAYOUT.slices[f"{side}_pupil"]][0]
        eye, far = shape[LAYOUT.slices[f"{side}_eye"]], shape[LAYOUT.slices[f"{other}_eye"]]
        assert np.linalg.norm(pupil - eye.mean(0)) < np.linalg.norm(pupil - far.mean(0))
    assert shape[LAYOUT.slices["right_eye"], 0].mean() < shape[LAYOUT.slices["left_eye"], 0].mean()
    assert 0.15 < eye_opening(shape) < 0.6 and mouth_opening(shape) < 0.3  # eyes open, mouth near closed


@needs_mediapipe
def test_several_faces_come_largest_first(astronaut):
    head = Image.fromarray(astronaut[20:260, 120:330])
    canvas = np.full((320, 512, 3), 255, np.uint8)
    canvas[:240, :210] = np.asarray(head)
    small = np.asarray(head.resize((147, 168)))
    canvas[:168, 512 - 147 :] = small
    faces = detect_faces(canvas)
    assert len(faces) == 2
    assert faces[0].area > faces[1].area
    assert faces[0].points[:, 0].mean() < 256  # the large face is the left one


@needs_mediapipe
def test_video_frames_without_a_face_are_reported_and_filled(astronaut):
    video = np.stack([astronaut] * 4)
    video[2] = 0
    result = detect_video(video)
    assert result.missing == [2] and result.multi == []
    np.testing.assert_allclose(result.points[2], (result.points[1] + result.points[3]) / 2)
    with pytest.raises(OpenreelsError, match="no face"):
        detect_video(np.zeros((2, 64, 64, 3), np.uint8))
