import sys

import numpy as np
import pytest

from openreels.face import from_parts


def _ellipse(cx, cy, rx, ry, n, start=0.0, direction=1.0):
    t = start + direction * np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def make_face(center=(64.0, 64.0), size=40.0, mouth_open=0.0, eye_open=1.0, mouth_width=1.0, eye_width=1.0):
    """A known face shape built from ellipses: size is the face half-width in pixels."""
    cx, cy = center
    s = size
    eye_dx, eye_y = 0.4 * s, cy - 0.2 * s
    ew = 0.18 * s * eye_width
    parts = {
        "face_oval": _ellipse(cx, cy, s, 1.3 * s, 36, start=-np.pi / 2),
        # Image-left eye is the subject's right; loops start at the outer corner.
        "right_eye": _ellipse(
            cx - eye_dx, eye_y, ew, 0.08 * s * eye_open + 1e-3, 16, start=np.pi, direction=-1
        ),
        "left_eye": _ellipse(cx + eye_dx, eye_y, ew, 0.08 * s * eye_open + 1e-3, 16, start=0.0),
        "right_brow_lower": np.linspace([cx - 0.6 * s, cy - 0.4 * s], [cx - 0.2 * s, cy - 0.4 * s], 5),
        "left_brow_lower": np.linspace([cx + 0.6 * s, cy - 0.4 * s], [cx + 0.2 * s, cy - 0.4 * s], 5),
        "lips_outer": _ellipse(
            cx, cy + 0.5 * s, 0.3 * s * mouth_width, 0.1 * s + 0.2 * s * mouth_open, 20, np.pi, -1
        ),
        "lips_inner": _ellipse(
            cx, cy + 0.5 * s, 0.25 * s * mouth_width, 1e-3 + 0.2 * s * mouth_open, 20, np.pi, -1
        ),
        "right_pupil": np.array([[cx - eye_dx, eye_y]]),
        "left_pupil": np.array([[cx + eye_dx, eye_y]]),
        "nose_tip": np.array([[cx, cy + 0.15 * s]]),
    }
    return from_parts(parts)


@pytest.fixture
def face():
    return make_face


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The tiny models here are far below the size where a second thread pays; on a shared, busy CPU the
    thread hand-off alone costs more than the maths, so face tests run torch on one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def hide_mediapipe(monkeypatch):
    """Make `import mediapipe` fail, as on a machine without the [animate] extra."""
    for name in [n for n in sys.modules if n == "mediapipe" or n.startswith("mediapipe.")] + ["mediapipe"]:
        monkeypatch.setitem(sys.modules, name, None)
