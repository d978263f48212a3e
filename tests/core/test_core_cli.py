"""`openreels generate` end to end: outputs, sidecar reproduction, and every bad input of the issue."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from openreels.cli import main
from openreels.errors import OpenreelsError
from openreels.media import read_video, write_video
from openreels.pipelines import GenerateRequest, generate

FAST = ["--size", "32x32", "--frames", "9", "--steps", "2"]


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main(["generate", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_default_model_demo_path_writes_mp4_and_sidecar(tmp_path, capsys):
    target = tmp_path / "demo.mp4"
    code, out, err = cli(capsys, "A man waving", *FAST, "--output", target)
    assert code == 0, err
    assert "untrained random model" not in err and "wrote" in out  # the bundled trained model is the default
    frames, fps = read_video(target)
    assert frames.shape == (9, 32, 32, 3) and fps == 8
    meta = json.loads(target.with_suffix(".json").read_text())
    assert meta["model"] == "openreels-tiny" and meta["prompt"] == "A man waving" and meta["seed"] == 0
    assert meta["random_model"] is False and meta["steps"] == 2 and meta["openreels_version"]


def test_npz_output_json_and_sidecar_reproduce(tmp_path, capsys, tiny_dirs, face):
    from PIL import Image

    image = tmp_path / "face.png"
    Image.fromarray(face).save(image)
    first = tmp_path / "a.npz"
    code, out, err = cli(
        capsys,
        "She smiles",
        "--model",
        tiny_dirs["v2-i2v"],
        "--image",
        image,
        "--seed",
        4,
        "-o",
        first,
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["path"] == str(first) and result["seed"] == 4 and result["frames"] == 9
    with np.load(first) as data:
        frames = data["frames"]
        assert frames.dtype == np.uint8 and frames.shape == (9, 32, 32, 3) and float(data["fps"]) == 8
    again = tmp_path / "b.npz"
    code, _, err = cli(capsys, "--from-sidecar", first.with_suffix(".json"), "-o", again, "--quiet")
    assert code == 0 and err == ""
    np.testing.assert_array_equal(np.load(again)["frames"], frames)
    # Two videos: the first is the --seed run itself, the second derives seed+1.
    code, out, _ = cli(
        capsys,
        "She smiles",
        "--model",
        tiny_dirs["v2-i2v"],
        "--image",
        image,
        "--seed",
        4,
        "--num-videos",
        2,
        "-o",
        tmp_path / "n.npz",
        "--json",
    )
    assert code == 0 and [r["seed"] for r in json.loads(out)] == [4, 5]
    np.testing.assert_array_equal(np.load(tmp_path / "n-1.npz")["frames"], frames)


def test_snapping_notes(tmp_path, capsys, tiny_dirs):
    target = tmp_path / "s.npz"
    code, _, err = cli(
        capsys, "A ball", "--model", tiny_dirs["v2-t2v"], "--size", "30x30", "--frames", 8, "-o", target
    )
    assert code == 0, err
    assert "using 32x32" in err and "using 9" in err
    assert np.load(target)["frames"].shape == (9, 32, 32, 3)
    seconds = tmp_path / "sec.npz"
    assert cli(capsys, "A ball", "--model", tiny_dirs["v2-t2v"], "--seconds", 1, "-o", seconds)[0] == 0
    assert np.load(seconds)["frames"].shape[0] == 9  # 1 s at 8 fps -> 9 frames


def _corrupt(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(b"\x00not a media file" * 10)
    return path


@pytest.mark.parametrize(
    "case",
    [
        "corrupt_image",
        "missing_image",
        "corrupt_video",
        "empty_prompt",
        "unwritable_output",
        "bad_suffix",
        "missing_weights",
        "bad_aspect",
        "bad_size_text",
        "non_df_too_long",
        "end_without_start",
        "t2v_model_with_image",
        "video_on_non_df",
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(case, tmp_path, capsys, tiny_dirs):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "x.mp4"
    t2v, df = tiny_dirs["v2-t2v"], tiny_dirs["v2-df"]
    args = {
        "corrupt_image": ["a", "--model", df, "--image", _corrupt(tmp_path, "bad.png")],
        "missing_image": ["a", "--model", df, "--image", tmp_path / "none.png"],
        "corrupt_video": ["a", "--model", df, "--video", _corrupt(tmp_path, "bad.mp4")],
        "empty_prompt": ["  ", "--model", df],
        "unwritable_output": ["a", "--model", df],
        "bad_suffix": ["a", "--model", df],
        "missing_weights": ["a", "--model", "skyreels-v2-df-1.3b-540p"],
        "bad_aspect": ["a", "--model", df, "--size", "24x40"],
        "bad_size_text": ["a", "--model", df, "--size", "big"],
        "non_df_too_long": ["a", "--model", t2v, "--frames", 33],
        "end_without_start": ["a", "--model", df, "--end-image", _png(tmp_path)],
        "t2v_model_with_image": ["a", "--model", t2v, "--image", _png(tmp_path)],
        "video_on_non_df": ["a", "--model", t2v, "--video", _mp4(tmp_path)],
    }[case]
    if case == "unwritable_output":
        blocker = out_dir / "file"
        blocker.write_text("x")
        target = blocker / "x.mp4"  # a folder that cannot exist: its parent is a file
    if case == "bad_suffix":
        target = out_dir / "x.avi"
    code, out, err = cli(capsys, *args, "--output", target)
    assert code == 2, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert sorted(p.name for p in out_dir.iterdir()) == (["file"] if case == "unwritable_output" else [])
    if case == "missing_weights":
        assert "huggingface-cli download Skywork/SkyReels-V2-DF-1.3B-540P-Diffusers" in err and "GB" in err


def _png(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "ok.png"
    Image.new("RGB", (40, 40), (200, 30, 30)).save(path)
    return path


def _mp4(tmp_path: Path) -> Path:
    path = tmp_path / "ok.mp4"
    write_video(path, np.full((5, 32, 32, 3), 90, np.uint8), 8)
    return path


def _oom(pipe):
    raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")


def test_cuda_out_of_memory_is_caught(tmp_path, capsys, tiny_dirs, monkeypatch):
    with pytest.raises(OpenreelsError, match="ran out of memory.*--offload") as err:
        generate(GenerateRequest(prompt="a", model=str(tiny_dirs["v2-df"])), pipeline_hook=_oom)
    assert "\n" not in str(err.value)
    # Through the CLI: one error line, exit 1 (it failed inside the run), no output file.
    import openreels.pipelines.tasks as gen  # noqa: I001

    def load_then_oom(*args, **kwargs):
        _oom(None)

    monkeypatch.setattr(gen, "load_pipeline", load_then_oom)
    gen.clear_pipeline_cache()
    code, _, err = cli(capsys, "a", "--model", tiny_dirs["v2-df"], "--output", tmp_path / "o.mp4")
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 1 and len(errors) == 1 and "--offload" in errors[0] and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_help_has_examples(capsys):
    for command in ("generate", "models"):
        assert main([command, "--help"]) == 0
        assert "Examples" in capsys.readouterr().out


def test_random_standin_when_no_bundled_model(tmp_path, capsys, monkeypatch):
    import openreels.models.tiny as tiny

    monkeypatch.setattr(tiny, "bundled_tiny_dir", lambda: None)
    target = tmp_path / "standin.npz"
    code, out, err = cli(capsys, "A man waving", *FAST, "--output", target)
    assert code == 0, err
    assert "untrained random model" in err
    meta = json.loads(target.with_suffix(".json").read_text())
    assert meta["random_model"] is True and meta["model"] == "openreels-tiny"
    assert Path(meta["model_dir"]).parent == tiny.openreels_cache_dir()
