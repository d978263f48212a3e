"""The cast-consistency measure of a render: stage-drawn shots match their sheets; mixed-up casts do not."""

from __future__ import annotations

from openreels.eval import cast_consistency
from openreels.studio import build_cast, build_storyboard, parse_fountain
from openreels.studio.render import Settings, render_stage_shot


def test_stage_shots_keep_their_cast_colours_and_swapped_casts_do_not(example_path) -> None:
    sp = parse_fountain(example_path.read_text())
    cast = build_cast(sp)
    board = build_storyboard(sp, cast, lambda line: 1.0)
    settings = Settings(size=(64, 64), fps=8, window=17)
    clips = [render_stage_shot(shot, cast, settings, {}) for shot in board.shots]
    captions = [shot.caption.world() for shot in board.shots]
    truth = cast_consistency(clips, captions, 8)
    assert truth["shots"] == sum(bool(shot.caption.subjects) for shot in board.shots) >= 6
    assert truth["colours"] >= 0.9
    # Each character's shots scored against the other character's sheet: the measure notices.
    a, b = cast.characters[0], cast.characters[1]
    swap = {a.name: b, b.name: a}
    swapped = []
    for shot in board.shots:
        caption = shot.caption.world()
        for subject, named in zip(caption["subjects"], shot.caption.subjects, strict=True):
            if named.name in swap:
                subject.update(swap[named.name].world_subject())
        swapped.append(caption)
    assert cast_consistency(clips, swapped, 8)["colours"] < truth["colours"] - 0.2
