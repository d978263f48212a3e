"""Editing primitives: timeline layout, dissolves and fades, audio mix, subtitles burned in, SRT files."""

from __future__ import annotations

import numpy as np

from openreels.media.edit import assemble, burn_subtitles, contact_sheet, layout, mix
from openreels.media.subtitles import Cue, read_srt, write_srt


def _solid(n: int, value: int) -> np.ndarray:
    return np.full((n, 8, 8, 3), value, dtype=np.uint8)


def test_layout_and_transitions() -> None:
    starts, total = layout([10, 10, 10], ["fade", "cut", "dissolve"], overlap=4)
    assert starts == [0, 10, 16] and total == 26
    out = assemble([_solid(10, 200), _solid(10, 100), _solid(10, 0)], ["fade", "cut", "dissolve"], 4, fade=3)
    assert len(out) == 26
    assert out[0, 0, 0, 0] < out[1, 0, 0, 0] < out[2, 0, 0, 0] < 200 and out[3, 0, 0, 0] == 200  # fade in
    assert out[10, 0, 0, 0] == 100 and out[15, 0, 0, 0] == 100
    blend = out[16:20, 0, 0, 0]
    assert all(100 > a > b > 0 for a, b in zip(blend, blend[1:], strict=False))  # dissolve ramps down
    assert out[20, 0, 0, 0] == 0
    faded = assemble([_solid(6, 200)], ["cut"], 0, fade=3, fade_out=True)
    assert faded[2, 0, 0, 0] == 200 and faded[-1, 0, 0, 0] < faded[-2, 0, 0, 0] < faded[-3, 0, 0, 0] < 200


def test_mix_places_and_limits() -> None:
    ones = np.full(100, 0.8, dtype=np.float32)
    track = mix([(0.01, ones), (0.015, ones)], total_samples=1000, sample_rate=10000)
    assert len(track) == 1000 and track[:100].max() == 0 and track[100] > 0
    assert np.abs(track).max() <= 1.0 and track[160] == track.max()  # overlap scaled down, not clipped
    assert mix([(0.095, ones)], 1000, 10000)[999] != 0  # an event past the end is cut to fit


def test_burned_subtitles_show_only_while_on(tmp_path) -> None:
    frames = np.zeros((10, 96, 160, 3), dtype=np.uint8)
    out = burn_subtitles(frames, [Cue(0.25, 0.75, "MAYA: Hello there")], fps=8)
    lit = [int(out[i].max() > 0) for i in range(10)]
    assert lit == [0, 0, 1, 1, 1, 1, 0, 0, 0, 0]  # frames 2..5 are at 0.25 <= t < 0.75
    assert out[3, :48].max() == 0 and out[3, 48:].max() > 200  # white text at the bottom
    path = write_srt(tmp_path / "a.srt", [Cue(1.5, 2.25, "B: two"), Cue(0.0, 1.0, "A: one")])
    assert read_srt(path) == [Cue(0.0, 1.0, "A: one"), Cue(1.5, 2.25, "B: two")]
    assert "00:00:01,500 --> 00:00:02,250" in path.read_text()
    sheet = contact_sheet([frames[0]] * 5, ["a"] * 5, columns=2)
    assert sheet.shape[1] == 6 + 2 * (160 + 6) and sheet.ndim == 3
