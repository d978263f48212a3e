"""Faults that need a hand inside the process (a disk that fills up, a step that fails part way), and the
readers and help texts the fault classes named; all through `openreels.cli.main` or the library."""

from __future__ import annotations

import errno
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from openreels.cli import main
from openreels.errors import OpenreelsError, RunError
from openreels.media import read_image, read_video, write_video


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _errors(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error: ")]


# 4. Images of any mode and bit depth read as what they show.
def test_a_16_bit_grey_png_reads_as_its_greys_not_white(tmp_path):
    from PIL import Image

    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode == "I;16"
    rgb = read_image(tmp_path / "grey16.png")
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255 and 120 <= rgb.mean() <= 135
    np.testing.assert_array_equal(rgb[..., 0], np.round(ramp / 257.0).astype(np.uint8))


def test_a_floating_point_image_is_refused_with_its_name(tmp_path):
    from PIL import Image

    Image.fromarray(np.zeros((8, 8), np.float32)).save(tmp_path / "f.tiff")
    with pytest.raises(OpenreelsError, match=r"f\.tiff.*floating-point image is not supported"):
        read_image(tmp_path / "f.tiff")


# 7. An output and its sidecar land together or not at all.
@pytest.mark.parametrize("suffix", [".mp4", ".npz"])
def test_a_full_disk_on_the_sidecar_keeps_neither_file(tmp_path, monkeypatch, suffix):
    real = Path.write_text

    def sidecar_fails(self, *args, **kwargs):
        if self.suffix == ".json":
            _disk_full()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", sidecar_fails)
    frames = np.zeros((3, 16, 16, 3), np.uint8)
    with pytest.raises(RunError, match="disk full while writing"):
        write_video(tmp_path / f"a{suffix}", frames, 8, metadata={"prompt": "a"})
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_on_an_npz_is_one_clean_error(tmp_path, monkeypatch):
    """No "Exception ignored in ZipFile.__del__" after the error: the archive is built in memory."""
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    monkeypatch.setattr(Path, "write_bytes", _disk_full)
    with pytest.raises(RunError, match="disk full"):
        write_video(tmp_path / "a.npz", np.zeros((3, 16, 16, 3), np.uint8), 8, metadata={"prompt": "a"})
    import gc

    gc.collect()
    assert unraisable == [] and list(tmp_path.iterdir()) == []


def test_a_failed_rename_takes_back_the_files_before_it(tmp_path, monkeypatch):
    import os

    import openreels.media.video as video

    real = os.replace

    def second_fails(src, dst):
        if str(dst).endswith(".json"):
            raise OSError(errno.EIO, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(video.os, "replace", second_fails)
    with pytest.raises(RunError, match=r"cannot write .*a\.json"):
        write_video(tmp_path / "a.mp4", np.zeros((3, 16, 16, 3), np.uint8), 8, metadata={"prompt": "a"})
    assert list(tmp_path.iterdir()) == []


def test_the_sidecar_of_a_generated_video_is_strict_json(tmp_path):
    with pytest.raises(ValueError):  # NaN cannot reach a sidecar even through the library
        write_video(tmp_path / "a.mp4", np.zeros((3, 16, 16, 3), np.uint8), 8, metadata={"g": float("nan")})
    assert list(tmp_path.iterdir()) == []


# 10. Readers name what is wrong with the file.
def test_a_zero_frame_video_is_named(tmp_path):
    np.savez(tmp_path / "none.npz", frames=np.zeros((0, 8, 8, 3), np.uint8), fps=np.float32(8))
    with pytest.raises(OpenreelsError, match="holds no frames"):
        read_video(tmp_path / "none.npz")


# 6. A project folder appears whole or not at all.
def test_drama_new_that_fails_part_way_leaves_nothing(tmp_path, monkeypatch, capsys):
    from openreels.studio import project

    source = tmp_path / "play.fountain"
    source.write_text("INT. ROOM - DAY\n\nMAYA\nHello.\n\nLEO\nHi.\n")
    monkeypatch.setattr(project.Project, "cast", _disk_full)
    assert main(["drama", "new", str(tmp_path / "ep"), "--from", str(source)]) == 1
    assert len(_errors(capsys.readouterr().err)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["play.fountain"]  # no half project, no temp
    monkeypatch.undo()
    assert main(["drama", "new", str(tmp_path / "ep"), "--from", str(source), "--quiet"]) == 0
    assert main(["drama", "status", str(tmp_path / "ep"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)


# 12. Every help has its examples, one per line, and none runs into the summary or the command list.
@pytest.mark.parametrize("args", [[], ["world"], ["eval"], ["drama"]])
def test_group_helps_have_examples_and_clean_command_lists(args, capsys):
    assert main([*args, "--help"]) == 0
    out = capsys.readouterr().out
    examples = out.split("Examples:\n", 1)[1].split("\n\n")[0].splitlines()
    assert examples and all(line.strip().startswith("openreels ") for line in examples), examples
    commands = out.split("Commands:\n", 1)[1]
    assert "Examples" not in commands
    assert not [line for line in commands.splitlines() if line.strip().startswith("openreels ")]


@pytest.mark.parametrize(
    "args", [["generate"], ["animate"], ["train"], ["calibrate"], ["bench"], ["drama", "new"]]
)
def test_command_helps_keep_examples_line_by_line(args, capsys):
    assert main([*args, "--help"]) == 0
    out = capsys.readouterr().out
    summary = out.split("\n\n")[1]
    assert "Examples" not in summary and "openreels " not in summary
    block = re.search(r"\n  Examples:\n((?:    .*\n)+)", out)
    assert block, out
    starts = ("openreels ", "torchrun ", "OPENREELS_", "# ")  # a comment line under an example too
    assert all(line.strip().startswith(starts) for line in block[1].splitlines()), block[1]
