"""The caption schema every backend writes: SkyCaptioner-V1's fields in the stage's words, as flat fields
(what the learned heads predict and the accuracy table counts) and back as a caption dict.

A caption dict is the one `openreels.world.caption` defines (subjects[] with sub-type, appearance, action,
expression, position, is_main_subject; shot_type, shot_angle, shot_position, camera_motion, environment,
backdrop, lighting). `validate_caption` checks one written by someone else (an LLM) and repairs what can be
repaired: case, spacing, synonyms the prompt parser knows; anything else is reported, never guessed.
"""

from __future__ import annotations

import re

from openreels.world import vocab as V

NONE = "none"  # the class of a field a clip does not show (a bald person's hair colour, a backdrop outdoors)

# Flat fields: name -> classes. "main." is the main subject, "second." the other person, "object0/1." objects.
PERSON = {
    "kind": V.KINDS,
    "skin": V.SKINS,
    "hair_style": V.HAIR_STYLES,
    "hair_color": (*V.HAIR_COLORS, NONE),
    "shirt_color": V.COLOR_NAMES,
    "expression": V.EXPRESSIONS,
    "intensity": V.INTENSITIES,
    "action": V.ACTIONS,
    "position": V.POSITIONS,
}
OBJECT = {"kind": (*V.OBJECTS, NONE), "color": V.COLOR_NAMES, "position": V.POSITIONS}
SCENE = {
    "shot_type": V.SHOT_TYPES,
    "shot_angle": V.SHOT_ANGLES,
    "shot_position": V.SHOT_POSITIONS,
    "camera_motion": V.CAMERA_MOTIONS,
    "environment": V.ENVIRONMENTS,
    "backdrop": (*V.COLOR_NAMES, NONE),
    "lighting": V.LIGHTINGS,
    "people": ("1", "2"),
}
FIELDS: dict[str, tuple[str, ...]] = {
    **SCENE,
    **{f"main.{k}": v for k, v in PERSON.items()},
    **{f"second.{k}": v for k, v in PERSON.items()},
    **{f"object{i}.{k}": v for i in range(V.MAX_OBJECTS) for k, v in OBJECT.items()},
}


def _humans(caption: dict) -> list[dict]:
    return [s for s in caption.get("subjects") or [] if s.get("type") == "human"]


def _objects(caption: dict) -> list[dict]:
    return [s for s in caption.get("subjects") or [] if s.get("type") == "object"]


def flat_fields(caption: dict) -> dict[str, str]:
    """The caption's flat fields (only those it names; a field a clip cannot show is 'none')."""
    out: dict[str, str] = {}
    for key in SCENE:
        if key in caption and key != "people":
            out[key] = NONE if caption[key] is None else str(caption[key])
    humans, objects = _humans(caption), _objects(caption)
    if humans:
        out["people"] = str(min(len(humans), V.MAX_CHARACTERS))
    for prefix, person in zip(("main", "second"), humans, strict=False):
        for key in PERSON:
            src = "sub-type" if key == "kind" else key
            if src in person:
                out[f"{prefix}.{key}"] = NONE if person[src] is None else str(person[src])
        if person.get("hair_style") == "bald":
            out[f"{prefix}.hair_color"] = NONE
    if "subjects" in caption:  # a caption listing its subjects says which objects are absent too
        for i in range(V.MAX_OBJECTS):
            if i >= len(objects):
                out[f"object{i}.kind"] = NONE
                continue
            o = objects[i]
            for key, src in (("kind", "sub-type"), ("color", "color"), ("position", "position")):
                if o.get(src):
                    out[f"object{i}.{key}"] = str(o[src])
    return out


def caption_from_fields(fields: dict[str, str]) -> dict:
    """A caption dict (world.caption's shape) from flat fields (as a backend predicts them)."""
    cap: dict = {}
    for key in ("shot_type", "shot_angle", "shot_position", "camera_motion", "environment", "lighting"):
        if key in fields:
            cap[key] = fields[key]
    if "backdrop" in fields:
        cap["backdrop"] = None if fields["backdrop"] == NONE else fields["backdrop"]
    subjects = []
    people = int(fields.get("people", "1"))
    for i, prefix in enumerate(("main", "second")[:people]):
        p = {k: fields[f"{prefix}.{k}"] for k in PERSON if f"{prefix}.{k}" in fields}
        if not p:
            continue
        bald = p.get("hair_style") == "bald"
        hair_color = None if bald or p.get("hair_color") == NONE else p.get("hair_color")
        s = {
            "type": "human",
            "sub-type": p.get("kind", "person"),
            "action": p.get("action", ""),
            "expression": p.get("expression", ""),
            "position": p.get("position"),
            "is_main_subject": i == 0,
            "skin": p.get("skin"),
            "hair_color": hair_color,
            "hair_style": p.get("hair_style"),
            "shirt_color": p.get("shirt_color"),
            "intensity": p.get("intensity"),
        }
        hair = "bald" if bald else " ".join(w for w in (s["hair_style"], hair_color) if w) + " hair"
        s["appearance"] = ", ".join(
            t
            for t in (
                hair,
                s["skin"] and f"{s['skin']} skin",
                s["shirt_color"] and f"{s['shirt_color']} shirt",
            )
            if t
        )
        subjects.append({k: v for k, v in s.items() if v is not None})
    for i in range(V.MAX_OBJECTS):
        kind = fields.get(f"object{i}.kind")
        if not kind or kind == NONE:
            continue
        color = fields.get(f"object{i}.color")
        o = {"type": "object", "sub-type": kind, "action": "", "expression": "", "is_main_subject": False}
        if color:
            o["color"] = o["appearance"] = color
        if fields.get(f"object{i}.position"):
            o["position"] = fields[f"object{i}.position"]
        subjects.append(o)
    cap["subjects"] = subjects
    return cap


# ---- validation and repair of captions written by others (LLMs) ----------------------------------------

_SYNONYMS = {
    "centre": "center",
    "middle": "center",
    "grey": "gray",
    "blond": "blonde",
    "ecu": "extreme close-up",
    "cu": "close-up",
    "mcu": "medium close-up",
    "ms": "medium shot",
    "medium": "medium shot",
    "full": "full shot",
    "wide": "wide shot",
    "long shot": "wide shot",
    "eye-level": "eye level",
    "high": "high angle",
    "low": "low angle",
    "bird's eye": "overhead",
    "birds eye": "overhead",
    "top-down": "overhead",
    "still": "static",
    "fixed": "static",
    "hand-held": "handheld",
    "night": "night sky",
    "day light": "daylight",
    "female": "woman",
    "male": "man",
    "girl": "child",
    "boy": "child",
    "kid": "child",
}


class CaptionInvalid(ValueError):
    """A caption that does not fit the schema; the message lists every problem."""


def _norm(value: object, allowed: tuple[str, ...]) -> str | None:
    """The contract word `value` means, or None when it is none of them."""
    if not isinstance(value, str):
        return None
    text = re.sub(r"[\s_]+", " ", value.strip().lower())
    text = re.sub(r"\s+(shot|camera|lighting|light)$", "", text) if text not in allowed else text
    for cand in (text, _SYNONYMS.get(text), f"{text} shot", text.replace("-", " "), text.replace(" ", "-")):
        if cand in allowed:
            return cand
    return None


def validate_caption(data: object) -> dict:
    """A clean caption from `data` (a dict, e.g. an LLM's JSON): words are mapped onto the contract
    (case, synonyms), unknown extra keys dropped. Raises CaptionInvalid naming every field that is
    missing or holds a word outside the vocabulary."""
    if not isinstance(data, dict):
        raise CaptionInvalid(f"expected a JSON object, got {type(data).__name__}")
    problems: list[str] = []
    cap: dict = {}
    for key in ("shot_type", "shot_angle", "shot_position", "camera_motion", "environment", "lighting"):
        allowed = SCENE[key]
        if key not in data:
            if key != "shot_position":  # not every captioner places the face on a grid
                problems.append(f"{key} is missing")
            continue
        word = _norm(data[key], allowed)
        if word is None:
            problems.append(f"{key} {data[key]!r} is not one of {', '.join(allowed)}")
        else:
            cap[key] = word
    backdrop = data.get("backdrop")
    if backdrop in (None, "", NONE, "null"):
        cap["backdrop"] = None
    elif (word := _norm(backdrop, V.COLOR_NAMES)) is None:
        problems.append(f"backdrop {backdrop!r} is not a colour of the stage ({', '.join(V.COLOR_NAMES)})")
    else:
        cap["backdrop"] = word
    subjects = data.get("subjects")
    if not isinstance(subjects, list) or not subjects:
        problems.append("subjects must be a non-empty list")
        subjects = []
    clean = []
    for i, s in enumerate(subjects):
        if not isinstance(s, dict):
            problems.append(f"subjects[{i}] is not an object")
            continue
        kind = str(s.get("type", "human")).lower()
        if kind in ("human", "person", "people"):
            clean.append(_check_person(s, i, problems))
        elif kind == "object":
            clean.append(_check_object(s, i, problems))
        else:
            problems.append(f"subjects[{i}].type {s.get('type')!r} must be human or object")
    humans = [s for s in clean if s.get("type") == "human"]
    if subjects and not humans:
        problems.append("subjects has no human")
    if problems:
        raise CaptionInvalid("; ".join(problems))
    for i, s in enumerate(humans):
        s["is_main_subject"] = i == 0
    cap["subjects"] = (
        humans[: V.MAX_CHARACTERS] + [s for s in clean if s["type"] == "object"][: V.MAX_OBJECTS]
    )
    return cap


def _check_person(s: dict, i: int, problems: list[str]) -> dict:
    out: dict = {"type": "human"}
    for key, src in (("kind", "sub-type"), *((k, k) for k in PERSON if k != "kind")):
        allowed = tuple(w for w in PERSON[key] if w != NONE)
        value = s.get(src)
        if key == "hair_color" and (value in (None, "", NONE) or s.get("hair_style") == "bald"):
            out[src] = None
            continue
        if value is None and key in ("skin", "intensity", "hair_style"):
            continue  # details a captioner may leave out
        word = _norm(value, allowed)
        if word is None:
            problems.append(f"subjects[{i}].{src} {value!r} is not one of {', '.join(allowed)}")
        else:
            out[src] = word
    if out.get("hair_style") == "bald":
        out["hair_color"] = None
    hair = (
        "bald"
        if out.get("hair_style") == "bald"
        else f"{out.get('hair_style', '')} {out.get('hair_color') or ''} hair"
    )
    out["appearance"] = (
        s.get("appearance") if isinstance(s.get("appearance"), str) else re.sub(r"\s+", " ", hair)
    )
    return out


def _check_object(s: dict, i: int, problems: list[str]) -> dict:
    out: dict = {"type": "object", "action": "", "expression": "", "is_main_subject": False}
    kind = _norm(s.get("sub-type"), V.OBJECTS)
    if kind is None:
        problems.append(f"subjects[{i}].sub-type {s.get('sub-type')!r} is not one of {', '.join(V.OBJECTS)}")
    else:
        out["sub-type"] = kind
    color = _norm(s.get("color") or s.get("appearance"), V.COLOR_NAMES)
    if color:
        out["color"] = out["appearance"] = color
    pos = _norm(s.get("position"), V.POSITIONS)
    if pos:
        out["position"] = pos
    return out


def json_schema() -> dict:
    """The caption as a JSON Schema (for endpoints that constrain their output to one)."""
    enum = lambda words: {"type": "string", "enum": list(words)}  # noqa: E731
    person = {
        "type": "object",
        "properties": {
            "type": {"const": "human"},
            "sub-type": enum(V.KINDS),
            "skin": enum(V.SKINS),
            "hair_style": enum(V.HAIR_STYLES),
            "hair_color": {"anyOf": [enum(V.HAIR_COLORS), {"type": "null"}]},
            "shirt_color": enum(V.COLOR_NAMES),
            "expression": enum(V.EXPRESSIONS),
            "intensity": enum(V.INTENSITIES),
            "action": enum(V.ACTIONS),
            "position": enum(V.POSITIONS),
        },
        "required": ["type", "sub-type", "hair_style", "shirt_color", "expression", "action", "position"],
    }
    obj = {
        "type": "object",
        "properties": {
            "type": {"const": "object"},
            "sub-type": enum(V.OBJECTS),
            "color": enum(V.COLOR_NAMES),
            "position": enum(V.POSITIONS),
        },
        "required": ["type", "sub-type", "color"],
    }
    return {
        "type": "object",
        "properties": {
            "subjects": {"type": "array", "items": {"anyOf": [person, obj]}, "minItems": 1, "maxItems": 4},
            "shot_type": enum(V.SHOT_TYPES),
            "shot_angle": enum(V.SHOT_ANGLES),
            "shot_position": enum(V.SHOT_POSITIONS),
            "camera_motion": enum(V.CAMERA_MOTIONS),
            "environment": enum(V.ENVIRONMENTS),
            "backdrop": {"anyOf": [enum(V.COLOR_NAMES), {"type": "null"}]},
            "lighting": enum(V.LIGHTINGS),
        },
        "required": [
            "subjects",
            "shot_type",
            "shot_angle",
            "shot_position",
            "camera_motion",
            "environment",
            "backdrop",
            "lighting",
        ],
    }
