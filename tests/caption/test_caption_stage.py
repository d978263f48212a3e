"""The stage captioner (analysis by synthesis) reads a stage clip it has never seen back into its caption."""

from __future__ import annotations

import numpy as np

from openreels.caption.schema import flat_fields
from openreels.caption.stage import _steps, caption_stage
from openreels.world import render, sample_scene


def test_steps_hit_the_same_instants():
    idx, fps = _steps(33, 8.0)
    assert list(idx) == [0, 4, 8, 12, 16, 20, 24, 28, 32] and fps == 2.0
    idx, fps = _steps(5, 8.0)
    assert list(idx) == [0, 1, 2, 3, 4] and fps == 8.0


def test_captions_held_out_clips_mostly_right():
    right, total, wrong = 0, 0, []
    for k in range(2):
        clip = render(sample_scene(np.random.default_rng([31, k]), split="heldout"), 17, (96, 96))
        want, got = flat_fields(clip.caption), flat_fields(caption_stage(clip.frames, clip.fps))
        right += sum(got.get(f) == v for f, v in want.items())
        total += len(want)
        wrong += [(f, v, got.get(f)) for f, v in want.items() if got.get(f) != v]
    # chance is about 0.2 per field; the renderer explains every pixel, so most fields come back
    assert right / total >= 0.75, wrong
    for f in ("shot_type", "environment", "camera_motion"):
        assert not any(w[0] == f for w in wrong), wrong
