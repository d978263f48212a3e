import numpy as np
import pytest

from openreels.face import eye_opening, from_stage, mouth_opening, render_frame, retarget
from openreels.face.layout import LAYOUT


def _ibug_face(cx=64.0, cy=64.0, s=30.0, mouth_open=0.0, eye_open=1.0):
    """A 70-point stage face (iBUG-68 + pupils, image-left first) built from known positions."""
    p = np.zeros((70, 2))
    th = np.pi - np.arange(17) * np.pi / 16
    p[0:17] = np.stack([cx + s * np.cos(th), cy + 1.2 * s * np.sin(th)], 1)
    p[17:22] = np.linspace([cx - 0.64 * s, cy - 0.34 * s], [cx - 0.14 * s, cy - 0.4 * s], 5)
    p[22:27] = np.linspace([cx + 0.14 * s, cy - 0.4 * s], [cx + 0.64 * s, cy - 0.34 * s], 5)
    p[27:31] = np.linspace([cx, cy - 0.3 * s], [cx, cy + 0.1 * s], 4)
    p[31:36] = np.linspace([cx - 0.1 * s, cy + 0.15 * s], [cx + 0.1 * s, cy + 0.15 * s], 5)
    h = 0.08 * s * eye_open
    for base, ex, order in ((36, -0.38, (-1, 1)), (42, 0.38, (1, -1))):
        x0, w = cx + ex * s, 0.2 * s
        outer, inner = x0 + order[0] * w, x0 - order[0] * w
        ey = cy - 0.1 * s
        if base == 36:  # outer, up-outer, up-inner, inner, low-inner, low-outer
            xs = [outer, x0 - w / 3, x0 + w / 3, inner, x0 + w / 3, x0 - w / 3]
        else:  # inner, up-inner, up-outer, outer, low-outer, low-inner
            xs = [inner, x0 - w / 3, x0 + w / 3, outer, x0 + w / 3, x0 - w / 3]
        ys = [ey, ey - h, ey - h, ey, ey + h, ey + h]
        p[base : base + 6] = np.stack([xs, ys], 1)
    my, mw, o = cy + 0.6 * s, 0.3 * s, 0.3 * s * mouth_open
    ang = np.array([6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5]) * np.pi / 6  # left corner, upper lip, right, lower
    up = np.array([1] * 7 + [0] * 5, bool)
    p[48:60] = np.stack(
        [cx + (mw + 3) * np.cos(ang), my + np.where(up, -(0.05 * s + o / 2), 0.06 * s + o / 2) * np.sin(ang)],
        1,
    )
    ang_i = np.array([4, 3, 2, 1, 0, 1, 2, 3]) * np.pi / 4
    up_i = np.array([1] * 5 + [0] * 3, bool)
    p[60:68] = np.stack(
        [cx + mw * np.cos(ang_i), my + np.where(up_i, -o / 2 - 0.01, o / 2 + 0.01) * np.sin(ang_i)], 1
    )
    p[68] = [cx - 0.38 * s, cy - 0.1 * s]
    p[69] = [cx + 0.38 * s, cy - 0.1 * s]
    return p


def test_stage_points_land_on_the_matching_canonical_points():
    pts = _ibug_face()
    shape = from_stage(pts)
    sl = LAYOUT.slices
    np.testing.assert_allclose(shape[sl["right_eye"]][0], pts[36])  # outer corner (image left)
    np.testing.assert_allclose(shape[sl["right_eye"]][8], pts[39])  # inner corner
    np.testing.assert_allclose(shape[sl["left_eye"]][0], pts[45])
    np.testing.assert_allclose(shape[sl["left_eye"]][8], pts[42])
    np.testing.assert_allclose(shape[sl["lips_outer"]][0], pts[48])
    np.testing.assert_allclose(shape[sl["lips_outer"]][10], pts[54])
    np.testing.assert_allclose(shape[sl["lips_inner"]][5], pts[66])  # lower centre
    np.testing.assert_allclose(shape[sl["lips_inner"]][15], pts[62])  # upper centre
    np.testing.assert_allclose(shape[sl["right_pupil"]][0], pts[68])
    np.testing.assert_allclose(shape[sl["nose_tip"]][0], pts[30])
    np.testing.assert_allclose(shape[sl["right_brow_lower"]][0], pts[17])  # outer end first
    np.testing.assert_allclose(shape[sl["left_brow_lower"]][0], pts[26])
    oval = shape[sl["face_oval"]]
    np.testing.assert_allclose(oval[18], pts[8])  # chin
    assert oval[0, 1] < pts[0, 1] and abs(oval[0, 0] - 64) < 1e-6  # forehead top above the jaw, centred
    with pytest.raises(ValueError):
        from_stage(np.zeros((68, 2)))


def test_stage_mouth_and_eye_curves_match_the_stage_definitions():
    frames = [_ibug_face(mouth_open=m, eye_open=e) for m, e in ((0, 1), (0.5, 0.6), (1, 0.2), (0.3, 1))]
    pts = np.stack(frames)
    shapes = from_stage(pts)
    stage_mouth = np.linalg.norm(pts[:, 66] - pts[:, 62], axis=1)
    stage_eye = np.linalg.norm(pts[:, 37] - pts[:, 41], axis=1)
    assert np.corrcoef(mouth_opening(shapes), stage_mouth)[0, 1] > 0.99
    assert np.corrcoef(eye_opening(shapes), stage_eye)[0, 1] > 0.99


def test_stage_driving_retargets_and_renders_like_a_mesh(face):
    # A stage clip drives a mesh-style reference (different source, size and place): the mouth follows.
    driving = from_stage(np.stack([_ibug_face(mouth_open=m) for m in (0, 0.4, 0.8, 0.2)]))
    ref = face(center=(90, 80), size=45)
    out = retarget(ref, driving, smooth_motion=0, smooth_expression=0)
    assert np.corrcoef(mouth_opening(out), mouth_opening(driving))[0, 1] > 0.99
    img = render_frame(from_stage(_ibug_face()), (128, 128))
    assert {(10, 200, 180), (180, 200, 10), (10, 180, 20), (250, 200, 10)} <= {
        tuple(c) for c in img.reshape(-1, 3)
    }


def test_rendered_stage_clip_maps_onto_the_layout_and_follows_its_mouth():
    from openreels.face import from_clip, neutral_shape
    from openreels.world import render, sample_scene

    scene = sample_scene(
        3, action="talking", expression="happy", shot_type="close-up", camera_motion="static"
    )
    clip = render(scene, frames=12, size=(96, 96), fps=12, caption=False)
    shapes = from_clip(clip, 0)
    marks = clip.landmarks[:, 0]
    assert shapes.shape == (12, LAYOUT.size, 2)
    gap = np.linalg.norm(marks[:, 66] - marks[:, 62], axis=1)
    assert gap.std() > 0 and np.corrcoef(mouth_opening(shapes), gap)[0, 1] > 0.99
    # The neutral face is the same character (same place and size) with a calmer mouth and no talking.
    calm = neutral_shape(scene, 0, (96, 96))
    np.testing.assert_allclose(
        calm[LAYOUT.slices["nose_tip"]], shapes[0, LAYOUT.slices["nose_tip"]], atol=2.0
    )
    assert mouth_opening(calm[None])[0] < mouth_opening(shapes).max()
    with pytest.raises(ValueError):
        from_clip(clip, 1)
