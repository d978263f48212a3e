"""Sentence-wise prompt encoding: each sentence of a prompt through the text encoder on its own, the token
states joined. Used at inference by the DF pipelines for models whose openreels.json says
`"text_encoding": "sentences"`, and by training (`openreels.train.text.PromptEncoder`), so both build the same
tensor. Written here because diffusers encodes a prompt only as one sequence.
"""

from __future__ import annotations

import re

import torch

SENTENCES = "sentences"  # openreels.json "text_encoding" of models that encode sentence by sentence
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_sentences(prompt: str) -> list[str]:
    """A (cleaned) prompt's sentences, split after . ! or ? and a space; the empty prompt is one empty sentence."""
    return [s for s in _SENTENCE_END.split(prompt.strip()) if s] or [""]


@torch.no_grad()
def token_states(tokenizer, model, texts: list[str], max_length: int) -> list[torch.Tensor]:
    """Each text's states (tokens, width) for its real tokens, from one masked batch, as the pipelines encode."""
    tok = tokenizer(
        texts,
        padding="longest",  # with the mask, real tokens come out the same as at max_length padding
        max_length=max_length,
        truncation=True,
        add_special_tokens=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    device = next(model.parameters()).device
    mask = tok.attention_mask.to(device)
    states = model(tok.input_ids.to(device), mask).last_hidden_state
    return [row[:n] for row, n in zip(states, mask.sum(dim=1).tolist(), strict=True)]


def join_states(parts: list[torch.Tensor], max_length: int) -> torch.Tensor:
    """Sentences' token states one after another, cut to `max_length` and zero-padded to it."""
    row = torch.cat(parts)[:max_length]
    return torch.cat([row, row.new_zeros(max_length - row.shape[0], row.shape[1])])


def sentence_wise_states(tokenizer, model, prompt: str, max_length: int) -> torch.Tensor:
    """(max_length, width): each sentence of the cleaned `prompt` encoded alone, then joined."""
    return join_states(token_states(tokenizer, model, split_sentences(prompt), max_length), max_length)
