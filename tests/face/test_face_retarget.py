import numpy as np
import pytest

from openreels.face import (
    eye_opening,
    fit_similarity,
    from_parts,
    gaussian_smooth,
    mouth_opening,
    render_frame,
    render_video,
    retarget,
)
from openreels.face.layout import LAYOUT, MEDIAPIPE_PARTS, NUM_POINTS, from_mediapipe, resample_curve
from openreels.face.retarget import Similarity


def _sim(scale, angle, shift):
    return Similarity(scale, angle, np.asarray(shift, dtype=float))


def test_similarity_fit_recovers_known_transform(face):
    pts = face()
    m = _sim(1.3, 0.4, [5.0, -7.0])
    fit = fit_similarity(pts, m.apply(pts))
    assert fit.scale == pytest.approx(1.3) and fit.angle == pytest.approx(0.4)
    np.testing.assert_allclose(fit.shift, [5.0, -7.0], atol=1e-9)


def test_still_driving_video_returns_the_reference(face):
    ref = face(center=(40, 50), size=25, mouth_width=1.4)
    driving = np.stack([face()] * 6)
    out = retarget(ref, driving)
    np.testing.assert_allclose(out, np.stack([ref] * 6), atol=1e-9)


def test_pure_head_motion_moves_the_reference_rigidly(face):
    drv0 = face(center=(64, 64), size=40)
    motions = [_sim(1.0 + 0.05 * i, 0.1 * i, [3.0 * i, -2.0 * i]) for i in range(5)]
    driving = np.stack([m.apply(drv0) for m in motions])
    ref = _sim(0.5, 0.3, [10.0, 4.0]).apply(face(center=(64, 64), size=40, eye_width=1.2))
    out = retarget(ref, driving, smooth_motion=0, smooth_expression=0)
    for i, m in enumerate(motions):
        # The reference moves by the same relative motion (conjugated into its own frame): a similarity with
        # the driving frame's scale and angle, shape otherwise unchanged.
        fit = fit_similarity(ref, out[i])
        assert fit.scale == pytest.approx(m.scale, rel=1e-6) and fit.angle == pytest.approx(m.angle, abs=1e-6)
        np.testing.assert_allclose(fit.apply(ref), out[i], atol=1e-6)
    # When the reference is the driving face seen through a similarity A, the output is A(driving frame).
    a = _sim(0.5, 0.3, [10.0, 4.0])
    out = retarget(a.apply(drv0), driving, smooth_motion=0, smooth_expression=0)
    np.testing.assert_allclose(out, a.apply(driving), atol=1e-6)


def test_expression_transfers_scaled_to_the_reference_and_keeps_its_identity(face):
    driving = np.stack([face(size=40, mouth_open=m) for m in (0.0, 0.5, 1.0, 0.2)])
    # A reference twice as large, with a wider mouth and wider eyes than the driving face.
    ref = face(center=(100, 120), size=80, mouth_width=1.3, eye_width=1.2)
    out = retarget(ref, driving, smooth_motion=0, smooth_expression=0)
    opening = np.array(
        [np.linalg.norm(o[LAYOUT.slices["lips_inner"]][15] - o[LAYOUT.slices["lips_inner"]][5]) for o in out]
    )
    drv_open = np.array(
        [
            np.linalg.norm(d[LAYOUT.slices["lips_inner"]][15] - d[LAYOUT.slices["lips_inner"]][5])
            for d in driving
        ]
    )
    # The mouth gap grows by the driving growth times the mouth-size ratio (larger than 2x: the wider mouth).
    gain = (opening - opening[0]) / np.where(drv_open - drv_open[0] == 0, 1, drv_open - drv_open[0])
    assert np.all(gain[1:] > 2.0) and np.all(gain[1:] < 3.0)
    assert np.corrcoef(mouth_opening(out), mouth_opening(driving))[0, 1] > 0.99
    # Eyes and brows did not move: the reference's own (wider) eyes stay.
    for part in ("left_eye", "right_eye", "left_brow_lower", "right_pupil"):
        np.testing.assert_allclose(
            out[:, LAYOUT.slices[part]], np.stack([ref[LAYOUT.slices[part]]] * 4), atol=1e-6
        )


def test_eye_closure_follows_the_driving_video(face):
    driving = np.stack([face(eye_open=e) for e in (1.0, 0.6, 0.1, 0.7, 1.0)])
    out = retarget(face(size=30, eye_width=0.8), driving, smooth_motion=0, smooth_expression=0)
    assert np.corrcoef(eye_opening(out), eye_opening(driving))[0, 1] > 0.99
    assert eye_opening(out)[2] < 0.3 * eye_opening(out)[0]


def test_smoothing_reduces_jitter_and_keeps_constant_signals():
    rng = np.random.default_rng(0)
    const = np.ones((20, 3))
    np.testing.assert_allclose(gaussian_smooth(const, 2.0), const)
    noisy = rng.normal(size=(200, 2))
    assert gaussian_smooth(noisy, 2.0).std() < 0.5 * noisy.std()


def test_smoothed_retarget_damps_landmark_jitter(face):
    rng = np.random.default_rng(1)
    base = face()
    driving = np.stack([base + rng.normal(scale=0.8, size=base.shape) for _ in range(30)])
    driving[0] = base
    ref = face(size=40)
    rough = retarget(ref, driving, smooth_motion=0, smooth_expression=0)
    smooth = retarget(ref, driving)
    assert np.abs(np.diff(smooth, axis=0)).mean() < 0.5 * np.abs(np.diff(rough, axis=0)).mean()


def test_layout_matches_mediapipe_part_sizes_and_resamples_curves():
    assert NUM_POINTS == sum(len(v) for v in MEDIAPIPE_PARTS.values()) == 131
    mesh = np.random.default_rng(2).uniform(0, 100, size=(478, 3))
    shape = from_mediapipe(mesh)
    np.testing.assert_array_equal(shape[LAYOUT.slices["nose_tip"]][0], mesh[4, :2])
    np.testing.assert_array_equal(shape[LAYOUT.slices["left_pupil"]][0], mesh[473, :2])
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], dtype=float)
    np.testing.assert_allclose(resample_curve(square, 8, closed=True)[:3], [[0, 0], [1, 0], [2, 0]])
    with pytest.raises(ValueError, match="missing"):
        from_parts({"left_eye": square})


def test_renderer_draws_parts_in_their_colours_on_black(face):
    img = render_frame(face(center=(64, 64), size=40), (128, 128))
    assert img.shape == (128, 128, 3) and img.dtype == np.uint8
    colours = {tuple(c) for c in img.reshape(-1, 3)}
    assert (0, 0, 0) in colours
    for c in [
        (10, 200, 180),
        (180, 200, 10),
        (10, 180, 20),
        (120, 100, 200),
        (255, 255, 255),
        (250, 200, 10),
    ]:
        assert c in colours, c
    assert (10, 200, 10) not in colours  # no face oval unless asked
    assert (10, 200, 10) in {
        tuple(c) for c in render_frame(face(), (128, 128), draw_oval=True).reshape(-1, 3)
    }
    # Drawn pixels sit near the points: nothing in the corners, something at the nose tip.
    assert img[:10, :10].max() == 0
    nose = face(center=(64, 64), size=40)[LAYOUT.slices["nose_tip"]][0].astype(int)
    assert tuple(img[nose[1], nose[0]]) == (255, 255, 255)
    # A1's driving-frame marks: a 5x5 white nose tip and 3x3 pupils.
    assert (img == (255, 255, 255)).all(-1).sum() == 25 and (img == (250, 200, 10)).all(-1).sum() == 9


def test_render_video_shows_the_mouth_opening(face):
    video = render_video(np.stack([face(mouth_open=0.0), face(mouth_open=1.0)]), (128, 128))
    assert video.shape == (2, 128, 128, 3)
    lips = [np.argwhere((v == (10, 180, 20)).all(-1) | (v == (20, 10, 180)).all(-1)) for v in video]
    assert lips[1][:, 0].max() > lips[0][:, 0].max() + 5  # the lower lip went down


def test_neutral_faces_make_a_held_expression_carry_over(face):
    # The driving face smiles wide-open for the whole clip: relative to its first frame nothing moves...
    driving = np.stack([face(mouth_open=0.8, mouth_width=1.3)] * 4)
    ref = face(center=(50, 60), size=30)
    np.testing.assert_allclose(retarget(ref, driving), np.stack([ref] * 4), atol=1e-9)
    # ...but against its neutral face the open mouth is an expression, and it reaches the reference.
    out = retarget(ref, driving, driving_neutral=face())
    assert (mouth_opening(out) > mouth_opening(driving[:1]) * 0.9).all()
    assert mouth_opening(out)[0] > 3 * mouth_opening(ref[None])[0]
    # A reference that already smiles gets the driving expression instead of its own on top.
    smiling = face(center=(50, 60), size=30, mouth_open=1.0)
    out = retarget(smiling, np.stack([face()] * 3), driving_neutral=face(), reference_neutral=ref)
    np.testing.assert_allclose(out, np.stack([ref] * 3), atol=1e-6)
