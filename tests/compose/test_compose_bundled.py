"""The shipped openreels-a2-tiny: found through the registry, loaded by the A2 loader, composing stage scenes."""

import json

import numpy as np
import pytest

from openreels.cli import main
from openreels.models.registry import read_openreels_json
from openreels.models.tiny import bundled_a2_dir


@pytest.fixture(scope="module")
def bundled_pipe():
    from openreels.pipelines.compose import load_compose_pipeline

    return load_compose_pipeline("openreels-a2-tiny")


def _studio_scene(backdrop: str):
    from openreels.world import sample_heldout_scene

    return sample_heldout_scene(3, n_characters=1, n_objects=1, environment="studio", backdrop=backdrop)


def test_bundled_a2_is_shipped_in_the_published_layout():
    from openreels.pipelines.compose import locate_a2

    folder = bundled_a2_dir()
    assert folder is not None and locate_a2("openreels-a2-tiny") == folder
    for sub in ("transformer", "vae", "image_encoder", "image_processor", "scheduler"):
        assert (folder / sub).is_dir(), sub
    meta = read_openreels_json(folder)
    assert meta["random"] is False and meta["family"] == "skyreels-a2" and meta["text_encoder"]
    assert meta["size"] == [128, 128] and meta["frames"] == 16 and meta["negative_prompt"] == ""
    megabytes = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6
    assert megabytes < 10, megabytes


def test_bundled_a2_composes_stage_references_end_to_end(bundled_pipe):
    """A held-out stage composition through the defaults; other references (same prompt and seed) change it."""
    from openreels.pipelines.a2 import stage_references
    from openreels.train.a2 import plain_prompt
    from openreels.world import render

    scene = _studio_scene("teal")
    prompt = plain_prompt(render(scene, 1, (64, 64)).caption)
    out = bundled_pipe(prompt, stage_references(scene, (128, 128)), seed=0, num_inference_steps=8)
    assert out.frames.shape == (16, 128, 128, 3) and out.frames.dtype == np.uint8 and out.fps == 8
    assert out.settings["negative_prompt"] == "" and out.frames.std() > 5
    other = bundled_pipe(
        prompt, stage_references(_studio_scene("orange"), (128, 128)), seed=0, num_inference_steps=8
    )
    assert np.abs(other.frames.astype(float) - out.frames.astype(float)).mean() > 2.0


def test_compose_cli_defaults_to_the_bundled_a2(tmp_path):
    from PIL import Image

    from openreels.media import read_video
    from openreels.pipelines.a2 import stage_references

    refs = []
    for i, ref in enumerate(stage_references(_studio_scene("teal"), (128, 128))):
        path = tmp_path / f"ref{i}.png"
        Image.fromarray(ref.image).save(path)
        refs += ["-r", f"{ref.kind}:{path}"]
    out = tmp_path / "clip.npz"
    code = main(
        ["compose", "Medium shot, eye level, static shot. A woman is waving.", *refs, "-o", str(out)]
        + ["--steps", "2", "--json"]
    )
    assert code == 0 and out.is_file()
    frames, fps = read_video(out)
    assert frames.shape == (16, 128, 128, 3) and fps == 8.0
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["model"] == "openreels-a2-tiny" and sidecar["steps"] == 2
