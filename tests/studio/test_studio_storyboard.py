"""Storyboard grammar, the cast sheets and the editable storyboard file."""

from __future__ import annotations

import pytest
import yaml

from openreels.errors import OpenreelsError
from openreels.studio import Project, build_cast, build_storyboard, new_project, parse_fountain
from openreels.studio.storyboard import LEAD_S, TAIL_S
from openreels.world import parse_prompt, vocab


def _board(example_path):
    sp = parse_fountain(example_path.read_text(), example_path.name)
    cast = build_cast(sp)
    seconds = {ln.line_number: 0.05 * len(ln.text) + 0.4 for s in sp.scenes for ln in s.lines}
    return sp, cast, build_storyboard(sp, cast, lambda ln: seconds[ln.line_number]), seconds


def test_cast_sheets_follow_the_screenplay_and_voices_differ(example_path) -> None:
    sp, cast, _, _ = _board(example_path)
    maya, leo = cast.get("MAYA"), cast.get("LEO")
    # Appearance comes from the describing action lines.
    assert (maya.kind, maya.hair_style, maya.hair_color, maya.shirt_color) == ("woman", "long", "red", "blue")
    assert (leo.kind, leo.hair_style, leo.hair_color, leo.shirt_color) == ("man", "short", "black", "green")
    assert (maya.voice.pitch, maya.voice.rate) != (leo.voice.pitch, leo.voice.rate)
    assert maya.voice.pitch > leo.voice.pitch
    # Two undescribed characters of one kind still get different voices and shirts.
    sp2 = parse_fountain("INT. ROOM - DAY\n\nA man named ZED.\n\nZED\nHi.\n\nZOE\nHo.\n\nZIA\nHa.\n")
    cast2 = build_cast(sp2)
    voices = {(c.voice.pitch, c.voice.rate) for c in cast2.characters}
    assert len(voices) == 3 and len({c.shirt_color for c in cast2.characters}) == 3


def test_film_grammar(example_path) -> None:
    sp, cast, board, seconds = _board(example_path)
    by_scene: dict[int, list] = {}
    for shot in board.shots:
        by_scene.setdefault(shot.scene, []).append(shot)
        assert shot.caption.camera_motion in vocab.CAMERA_MOTIONS and len(vocab.CAMERA_MOTIONS) == 14
        # The prompt is in the stage's words: the stage's own parser reads the caption back from it.
        parsed = parse_prompt(shot.prompt)
        for key in ("shot_type", "shot_angle", "camera_motion", "environment", "lighting"):
            assert parsed[key] == getattr(shot.caption, key), (shot.id, key)
        for got, want in zip(parsed["subjects"], shot.caption.subjects, strict=True):
            assert (got["action"], got["position"], got["shirt_color"]) == (
                want.action,
                want.position,
                want.shirt_color,
            )
            assert got.get("expression", "neutral") == want.expression
    assert len(by_scene) == len(sp.scenes)
    for shots in by_scene.values():
        # Every scene opens on an establishing wide shot that shows who is in it.
        assert shots[0].purpose == "establishing" and shots[0].caption.shot_type == "wide shot"
        assert len(shots[0].caption.subjects) == 2
        sides: dict[str, str] = {}
        for shot in shots:
            for sub in shot.caption.subjects:
                assert (
                    sides.setdefault(sub.name, sub.position) == sub.position
                )  # screen sides hold (180° rule)
        assert set(sides.values()) == {"left", "right"}
    dialogue = [s for s in board.shots if s.purpose == "dialogue"]
    assert [d.dialogue.text for d in dialogue] == [ln.text for s in sp.scenes for ln in s.lines]
    for shot in dialogue:
        (speaker,) = shot.caption.subjects  # singles: shot / reverse shot
        assert speaker.name == shot.dialogue.character and speaker.action == "talking"
        assert shot.caption.shot_type in ("medium close-up", "close-up")
        assert shot.duration == pytest.approx(LEAD_S + seconds[shot.dialogue.line_number] + TAIL_S, abs=1e-3)
    # Consecutive lines of different speakers cut between the two sides of the screen.
    for a, b in zip(dialogue, dialogue[1:], strict=False):
        if a.scene == b.scene and a.dialogue.character != b.dialogue.character:
            assert a.caption.subjects[0].position != b.caption.subjects[0].position
    reactions = [s for s in board.shots if s.purpose == "reaction"]
    assert reactions, "questions, exclamations and scene ends get reaction close-ups"
    for shot in reactions:
        (listener,) = shot.caption.subjects
        assert shot.caption.shot_type == "close-up" and listener.action != "talking"
    angry = next(s for s in dialogue if "stranger!" in s.dialogue.text)
    assert angry.caption.subjects[0].expression == "angry" and angry.caption.shot_angle == "low angle"
    # Screenplay transitions become the edit's.
    assert [board.shots[0].transition, by_scene[2][0].transition, by_scene[3][0].transition] == [
        "fade",
        "cut",
        "dissolve",
    ]
    assert board.fade_out
    assert any(s.purpose == "action" and s.caption.camera_motion == "truck right" for s in board.shots)


def test_edited_storyboard_is_validated_and_kept(example_path, fake_tts, tmp_path) -> None:
    project = new_project(tmp_path / "p", example_path)
    project = Project(tmp_path / "p", tts=fake_tts)
    project.plan()
    path = tmp_path / "p" / "storyboard.yaml"
    data = yaml.safe_load(path.read_text())
    data["shots"][2]["caption"]["camera_motion"] = "pan left"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert project.plan().shots[2].caption.camera_motion == "pan left"  # a person's edit survives re-planning
    data["shots"][2]["caption"]["camera_motion"] = "spin around"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(OpenreelsError, match=r"storyboard.yaml: shots.2.caption.camera_motion: .*'static'"):
        project.plan()
