"""The storyboard: shots built from film grammar, each with a SkyCaptioner-shaped caption and a prompt in
WORLD.md's style.

Grammar per scene: an establishing wide shot; action lines that move someone become full shots;
dialogue is shot/reverse-shot (each speaker framed alone on a fixed side of the screen, so eyelines
hold across cuts); the listener's reaction close-up follows a question or exclamation they do not
answer at once, a strongly emotional line, and the scene's last line; strong emotion pushes in (closer
shot, dolly in) and tilts the angle (low for anger, high for fear and sadness). A dialogue shot lasts as
long as its spoken line plus a breath either side.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from openreels.studio import vocab
from openreels.studio.cast import Cast
from openreels.studio.screenplay import Action, Line, Scene, Screenplay
from openreels.world import vocab as W

LEAD_S = 0.25  # silence before a line starts in its shot
TAIL_S = 0.35  # and after it ends, before the cut
ESTABLISH_S = 2.0  # one window of the tiny model (17 frames at 8 fps)
ACTION_S = 2.0
REACTION_S = 1.5
STRONG = {"angry", "crying", "fearful", "surprised", "laughing", "disgusted", "contemptuous"}
ESTABLISH_MOTIONS = ("pan right", "dolly in", "truck left", "zoom out", "tilt down", "pan left")
LOCATIONS = (
    ("studio", ("STUDIO", "STAGE")),
    ("park", ("PARK", "GARDEN", "FOREST", "WOODS", "FIELD", "MEADOW")),
    ("beach", ("BEACH", "SHORE", "SEA", "OCEAN", "COAST", "PIER")),
    ("night sky", ("ROOF", "ROOFTOP", "SKY", "HILLTOP")),
    ("street", ("STREET", "ROAD", "CITY", "ALLEY", "MARKET", "SIDEWALK", "TOWN", "SQUARE")),
)
_POSITION_WORDS = {"left": "on the left", "center": "in the center", "right": "on the right"}
REACTIONS = {
    "angry": ("fearful", "standing"),
    "contemptuous": ("sad", "shaking head"),
    "disgusted": ("disgusted", "shaking head"),
    "laughing": ("happy", "nodding"),
    "happy": ("happy", "nodding"),
    "sad": ("sad", "standing"),
    "crying": ("sad", "standing"),
    "fearful": ("surprised", "standing"),
    "surprised": ("surprised", "standing"),
}


class Subject(BaseModel):
    """A person in a shot, in the keys of openreels.world's SkyCaptioner-shaped captions (plus `name`)."""

    model_config = ConfigDict(populate_by_name=True)

    name: str
    type: Literal["human"] = "human"
    sub_type: vocab.Kind = Field(alias="sub-type")
    appearance: str = ""  # free text for real models; empty means the sheet's words below
    skin: vocab.Skin
    hair_color: vocab.HairColour | None
    hair_style: vocab.HairStyle
    shirt_color: vocab.Colour
    expression: vocab.Expression = "neutral"
    intensity: vocab.Intensity = "medium"
    action: vocab.Action = "standing"
    position: vocab.Position = "center"
    is_main_subject: bool = True


class Caption(BaseModel):
    """SkyCaptioner-V1 shaped: subjects plus shot type, angle, camera motion, environment and lighting."""

    subjects: list[Subject] = Field(max_length=2)
    shot_type: vocab.ShotType
    shot_angle: vocab.ShotAngle = "eye level"
    camera_motion: vocab.CameraMotion = "static"
    environment: vocab.Environment
    backdrop: vocab.Colour | None = None  # studio backdrop or room walls
    lighting: vocab.Lighting = "daylight"

    def world(self) -> dict:
        """The caption as openreels.world takes it (its dict shape, no studio-only keys)."""
        data = self.model_dump(by_alias=True)
        for subject in data["subjects"]:
            subject.pop("name")
            if not subject["appearance"]:
                subject.pop("appearance")
        return data


class Dialogue(BaseModel):
    character: str
    text: str = Field(min_length=1)
    parenthetical: str = ""
    off_screen: bool = False
    line_number: int = 0


class Shot(BaseModel):
    id: str
    scene: int
    purpose: Literal["establishing", "dialogue", "reaction", "action"]
    transition: Literal["cut", "dissolve", "fade"] = "cut"
    duration: float = Field(gt=0, le=60)
    seed: int
    caption: Caption
    dialogue: Dialogue | None = None
    prompt_override: str = ""  # free text sent instead of the caption's prompt (for real models)
    # expand a short prompt_override to the full structure, the caption filling the gaps
    enhance: bool = False

    @property
    def prompt(self) -> str:
        if self.prompt_override and self.enhance:
            from openreels.caption import enhance

            return enhance(self.prompt_override, self.seed, base=self.caption.world()).prompt
        return self.prompt_override or caption_prompt(self.caption)

    source_line: int = 0


class Storyboard(BaseModel):
    title: str
    screenplay_sha: str = ""
    fade_out: bool = False
    shots: list[Shot]


def caption_prompt(caption: Caption) -> str:
    """The caption in WORLD.md's prompt style, written by the stage's own caption_to_prompt."""
    from openreels.world import caption_to_prompt

    # Free-text appearances (cast sheets written for real models) follow the stage words they refine.
    extra = [
        f"The {s.sub_type} {_POSITION_WORDS[s.position]}: {s.appearance}."
        for s in caption.subjects
        if s.appearance
    ]
    return " ".join([caption_to_prompt(caption.world()), *extra])


def line_expression(line: Line) -> vocab.Expression:
    """Expression from the parenthetical, then from the words of the line itself."""
    found = vocab.find_cue(line.parenthetical, vocab.EXPRESSION_CUES, "")
    return found or vocab.find_cue(line.text, vocab.EXPRESSION_CUES, "neutral")


def scene_place(scene: Scene) -> tuple[str, str | None, str]:
    """(environment, backdrop colour, lighting) from a heading like 'EXT. PARK - NIGHT'."""
    words = set(re.findall(r"[A-Z]+", scene.location.upper()))
    env = next((e for e, keys in LOCATIONS if words & set(keys)), "room" if scene.interior else "street")
    colour = next(iter(vocab.words_in(scene.location, W.COLOR_NAMES)), None)
    if env in ("studio", "room") and colour is None:
        digest = int(hashlib.sha256(scene.location.upper().encode()).hexdigest(), 16)
        colour = ("teal", "yellow", "purple", "orange", "pink", "green", "blue")[digest % 7]
    time = scene.time.upper()
    if "NIGHT" in time:
        lighting = "dim" if scene.interior or env != "night sky" else "cool"
    elif any(w in time for w in ("EVENING", "SUNSET", "DUSK")):
        lighting = "warm"
    elif any(w in time for w in ("DAWN", "MORNING")):
        lighting = "cool"
    else:
        lighting = "warm" if scene.interior else "daylight"
    return env, (colour if env in ("studio", "room") else None), lighting


def _present(scene: Scene, cast: Cast) -> list[str]:
    """Who is on screen: on-screen speakers, then characters the action names (at most 2, WORLD's limit)."""
    names = list(scene.characters)
    for beat in scene.beats:
        if isinstance(beat, Action):
            names += [n for n in cast.names if re.search(rf"\b{re.escape(n)}\b", beat.text, re.I)]
    return list(dict.fromkeys(names))[:2]


def _transition(text: str) -> Literal["cut", "dissolve", "fade"]:
    text = text.upper()
    if "DISSOLVE" in text:
        return "dissolve"
    return "fade" if "FADE" in text else "cut"


def build_storyboard(
    screenplay: Screenplay,
    cast: Cast,
    line_seconds: Callable[[Line], float],
    seed: int = 0,
    screenplay_sha: str = "",
) -> Storyboard:
    """Shots for every scene; `line_seconds` gives how long each line takes to say (its audio)."""
    shots: list[Shot] = []

    def scene_shots(si: int, scene: Scene) -> None:
        env, backdrop, lighting = scene_place(scene)
        present = _present(scene, cast)
        sides = dict(zip(present, ("left", "right") if len(present) == 2 else ("center",), strict=False))
        count = 0

        def subject(name: str, expression="neutral", action="standing", main=True) -> Subject:
            c = cast.get(name)
            intensity = "strong" if expression in STRONG else "medium"
            return Subject(
                name=name,
                sub_type=c.kind,
                appearance=c.description,
                skin=c.skin,
                hair_color=None if c.hair_style == "bald" else c.hair_color,
                hair_style=c.hair_style,
                shirt_color=c.shirt_color,
                expression=expression,
                intensity=intensity,
                action=action,
                position=sides.get(name, "center"),
                is_main_subject=main,
            )

        def add(
            purpose, duration, subjects, shot_type, source, angle="eye level", motion="static", **kw
        ) -> None:
            nonlocal count
            count += 1
            shot_id = f"s{si:02d}-{count:02d}"
            transition = _transition(scene.transition_in) if count == 1 else "cut"
            caption = Caption(
                subjects=subjects,
                shot_type=shot_type,
                shot_angle=angle,
                camera_motion=motion,
                environment=env,
                backdrop=backdrop,
                lighting=lighting,
            )
            digest = hashlib.sha256(f"{seed}/{shot_id}".encode()).hexdigest()
            shots.append(
                Shot(
                    id=shot_id,
                    scene=si,
                    purpose=purpose,
                    transition=transition,
                    duration=round(duration, 3),
                    seed=int(digest[:8], 16),
                    caption=caption,
                    source_line=source,
                    **kw,
                )
            )

        beats = list(scene.beats)
        # The establishing shot plays the scene's opening action, if it has one before any dialogue.
        opening = beats.pop(0) if beats and isinstance(beats[0], Action) else None
        open_action = vocab.find_cue(opening.text, vocab.ACTION_CUES, "standing") if opening else "standing"
        named = [n for n in present if opening and re.search(rf"\b{re.escape(n)}\b", opening.text, re.I)]
        add(
            "establishing",
            ESTABLISH_S,
            [
                subject(n, action=open_action if n in named else "standing", main=i == 0)
                for i, n in enumerate(present)
            ],
            "wide shot",
            scene.line_number,
            angle="eye level" if scene.interior else "high angle",
            motion=ESTABLISH_MOTIONS[(si - 1) % len(ESTABLISH_MOTIONS)],
        )
        spoken: set[str] = set()
        for bi, beat in enumerate(beats):
            if isinstance(beat, Action):
                movers = [n for n in present if re.search(rf"\b{re.escape(n)}\b", beat.text, re.I)]
                action = vocab.find_cue(beat.text, vocab.ACTION_CUES, "standing")
                if not movers or action == "standing":
                    continue  # description without movement stays on the page
                motion = {"walking left": "truck left", "walking right": "truck right"}.get(action, "static")
                people = [subject(n, action=action if n in movers else "standing") for n in present]
                add("action", ACTION_S, people, "full shot", beat.line_number, motion=motion)
                continue
            expr = line_expression(beat)
            dialogue = Dialogue(
                character=beat.character,
                text=beat.text,
                parenthetical=beat.parenthetical,
                off_screen=beat.off_screen or beat.character not in present,
                line_number=beat.line_number,
            )
            duration = LEAD_S + line_seconds(beat) + TAIL_S
            listeners = [n for n in present if n != beat.character]
            if dialogue.off_screen:
                # A voice from off screen plays over whoever is listening on screen.
                people = [subject(n, main=i == 0) for i, n in enumerate(listeners or present)]
                add("dialogue", duration, people, "medium shot", beat.line_number, dialogue=dialogue)
            else:
                close = expr in STRONG or beat.character in spoken
                angle = {"angry": "low angle", "contemptuous": "low angle"}.get(expr, "eye level")
                if expr in ("sad", "crying", "fearful"):
                    angle = "high angle"
                motion = "handheld" if expr == "fearful" else ("dolly in" if expr in STRONG else "static")
                add(
                    "dialogue",
                    duration,
                    [subject(beat.character, expression=expr, action="talking")],
                    "close-up" if close else "medium close-up",
                    beat.line_number,
                    angle=angle,
                    motion=motion,
                    dialogue=dialogue,
                )
            spoken.add(beat.character)
            nxt = beats[bi + 1] if bi + 1 < len(beats) else None
            answered = isinstance(nxt, Line) and nxt.character in listeners
            pointed = beat.text.rstrip().endswith(("?", "!")) and not answered
            last = not any(isinstance(b, Line) for b in beats[bi + 1 :])
            if listeners and not dialogue.off_screen and (pointed or expr in STRONG or last):
                asked = beat.text.rstrip().endswith("?")
                rx, ra = REACTIONS.get(expr, ("thoughtful" if asked or last else "surprised", "standing"))
                add(
                    "reaction",
                    REACTION_S,
                    [subject(listeners[0], expression=rx, action=ra)],
                    "close-up",
                    beat.line_number,
                    motion="zoom in",
                )

    for si, scene in enumerate(screenplay.scenes, start=1):
        scene_shots(si, scene)
    fade_out = _transition(screenplay.transition_out) == "fade"
    return Storyboard(title=screenplay.title, screenplay_sha=screenplay_sha, fade_out=fade_out, shots=shots)
