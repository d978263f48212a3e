"""Prompt states for training: sentence dropout (prompts that keep a subset of their sentences) and encoding
that does not depend on which prompts share a batch."""

from dataclasses import replace

import numpy as np
import torch

from openreels.train.loop import DistInfo
from openreels.train.recipes import get_recipe, sentence_variants
from openreels.train.runner import Run, _load_encoded, run_recipe
from openreels.train.text import PromptEncoder

PROMPT = (
    "Close-up, eye level, static shot. A woman with long red hair in a blue shirt is laughing, center of frame. "
    "A yellow ball on the left. Studio with a plain teal backdrop, warm light."
)


def test_sentence_variants_keep_a_nonempty_ordered_subset_of_the_sentences():
    sentences = [s if s.endswith(".") else s + "." for s in PROMPT.split(". ")]
    variants = sentence_variants(PROMPT, 200, np.random.default_rng(0))
    seen = set()
    for v in variants:
        kept = [s for s in sentences if s in v]
        assert kept and " ".join(kept) == v  # only whole sentences, in the prompt's order
        seen.add(v)
    assert {s for s in sentences} <= seen  # each sentence also appears on its own
    assert PROMPT in seen and len(seen) > 8
    assert sentence_variants(PROMPT, 5, np.random.default_rng(3)) == sentence_variants(
        PROMPT, 5, np.random.default_rng(3)
    )


def test_a_prompts_states_do_not_depend_on_the_prompts_batched_with_it():
    short = "Studio with a plain teal backdrop, warm light."
    alone = PromptEncoder("cpu", 128)([short])
    together = PromptEncoder("cpu", 128)([PROMPT, short])[1:]
    assert alone.shape == together.shape == (1, 128, 384)
    n = int((alone.abs().sum(-1) > 0).sum())
    assert 5 < n < 20 and not together[0, n:].any()  # real tokens, then zero padding as the pipelines pad
    assert torch.allclose(alone, together, atol=2e-3)  # the cache keeps fp16


def test_the_encode_stage_stores_sentence_dropout_prompts_and_training_batches_use_them(tmp_path, one_thread):
    recipe = get_recipe("test")
    # Stage clips (several sentences per prompt) at the test recipe's toy size.
    recipe = replace(recipe, source="stage", size=64, clips=12, render_workers=0, max_sequence_length=128)
    recipe.vae_loop = replace(recipe.vae_loop, steps=2)
    recipe.dit_loop = replace(recipe.dit_loop, steps=2)
    run_recipe(recipe, tmp_path / "model", tmp_path / "work", "cpu", log=lambda _: None)
    run = Run(tmp_path / "work", torch.device("cpu"), DistInfo(), lambda _: None, None, {})
    data = _load_encoded(recipe, run)
    idx, bank, whole = (data.tensors[k] for k in ("variant_idx", "variant_bank", "text_bank"))
    assert idx.shape == (12, recipe.prompt_variants)
    tokens = lambda states: (states.float().abs().sum(-1) > 0).sum(-1)  # noqa: E731
    assert (tokens(bank).float().mean() < tokens(whole).float().mean()).item()  # shorter on average

    for p, expect_variants in ((1.0, True), (0.0, False)):
        model = replace(recipe, p_prompt_variant=p).build(data, run)
        batch = model.batches(0, 0)
        text = batch["text"][:, : bank.shape[1]]
        rows = bank.float()[idx].flatten(0, 1)  # every clip's variants
        matches = [(rows - t).abs().amax(dim=(1, 2)).min() < 1e-6 for t in text]
        assert all(matches) == expect_variants
