import numpy as np
import pytest

from openreels.errors import OpenreelsError
from openreels.eval import estimate_motion
from openreels.world import (
    HELD_OUT,
    NUM_LANDMARKS,
    Character,
    Scene,
    SceneObject,
    Shot,
    caption_to_prompt,
    is_held_out,
    parse_prompt,
    render,
    render_reference,
    sample_heldout_scene,
    sample_scene,
    scene_from_prompt,
    scene_to_caption,
    vocab,
)
from openreels.world import face as F


def test_same_seed_same_pixels_and_other_seed_differs():
    a = render(sample_scene(11), 9, (64, 80))
    b = render(sample_scene(11), 9, (64, 80))
    c = render(sample_scene(12), 9, (64, 80))
    assert a.frames.dtype == np.uint8 and a.frames.shape == (9, 64, 80, 3)
    assert np.array_equal(a.frames, b.frames) and a.prompt == b.prompt
    assert np.array_equal(a.landmarks, b.landmarks)
    assert not np.array_equal(a.frames, c.frames)


def test_chunked_drawing_gives_the_same_pixels(monkeypatch):
    import openreels.world.renderer as renderer

    scene = sample_scene(5, n_characters=2, n_objects=1, camera_motion="pan left", action="talking")
    whole = render(scene, 7, (64, 64), masks=True)
    monkeypatch.setattr(renderer, "CHUNK_PIXELS", 3 * 64 * 64)
    parts = render(scene, 7, (64, 64), masks=True)
    assert np.array_equal(whole.frames, parts.frames) and np.allclose(whole.landmarks, parts.landmarks)
    assert whole.masks.keys() == parts.masks.keys()
    assert all(np.allclose(whole.masks[k], parts.masks[k], atol=1e-5) for k in whole.masks)


@pytest.mark.parametrize("size,frames", [((64, 64), 1), ((96, 160), 4), ((512, 64), 2)])
def test_any_size_and_frame_count(size, frames):
    scene = sample_scene(3, n_characters=2, n_objects=1)
    clip = render(scene, frames, size)
    assert clip.frames.shape == (frames, *size, 3)
    assert clip.landmarks.shape == (frames, 2, NUM_LANDMARKS, 2)
    assert clip.boxes["characters"].shape == (frames, 2, 4)
    assert clip.boxes["objects"].shape == (frames, 1, 4)
    assert clip.camera["layer/characters"].shape == (frames, 3, 3)


@pytest.mark.parametrize(
    "kwargs",
    [dict(size=(63, 64)), dict(size=(64, 513)), dict(frames=0), dict(frames=2.5), dict(fps=0)],
)
def test_bad_render_arguments_are_one_line_errors(kwargs):
    args = {"frames": 2, "size": (64, 64), "fps": 8.0, **kwargs}
    with pytest.raises(OpenreelsError) as err:
        render(sample_scene(0), args["frames"], args["size"], args["fps"])
    assert "\n" not in str(err.value)


def test_fixed_fields_override():
    for seed in range(20):
        scene = sample_scene(seed, backdrop="teal", expression="happy", camera_motion="pan left")
        assert scene.backdrop == "teal" and scene.environment in ("studio", "room")
        assert scene.characters[0].expression == "happy" and scene.shot.camera_motion == "pan left"


def test_unknown_words_in_scenes_are_rejected():
    with pytest.raises(OpenreelsError, match="expression"):
        sample_scene(0, expression="smug")
    with pytest.raises(OpenreelsError, match="unknown field"):
        sample_scene(0, hat="red")


def _field_cases():
    cases = []
    for k in vocab.KINDS:
        cases.append(("kind", k))
    for k in vocab.SKINS:
        cases.append(("skin", k))
    for k in vocab.HAIR_COLORS:
        cases.append(("hair_color", k))
    for k in vocab.HAIR_STYLES:
        cases.append(("hair_style", k))
    for k in vocab.COLOR_NAMES:
        cases += [("shirt_color", k), ("backdrop", k)]
    for k in vocab.ENVIRONMENTS:
        cases.append(("environment", k))
    for k in vocab.LIGHTINGS:
        cases.append(("lighting", k))
    for k in vocab.EXPRESSIONS:
        cases.append(("expression", k))
    for k in vocab.INTENSITIES:
        cases.append(("intensity", k))
    for k in vocab.ACTIONS:
        cases.append(("action", k))
    for k in vocab.SHOT_TYPES:
        cases.append(("shot_type", k))
    for k in vocab.SHOT_ANGLES:
        cases.append(("angle", k))
    for k in vocab.CAMERA_MOTIONS:
        cases.append(("camera_motion", k))
    for k in vocab.POSITIONS:
        cases.append(("position", k))
    return cases


def _caption_value(caption, field):
    main = caption["subjects"][0]
    if field == "kind":
        return main["sub-type"]
    if field == "angle":
        return caption["shot_angle"]
    if field in caption:
        return caption[field]
    return main[field]


def test_every_word_renders_and_round_trips():
    rendered = set()
    for i, (field, word) in enumerate(_field_cases()):
        fixed = {field: word}
        if field == "backdrop":
            fixed["environment"] = "studio"
        if field == "hair_color":
            fixed["hair_style"] = "short"
        scene = sample_scene(i, **fixed)
        clip = render(scene, 2, (64, 64))
        assert clip.frames.std() > 1.0  # something is drawn
        assert _caption_value(clip.caption, field) == word
        back = parse_prompt(caption_to_prompt(clip.caption))
        assert _caption_value(back, field) == word, (field, word, clip.prompt)
        rendered.add((field, word))
    for kind in vocab.OBJECTS:
        for color in ("red", "white", "black"):
            scene = sample_scene(0, objects=[SceneObject(kind, color, "right")], shot_type="full shot")
            clip = render(scene, 1, (64, 64), masks=True)
            assert clip.masks["object0"].sum() > 3, kind
            back = parse_prompt(clip.prompt)
            objs = [s for s in back["subjects"] if s["type"] == "object"]
            assert (objs[0]["sub-type"], objs[0]["color"], objs[0]["position"]) == (kind, color, "right")
    assert len(rendered) == len(_field_cases())


def test_captions_round_trip_on_random_scenes():
    for seed in range(150):
        caption = scene_to_caption(sample_scene(seed))
        back = parse_prompt(caption_to_prompt(caption))
        for key in ("shot_type", "shot_angle", "camera_motion", "environment", "backdrop", "lighting"):
            assert back.get(key) == caption[key], (key, caption_to_prompt(caption))
        assert len(back["subjects"]) == len(caption["subjects"])
        for want, got in zip(caption["subjects"], back["subjects"], strict=True):
            for key, value in want.items():
                if key != "appearance":
                    assert got.get(key) == value, (key, caption_to_prompt(caption))


def test_prompt_parser_free_text_and_defaults():
    cap = parse_prompt(
        "A happy woman with long red hair waving on the left, and a sad man in a blue shirt. Beach at dusk."
    )
    humans = cap["subjects"]
    assert humans[0]["sub-type"] == "woman" and humans[0]["expression"] == "happy"
    assert humans[0]["hair_style"] == "long" and humans[0]["hair_color"] == "red"
    assert humans[0]["action"] == "waving" and humans[0]["position"] == "left"
    assert humans[1]["sub-type"] == "man" and humans[1]["shirt_color"] == "blue"
    assert cap["environment"] == "beach"
    scene = scene_from_prompt(
        "A happy woman with long red hair waving on the left, and a sad man. Beach.", seed=5
    )
    assert [c.kind for c in scene.characters] == ["woman", "man"]
    assert scene.characters[0].position == "left" and scene.characters[1].position != "left"
    assert scene.objects == [] and scene.environment == "beach"


def test_landmarks_follow_the_face():
    def opening(expression, action="standing"):
        scene = Scene(
            characters=[Character(expression=expression, intensity="strong", action=action)],
            shot=Shot("close-up", "eye level", "static"),
        )
        clip = render(scene, 9, (128, 128))
        lm = clip.landmarks[:, 0]
        mouth = np.linalg.norm(lm[:, 66] - lm[:, 62], axis=-1)
        eyes = np.linalg.norm(lm[:, 37] - lm[:, 41], axis=-1)
        return clip, mouth, eyes

    clip, mouth_n, eyes_n = opening("neutral")
    _, mouth_s, eyes_s = opening("surprised")
    _, _, eyes_l = opening("laughing")
    _, mouth_t, _ = opening("neutral", "talking")
    assert mouth_s[0] > mouth_n[0] + 3 and eyes_s[0] > eyes_n[0] > eyes_l[0] + 2
    assert mouth_t.max() - mouth_t.min() > 3  # talking opens and closes the mouth
    lm = clip.landmarks[0, 0]
    x0, y0, x1, y1 = clip.boxes["characters"][0, 0]
    assert (lm[:, 0] > x0).all() and (lm[:, 0] < x1).all() and (lm[:, 1] > y0).all() and (lm[:, 1] < y1).all()
    for k in (68, 69):  # pupils are dark pixels
        x, y = np.round(lm[k]).astype(int)
        assert clip.frames[0, y, x].mean() < 80
    assert (
        lm[F.JAW][8, 1]
        > lm[F.OUTER_LIPS][9, 1]
        > lm[F.NOSE][4, 1]
        > lm[F.LEFT_EYE][1, 1]
        > lm[F.LEFT_BROW][2, 1]
    )


def test_edges_are_antialiased():
    scene = Scene(characters=[Character(shirt_color="white")], backdrop="black", shot=Shot("medium shot"))
    frame = render(scene, 1, (64, 64), masks=True).frames[0].astype(int)
    gray = frame.mean(-1)
    between = ((gray > 40) & (gray < 200)).sum()
    assert between > 20


def _motion(camera_motion, **fixed):
    scene = sample_scene(
        4,
        environment="street",
        shot_type="wide shot",
        action="standing",
        camera_motion=camera_motion,
        n_characters=1,
        n_objects=0,
        **fixed,
    )
    clip = render(scene, 9, (96, 96), masks=True)
    m = estimate_motion(clip.frames)
    return clip, {k: float(v.sum()) for k, v in m.items()}


@pytest.mark.parametrize(
    "motion,key,sign",
    [
        ("pan left", "tx", 1),
        ("pan right", "tx", -1),
        ("truck left", "tx", 1),
        ("truck right", "tx", -1),
        ("tilt up", "ty", 1),
        ("tilt down", "ty", -1),
        ("zoom in", "scale", 1),
        ("zoom out", "scale", -1),
        ("dolly in", "scale", 1),
        ("dolly out", "scale", -1),
        ("roll clockwise", "rot", -1),  # the camera turns clockwise: content turns counter-clockwise
        ("roll counterclockwise", "rot", 1),
    ],
)
def test_camera_directions_measured_from_frames(motion, key, sign):
    _, m = _motion(motion)
    threshold = {"tx": 5.0, "ty": 5.0, "scale": 0.1, "rot": 0.1}[key]
    assert sign * m[key] > threshold, m
    others = {k: abs(v) for k, v in m.items() if k in ("tx", "ty") and k != key}
    if key in ("tx", "ty"):
        assert all(v < abs(m[key]) / 3 for v in others.values()), m
    _, still = _motion("static")
    assert max(abs(still[k]) for k in ("tx", "ty", "scale", "rot")) < 1e-3


def test_parallax_for_dolly_and_truck_not_for_zoom_and_pan():
    def ratio(motion, key):
        clip, _ = _motion(motion)
        people = np.clip(sum(v[0] for k, v in clip.masks.items() if k != "env"), 0, 1)
        near = estimate_motion(clip.frames[:4], (people > 0.9).astype(float))[key].sum()
        far = estimate_motion(clip.frames[:4], (people < 0.01).astype(float))[key].sum()
        return near / far

    assert 0.8 < ratio("pan left", "tx") < 1.25
    assert ratio("truck left", "tx") > 2.0
    assert 0.8 < ratio("zoom in", "scale") < 1.25
    assert ratio("dolly in", "scale") > 2.0


def test_held_out_split():
    assert len(HELD_OUT) == 22
    for seed in range(200):
        assert not is_held_out(sample_scene(seed, split="train"))
    for seed in range(20):
        scene = sample_heldout_scene(seed)
        assert is_held_out(scene) and is_held_out(scene_to_caption(scene))
    words = {w for triple in HELD_OUT for w in triple}
    assert set(vocab.EXPRESSIONS) <= words  # every expression keeps training examples in other combinations


def test_reference_images():
    scene = sample_scene(2, n_characters=2, n_objects=1, environment="park")
    person = render_reference(scene, "character", 1, (96, 64))
    thing = render_reference(scene, "object", 0, (64, 64))
    plate = render_reference(scene, "background", size=(64, 96))
    assert person.shape == (96, 64, 3) and thing.shape == (64, 64, 3) and plate.shape == (64, 96, 3)
    for img in (person, thing):
        assert (img[0, 0] == 255).all() and (img < 200).any()
    assert plate.std() > 5
    with pytest.raises(OpenreelsError):
        render_reference(scene, "character", 5)
