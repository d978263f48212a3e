"""`openreels compose` on the tiny random A2: files, sidecar, --json/--quiet, and one-line errors."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from openreels.cli import main
from openreels.media import read_video


@pytest.fixture
def ref_files(tmp_path, ref_images):
    paths = []
    for index, image in enumerate(ref_images):
        rgba = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
        rgba[:2, :2, 3] = 0  # a transparent corner: these are PNGs with alpha
        paths.append(tmp_path / f"ref{index}.png")
        Image.fromarray(rgba, "RGBA").save(paths[-1])
    return paths


def _args(a2_dir, out, refs, *extra):
    args = ["compose", "a man holding a ball", "--model", str(a2_dir), "--output", str(out)]
    args += ["--size", "16x32", "--frames", "3", "--steps", "2", "--seed", "4", *extra]
    for ref in refs:
        args += ["--ref", str(ref)]
    return args


def test_npz_with_sidecar_and_json(a2_dir, ref_files, tmp_path, capsys):
    out = tmp_path / "clip.npz"
    assert main(_args(a2_dir, out, ref_files, "--json")) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["output"] == str(out) and summary["frames"] == 3 and summary["seed"] == 4
    assert summary["size"] == [16, 32]
    assert len(summary["notes"]) == 3
    frames, fps = read_video(out)
    assert frames.shape == (3, 16, 32, 3) and fps == 15.0
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert (
        sidecar["prompt"] == "a man holding a ball" and sidecar["seed"] == 4 and sidecar["task"] == "compose"
    )
    assert [ref["kind"] for ref in sidecar["references"]] == ["character", "object", "background"]
    assert sidecar["references"][0]["path"] == str(ref_files[0])


def test_mp4_quiet_with_kinds(a2_dir, ref_files, tmp_path, capsys):
    out = tmp_path / "clip.mp4"
    refs = [f"background:{ref_files[2]}", f"character:{ref_files[0]}"]
    assert main(_args(a2_dir, out, refs, "--quiet")) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    frames, _ = read_video(out)
    assert frames.shape == (3, 16, 32, 3)
    kinds = [ref["kind"] for ref in json.loads(out.with_suffix(".json").read_text())["references"]]
    assert kinds == ["background", "character"]


def test_settings_default_to_the_checkpoints_openreels_json(a2_dir, ref_files, tmp_path, capsys):
    folder = tmp_path / "a2-with-defaults"
    shutil.copytree(a2_dir, folder)
    (folder / "openreels.json").write_text(json.dumps({"size": [16, 32], "frames": 2, "steps": 1, "fps": 8}))
    out = tmp_path / "defaults.npz"
    args = ["compose", "a ball", "--model", str(folder), "-r", str(ref_files[1]), "-o", str(out), "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["size"] == [16, 32]
    frames, fps = read_video(out)
    assert frames.shape == (2, 16, 32, 3) and fps == 8.0
    assert json.loads(out.with_suffix(".json").read_text())["steps"] == 1


@pytest.mark.parametrize(
    ("refs", "extra", "message"),
    [
        ("four", [], "4 references given"),
        ("text", [], "not a readable image file"),
        ("one", ["--size", "big"], "must look like HEIGHTxWIDTH"),
        ("one", ["--size", "32x40"], "multiples of 16"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(a2_dir, ref_files, tmp_path, capsys, refs, extra, message):
    (tmp_path / "notes.png").write_text("not an image")
    chosen = {"four": ref_files + ref_files[:1], "text": [tmp_path / "notes.png"], "one": ref_files[:1]}[refs]
    out = tmp_path / "never.mp4"
    assert main(_args(a2_dir, out, chosen, *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not out.exists() and not list(tmp_path.glob(".never*"))


def test_bad_output_suffix_fails_before_loading(tmp_path, ref_files, capsys):
    assert main(_args(tmp_path / "no-model", tmp_path / "clip.gif", ref_files[:1])) == 2
    assert "use a .mp4 or .npz" in capsys.readouterr().err
