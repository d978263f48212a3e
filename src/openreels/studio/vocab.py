"""The stage words of WORLD.md that the studio writes into captions and prompts (the tiny model's vocabulary),
and the lookups that map screenplay language onto them."""

from __future__ import annotations

import re
from typing import Literal, get_args

Kind = Literal["man", "woman", "child"]
Skin = Literal["light", "medium", "dark"]
HairColour = Literal["black", "brown", "blonde", "red", "white", "blue"]
HairStyle = Literal["short", "long", "bald"]
Colour = Literal[
    "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "white", "gray", "black"
]
Environment = Literal["studio", "room", "street", "park", "beach", "night sky"]
Lighting = Literal["daylight", "warm", "cool", "dim"]
Expression = Literal[
    "neutral",
    "happy",
    "laughing",
    "sad",
    "crying",
    "angry",
    "surprised",
    "fearful",
    "disgusted",
    "contemptuous",
    "thoughtful",
]
Action = Literal[
    "standing",
    "talking",
    "waving",
    "nodding",
    "shaking head",
    "jumping",
    "walking left",
    "walking right",
    "raising arms",
    "turning around",
]
Position = Literal["left", "center", "right"]
ShotType = Literal["extreme close-up", "close-up", "medium close-up", "medium shot", "full shot", "wide shot"]
ShotAngle = Literal["eye level", "high angle", "low angle", "overhead"]
CameraMotion = Literal[
    "static",
    "pan left",
    "pan right",
    "tilt up",
    "tilt down",
    "zoom in",
    "zoom out",
    "dolly in",
    "dolly out",
    "truck left",
    "truck right",
    "roll clockwise",
    "roll counterclockwise",
    "handheld",
]

KINDS: tuple[str, ...] = get_args(Kind)
SKINS: tuple[str, ...] = get_args(Skin)
HAIR_COLOURS: tuple[str, ...] = get_args(HairColour)
HAIR_STYLES: tuple[str, ...] = get_args(HairStyle)
COLOURS: tuple[str, ...] = get_args(Colour)
ENVIRONMENTS: tuple[str, ...] = get_args(Environment)
LIGHTINGS: tuple[str, ...] = get_args(Lighting)
EXPRESSIONS: tuple[str, ...] = get_args(Expression)
ACTIONS: tuple[str, ...] = get_args(Action)
POSITIONS: tuple[str, ...] = get_args(Position)
SHOT_TYPES: tuple[str, ...] = get_args(ShotType)
SHOT_ANGLES: tuple[str, ...] = get_args(ShotAngle)
CAMERA_MOTIONS: tuple[str, ...] = get_args(CameraMotion)

# Word stems in parentheticals and action text -> WORLD expression / action (first match wins).
EXPRESSION_CUES = (
    ("laugh", "laughing"),
    ("giggl", "laughing"),
    ("cry", "crying"),
    ("sob", "crying"),
    ("tear", "crying"),
    ("angr", "angry"),
    ("furious", "angry"),
    ("shout", "angry"),
    ("yell", "angry"),
    ("snap", "angry"),
    ("surpris", "surprised"),
    ("gasp", "surprised"),
    ("shock", "surprised"),
    ("amaz", "surprised"),
    ("afraid", "fearful"),
    ("fear", "fearful"),
    ("scared", "fearful"),
    ("nervous", "fearful"),
    ("whisper", "fearful"),
    ("disgust", "disgusted"),
    ("sneer", "contemptuous"),
    ("scoff", "contemptuous"),
    ("contempt", "contemptuous"),
    ("smirk", "contemptuous"),
    ("sad", "sad"),
    ("sigh", "sad"),
    ("quiet", "sad"),
    ("think", "thoughtful"),
    ("ponder", "thoughtful"),
    ("wonder", "thoughtful"),
    ("hesita", "thoughtful"),
    ("smil", "happy"),
    ("happ", "happy"),
    ("cheer", "happy"),
    ("grin", "happy"),
    ("warm", "happy"),
)
ACTION_CUES = (
    ("wave", "waving"),
    ("nod", "nodding"),
    ("shakes head", "shaking head"),
    ("shakes her head", "shaking head"),
    ("shakes his head", "shaking head"),
    ("jump", "jumping"),
    ("leap", "jumping"),
    ("walks left", "walking left"),
    ("walks right", "walking right"),
    ("walks away", "walking right"),
    ("walks in", "walking left"),
    ("walk", "walking right"),
    ("runs", "walking right"),
    ("raises", "raising arms"),
    ("arms up", "raising arms"),
    ("turns", "turning around"),
)


def find_cue(text: str, cues: tuple[tuple[str, str], ...], default: str) -> str:
    """The first cue whose stem occurs in `text` (case-insensitive), else `default`."""
    low = text.lower()
    for stem, word in cues:
        if stem in low:
            return word
    return default


def words_in(text: str, vocabulary: tuple[str, ...]) -> list[str]:
    """Vocabulary words that occur in `text` as whole words, in the order they appear."""
    low = text.lower()
    hits = [(m.start(), w) for w in vocabulary for m in [re.search(rf"\b{re.escape(w)}\b", low)] if m]
    return [w for _, w in sorted(hits)]
