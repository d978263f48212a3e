"""Fountain screenplays (https://fountain.io) parsed by the `fountain-py` library into scenes, lines and
action, keeping the source line of everything so errors can point at it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from openreels.errors import OpenreelsError

HEADING_RE = re.compile(
    r"^(INT\./EXT\.?|INT/EXT\.?|I/E\.?|INT\.?|EXT\.?|EST\.?)\s+(.*?)(?:\s+-\s+(.*))?$", re.I
)


@dataclass
class Line:
    """One spoken line: who, what, how (the parenthetical) and where it is in the file."""

    character: str
    text: str
    line_number: int
    parenthetical: str = ""
    extension: str = ""  # V.O., O.S., CONT'D

    @property
    def off_screen(self) -> bool:
        return self.extension.upper().replace(".", "") in {"VO", "OS", "OC"}


@dataclass
class Action:
    text: str
    line_number: int


@dataclass
class Scene:
    heading: str
    line_number: int
    interior: bool
    location: str
    time: str
    beats: list[Line | Action] = field(default_factory=list)
    transition_in: str = ""  # the transition written before this scene (CUT TO:, DISSOLVE TO:, FADE IN:)

    @property
    def lines(self) -> list[Line]:
        return [b for b in self.beats if isinstance(b, Line)]

    @property
    def characters(self) -> list[str]:
        """Characters seen in the scene: those who speak on screen or are named in its action."""
        names = [ln.character for ln in self.lines if not ln.off_screen]
        return list(dict.fromkeys(names))


@dataclass
class Screenplay:
    title: str
    scenes: list[Scene]
    transition_out: str = ""  # a closing FADE OUT.
    source: str = "screenplay"

    @property
    def characters(self) -> list[str]:
        """Every speaking character, in order of first line."""
        return list(dict.fromkeys(ln.character for s in self.scenes for ln in s.lines))

    @property
    def actions(self) -> list[Action]:
        return [b for s in self.scenes for b in s.beats if isinstance(b, Action)]


def _fail(source: str, line: int, message: str) -> OpenreelsError:
    return OpenreelsError(f"{source} line {line}: {message}")


def parse_fountain(text: str, source: str = "screenplay") -> Screenplay:
    """Parse Fountain text; a malformed screenplay raises OpenreelsError naming the offending line."""
    try:
        from fountain import FountainParser
        from fountain.elements import ElementType as T
    except ImportError as exc:
        raise OpenreelsError(
            "the drama studio needs fountain-py; run `pip install 'openreels[drama]'`"
        ) from exc

    parser = FountainParser()
    for issue in parser.validate(text):
        if issue.code == "orphan-character-cue":
            raise _fail(
                source, issue.line_number, f"{issue.message}; put the spoken line right below the name"
            )
        if issue.severity == "error":
            raise _fail(source, issue.line_number, f"{issue.message}; fix it and run again")
    doc = parser.parse(text)

    scenes: list[Scene] = []
    pending_transition = ""
    speaker: Line | None = None  # the cue whose dialogue is being read

    def add_beat(beat: Line | Action) -> None:
        if not scenes:
            if isinstance(beat, Action):
                return  # action before the first heading (a cold open note) has no place to be filmed
            raise _fail(
                source,
                beat.line_number,
                "dialogue before the first scene heading; add one like 'INT. ROOM - DAY'",
            )
        scenes[-1].beats.append(beat)

    def walk(elements) -> None:
        nonlocal pending_transition, speaker
        for el in elements:
            kind = el.type
            if kind == T.DUAL_DIALOGUE:
                left, right = el.dual_dialogue_columns()
                walk(left + right)  # spoken one after the other: there is no overlapping speech yet
                continue
            if kind != T.PARENTHETICAL and kind != T.DIALOGUE:
                speaker = None
            if kind == T.SCENE_HEADING:
                match = HEADING_RE.match(el.text.strip())
                prefix = match.group(1).upper() if match else ""
                location = (match.group(2) if match else el.text).strip()
                time = ((match.group(3) if match else "") or "").strip()
                scenes.append(
                    Scene(
                        heading=el.text.strip(),
                        line_number=el.line_number,
                        interior=prefix.startswith(("INT", "I/")),
                        location=location,
                        time=time,
                        transition_in=pending_transition,
                    )
                )
                pending_transition = ""
            elif kind == T.CHARACTER:
                name = re.sub(r"\s*\(.*?\)\s*", " ", el.text).strip().upper()
                extension = str(el.metadata.get("extension", ""))
                speaker = Line(character=name, text="", line_number=el.line_number, extension=extension)
            elif kind == T.PARENTHETICAL:
                if speaker is not None:
                    speaker.parenthetical = el.text.strip().strip("()").strip()
            elif kind == T.DIALOGUE:
                if speaker is None:
                    raise _fail(source, el.line_number, "dialogue without a character name above it")
                text = " ".join(el.text.split())
                if text:
                    line = Line(
                        speaker.character, text, el.line_number, speaker.parenthetical, speaker.extension
                    )
                    add_beat(line)
                    speaker.parenthetical = ""
            elif kind == T.ACTION:
                if el.text.strip():
                    add_beat(Action(" ".join(el.text.split()), el.line_number))
            elif kind == T.TRANSITION:
                pending_transition = el.text.strip().upper()

    walk(doc.elements)
    if not scenes:
        raise _fail(source, 1, "no scene heading found; start each scene with a line like 'INT. ROOM - DAY'")
    title = str(doc.metadata.get("title", "")).strip() or "Untitled"
    return Screenplay(title=title, scenes=scenes, transition_out=pending_transition, source=source)
