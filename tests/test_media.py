import json

import numpy as np
import pytest

from openreels.errors import OpenreelsError
from openreels.media import read_image, read_video, write_video


def _clip(t=9, h=32, w=48):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (1, h, w, 3), dtype=np.uint8)
    return np.repeat(base, t, axis=0)


def test_npz_roundtrip_is_lossless_and_writes_sidecar(tmp_path):
    frames = _clip()
    out = write_video(tmp_path / "a.npz", frames, fps=8, metadata={"prompt": "x", "seed": 3})
    got, fps = read_video(out)
    assert np.array_equal(got, frames) and fps == 8
    assert json.loads((tmp_path / "a.json").read_text())["seed"] == 3


def test_mp4_roundtrip_keeps_size_count_and_metadata(tmp_path):
    import av

    frames = np.full((5, 33, 47, 3), 120, np.uint8)  # odd sizes are padded to even
    out = write_video(
        tmp_path / "b.mp4", frames, fps=12, metadata={"seed": 7}, audio=(np.zeros(22050), 22050)
    )
    got, fps = read_video(out)
    assert got.shape == (5, 34, 48, 3) and abs(fps - 12) < 1e-6
    assert abs(int(got.mean()) - 120) <= 2
    with av.open(str(out)) as c:
        assert json.loads(c.metadata["comment"])["seed"] == 7
        assert len(c.streams.audio) == 1


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(ValueError):
        write_video(tmp_path / "c.mp4", np.zeros((2, 8, 8, 3), np.float32), fps=8)
    with pytest.raises(OpenreelsError, match="unsupported output"):
        write_video(tmp_path / "c.avi", _clip(), fps=8)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OpenreelsError, match="cannot write"):
        write_video(blocker / "sub" / "d.npz", _clip(), fps=8)


def test_corrupt_inputs_are_one_line(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(OpenreelsError, match="not a readable video"):
        read_video(bad)
    img = tmp_path / "bad.png"
    img.write_bytes(b"\x89PNG broken")
    with pytest.raises(OpenreelsError, match="not a readable image"):
        read_image(img)
    with pytest.raises(OpenreelsError, match="not found"):
        read_image(tmp_path / "missing.png")


def test_transparent_png_is_composited_on_white(tmp_path):
    from PIL import Image

    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[:2, :, :] = (255, 0, 0, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    img = read_image(tmp_path / "a.png")
    assert tuple(img[0, 0]) == (255, 0, 0) and tuple(img[3, 3]) == (255, 255, 255)


def test_written_files_get_default_permissions(tmp_path):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        out = write_video(tmp_path / "p.npz", _clip(), fps=8)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644


def test_huge_image_is_one_line(tmp_path, monkeypatch):
    from PIL import Image

    Image.new("RGB", (64, 64)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 64*64 > 2x the cap: Pillow refuses it as a bomb
    with pytest.raises(OpenreelsError, match="too large"):
        read_image(tmp_path / "big.png")
