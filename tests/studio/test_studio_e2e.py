"""End to end with the real parts: the CLI on the sample screenplay with piper and the stage renderer (an
animatic), and one short screenplay through the video model (openreels-tiny). Image content is not judged
(the tiny model may still be an untrained stand-in): structure, durations and sync are."""

from __future__ import annotations

import json

import av
import numpy as np

from openreels.cli import main
from openreels.media.subtitles import read_srt
from openreels.studio import Project, Settings, new_project


def _durations(path) -> tuple[float, float, int]:
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        frames = sum(1 for _ in c.decode(video=0))
        return float(v.duration * v.time_base), float(a.duration * a.time_base), frames


def _speech_in_cues(path, cues) -> None:
    """Every subtitle is on while its line is heard: speech energy inside each cue, and a cue over all speech."""
    with av.open(str(path)) as c:
        rate = c.streams.audio[0].rate
        samples = np.concatenate([f.to_ndarray().mean(axis=0) for f in c.decode(audio=0)])
    loud = np.abs(samples) > 0.02
    for cue in cues:
        assert loud[int(cue.start * rate) : int(cue.end * rate)].mean() > 0.2, cue
    covered = np.zeros_like(loud)
    for cue in cues:
        covered[int((cue.start - 0.05) * rate) : int((cue.end + 0.05) * rate)] = True
    assert not (loud & ~covered).any()


def test_cli_sample_episode_as_animatic(tmp_path, example_path, capsys) -> None:
    ep = tmp_path / "ep"
    assert main(["drama", "new", str(ep), "--from", str(example_path), "--renderer", "stage", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["writer"] == "screenplay"
    assert main(["drama", "plan", str(ep), "--json"]) == 0
    shots = json.loads(capsys.readouterr().out)["shots"]
    assert main(["drama", "render", str(ep), "--burn-subtitles", "--scale", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["shots"] == len(shots) == report["rendered"] and report["tts"] == "piper"
    v_seconds, a_seconds, frames = _durations(ep / "episode.mp4")
    assert abs(v_seconds - a_seconds) <= 0.1 and frames == round(report["video_seconds"] * 8)
    cues = read_srt(ep / "episode.srt")
    assert len(cues) == sum(1 for s in shots if s["line"]) == 8
    _speech_in_cues(ep / "episode.mp4", cues)
    assert main(["drama", "status", str(ep), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["episode_current"] and status["shots"] == len(shots)


SHORT = """INT. STUDIO - DAY

NOOR, a woman with short black hair in a yellow shirt, waves.

NOOR
(happy)
Hello!
"""


def test_video_model_end_to_end(tmp_path) -> None:
    screenplay = tmp_path / "short.fountain"
    screenplay.write_text(SHORT)
    settings = Settings(steps=2, tts="piper", crossfade=0, scale=1)
    project = new_project(tmp_path / "ep", screenplay, settings=settings)
    report = project.render()
    board = project.plan()
    assert [s.purpose for s in board.shots] == ["establishing", "dialogue"]
    v_seconds, a_seconds, frames = _durations(report.episode)
    assert abs(v_seconds - a_seconds) <= 0.1
    assert frames == sum(-(-s.duration * 8 // 1) for s in board.shots)
    (cue,) = read_srt(report.subtitles)
    assert cue.text == "NOOR: Hello!"
    _speech_in_cues(report.episode, [cue])
    again = Project(tmp_path / "ep").render()
    assert again.rendered == 0 and again.cached == 2
