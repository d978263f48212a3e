"""Fountain input: the features the studio reads, and malformed screenplays rejected with their line."""

from __future__ import annotations

import pytest

from openreels.cli import main
from openreels.errors import OpenreelsError
from openreels.studio import parse_fountain
from openreels.studio.screenplay import Action

FEATURES = """Title: Features
Author: test

FADE IN:

EXT. CITY STREET - NIGHT

ANNA, a woman with short blonde hair in a pink shirt, runs in.

ANNA
(whispering)
Are you there?

BEN (V.O.)
Always.

DISSOLVE TO:

INT. BLUE ROOM - DAY

BEN
Hi.

ANNA ^
Hello.

.THE ROOF

BEN (CONT'D)
Look up.

FADE OUT.
"""


def test_fountain_features_are_read() -> None:
    sp = parse_fountain(FEATURES, "features.fountain")
    assert sp.title == "Features"
    assert [s.heading for s in sp.scenes] == ["EXT. CITY STREET - NIGHT", "INT. BLUE ROOM - DAY", "THE ROOF"]
    first, second, third = sp.scenes
    assert (first.interior, first.location, first.time) == (False, "CITY STREET", "NIGHT")
    assert (second.interior, second.location, second.time) == (True, "BLUE ROOM", "DAY")
    assert first.transition_in == "FADE IN:" and second.transition_in == "DISSOLVE TO:"
    assert sp.transition_out == "FADE OUT."
    assert isinstance(first.beats[0], Action) and "blonde hair" in first.beats[0].text
    question, answer = first.lines
    assert (question.character, question.text, question.parenthetical) == (
        "ANNA",
        "Are you there?",
        "whispering",
    )
    assert question.line_number == 12
    assert answer.character == "BEN" and answer.extension == "V.O." and answer.off_screen
    assert first.characters == ["ANNA"]  # the voice-over is heard, not seen
    assert [(ln.character, ln.text) for ln in second.lines] == [("BEN", "Hi."), ("ANNA", "Hello.")]  # dual
    assert third.lines[0].character == "BEN" and third.lines[0].extension == "CONT'D"
    assert sp.characters == ["ANNA", "BEN"]


def test_example_screenplay_meets_the_brief(example_path) -> None:
    sp = parse_fountain(example_path.read_text(), example_path.name)
    lines = [ln for s in sp.scenes for ln in s.lines]
    assert len(sp.scenes) >= 3 and len(sp.characters) >= 2 and len(lines) >= 6
    assert any(ln.parenthetical for ln in lines)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("INT. ROOM - DAY\n\nBOB\n\nHe leaves.\n", 3, "no dialogue"),
        ("INT. ROOM - DAY\n\nBOB\nHi.\n\n/* forgotten\n\nEXT. PARK - DAY\n", 6, "never closed"),
        ("Title: X\n\nBOB\nHi there.\n\nINT. ROOM - DAY\n", 4, "before the first scene heading"),
        ("Just some prose with no scenes at all.\n", 1, "no scene heading"),
    ],
)
def test_malformed_screenplay_names_its_line(text: str, line: int, words: str) -> None:
    with pytest.raises(OpenreelsError, match=rf"bad\.fountain line {line}: .*{words}"):
        parse_fountain(text, "bad.fountain")


def test_cli_rejects_malformed_screenplay_and_writes_nothing(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.fountain"
    bad.write_text("INT. ROOM - DAY\n\nANNA\nHello.\n\nBOB\n\nThe end.\n")
    code = main(["drama", "new", str(tmp_path / "proj"), "--from", str(bad)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: bad.fountain line 6:") and err.count("\n") == 1
    assert not (tmp_path / "proj").exists()
