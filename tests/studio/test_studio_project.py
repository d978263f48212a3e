"""Rendering a project with fake shots and speech: A/V sync, subtitles under their audio, the cache."""

from __future__ import annotations

import av
import numpy as np
import pytest
import yaml

from openreels.media.subtitles import read_srt
from openreels.studio import Project, new_project
from openreels.studio.render import Settings


@pytest.fixture
def project(tmp_path, example_path, fake_tts):
    new_project(
        tmp_path / "ep",
        example_path,
        settings=Settings(size=(32, 32), fps=8, window=17, scale=2, burn_subtitles=True),
    )
    return Project(tmp_path / "ep", tts=fake_tts)


def _streams(path):
    """Video and audio durations from the container, and the decoded mono audio."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        v_seconds = float(video.duration * video.time_base)
        n_frames = sum(1 for _ in container.decode(video=0))
    with av.open(str(path)) as container:
        audio = container.streams.audio[0]
        a_seconds = float(audio.duration * audio.time_base)
        rate = audio.rate
        samples = np.concatenate([f.to_ndarray().mean(axis=0) for f in container.decode(audio=0)])
    return v_seconds, n_frames, a_seconds, samples, rate


def test_episode_av_sync_and_subtitles_under_their_audio(project, fake_shots, render_fake) -> None:
    report = render_fake(project)
    board = project.plan()
    assert report.rendered == report.shots == len(board.shots) and report.tts == "fake"
    v_seconds, n_frames, a_seconds, samples, rate = _streams(report.episode)
    assert abs(v_seconds - a_seconds) <= 0.1
    assert n_frames == round(report.video_seconds * 8) and abs(v_seconds - report.video_seconds) < 0.01
    with av.open(report.episode) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.video[0].width == 64  # 32 px shots enlarged 2x
        assert container.streams.audio[0].codec_context.name == "aac"
    cues = read_srt(report.subtitles)
    lines = [s.dialogue for s in board.shots if s.dialogue]
    assert [c.text for c in cues] == [f"{d.character}: {d.text}" for d in lines]
    # Each cue is on screen exactly while its line sounds: loud inside, silent just before and after.
    envelope = np.abs(samples)
    for cue in cues:
        inside = envelope[int((cue.start + 0.05) * rate) : int((cue.end - 0.05) * rate)]
        before = envelope[int((cue.start - 0.2) * rate) : int((cue.start - 0.03) * rate)]
        after = envelope[int((cue.end + 0.03) * rate) : int((cue.end + 0.2) * rate)]
        assert inside.mean() > 0.1, cue
        assert before.max() < 0.05 and after.max() < 0.05, cue
    # The fake voice's pitch follows the cast sheet: MAYA's lines are higher than LEO's.
    pitches = {}
    for cue in cues:
        seg = samples[int((cue.start + 0.05) * rate) : int((cue.end - 0.05) * rate)]
        crossings = np.count_nonzero(np.diff(np.signbit(seg).astype(np.int8))) / (len(seg) / rate) / 2
        pitches.setdefault(cue.text.split(":")[0], []).append(crossings)
    assert np.mean(pitches["MAYA"]) > 1.2 * np.mean(pitches["LEO"])
    for name in ("storyboard.png", "cast.png", "episode.json", "render.json"):
        assert (project.root / name).is_file()
    status = project.status()
    assert status["shots"] == len(board.shots) and status["episode_current"]


def test_cache_rerenders_only_changed_shots(project, fake_shots, render_fake) -> None:
    first = render_fake(project)
    assert first.rendered == first.shots
    mtime = (project.root / "episode.mp4").stat().st_mtime_ns
    again = render_fake(project)
    assert again.rendered == 0 and again.cached == first.shots
    assert not again.recut and (project.root / "episode.mp4").stat().st_mtime_ns == mtime  # nothing to re-cut
    project.meta.settings = project.settings.model_copy(update={"burn_subtitles": False})
    project.save_meta()
    recut = render_fake(project)
    assert recut.rendered == 0 and recut.recut  # an edit setting re-cuts from cached shots

    # A storyboard edit re-renders that shot alone.
    path = project.root / "storyboard.yaml"
    data = yaml.safe_load(path.read_text())
    data["shots"][3]["caption"]["camera_motion"] = "roll clockwise"
    edited_id = data["shots"][3]["id"]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    fake_shots.calls.clear()
    assert render_fake(project).rendered == 1 and fake_shots.calls == [edited_id]

    # A changed line re-times (and so re-renders) its own shot; the other scenes stay cached.
    fountain = project.root / "screenplay.fountain"
    fountain.write_text(
        fountain.read_text().replace("Then we find the stranger.", "Then we find the stranger, Leo.")
    )
    fake_shots.calls.clear()
    report = render_fake(project)
    assert report.shots == first.shots and 1 <= report.rendered <= 2, fake_shots.calls
    assert all(call.startswith("s02") for call in fake_shots.calls)

    # A cast edit re-renders the shots that show that character, and only those.
    cast_path = project.root / "cast.yaml"
    cast = yaml.safe_load(cast_path.read_text())
    cast["characters"][1]["shirt_color"] = "orange"  # LEO
    cast_path.write_text(yaml.safe_dump(cast, sort_keys=False))
    fake_shots.calls.clear()
    report = render_fake(project)
    board = project.plan()
    with_leo = {s.id for s in board.shots if any(x.name == "LEO" for x in s.caption.subjects)}
    assert set(fake_shots.calls) == with_leo and 0 < len(with_leo) < report.shots

    # A project setting that changes every shot re-renders all of them.
    project.meta.settings = project.settings.model_copy(update={"steps": 3})
    project.save_meta()
    assert render_fake(project).rendered == report.shots
