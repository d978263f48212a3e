"""The prompt enhancer (SkyReels-V2's, for the stage): a short prompt becomes the full structured prompt the
models were trained on. Every field the user named is kept; the missing ones are filled either offline from
the stage vocabulary (seeded, so the same prompt and seed always give the same result) or by an LLM behind an
OpenAI-compatible endpoint, asked for the caption structure as JSON and validated.

    enhance("a woman laughing, red backdrop", seed=0).prompt
    -> "Close-up, low angle, pan left shot. A woman with long blonde hair and ... is standing with a medium
        laughing expression, center of frame. Studio with a plain red backdrop, warm light."
"""

from __future__ import annotations

from dataclasses import dataclass

from openreels.caption.endpoint import ask_json
from openreels.caption.schema import FIELDS, caption_from_fields, flat_fields, json_schema, validate_caption
from openreels.errors import OpenreelsError
from openreels.world import vocab as V
from openreels.world.caption import caption_to_prompt, parse_prompt, scene_from_caption, scene_to_caption
from openreels.world.caption import unknown_words as _unknown


@dataclass
class Enhanced:
    original: str
    prompt: str  # the full structured prompt
    caption: dict  # its caption
    kept: list[str]  # flat fields the user named (all kept)
    filled: list[str]  # flat fields the enhancer chose
    enhancer: str  # "stage (seed N)" or "llm MODEL at URL"
    unknown_words: list[str]

    def record(self) -> dict:
        """What a sidecar keeps about the enhancement."""
        return {"original_prompt": self.original, "enhanced_prompt": self.prompt, "enhancer": self.enhancer}


def _check(prompt: str) -> str:
    if not isinstance(prompt, str) or not prompt.strip():
        raise OpenreelsError("the prompt to enhance is empty; describe the video in a few words")
    return prompt.strip()


def _finish(original: str, caption: dict, given: dict[str, str], enhancer: str) -> Enhanced:
    unknown = _unknown(original)
    prompt = caption_to_prompt(caption)
    if unknown:  # words the stage does not know stay in the prompt, so nothing the user said is lost
        prompt = f"{prompt} {original.rstrip('.')}."
    filled = [k for k in flat_fields(caption) if k not in given]
    return Enhanced(original, prompt, caption, sorted(given), filled, enhancer, unknown)


def _given(prompt: str) -> tuple[dict, dict[str, str]]:
    parsed = parse_prompt(prompt)
    flat = flat_fields(parsed)
    # parse_prompt lists no absent objects; only the objects it found count as named
    return parsed, {k: v for k, v in flat.items() if not (k.startswith("object") and v == "none")}


def enhance(prompt: str, seed: int = 0, base: dict | None = None) -> Enhanced:
    """Offline: the user's fields, the rest taken from `base` (a caption, e.g. a storyboard shot's) where it
    names them, else drawn from the stage vocabulary with `seed`."""
    prompt = _check(prompt)
    parsed, given = _given(prompt)
    if base:
        flat = {k: v for k, v in flat_fields(base).items() if k != "shot_position"} | given
        if given.get("environment") and given["environment"] not in V.BACKDROP_ENVIRONMENTS:
            flat["backdrop"] = "none"
        parsed = caption_from_fields(flat)
    caption = scene_to_caption(scene_from_caption(parsed, seed))
    caption.pop("shot_position", None)  # where the face lands follows from the rest; prompts do not name it
    return _finish(prompt, caption, given, f"stage (seed {seed})")


SYSTEM_PROMPT = f"""You expand a short video prompt into the full structured caption a video model was trained on
(SkyReels-V2's prompt enhancer, SkyCaptioner-V1 structure). Keep every detail the user gave exactly; choose
every missing field so the whole is plausible. Answer with one JSON object and nothing else:
{{"subjects": [{{"type": "human", "sub-type": ..., "skin": ..., "hair_style": ..., "hair_color": ... or null,
  "shirt_color": ..., "expression": ..., "intensity": ..., "action": ..., "position": ...}}],
 "shot_type": ..., "shot_angle": ..., "camera_motion": ..., "environment": ..., "backdrop": colour or null,
 "lighting": ...}}
Use only these words: human sub-type: {", ".join(V.KINDS)}; skin: {", ".join(V.SKINS)};
hair_style: {", ".join(V.HAIR_STYLES)}; hair_color: {", ".join(V.HAIR_COLORS)} (null when bald);
colours: {", ".join(V.COLOR_NAMES)}; expression: {", ".join(V.EXPRESSIONS)}; intensity: {", ".join(V.INTENSITIES)};
action: {", ".join(V.ACTIONS)}; position: {", ".join(V.POSITIONS)}; objects (type "object", with sub-type, color,
position): {", ".join(V.OBJECTS)}; shot_type: {", ".join(V.SHOT_TYPES)}; shot_angle: {", ".join(V.SHOT_ANGLES)};
camera_motion: {", ".join(V.CAMERA_MOTIONS)}; environment: {", ".join(V.ENVIRONMENTS)};
backdrop: the studio backdrop or room wall colour (null elsewhere); lighting: {", ".join(V.LIGHTINGS)}."""


def _overlay(caption: dict, given: dict[str, str]) -> dict:
    """The LLM's caption with every field the user named put back (an LLM may drift from them)."""
    flat = flat_fields(caption)
    flat.update(given)
    if given.get("environment") and given["environment"] not in V.BACKDROP_ENVIRONMENTS:
        flat["backdrop"] = "none"
    people = sum(1 for s in caption.get("subjects", []) if s.get("type") == "human")
    flat["people"] = str(max(int(given.get("people", "1")), min(people, V.MAX_CHARACTERS)))
    return caption_from_fields({k: v for k, v in flat.items() if k in FIELDS})


def enhance_llm(
    prompt: str, url: str, model: str, key: str = "", timeout: float = 60.0, retries: int = 2
) -> Enhanced:
    """With an LLM at `url` (OpenAI-compatible) choosing the missing fields; its answer is validated."""
    prompt = _check(prompt)
    _, given = _given(prompt)
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]
    schema = json_schema()
    schema["required"] = [k for k in schema["required"] if k != "shot_position"]
    caption, _ = ask_json(url, model, messages, validate_caption, key, timeout, retries, schema)
    caption = _overlay(caption, given)
    return _finish(prompt, caption, given, f"llm {model} at {url}")
