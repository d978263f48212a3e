"""Structured captions for users (SkyCaptioner-V1's role) and the prompt enhancer (SkyReels-V2's).

Backends that caption a clip (T, H, W, 3) into the schema of `openreels.world.caption`:
* `stage`   (`stage.caption_stage`): analysis by synthesis on the stage's own renderer; stage clips only.
* `learned` (`learned.caption_clip`): a small video encoder with one head per field, trained on stage clips
  (`python -m openreels.caption.train`), bundled as fp16 safetensors; `openreels eval score --fast` uses it.
* `vlm`     (`vlm.caption_vlm`): a vision-language model behind an OpenAI-compatible endpoint, its JSON
  validated against the schema (`schema.validate_caption`) and asked again when invalid.
`run` captions folders into a resumable JSONL; `enhance` expands short prompts (offline or with an LLM).
This room imports torch only in `learned`, `train` and `score`.
"""

from openreels.caption.enhance import Enhanced, enhance, enhance_llm
from openreels.caption.schema import (
    FIELDS,
    CaptionInvalid,
    caption_from_fields,
    flat_fields,
    validate_caption,
)

__all__ = [
    "FIELDS",
    "CaptionInvalid",
    "Enhanced",
    "caption_from_fields",
    "enhance",
    "enhance_llm",
    "flat_fields",
    "validate_caption",
]
