"""The task choice in render_shot, with the video model replaced by a recorder (its own tests cover it)."""

from __future__ import annotations

import numpy as np
import pytest

from openreels.studio import build_cast, build_storyboard, parse_fountain
from openreels.studio import render as studio_render
from openreels.studio.render import Settings, render_shot


@pytest.fixture
def board(example_path):
    sp = parse_fountain(example_path.read_text())
    cast = build_cast(sp)
    return cast, build_storyboard(sp, cast, lambda ln: 2.4)  # dialogue shots of 3 s = 24 frames


@pytest.fixture
def calls(monkeypatch):
    made: list[dict] = []

    def fake_generate(prompt, image, frames, seed, settings):
        made.append({"prompt": prompt, "image": image, "frames": frames, "seed": seed})
        h, w = settings.size
        return np.full((frames, h, w, 3), len(made), dtype=np.uint8)

    monkeypatch.setattr(studio_render, "_generate", fake_generate)
    return made


def test_long_shot_continues_window_by_window(board, calls) -> None:
    cast, sb = board
    shot = next(s for s in sb.shots if s.purpose == "dialogue")
    settings = Settings(size=(64, 64), fps=8, window=9, consistency="none")
    frames = render_shot(shot, cast, settings, {})
    assert frames.shape == (24, 64, 64, 3)
    assert [c["frames"] for c in calls] == [9, 9, 9] and calls[0]["image"] is None
    assert (calls[1]["image"] == 1).all() and (calls[2]["image"] == 2).all()  # each from the last frame
    assert [int(frames[i, 0, 0, 0]) for i in (0, 8, 9, 16, 17, 23)] == [1, 1, 2, 2, 3, 3]
    assert calls[0]["prompt"] == shot.prompt and len({c["seed"] for c in calls}) == 3


def test_diffusion_forcing_model_makes_long_shots_in_one_request(board, calls) -> None:
    cast, sb = board
    shot = next(s for s in sb.shots if s.purpose == "dialogue")
    settings = Settings(size=(64, 64), fps=8, window=9, long_in_one=True, consistency="none")
    assert render_shot(shot, cast, settings, {}).shape[0] == 24
    assert [c["frames"] for c in calls] == [25]  # 4k+1 covering 24


def test_consistency_picks_the_first_frame(board, calls) -> None:
    cast, sb = board
    shot = next(s for s in sb.shots if s.purpose == "reaction")
    base = dict(size=(64, 64), fps=8, window=17)
    render_shot(shot, cast, Settings(**base, consistency="keyframe"), {})
    keyframe = calls[-1]["image"]
    assert keyframe.shape == (64, 64, 3) and keyframe.std() > 10  # drawn by the stage from the caption
    reference = np.full((64, 64, 3), 7, dtype=np.uint8)
    name = shot.caption.subjects[0].name
    render_shot(shot, cast, Settings(**base, consistency="reference"), {name: reference})
    assert calls[-1]["image"] is reference
    render_shot(shot, cast, Settings(**base, consistency="none"), {name: reference})
    assert calls[-1]["image"] is None and calls[-1]["frames"] == 13  # 1.5 s = 12 frames -> 13


def test_compose_consistency_sends_cast_references_and_set_plate_to_a2(board, calls, tmp_path, monkeypatch):
    """consistency="compose": a real (tiny random) A2 makes the shot's start from the characters' reference
    images and the set's empty plate; the video model only continues it past the A2 length."""
    from openreels.pipelines.a2 import write_random_a2_layout
    from openreels.pipelines.compose import ComposePipeline

    a2 = write_random_a2_layout(tmp_path / "a2", seed=0)
    (a2 / "openreels.json").write_text('{"size": [64, 64], "frames": 9, "fps": 8}')  # the A2 window: 9 frames
    seen: list = []
    original = ComposePipeline.__call__

    def spy(self, prompt, references, **kwargs):
        seen.append((prompt, [(r.kind, r.name, r.image) for r in references], kwargs))
        return original(self, prompt, references, **kwargs)

    monkeypatch.setattr(ComposePipeline, "__call__", spy)
    cast, sb = board
    shot = next(s for s in sb.shots if s.purpose == "dialogue" and s.caption.subjects)
    names = [sub.name for sub in shot.caption.subjects]
    references = {name: np.full((64, 64, 3), 40 * (i + 1), np.uint8) for i, name in enumerate(names)}
    settings = Settings(size=(64, 64), fps=8, window=9, consistency="compose", compose_model=str(a2), steps=2)
    frames = render_shot(shot, cast, settings, references)
    assert frames.shape == (24, 64, 64, 3)
    prompt, refs, kwargs = seen[0]
    main = next(sub.name for sub in shot.caption.subjects if sub.is_main_subject)
    assert prompt == shot.prompt and refs[0][1] == main and refs[0][2] is references[main]
    assert [kind for kind, _, _ in refs][-1] == "background" and refs[-1][2].std() > 0  # the set's plate
    a2_frames = kwargs["num_frames"]
    assert a2_frames == 9  # the A2 model's length, then the video model continues
    assert calls and (calls[0]["image"] == frames[a2_frames - 1]).all()  # from A2's last frame
