import json

import numpy as np
import pytest
from PIL import Image

from openreels.cli import main
from openreels.errors import OpenreelsError
from openreels.face import mediapipe_available
from openreels.media import read_video, write_video
from openreels.pipelines.a1 import A1Size, create_random_a1

HAVE_MEDIAPIPE = mediapipe_available()
needs_mediapipe = pytest.mark.skipif(
    not HAVE_MEDIAPIPE, reason="the [animate] extra (mediapipe) is not installed"
)


def _stage_points(t: int, n: int, mouth: float = 0.0, size: int = 64) -> np.ndarray:
    """(n, 70, 2) iBUG-68 + pupils stage landmarks of one character whose mouth opens and closes."""
    c, s = size / 2, size * 0.3
    base = np.zeros((70, 2))
    th = np.pi - np.arange(17) * np.pi / 16
    base[0:17] = np.stack([c + s * np.cos(th), c + 1.2 * s * np.sin(th)], 1)
    base[17:22] = np.linspace([c - 0.6 * s, c - 0.35 * s], [c - 0.15 * s, c - 0.4 * s], 5)
    base[22:27] = np.linspace([c + 0.15 * s, c - 0.4 * s], [c + 0.6 * s, c - 0.35 * s], 5)
    base[27:36] = np.linspace([c, c - 0.3 * s], [c, c + 0.15 * s], 9)
    ang = np.array([np.pi, 2.1, 1.05, 0.0, 1.05, 2.1])
    for b, ex in ((36, -0.38), (42, 0.38)):
        pts = np.stack([c + ex * s + 0.2 * s * np.cos(ang), c - 0.1 * s + 0.08 * s * np.sin(ang)], 1)
        pts[1:3, 1] = 2 * (c - 0.1 * s) - pts[1:3, 1]  # upper lid above the centre line
        base[b : b + 6] = pts if b == 36 else pts[[3, 2, 1, 0, 5, 4]]
    lips = np.linspace(0, 2 * np.pi, 12, endpoint=False) + np.pi
    inner = np.linspace(0, 2 * np.pi, 8, endpoint=False) + np.pi
    out = np.repeat(base[None], n, 0)
    for i in range(n):
        o = mouth * abs(np.sin(i / 3 + t))
        out[i, 48:60] = np.stack(
            [c + 0.3 * s * np.cos(lips), c + 0.6 * s + (0.08 + o) * s * np.sin(-lips)], 1
        )
        out[i, 60:68] = np.stack(
            [c + 0.25 * s * np.cos(inner), c + 0.6 * s + (0.01 + o) * s * np.sin(-inner)], 1
        )
    out[:, 68] = [c - 0.38 * s, c - 0.1 * s]
    out[:, 69] = [c + 0.38 * s, c - 0.1 * s]
    return out


def _stage_clip(path, frames: int, fps: float = 12.0, mouth: float = 0.5, seed: int = 0):
    rng = np.random.default_rng(seed)
    video = np.broadcast_to(rng.integers(0, 255, (1, 64, 64, 3), dtype=np.uint8), (frames, 64, 64, 3)).copy()
    marks = _stage_points(seed, frames, mouth)[:, None]  # one character
    np.savez(path, frames=video, fps=np.float32(fps), landmarks=marks)
    return path


def _world_clip(path, frames: int, fps: float = 12.0):
    """A real stage clip (a character talking) saved with its ground-truth landmarks."""
    from openreels.world import render, sample_scene

    scene = sample_scene(7, action="talking", shot_type="close-up", camera_motion="static")
    clip = render(scene, frames=frames, size=(64, 64), fps=fps, caption=False)
    np.savez(path, frames=clip.frames, fps=np.float32(fps), landmarks=clip.landmarks)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return create_random_a1(tmp_path_factory.mktemp("cli") / "a1", A1Size(height=32, width=32, frames=17))


def _run(capsys, *args):
    code = main(["animate", *map(str, args)])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_stage_reference_and_driving_animate_end_to_end(tmp_path, model, capsys):
    ref = _stage_clip(tmp_path / "ref.npz", 1, seed=1)
    drv = _stage_clip(tmp_path / "drv.npz", 14, seed=2)
    out = tmp_path / "out" / "anim.npz"
    code, stdout, err = _run(
        capsys, "--image", ref, "--driving", drv, "--output", out, "--model", model, "--steps", "2", "--json"
    )
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["frames"] == 14
    assert summary["notes"] == [
        f"{model} is an untrained random A1 (until the tiny A1 is trained): expect noise"
    ]
    frames, fps = read_video(out)
    assert frames.shape == (14, 32, 32, 3) and fps == 12.0
    meta = json.loads((tmp_path / "out" / "anim.json").read_text())
    assert meta["task"] == "animate" and meta["steps"] == 2 and meta["seed"] == 0


def test_unreadable_files_fail_in_one_line(tmp_path, model, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    drv = _stage_clip(tmp_path / "drv.npz", 14)
    code, _, err = _run(
        capsys, "--image", bad, "--driving", drv, "--output", tmp_path / "o.npz", "--model", model
    )
    assert code == 2 and err.count("\n") == 1 and "cannot read image" in err
    ref = _stage_clip(tmp_path / "ref.npz", 1)
    broken = tmp_path / "drv.mp4"
    broken.write_bytes(b"\x00" * 100)
    code, _, err = _run(
        capsys, "--image", ref, "--driving", broken, "--output", tmp_path / "o.npz", "--model", model
    )
    assert code == 2 and err.count("\n") == 1 and "cannot read video" in err
    code, _, err = _run(
        capsys, "--image", ref, "--driving", drv, "--output", tmp_path / "o.npz", "--model", tmp_path
    )
    assert code == 2 and "not a SkyReels-A1 checkpoint" in err
    assert not (tmp_path / "o.npz").exists()


def test_driving_video_under_one_second_is_refused(tmp_path, model, capsys):
    ref = _stage_clip(tmp_path / "ref.npz", 1)
    short = _stage_clip(tmp_path / "short.npz", 10, fps=12.0)
    code, _, err = _run(
        capsys, "--image", ref, "--driving", short, "--output", tmp_path / "o.npz", "--model", model
    )
    assert code == 2 and "0.83 s" in err and "at least 1 s" in err and err.count("\n") == 1
    assert not (tmp_path / "o.npz").exists()


def test_photo_reference_without_mediapipe_names_the_extra(tmp_path, model, capsys, hide_mediapipe):
    img = tmp_path / "ref.png"
    Image.new("RGB", (64, 64), (128, 128, 128)).save(img)
    drv = _stage_clip(tmp_path / "drv.npz", 14)
    code, _, err = _run(
        capsys, "--image", img, "--driving", drv, "--output", tmp_path / "o.npz", "--model", model
    )
    assert code == 2 and "openreels[animate]" in err


@needs_mediapipe
def test_reference_without_a_face_is_refused(tmp_path, model, capsys):
    img = tmp_path / "wall.png"
    Image.new("RGB", (256, 256), (128, 128, 128)).save(img)
    drv = _stage_clip(tmp_path / "drv.npz", 14)
    code, _, err = _run(
        capsys, "--image", img, "--driving", drv, "--output", tmp_path / "o.npz", "--model", model
    )
    assert code == 2 and err.strip() == (
        "error: no face found in the reference image; use a photo with a clear, roughly frontal face"
    )


@needs_mediapipe
def test_photo_with_two_faces_driven_by_a_rendered_stage_clip(tmp_path, model, capsys):
    from skimage.data import astronaut

    head = Image.fromarray(astronaut()[20:260, 120:330])
    canvas = Image.new("RGB", (512, 320), (255, 255, 255))
    canvas.paste(head, (0, 0))
    canvas.paste(head.resize((147, 168)), (512 - 147, 0))
    img = tmp_path / "two.png"
    canvas.save(img)
    drv = _world_clip(tmp_path / "drv.npz", 13)
    out = tmp_path / "o.npz"
    code, stdout, err = _run(
        capsys, "--image", img, "--driving", drv, "--output", out, "--model", model, "--steps", "1", "--json"
    )
    assert code == 0, err
    assert "2 faces in the reference image; animating the largest" in json.loads(stdout)["notes"]
    assert read_video(out)[0].shape == (13, 32, 32, 3)


@needs_mediapipe
def test_driving_frames_without_a_face_are_named_and_filled(tmp_path, model, capsys):
    from skimage.data import astronaut

    img = tmp_path / "astronaut.png"
    Image.fromarray(astronaut()).save(img)
    video = np.stack([astronaut()] * 12)
    video[3:5] = 0
    drv = write_video(tmp_path / "drv.npz", video, 12.0)
    code, _, err = _run(
        capsys,
        "--image",
        img,
        "--driving",
        drv,
        "--output",
        tmp_path / "o.mp4",
        "--model",
        model,
        "--steps",
        "1",
    )
    assert code == 0, err
    assert "note: no face in driving frame(s) 4-5 of 12; filled by interpolation" in err
    assert read_video(tmp_path / "o.mp4")[0].shape[0] == 12


def test_help_shows_examples(capsys):
    assert main(["animate", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--driving" in out and "openreels animate --image" in out


def test_default_model_is_a_random_stand_in_built_once(tmp_path, monkeypatch, capsys):
    from openreels.pipelines import animate as animate_mod

    monkeypatch.setenv("OPENREELS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("openreels.models.tiny.bundled_a1_dir", lambda: None)
    folder, random_model = animate_mod.locate_a1(None)
    assert random_model and (folder / "pose_guider" / "config.json").is_file()
    assert animate_mod.locate_a1(None) == (folder, True)
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no temporary folders left
    with pytest.raises(OpenreelsError, match="does not animate portraits"):
        animate_mod.locate_a1("openreels-tiny")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(
        OpenreelsError,
        match="skyreels-a1 is not downloaded: run `huggingface-cli download Skywork/SkyReels-A1",
    ):
        animate_mod.locate_a1("skyreels-a1")


def test_fps_option_resamples_the_driving_video(tmp_path, model, capsys):
    ref = _stage_clip(tmp_path / "ref.npz", 1)
    drv = _stage_clip(tmp_path / "drv.npz", 30, fps=24.0)
    out = tmp_path / "o.npz"
    code, _, err = _run(
        capsys,
        "--image",
        ref,
        "--driving",
        drv,
        "--output",
        out,
        "--model",
        model,
        "--steps",
        "1",
        "--fps",
        "12",
    )
    assert code == 0, err
    frames, fps = read_video(out)
    assert fps == 12.0 and len(frames) == 15  # 1.25 s at 12 fps
