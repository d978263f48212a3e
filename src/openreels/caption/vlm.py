"""The `vlm` captioner: a vision-language model behind an OpenAI-compatible endpoint looks at a few frames of
the clip and answers the caption as JSON, validated (and repaired or asked again) against the schema."""

from __future__ import annotations

import base64
import io

import numpy as np

from openreels.caption.endpoint import ask_json
from openreels.caption.schema import json_schema, validate_caption
from openreels.world import vocab as V

VIEWS = 4  # frames sent per clip: first, last and two between

SYSTEM_PROMPT = f"""You caption short video clips for training a video model, in the SkyCaptioner-V1 structure.
You get {VIEWS} frames of one clip in order. Answer with one JSON object and nothing else:
{{"subjects": [{{"type": "human", "sub-type": ..., "skin": ..., "hair_style": ..., "hair_color": ... or null,
  "shirt_color": ..., "expression": ..., "intensity": ..., "action": ..., "position": ...}},
  {{"type": "object", "sub-type": ..., "color": ..., "position": ...}}],
 "shot_type": ..., "shot_angle": ..., "shot_position": ..., "camera_motion": ..., "environment": ...,
 "backdrop": colour or null, "lighting": ...}}
The main subject comes first. Use only these words:
sub-type of a human: {", ".join(V.KINDS)}; skin: {", ".join(V.SKINS)}; hair_style: {", ".join(V.HAIR_STYLES)};
hair_color: {", ".join(V.HAIR_COLORS)} (null when bald); colours: {", ".join(V.COLOR_NAMES)};
expression: {", ".join(V.EXPRESSIONS)}; intensity: {", ".join(V.INTENSITIES)}; action: {", ".join(V.ACTIONS)};
position: {", ".join(V.POSITIONS)}; object sub-type: {", ".join(V.OBJECTS)};
shot_type: {", ".join(V.SHOT_TYPES)}; shot_angle: {", ".join(V.SHOT_ANGLES)};
shot_position (where the main face is on a 3x3 grid): {", ".join(V.SHOT_POSITIONS)};
camera_motion (what the camera does: panning left moves the picture right): {", ".join(V.CAMERA_MOTIONS)};
environment: {", ".join(V.ENVIRONMENTS)}; backdrop: the studio backdrop or room wall colour, else null;
lighting: {", ".join(V.LIGHTINGS)}."""


def _data_url(frame: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def messages_for(frames: np.ndarray) -> list[dict]:
    idx = np.unique(np.round(np.linspace(0, len(frames) - 1, VIEWS)).astype(int))
    content: list[dict] = [{"type": "text", "text": "Caption this clip."}]
    content += [{"type": "image_url", "image_url": {"url": _data_url(frames[i])}} for i in idx]
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": content}]


def caption_vlm(
    frames: np.ndarray, url: str, model: str, key: str = "", timeout: float = 120.0, retries: int = 2
) -> dict:
    """The caption a vision-language model at `url` gives a clip (T, H, W, 3) uint8."""
    caption, _ = ask_json(
        url, model, messages_for(np.asarray(frames)), validate_caption, key, timeout, retries, json_schema()
    )
    return caption
