"""Structured captions (SkyCaptioner-V1 shape), plain-English prompts, and the parser back to fields.

A caption is a dict:
    subjects: list of
        {"type": "human", "sub-type": man|woman|child, "appearance": str, "action": str,
         "expression": str, "position": left|center|right, "is_main_subject": bool,
         "skin", "hair_color" (None when bald), "hair_style", "shirt_color", "intensity"}
        {"type": "object", "sub-type": ball|cup|..., "appearance": colour, "color": colour,
         "action": "", "expression": "", "position": ..., "is_main_subject": False}
    shot_type, shot_angle, shot_position (3x3 grid cell of the main face), camera_motion,
    environment, backdrop (studio/room colour or None), lighting
`parse_prompt` returns the same shape holding only the fields a prompt names.
"""

from __future__ import annotations

import re

import numpy as np

from openreels.world import vocab as V
from openreels.world.scene import CHARACTER_FIELDS, Character, Scene, sample_scene

HUMAN_KEYS = (
    "skin",
    "hair_color",
    "hair_style",
    "shirt_color",
    "expression",
    "intensity",
    "action",
    "position",
)


def _appearance(c: Character) -> str:
    hair = "bald" if c.hair_style == "bald" else f"{c.hair_style} {c.hair_color} hair"
    return f"{hair}, {c.skin} skin, {c.shirt_color} shirt"


def shot_position(scene: Scene, lay) -> str:
    """Grid cell (3 x 3) of the main character's face in the first frame."""
    from openreels.world.renderer import BODY, POSITION_X

    main = scene.characters[0]
    b = BODY[main.kind]
    y = (b["head_y"] * b["height"] - lay.target[1]) * lay.s0 * lay.squash + lay.h / 2
    col = min(int(POSITION_X[main.position] * 3), 2)
    row = min(max(int(y / lay.h * 3), 0), 2)
    return V.SHOT_POSITIONS[row * 3 + col]


def scene_to_caption(scene: Scene, lay=None) -> dict:
    """The structured caption of a scene (what the renderer shows)."""
    if lay is None:
        from openreels.world.renderer import layout

        lay = layout(scene, (256, 256))
    subjects = []
    for i, c in enumerate(scene.characters):
        subjects.append(
            {
                "type": "human",
                "sub-type": c.kind,
                "appearance": _appearance(c),
                "action": c.action,
                "expression": c.expression,
                "position": c.position,
                "is_main_subject": i == 0,
                "skin": c.skin,
                "hair_color": c.hair_color,
                "hair_style": c.hair_style,
                "shirt_color": c.shirt_color,
                "intensity": c.intensity,
            }
        )
    for o in scene.objects:
        subjects.append(
            {
                "type": "object",
                "sub-type": o.kind,
                "appearance": o.color,
                "color": o.color,
                "action": "",
                "expression": "",
                "position": o.position,
                "is_main_subject": False,
            }
        )
    return {
        "subjects": subjects,
        "shot_type": scene.shot.shot_type,
        "shot_angle": scene.shot.angle,
        "shot_position": shot_position(scene, lay),
        "camera_motion": scene.shot.camera_motion,
        "environment": scene.environment,
        "backdrop": scene.backdrop,
        "lighting": scene.lighting,
    }


_POSITION_TEXT = {"left": "on the left", "center": "in the center", "right": "on the right"}


def caption_to_prompt(caption: dict) -> str:
    """Plain English from a caption; every contract word it holds appears verbatim."""
    parts = []
    shot = [caption.get("shot_type"), caption.get("shot_angle")]
    motion = caption.get("camera_motion")
    shot = [s for s in shot if s] + ([f"{motion} shot"] if motion else [])
    if shot:
        text = ", ".join(shot)
        parts.append(text[0].upper() + text[1:] + ".")
    for s in caption.get("subjects", []):
        if s.get("type") == "human":
            words = [f"A {s.get('sub-type', 'person')}"]
            if s.get("hair_style") == "bald":
                words = [f"A bald {s.get('sub-type', 'person')}"]
            details = []
            if s.get("hair_style") not in (None, "bald") or s.get("hair_color"):
                hair = " ".join(w for w in (s.get("hair_style"), s.get("hair_color")) if w and w != "bald")
                details.append(f"{hair} hair")
            if s.get("skin"):
                details.append(f"{s['skin']} skin")
            if details:
                words.append("with " + " and ".join(details))
            if s.get("shirt_color"):
                words.append(f"in a {s['shirt_color']} shirt")
            verb = s.get("action") or "standing"
            words.append(f"is {verb}")
            if s.get("expression"):
                words.append(f"with a {s.get('intensity') or 'medium'} {s['expression']} expression")
            text = " ".join(words)
            if s.get("position"):
                text += f", {s['position']} of frame"
            parts.append(text + ".")
        elif s.get("type") == "object":
            colour = s.get("color") or ""
            text = f"A {colour} {s.get('sub-type')}".replace("  ", " ")
            if s.get("position"):
                text += " " + _POSITION_TEXT[s["position"]]
            parts.append(text + ".")
    env = caption.get("environment")
    light = caption.get("lighting")
    place = None
    if env == "studio":
        place = f"Studio with a plain {caption['backdrop']} backdrop" if caption.get("backdrop") else "Studio"
    elif env == "room":
        place = f"Room with {caption['backdrop']} walls" if caption.get("backdrop") else "Room"
    elif env:
        place = env[0].upper() + env[1:]
    light_text = None if not light else ("daylight" if light == "daylight" else f"{light} light")
    tail = ", ".join(t for t in (place, light_text) if t)
    if tail:
        parts.append(tail[0].upper() + tail[1:] + ".")
    return " ".join(parts)


# ---- parsing --------------------------------------------------------------------------------------------


def _alt(words) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_COLOR = _alt(V.COLOR_NAMES)
_MOTION_FORMS = {
    "static": r"static",
    "pan left": r"pan(?:s|ning)? left",
    "pan right": r"pan(?:s|ning)? right",
    "tilt up": r"tilt(?:s|ing)? up",
    "tilt down": r"tilt(?:s|ing)? down",
    "zoom in": r"zoom(?:s|ing)? in",
    "zoom out": r"zoom(?:s|ing)? out",
    "dolly in": r"dolly(?:ing)? in|dollies in",
    "dolly out": r"dolly(?:ing)? out|dollies out",
    "truck left": r"truck(?:s|ing)? left",
    "truck right": r"truck(?:s|ing)? right",
    "roll clockwise": r"roll(?:s|ing)? clockwise",
    "roll counterclockwise": r"roll(?:s|ing)? counter-?clockwise",
    "handheld": r"hand-?held",
}
_ACTION_FORMS = {
    "standing": r"stand(?:s|ing)",
    "talking": r"talk(?:s|ing)|speak(?:s|ing)",
    "waving": r"wav(?:es|ing|e)",
    "nodding": r"nod(?:s|ding)",
    "shaking head": r"shak(?:es|ing) (?:his |her |their )?head",
    "jumping": r"jump(?:s|ing)",
    "walking left": r"walk(?:s|ing)? (?:to the )?left",
    "walking right": r"walk(?:s|ing)? (?:to the )?right",
    "raising arms": r"rais(?:es|ing) (?:his |her |their |both )?arms",
    "turning around": r"turn(?:s|ing) around",
}
_POS_FORMS = [
    (r"\b(left|center|centre|right) of (?:the )?frame\b", None),
    (r"\bon the (left|right)\b", None),
    (r"\bin the (center|centre|middle)\b", None),
]
_STOPWORDS = set(
    "a an the with and in of is are on at to his her their its shot frame expression hair skin shirt plain "
    "backdrop walls wall light lit lighting person people camera face looks looking wearing who while "
    "beside next by near holding one two both has have very".split()
)


def _search(pattern: str, text: str):
    return re.search(rf"\b(?:{pattern})\b", text)


def _first_of(forms: dict[str, str], text: str) -> tuple[str | None, str]:
    """The earliest matching word from `forms` and the text with it blanked out."""
    best = None
    for word, pat in forms.items():
        m = _search(pat, text)
        if m and (best is None or m.start() < best[1].start()):
            best = (word, m)
    if best is None:
        return None, text
    m = best[1]
    return best[0], text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]


def _position(text: str) -> str | None:
    for pat, _ in _POS_FORMS:
        m = re.search(pat, text)
        if m:
            word = m.group(1)
            return {"centre": "center", "middle": "center"}.get(word, word)
    return None


def _parse_person(seg: str, kind: str) -> dict:
    s: dict = {"type": "human", "sub-type": kind}
    action, seg = _first_of(_ACTION_FORMS, seg)
    if action:
        s["action"] = action
    pos = _position(seg)
    if pos:
        s["position"] = pos
    if _search("bald", seg):
        s["hair_style"] = "bald"
        s["hair_color"] = None
    else:
        m = re.search(rf"\b(short|long)?\s*({_alt(V.HAIR_COLORS)})?[- ]?(?:hair|haired)\b", seg)
        if m:
            if m.group(1):
                s["hair_style"] = m.group(1)
            if m.group(2):
                s["hair_color"] = m.group(2)
    m = re.search(r"\b(light|medium|dark)[- ]skin", seg)
    if m:
        s["skin"] = m.group(1)
    m = re.search(rf"\b({_COLOR})\s+(?:t-)?shirt\b", seg)
    if m:
        s["shirt_color"] = m.group(1)
    exprs = [(m.start(), e) for e in V.EXPRESSIONS if (m := _search(re.escape(e), seg))]
    if exprs:
        s["expression"] = min(exprs)[1]
    m = re.search(r"\b(weak|medium|strong)(?:ly)?\b(?![- ]skin)", seg)
    if m:
        s["intensity"] = m.group(1)
    return s


def parse_prompt(prompt: str) -> dict:
    """A partial caption from the contract words a prompt uses; anything else is ignored
    (see `unknown_words`). Characters and objects appear in the order the prompt names them."""
    text = " " + prompt.lower().replace("\n", " ") + " "
    cap: dict = {}
    for key, words in (("shot_type", V.SHOT_TYPES), ("shot_angle", V.SHOT_ANGLES)):
        word, text = _first_of({w: re.escape(w) for w in words}, text)
        if word:
            cap[key] = word
    motion, text = _first_of(_MOTION_FORMS, text)
    if motion:
        cap["camera_motion"] = motion
    subjects = []
    # environment and lighting from the whole text
    env_forms = {e: re.escape(e) for e in V.ENVIRONMENTS}
    env_forms["night sky"] = r"night sky|at night|night"
    env, text = _first_of(env_forms, text)
    m = re.search(rf"\b({_COLOR})\s+(backdrop|background|walls?)\b", text)
    if m:
        cap["backdrop"] = m.group(1)
        env = env or ("room" if m.group(2).startswith("wall") else "studio")
        text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    if env:
        cap["environment"] = env
    m = _search(r"daylight|warm|cool|dim", text)
    if m:
        cap["lighting"] = m.group(0)
        text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    # sentences -> people (by kind word) and objects
    for sentence in re.split(r"[.;!?]", text):
        kinds = list(re.finditer(rf"\b({_alt(V.KINDS)}|men|women|children|boy|girl)\b", sentence))
        objects = list(re.finditer(rf"\b(?:({_COLOR})\s+)?({_alt(V.OBJECTS)})s?\b", sentence))
        if not kinds:
            for m in objects:
                o = {"type": "object", "sub-type": m.group(2), "action": "", "expression": ""}
                o["is_main_subject"] = False
                if m.group(1):
                    o["color"] = o["appearance"] = m.group(1)
                pos = _position(sentence[m.end() :]) or _position(sentence)
                if pos:
                    o["position"] = pos
                subjects.append(o)
            continue
        for m in objects:  # "a man holding a red ball": the object joins without a position
            o = {
                "type": "object",
                "sub-type": m.group(2),
                "action": "",
                "expression": "",
                "is_main_subject": False,
            }
            if m.group(1):
                o["color"] = o["appearance"] = m.group(1)
            subjects.append(o)
            sentence = sentence[: m.start()] + " " * (m.end() - m.start()) + sentence[m.end() :]
        starts = [0]
        for prev, nxt in zip(kinds, kinds[1:], strict=False):
            between = sentence[prev.end() : nxt.start()]
            cut = max(between.rfind(" and "), between.rfind(","))
            starts.append(prev.end() + cut if cut >= 0 else nxt.start())
        starts.append(len(sentence))
        for k, m in enumerate(kinds):
            kind = {"boy": "child", "girl": "child", "children": "child", "men": "man", "women": "woman"}.get(
                m.group(1), m.group(1)
            )
            subjects.append(_parse_person(sentence[starts[k] : starts[k + 1]], kind))
    humans = [s for s in subjects if s["type"] == "human"]
    for i, s in enumerate(humans):
        s["is_main_subject"] = i == 0
    if subjects:
        cap["subjects"] = humans + [s for s in subjects if s["type"] == "object"]
    return cap


_VOCAB_WORDS = None


def unknown_words(prompt: str) -> list[str]:
    """Words of a prompt that are neither contract words nor filler (shown to the user as a note)."""
    global _VOCAB_WORDS
    if _VOCAB_WORDS is None:
        groups = (
            V.KINDS, V.SKINS, V.HAIR_COLORS, V.HAIR_STYLES, V.POSITIONS, V.COLOR_NAMES, V.ENVIRONMENTS,
            V.LIGHTINGS, V.EXPRESSIONS, V.INTENSITIES, V.ACTIONS, V.OBJECTS, V.SHOT_TYPES, V.SHOT_ANGLES,
            V.CAMERA_MOTIONS,
        )  # fmt: skip
        words = {w for g in groups for phrase in g for w in re.split(r"[\s-]+", phrase)}
        forms = "|".join(list(_MOTION_FORMS.values()) + list(_ACTION_FORMS.values()))
        _VOCAB_WORDS = (
            words | _STOPWORDS | {"centre", "middle", "men", "women", "children", "boy", "girl"},
            forms,
        )
    words, forms = _VOCAB_WORDS
    text = re.sub(rf"\b(?:{forms})\b", " ", prompt.lower())
    tokens = re.findall(r"[a-z]+(?:-[a-z]+)*", text)
    out = []
    for tok in tokens:
        parts = tok.split("-")
        if tok not in words and not all(p in words for p in parts) and tok.rstrip("s") not in words:
            if tok not in out:
                out.append(tok)
    return out


# ---- caption -> scene -----------------------------------------------------------------------------------


def scene_from_caption(caption: dict, seed: int | np.random.Generator = 0) -> Scene:
    """A scene showing everything `caption` names; fields it leaves out are drawn from `seed`.
    People and objects appear only when named (a caption with no person gets one random person)."""
    humans = [s for s in caption.get("subjects", []) if s.get("type") == "human"]
    objects = [s for s in caption.get("subjects", []) if s.get("type") == "object"]
    n_chars = min(max(len(humans), 1), V.MAX_CHARACTERS)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    fixed: dict = {"n_characters": n_chars, "n_objects": min(len(objects), V.MAX_OBJECTS)}
    for key, field in (
        ("shot_type", "shot_type"),
        ("shot_angle", "angle"),
        ("camera_motion", "camera_motion"),
    ):
        if caption.get(key):
            fixed[field] = caption[key]
    for key in ("environment", "lighting"):
        if caption.get(key):
            fixed[key] = caption[key]
    if caption.get("backdrop"):
        fixed["backdrop"] = caption["backdrop"]
    scene = sample_scene(rng, **fixed)
    for c, s in zip(scene.characters, humans, strict=False):
        if s.get("sub-type") in V.KINDS:
            c.kind = s["sub-type"]
        for key in HUMAN_KEYS:
            if key in s and key in CHARACTER_FIELDS and (s[key] is not None or key == "hair_color"):
                setattr(c, key, s[key])
        if c.hair_style == "bald":
            c.hair_color = None
        elif c.hair_color is None:
            c.hair_color = V.HAIR_COLORS[int(rng.integers(len(V.HAIR_COLORS)))]
    if len(scene.characters) == 2:
        a, b = scene.characters
        named = [("position" in s) for s in humans] + [False, False]
        if a.position == b.position:
            free = [p for p in V.POSITIONS if p != a.position]
            if named[1] and not named[0]:
                free = [p for p in V.POSITIONS if p != b.position]
                a.position = free[int(rng.integers(2))]
            else:
                b.position = free[int(rng.integers(2))]
    for o, s in zip(scene.objects, objects, strict=False):
        o.kind = s.get("sub-type", o.kind)
        o.color = s.get("color") or o.color
        o.position = s.get("position") or o.position
    if scene.environment not in V.BACKDROP_ENVIRONMENTS:
        scene.backdrop = None
    elif scene.backdrop is None:
        scene.backdrop = V.COLOR_NAMES[int(rng.integers(len(V.COLOR_NAMES)))]
    return scene


def scene_from_prompt(prompt: str, seed: int = 0) -> Scene:
    """The scene a prompt in the contract's words describes; unspecified fields come from `seed`."""
    return scene_from_caption(parse_prompt(prompt), seed)


__all__ = [
    "caption_to_prompt",
    "parse_prompt",
    "scene_from_caption",
    "scene_from_prompt",
    "scene_to_caption",
    "unknown_words",
]
