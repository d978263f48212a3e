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
