"""The stage's vocabulary: every word of the vocabulary contract (WORLD.md, summarised in docs/world.md).

Order matters only for sampling (indices come from the seeded generator); captions and prompts always
carry the words themselves. Words may be added, never renamed or dropped.
"""

from __future__ import annotations

KINDS = ("man", "woman", "child")
SKINS = ("light", "medium", "dark")
HAIR_COLORS = ("black", "brown", "blonde", "red", "white", "blue")
HAIR_STYLES = ("short", "long", "bald")
POSITIONS = ("left", "center", "right")

# Contract sRGB values for backdrops, clothing and objects.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (240, 140, 30),
    "yellow": (240, 220, 40),
    "green": (50, 170, 70),
    "teal": (30, 160, 160),
    "blue": (40, 80, 220),
    "purple": (140, 60, 190),
    "pink": (240, 130, 180),
    "white": (240, 240, 240),
    "gray": (128, 128, 128),
    "black": (25, 25, 25),
}
COLOR_NAMES = tuple(COLORS)

# Hair colours are drawn in natural tones; `red`/`blue`/`white`/`black` reuse the contract palette's hue.
HAIR_RGB: dict[str, tuple[int, int, int]] = {
    "black": (30, 26, 24),
    "brown": (110, 66, 34),
    "blonde": (235, 200, 110),
    "red": (200, 70, 30),
    "white": (235, 235, 230),
    "blue": (40, 80, 220),
}
SKIN_RGB: dict[str, tuple[int, int, int]] = {
    "light": (246, 212, 186),
    "medium": (205, 150, 105),
    "dark": (120, 76, 50),
}

ENVIRONMENTS = ("studio", "room", "street", "park", "beach", "night sky")
# Environments whose main colour is a contract colour (`backdrop`): the studio backdrop and the room's wall.
BACKDROP_ENVIRONMENTS = ("studio", "room")
LIGHTINGS = ("daylight", "warm", "cool", "dim")
# Per-channel gain applied to the finished frame; probes invert it when reading colours.
LIGHTING_GAIN: dict[str, tuple[float, float, float]] = {
    "daylight": (1.0, 1.0, 1.0),
    "warm": (1.06, 0.95, 0.78),
    "cool": (0.84, 0.95, 1.08),
    "dim": (0.52, 0.52, 0.6),
}

EXPRESSIONS = (
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
)
INTENSITIES = ("weak", "medium", "strong")
INTENSITY_WEIGHT = {"weak": 0.45, "medium": 0.72, "strong": 1.0}

ACTIONS = (
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
)
OBJECTS = ("ball", "cup", "hat", "book", "umbrella", "flower")

SHOT_TYPES = ("extreme close-up", "close-up", "medium close-up", "medium shot", "full shot", "wide shot")
SHOT_ANGLES = ("eye level", "high angle", "low angle", "overhead")
CAMERA_MOTIONS = (
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
)
# SkyCaptioner's shot_position: where the main subject's face sits in a 3 x 3 grid of the first frame.
SHOT_POSITIONS = (
    "top left",
    "top center",
    "top right",
    "middle left",
    "center",
    "middle right",
    "bottom left",
    "bottom center",
    "bottom right",
)

MAX_CHARACTERS = 2
MAX_OBJECTS = 2
