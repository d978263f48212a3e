"""Field types over the stage's words (WORLD.md, as openreels.world.vocab holds them) and the lookups that map
screenplay language onto those words."""

from __future__ import annotations

import re
from typing import Literal

from openreels.world import vocab as W

# pydantic field types for the storyboard and cast files: exactly the stage's words (openreels.world.vocab).
Kind = Literal[W.KINDS]
Skin = Literal[W.SKINS]
HairColour = Literal[W.HAIR_COLORS]
HairStyle = Literal[W.HAIR_STYLES]
Colour = Literal[W.COLOR_NAMES]
Environment = Literal[W.ENVIRONMENTS]
Lighting = Literal[W.LIGHTINGS]
Expression = Literal[W.EXPRESSIONS]
Intensity = Literal[W.INTENSITIES]
Action = Literal[W.ACTIONS]
Position = Literal[W.POSITIONS]
ShotType = Literal[W.SHOT_TYPES]
ShotAngle = Literal[W.SHOT_ANGLES]
CameraMotion = Literal[W.CAMERA_MOTIONS]

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
