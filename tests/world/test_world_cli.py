import json

import numpy as np

from openreels.cli import main
from openreels.media import read_video

PROMPT = (
    "Close-up, eye level, static shot. A woman with long red hair in a blue shirt is laughing, "
    "center of frame. Studio with a plain teal backdrop, warm light."
)


def test_render_npz_and_mp4_then_score(tmp_path, capsys):
    npz, mp4 = tmp_path / "a.npz", tmp_path / "b.mp4"
    assert (
        main(["world", "render", PROMPT, "--frames", "5", "--size", "64x96", "--seed", "3", "-o", str(npz)])
        == 0
    )
    frames, fps = read_video(npz)
    assert frames.shape == (5, 64, 96, 3) and fps == 8.0
    meta = json.loads(npz.with_suffix(".json").read_text())
    assert (
        meta["caption"]["backdrop"] == "teal" and meta["caption"]["subjects"][0]["expression"] == "laughing"
    )
    assert (
        main(
            [
                "world",
                "render",
                PROMPT,
                "--frames",
                "5",
                "--size",
                "64x96",
                "--seed",
                "3",
                "-o",
                str(mp4),
                "-q",
            ]
        )
        == 0
    )
    video, _ = read_video(mp4)
    assert video.shape == frames.shape and np.abs(video.astype(int) - frames).mean() < 6
    capsys.readouterr()
    assert main(["eval", "score", str(mp4), "--json"]) == 0  # scored through the H.264 round trip
    report = json.loads(capsys.readouterr().out)
    assert report["accuracy"]["backdrop"] == 1.0 and report["accuracy"]["expression"] == 1.0


def test_bad_input_is_one_line(tmp_path, capsys):
    out = tmp_path / "x.npz"
    for args, words in (
        (["--size", "32x32"], "64..512"),
        (["--size", "big"], "--size"),
        (["--frames", "0"], "--frames"),
    ):
        assert main(["world", "render", "a man", "-o", str(out), *args]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and words in err and "\n" not in err
    assert main(["world", "render", "a man", "-o", str(tmp_path / "x.gif")]) == 2
    assert "mp4" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing half-written
    assert (
        main(["world", "render", "a man riding a unicorn", "--frames", "1", "--size", "64", "-o", str(out)])
        == 0
    )
    err = capsys.readouterr().err
    assert "note:" in err and "unicorn" in err and out.exists()


def test_sample_writes_sheet_and_videos(tmp_path):
    assert (
        main(
            [
                "world",
                "sample",
                "-o",
                str(tmp_path),
                "--count",
                "3",
                "--videos",
                "1",
                "--frames",
                "3",
                "--size",
                "64x64",
                "-q",
            ]
        )
        == 0
    )
    from PIL import Image

    sheet = Image.open(tmp_path / "sheet.png")
    assert sheet.width >= 3 * 64 * 3 and sheet.height > 64
    assert (tmp_path / "clip00.mp4").exists() and len(
        json.loads((tmp_path / "captions.json").read_text())
    ) == 3


def test_bench_reports_clips_per_second(capsys):
    assert main(["world", "bench", "--count", "4", "--frames", "3", "--workers", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["clips"] == 4 and result["clips_per_second"] > 0
