import numpy as np

from openreels.eval import consistency, evaluate, probe_table, score_clip
from openreels.world import render, sample_scene


def test_probes_on_rendered_clips_and_at_chance():
    table = probe_table(n=6, size=(64, 64), frames=7, seed=1)
    gt, shuffled = table["ground_truth"], table["shuffled"]
    assert set(gt["fields"]) >= {"shirt_color", "action", "camera_motion", "shot_type", "position"}
    for field, row in gt["fields"].items():
        assert row["accuracy"] >= 0.99, (field, row)
    assert shuffled["mean"] < 0.5, shuffled


def test_score_clip_catches_a_wrong_field():
    scene = sample_scene(
        9,
        expression="happy",
        shot_type="close-up",
        camera_motion="static",
        environment="studio",
        backdrop="teal",
        shirt_color="red",
    )
    clip = render(scene, 5, (64, 64))
    assert all(v == 1.0 for v in score_clip(clip.frames, clip.prompt, clip.fps).values())
    wrong = (
        clip.prompt.replace("happy", "angry")
        .replace("teal backdrop", "pink backdrop")
        .replace("red shirt", "green shirt")
    )
    scores = score_clip(clip.frames, wrong, clip.fps)
    assert scores["expression"] == 0.0 and scores["backdrop"] == 0.0 and scores["shirt_color"] == 0.0
    report = evaluate([clip, clip], [clip.prompt, wrong])
    assert report["fields"]["expression"] == {"accuracy": 0.5, "n": 2}


def test_consistency_sees_cuts_and_drift():
    pan = render(sample_scene(2, camera_motion="pan left", environment="park"), 16, (64, 64))
    assert consistency(pan.frames, window=4)["frame_similarity"] > 0.95  # camera motion is not instability
    clip = render(sample_scene(2, camera_motion="static", action="talking", environment="park"), 16, (64, 64))
    steady = consistency(clip.frames, window=4)
    assert steady["frame_similarity"] > 0.97 and steady["color_drift"] < 0.02 and steady["windows"] == 4
    other = render(sample_scene(3, environment="night sky"), 8, (64, 64))
    cut = consistency(np.concatenate([clip.frames[:8], other.frames]), window=4)
    assert cut["palette_persistence"] < steady["palette_persistence"] - 0.2
    assert cut["frame_similarity"] < steady["frame_similarity"]
    tint = clip.frames.astype(float) * np.linspace(1.0, 0.6, 16)[:, None, None, None]
    drift = consistency(tint.astype(np.uint8), window=4)
    assert drift["color_drift"] > 0.1
