"""Resume after kill -9: finished shots are kept, nothing under a final name is corrupt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

import openreels
from openreels.media.video import read_video
from openreels.studio import Project, new_project
from openreels.studio.render import Settings

RUNNER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from conftest import FakeShots, FakeTTS, fake_reference
    from openreels.studio import Project

    class SlowShots(FakeShots):
        cache_id = FakeShots.cache_id  # same output as the fake, so the parent's run can reuse its shots
        def __call__(self, *args):
            time.sleep(0.4)
            return super().__call__(*args)

    Project({root!r}, tts=FakeTTS()).render(shot_renderer=SlowShots(), reference_renderer=fake_reference)
    """
)


def test_kill_9_mid_render_then_resume(tmp_path, example_path, fake_tts, render_fake, fake_shots) -> None:
    root = tmp_path / "ep"
    new_project(root, example_path, settings=Settings(size=(32, 32), fps=8, window=17, scale=1))
    script = tmp_path / "runner.py"
    script.write_text(RUNNER.format(tests=str(Path(__file__).parent), root=str(root)))
    src = Path(openreels.__file__).parents[1]  # the same openreels this test imported
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(src), *sys.path]))
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stderr=subprocess.PIPE)
    shots_dir = root / "cache" / "shots"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(shots_dir.glob("*.npz"))) < 4:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    finished = sorted(shots_dir.glob("*.npz"))
    assert len(finished) >= 4
    for path in finished:  # every file under a final name is whole
        frames, fps = read_video(path)
        assert frames.dtype == np.uint8 and fps == 8
    assert not (root / "episode.mp4").exists()

    project = Project(root, tts=fake_tts)
    report = render_fake(project)
    assert report.cached == len(finished) and report.rendered == report.shots - len(finished)
    assert len(fake_shots.calls) == report.rendered
    assert not list(root.glob("**/.*.partial*"))
    frames, _ = read_video(root / "episode.mp4")
    assert len(frames) == round(report.video_seconds * 8)
