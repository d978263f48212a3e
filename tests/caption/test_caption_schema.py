"""The caption schema: flat fields round-trip, validation repairs loose words and names every bad one."""

from __future__ import annotations

import numpy as np
import pytest

from openreels.caption.schema import (
    FIELDS,
    CaptionInvalid,
    caption_from_fields,
    flat_fields,
    validate_caption,
)
from openreels.world import render, sample_scene


@pytest.mark.parametrize("seed", range(6))
def test_rendered_captions_round_trip_through_flat_fields(seed):
    clip = render(sample_scene(np.random.default_rng(seed)), 1, (64, 64))
    flat = flat_fields(clip.caption)
    assert all(value in FIELDS[key] for key, value in flat.items())
    assert flat_fields(caption_from_fields(flat)) == flat
    assert flat_fields(validate_caption(clip.caption)) == flat


def test_validation_lists_every_problem(good_caption):
    bad = dict(good_caption, shot_type="dutch tilt", lighting=None)
    bad.pop("environment")
    bad["subjects"] = [dict(good_caption["subjects"][0], expression="smug")]
    with pytest.raises(CaptionInvalid) as err:
        validate_caption(bad)
    text = str(err.value)
    for part in ("shot_type 'dutch tilt'", "lighting None", "environment is missing", "expression 'smug'"):
        assert part in text
    with pytest.raises(CaptionInvalid, match="expected a JSON object"):
        validate_caption(["not", "a", "dict"])
    with pytest.raises(CaptionInvalid, match="no human"):
        validate_caption(
            dict(good_caption, subjects=[{"type": "object", "sub-type": "ball", "color": "red"}])
        )


def test_bald_people_have_no_hair_colour(good_caption):
    person = dict(good_caption["subjects"][0], hair_style="bald", hair_color="red")
    cap = validate_caption(dict(good_caption, subjects=[person]))
    assert cap["subjects"][0]["hair_color"] is None and flat_fields(cap)["main.hair_color"] == "none"
