"""What a stage clip shows: dataclasses for scenes, seeded sampling, and the held-out split.

A `Scene` holds only contract words (see vocab.py) plus `seed`, which times the blinks (the one detail
no caption names). Everything else on screen follows from the caption's words.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from openreels.errors import OpenreelsError
from openreels.world import vocab as V


@dataclass
class Character:
    kind: str = "woman"
    skin: str = "light"
    hair_color: str | None = "brown"  # None when bald
    hair_style: str = "short"
    shirt_color: str = "blue"
    expression: str = "neutral"
    intensity: str = "medium"
    action: str = "standing"
    position: str = "center"


@dataclass
class SceneObject:
    kind: str = "ball"
    color: str = "red"
    position: str = "left"


@dataclass
class Shot:
    shot_type: str = "medium shot"
    angle: str = "eye level"
    camera_motion: str = "static"


@dataclass
class Scene:
    characters: list[Character] = field(default_factory=lambda: [Character()])
    objects: list[SceneObject] = field(default_factory=list)
    environment: str = "studio"
    backdrop: str | None = "teal"  # the studio backdrop or the room's wall colour; None elsewhere
    lighting: str = "daylight"
    shot: Shot = field(default_factory=Shot)
    seed: int = 0  # times the blinks; nothing else on screen depends on it

    def replace(self, **changes: object) -> Scene:
        """A deep copy with top-level fields changed."""
        new = dataclasses.replace(
            self,
            characters=[dataclasses.replace(c) for c in self.characters],
            objects=[dataclasses.replace(o) for o in self.objects],
            shot=dataclasses.replace(self.shot),
        )
        for key, value in changes.items():
            setattr(new, key, value)
        return new


CHARACTER_FIELDS = tuple(f.name for f in dataclasses.fields(Character))
SHOT_FIELDS = tuple(f.name for f in dataclasses.fields(Shot))
_ALLOWED = {
    "kind": V.KINDS,
    "skin": V.SKINS,
    "hair_color": V.HAIR_COLORS,
    "hair_style": V.HAIR_STYLES,
    "shirt_color": V.COLOR_NAMES,
    "expression": V.EXPRESSIONS,
    "intensity": V.INTENSITIES,
    "action": V.ACTIONS,
    "position": V.POSITIONS,
    "shot_type": V.SHOT_TYPES,
    "angle": V.SHOT_ANGLES,
    "camera_motion": V.CAMERA_MOTIONS,
    "environment": V.ENVIRONMENTS,
    "backdrop": V.COLOR_NAMES,
    "lighting": V.LIGHTINGS,
}


def check_word(field_name: str, value: object) -> None:
    """Raise a one-line OpenreelsError when `value` is not a contract word for `field_name`."""
    allowed = _ALLOWED.get(field_name)
    if allowed is not None and value is not None and value not in allowed:
        raise OpenreelsError(f"unknown {field_name} {value!r}; use one of: {', '.join(allowed)}")


def validate(scene: Scene) -> Scene:
    """Check every word of a scene against the vocabulary (one-line error on the first bad one)."""
    if not 1 <= len(scene.characters) <= V.MAX_CHARACTERS:
        raise OpenreelsError(f"a scene has 1 to {V.MAX_CHARACTERS} characters, got {len(scene.characters)}")
    for c in scene.characters:
        for name in CHARACTER_FIELDS:
            check_word(name, getattr(c, name))
    for o in scene.objects:
        if o.kind not in V.OBJECTS:
            raise OpenreelsError(f"unknown object {o.kind!r}; use one of: {', '.join(V.OBJECTS)}")
        check_word("backdrop", o.color)
        check_word("position", o.position)
    for name in SHOT_FIELDS:
        check_word(name, getattr(scene.shot, name))
    for name in ("environment", "backdrop", "lighting"):
        check_word(name, getattr(scene, name))
    return scene


# Held-out split: two (shirt colour, expression, camera motion) triples per expression, picked by a fixed
# stride so every single word still appears in training; only these combinations are unseen.
HELD_OUT: frozenset[tuple[str, str, str]] = frozenset(
    (V.COLOR_NAMES[(3 * i + k * 5 + 1) % 11], e, V.CAMERA_MOTIONS[(5 * i + k * 7 + 2) % 14])
    for i, e in enumerate(V.EXPRESSIONS)
    for k in range(2)
)


def _triples(scene_or_caption: Scene | dict) -> list[tuple[str, str, str]]:
    if isinstance(scene_or_caption, Scene):
        motion = scene_or_caption.shot.camera_motion
        return [(c.shirt_color, c.expression, motion) for c in scene_or_caption.characters]
    cap = scene_or_caption
    motion = cap.get("camera_motion")
    return [
        (s.get("shirt_color"), s.get("expression"), motion)
        for s in cap.get("subjects", [])
        if s.get("type") == "human"
    ]


def is_held_out(caption: dict | Scene) -> bool:
    """True when any character's (shirt colour, expression, camera motion) is in HELD_OUT."""
    return any(t in HELD_OUT for t in _triples(caption))


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _pick(rng: np.random.Generator, options: tuple) -> str:
    return options[int(rng.integers(len(options)))]


def _sample_character(rng: np.random.Generator, position: str) -> Character:
    style = _pick(rng, V.HAIR_STYLES)
    return Character(
        kind=_pick(rng, V.KINDS),
        skin=_pick(rng, V.SKINS),
        hair_color=None if style == "bald" else _pick(rng, V.HAIR_COLORS),
        hair_style=style,
        shirt_color=_pick(rng, V.COLOR_NAMES),
        expression=_pick(rng, V.EXPRESSIONS),
        intensity=_pick(rng, V.INTENSITIES),
        action=_pick(rng, V.ACTIONS),
        position=position,
    )


SCENE_FIXED = ("environment", "backdrop", "lighting", "n_characters", "n_objects", "characters", "objects")


def _sample_once(rng: np.random.Generator, fixed: dict) -> Scene:
    n_chars = int(fixed.get("n_characters", 1 if rng.random() < 0.7 else 2))
    if n_chars == 2:
        pairs = [("left", "right"), ("left", "center"), ("center", "right")]
        positions = list(pairs[int(rng.integers(3))])
        if rng.random() < 0.5:
            positions.reverse()  # the main subject (first) may stand on either side
    else:
        positions = [_pick(rng, V.POSITIONS) if rng.random() < 0.5 else "center"]
    characters = [_sample_character(rng, p) for p in positions[:n_chars]]
    n_objects = int(fixed.get("n_objects", rng.choice([0, 0, 1, 1, 2])))
    objects = [
        SceneObject(_pick(rng, V.OBJECTS), _pick(rng, V.COLOR_NAMES), _pick(rng, V.POSITIONS))
        for _ in range(n_objects)
    ]
    environment = _pick(rng, V.ENVIRONMENTS) if rng.random() < 0.6 else "studio"
    if "backdrop" in fixed and environment not in V.BACKDROP_ENVIRONMENTS:
        environment = "studio"  # a fixed backdrop colour asks for a place that shows one
    scene = Scene(
        characters=characters,
        objects=objects,
        environment=environment,
        backdrop=_pick(rng, V.COLOR_NAMES),
        lighting=_pick(rng, V.LIGHTINGS) if rng.random() < 0.6 else "daylight",
        shot=Shot(_pick(rng, V.SHOT_TYPES), _pick(rng, V.SHOT_ANGLES), _pick(rng, V.CAMERA_MOTIONS)),
        seed=int(rng.integers(2**31 - 1)),
    )
    if "characters" in fixed:
        scene.characters = [dataclasses.replace(c) for c in fixed["characters"]]
    if "objects" in fixed:
        scene.objects = [dataclasses.replace(o) for o in fixed["objects"]]
    for key, value in fixed.items():
        if key in ("environment", "backdrop", "lighting"):
            setattr(scene, key, value)
        elif key in SHOT_FIELDS:
            setattr(scene.shot, key, value)
        elif key in CHARACTER_FIELDS:
            setattr(scene.characters[0], key, value)
    main = scene.characters[0]
    if "hair_style" in fixed or "hair_color" in fixed:
        if main.hair_style == "bald":
            main.hair_color = None
        elif main.hair_color is None:
            main.hair_color = _pick(rng, V.HAIR_COLORS)
    if "position" in fixed and len(scene.characters) > 1:
        free = [p for p in V.POSITIONS if p != main.position]
        for other in scene.characters[1:]:
            if other.position == main.position:
                other.position = free[int(rng.integers(len(free)))]
    if scene.environment not in V.BACKDROP_ENVIRONMENTS:
        scene.backdrop = None
    return scene


def sample_scene(seed: int | np.random.Generator, split: str | None = None, **fixed: object) -> Scene:
    """A random scene; `fixed` fields override (scene fields, shot fields, or the main character's).

    split="train" never returns a held-out combination, split="heldout" always does, None allows both.
    Example: sample_scene(3, backdrop="teal", expression="happy", camera_motion="pan left").
    """
    unknown = set(fixed) - set(SCENE_FIXED) - set(SHOT_FIELDS) - set(CHARACTER_FIELDS)
    if unknown:
        raise OpenreelsError(f"sample_scene got unknown field(s) {sorted(unknown)}")
    for key, value in fixed.items():
        check_word(key, value)
    if split not in (None, "train", "heldout"):
        raise OpenreelsError(f"split must be 'train' or 'heldout', got {split!r}")
    rng = _rng(seed)
    if split == "heldout":
        triples = sorted(HELD_OUT)
        shirt, expression, motion = triples[int(rng.integers(len(triples)))]
        fixed = {"shirt_color": shirt, "expression": expression, "camera_motion": motion, **fixed}
    for _ in range(1000):
        scene = _sample_once(rng, fixed)
        if split != "train" or not is_held_out(scene):
            return validate(scene)
    raise OpenreelsError("the fixed fields only allow held-out combinations; use split='heldout'")


def sample_heldout_scene(seed: int | np.random.Generator, **fixed: object) -> Scene:
    """A scene whose main character shows one of the held-out combinations (for evaluation)."""
    return sample_scene(seed, split="heldout", **fixed)
