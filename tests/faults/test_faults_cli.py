"""The fault suite: each class of bad input or fault, run through the real CLI in a subprocess.

Every case asserts the exit code (0 done, 1 failed inside the run, 2 bad usage or input, 130 interrupted),
that stderr holds exactly one `error:` line and no traceback, and that the folder it ran in holds nothing
new. Sizes are tiny so each case takes a few seconds.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

import openreels

SRC = str(Path(openreels.__file__).resolve().parents[1])
FAST = ["--size", "32x32", "--frames", "9", "--steps", "2"]


def _env(tmp: Path, **extra: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **extra)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env["OPENREELS_CACHE"] = str(tmp / ".cache-openreels")
    env["HF_HOME"] = str(tmp / ".cache-hf")
    env.pop("OPENREELS_VERBOSE", None)
    return env


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if ".cache-" not in str(p)}


def openreels_cli(cwd: Path, *args, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "openreels", *map(str, args)],
        cwd=cwd,
        env=_env(cwd, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def error_line(result: subprocess.CompletedProcess, code: int) -> str:
    """The one `error:` line of a run that exited `code`, with no traceback on the way."""
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def fails(cwd: Path, code: int, *args, **env: str) -> str:
    """Run a command that must fail with `code`, one error line, and nothing new in `cwd`."""
    before = _listing(cwd)
    line = error_line(openreels_cli(cwd, *args, **env), code)
    assert _listing(cwd) == before, sorted(_listing(cwd) - before)
    return line


@pytest.fixture
def work(tmp_path) -> Path:
    """A folder with one valid input of each kind: an image, a 2-second video, a screenplay."""
    from PIL import Image

    from openreels.media import write_video

    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(tmp_path / "face.png")
    write_video(tmp_path / "talk.mp4", np.full((16, 32, 32, 3), 90, np.uint8), 8, metadata=None)
    (tmp_path / "afile").write_text("not a folder\n")
    return tmp_path


# 2. Usage errors: click's usage message and exit 2, never a traceback.
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["generate", "a", "--frames", "abc"], "--frames"),
        (["generate", "a", "--crf", "99"], "--crf"),
        (["generate", "a", "--bogus"], "No such option: --bogus"),
        (["generat", "a"], "Did you mean 'generate'?"),
        (["animate"], "Missing option '--image'"),
        (["generate", "a", "--guidance", "nan"], "not a finite number"),  # 4: NaN refused at parse time
        (["world", "render", "a man waving", "--fps", "nan"], "not a finite number"),  # 5
        (["compose", "a", "-r", "x.png", "--shift", "inf"], "not a finite number"),
    ],
)
def test_usage_errors_print_usage_and_exit_2(work, args, says):
    result = openreels_cli(work, *args)
    line = error_line(result, 2)
    assert says in line and "Usage: openreels" in result.stderr


@pytest.mark.parametrize("args", [[], ["drama"], ["world"], ["eval"]])
def test_a_command_alone_prints_its_help_and_exits_2(work, args):
    result = openreels_cli(work, *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Usage: openreels" in result.stderr and "Examples:" in result.stderr


# 3. Upper bounds from the model and the machine, before any weights load.
@pytest.mark.parametrize(
    "args",
    [["--size", "99999x99999"], ["--frames", "10000000", "--size", "128x128"]],
)
def test_a_video_that_cannot_fit_is_refused_up_front(work, args):
    started = time.monotonic()
    line = fails(work, 2, "generate", "a man waving", *args, "-o", "o.mp4")
    assert "GB" in line and "use a smaller --size or fewer --frames" in line
    assert time.monotonic() - started < 120  # refused, not run until the kernel kills it


# 4, 5, 10. Bad values and data: one line that names the fix.
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["generate", "a", "--seed", str(2**64)], "--seed must be between 0 and"),
        (["generate", "a", "--size", "-5x10"], "--size must be positive"),
        (["generate", "a", "-m", "./no-such-folder"], "model folder not found: ./no-such-folder"),
        (["generate", "a", "-m", "openreels-tiny2"], "did you mean openreels-tiny?"),
        (["generate", "--from-sidecar", "missing.json"], "sidecar not found: missing.json"),
        (["generate", "--from-sidecar", "list.json"], "holds a JSON list"),
        (["generate", "--from-sidecar", "typed.json"], "sidecar typed.json: steps"),
        (["generate", "--from-sidecar", "inputs.json"], "'inputs' must map"),
        (["generate", "a", "--video", "audio.wav", "-o", "o.mp4"], "has no video stream"),
        (["generate", "a", "--video", "empty.npz", "-o", "o.mp4"], "holds no frames"),
        (["generate", "a", "--video", "talk.mp4", "-o", "talk.mp4"], "would overwrite"),  # 7
        (["compose", "a dog", "-r", "dog:face.png", "-o", "o.mp4"], "unknown kind 'dog'"),
        (["world", "render", "", "-o", "o.mp4"], "the prompt is empty"),
        (["world", "render", "a man waving", "--seed", "-1", "-o", "o.mp4"], "--seed must be between"),
        (["eval", "score", "talk.mp4", "--prompt", ""], "--prompt is empty"),
        (["train", "--out", "m", "--vae-steps", "0"], "--vae-steps must be at least 1"),
        (["train", "--out", "afile/m"], "is a file"),
        (["train", "--out", "/proc/m"], "cannot write into /proc"),  # read-only, even for root
        (["train", "--recipe", "test", "--out", "m", "--ship"], "recipe 'test' ships none"),
        (["train", "--recipe", "a1-tiny", "--out", "m", "--warm-from", "afile"], "not a model folder"),
        (["world", "render", "a man waving", "-o", "/sys/o.mp4"], "cannot write into /sys"),
        (["bench", "--tiny", "--model", "v2-14b"], "--tiny picks its own models"),
        (["drama", "new", "afile/ep", "--from", "play.fountain"], "choose another folder"),
        (["drama", "status", "no-project"], "no-project"),
    ],
)
def test_bad_values_and_data_end_in_one_line(work, args, says):
    (work / "list.json").write_text("[1, 2]")
    (work / "typed.json").write_text(json.dumps({"prompt": "a", "steps": "many"}))
    (work / "inputs.json").write_text(json.dumps({"prompt": "a", "inputs": "face.png"}))
    with wave.open(str(work / "audio.wav"), "wb") as fh:
        fh.setnchannels(1), fh.setsampwidth(2), fh.setframerate(8000)
        fh.writeframes(b"\0\0" * 8000)
    np.savez(work / "empty.npz", frames=np.zeros((0, 8, 8, 3), np.uint8), fps=np.float32(8))
    (work / "play.fountain").write_text("INT. ROOM - DAY\n\nMAYA\nHello.\n")
    assert says in fails(work, 2, *args)


# 8. Every argument and path is checked before anything loads or runs.
@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["animate", "--image", "face.png", "--driving", "talk.mp4", "-o", "afile/out.mp4"], "--output"),
        (["animate", "--image", "face.png", "--driving", "talk.mp4", "-o", "talk.mp4"], "would overwrite"),
        (["bench", "--tiny", "-o", "afile/bench.json"], "--output"),
        (["compose", "a", "-r", "face.png", "-o", "o.mp4", "--size", "99968x99968"], "GB"),
        (["compose", "a", "-r", "face.png", "-o", "o.mp4", "--size", "32x40"], "multiples of 32"),
    ],
)
def test_arguments_are_checked_before_any_model_loads(work, args, says):
    started = time.monotonic()
    result = openreels_cli(work, *args)
    assert says in error_line(result, 2)
    assert not result.stderr.startswith("loading")  # refused before the progress of any load
    assert time.monotonic() - started < 60


# 1. Interrupts: exit 130, one line, nothing written.
@pytest.mark.parametrize("when", ["loading model", "denoising"])
def test_ctrl_c_exits_130_and_leaves_nothing(work, when):
    before = _listing(work)
    proc = subprocess.Popen(
        [sys.executable, "-m", "openreels", "generate", "a man waving", "--size", "32x32", "--frames", "9"]
        + ["--steps", "100000", "-o", "out.mp4"],
        cwd=work,
        env=_env(work, OPENREELS_PROGRESS_SECONDS="0.05"),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines = []
    try:
        for line in proc.stderr:  # plain progress lines: stderr is a pipe
            lines.append(line)
            if line.startswith(when):
                break
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        proc.wait(timeout=60)
    finally:
        proc.kill()
    result = subprocess.CompletedProcess(proc.args, proc.returncode, "", "".join(lines) + rest)
    assert error_line(result, 130) == "error: interrupted; nothing was written"
    assert _listing(work) == before


# 4. A checkpoint whose weights are broken fails the run (exit 1), not writes a black video.
def test_a_checkpoint_that_makes_nan_exits_1_and_writes_nothing(work):
    from safetensors.torch import load_file, save_file

    from openreels.models.tiny import build_tiny_checkpoint

    folder = build_tiny_checkpoint(
        "v2-t2v", work / "broken", defaults={"size": [32, 32], "frames": 9, "steps": 2, "fps": 8}
    )
    for file in (folder / "transformer").glob("*.safetensors"):
        weights = load_file(file)
        save_file({k: v.fill_(float("nan")) for k, v in weights.items()}, file)
    line = fails(work, 1, "generate", "a man", "-m", folder, "-o", "o.mp4")
    assert "produced NaN/Inf values; its weights may be corrupt" in line


# 5. A damaged training checkpoint is named, not unpickled into a MemoryError.
def test_train_resuming_from_a_damaged_checkpoint_names_it(work):
    (work / "m.work").mkdir()
    (work / "m.work" / "vae.ckpt").write_bytes(os.urandom(4096))
    line = fails(work, 2, "train", "--recipe", "test", "--out", "m", "--device", "cpu", "--vae-steps", "2")
    assert "vae.ckpt is damaged" in line and "delete it" in line


# 7. A partial file of a killed run is removed by the next run; a file and its sidecar land together.
def test_a_killed_runs_partial_is_cleaned_by_the_next_run(work):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = work / f".clip.partial-{dead.pid}-0000abcd.mp4"
    stale.write_bytes(b"")
    result = openreels_cli(work, "world", "render", "a man waving", "--frames", "5", "-o", "clip.mp4")
    assert result.returncode == 0, result.stderr
    assert _listing(work) >= {"clip.mp4", "clip.json"} and not stale.exists()
    assert not [p for p in _listing(work) if "partial" in p]


# 9. Piped stderr gets plain progress lines; a successful run prints no third-party logging.
# 10. A prompt longer than the text encoder reads gets a note, not a silent cut.
def test_progress_lines_in_a_log_and_no_library_noise(work):
    prompt = "A man in a red shirt is waving at the beach. " * 220  # about 10,000 characters
    result = openreels_cli(work, "generate", prompt, *FAST, "-o", "o.mp4", OPENREELS_PROGRESS_SECONDS="0")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert any(
        re.fullmatch(r"note: the prompt is \d+ tokens; .* reads only the first \d+, .*", line)
        for line in lines
    )
    assert "loading model" in lines and any(line.startswith("denoising 2/2 (100%)") for line in lines)
    noise = [line for line in lines if not line.startswith(("loading model", "denoising", "note: "))]
    assert noise == [], noise


# 6. A project appears whole or not at all; 5. a cast of any size, and a scene nobody speaks in.
def test_drama_new_with_a_cast_of_200_and_a_silent_scene(work):
    speakers = "".join(f"PERSON{i}\nLine {i}.\n\n" for i in range(200))
    (work / "big.fountain").write_text(f"INT. HALL - DAY\n\n{speakers}")
    result = openreels_cli(work, "drama", "new", "big", "--from", "big.fountain", "--quiet")
    assert result.returncode == 0, result.stderr
    import yaml

    cast = yaml.safe_load((work / "big" / "cast.yaml").read_text())["characters"]
    voices = {(c["voice"]["pitch"], c["voice"]["rate"]) for c in cast}
    assert len(cast) == 200
    assert len(voices) > 100 and all(0.5 <= p <= 2.0 and 0.5 <= r <= 2.0 for p, r in voices)

    (work / "silent.fountain").write_text("INT. EMPTY ROOM - NIGHT\n\nRain runs down the window.\n")
    assert openreels_cli(work, "drama", "new", "silent", "--from", "silent.fountain").returncode == 0
    result = openreels_cli(
        work, "drama", "render", "silent", "--renderer", "stage", "--quiet", "--no-burn-subtitles"
    )
    assert result.returncode == 0, result.stderr
    assert (work / "silent" / "episode.mp4").is_file()
