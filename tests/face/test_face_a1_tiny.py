"""The bundled tiny A1 (trained on stage portraits by the a1-tiny recipe) is the default of `openreels animate`
and animates a stage clip end to end."""

import json

import numpy as np

from openreels.cli import main
from openreels.eval import score_clip
from openreels.media import read_video
from openreels.models import get_model, weights_present
from openreels.models.tiny import bundled_a1_dir
from openreels.pipelines.animate import locate_a1
from openreels.train.a1 import portrait_scene
from openreels.world import render


def _save(path, clip):
    np.savez(path, frames=clip.frames, fps=np.float32(clip.fps), landmarks=clip.landmarks)
    return path


def test_bundled_tiny_a1_is_the_trained_default():
    folder = bundled_a1_dir()
    assert folder is not None
    assert locate_a1(None) == locate_a1("openreels-a1-tiny") == (folder, False)
    assert weights_present(get_model("openreels-a1-tiny"))  # listed as present by `openreels models`
    meta = json.loads((folder / "openreels.json").read_text())
    assert meta["random"] is False and meta["family"] == "skyreels-a1" and meta["recipe"] == "a1-tiny"
    size_mb = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6
    assert size_mb < 10


def test_tiny_model_end_to_end_keeps_the_reference_backdrop(tmp_path, capsys):
    rng = np.random.default_rng([5, 0])
    scene_a, scene_b = portrait_scene(rng, split=None), portrait_scene(rng, split=None)
    scene_b.backdrop = next(c for c in ("teal", "orange", "purple") if c != scene_a.backdrop)
    scene_b.characters[0].action = "talking"
    ref = render(scene_a, 1, (64, 64), 8.0)
    drv = render(scene_b, 16, (64, 64), 8.0)  # 2 s at 8 fps
    out = tmp_path / "out.npz"
    code = main(
        [
            "animate",
            "--image",
            str(_save(tmp_path / "ref.npz", ref)),
            "--driving",
            str(_save(tmp_path / "drv.npz", drv)),
            "--output",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 16 and summary["notes"] == []  # no "untrained random A1" note
    frames, fps = read_video(out)
    assert frames.shape == (16, 64, 64, 3) and fps == 8.0
    # The output shows A's backdrop (the stage probe on A's caption), not the driving clip's.
    assert score_clip(frames[8:], ref.caption)["backdrop"] == 1.0
    assert score_clip(frames[8:], drv.caption)["backdrop"] == 0.0
    assert len({f.tobytes() for f in frames}) > 1  # it moves
