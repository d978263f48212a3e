"""Prompt states for training: sentence-wise encoding (the same at inference), short prompts made of a few of a
prompt's sentences, and encoding that does not depend on which prompts share a batch."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import torch

from openreels.pipelines import load_pipeline
from openreels.pipelines.text import join_states, split_sentences
from openreels.train.loop import DistInfo
from openreels.train.recipes import get_recipe
from openreels.train.runner import Run, _load_encoded, run_recipe
from openreels.train.text import PromptEncoder

ASSET = Path(__file__).resolve().parents[2] / "src" / "openreels" / "assets" / "openreels-tiny"
PROMPT = (
    "Close-up, eye level, static shot. A woman with long red hair in a blue shirt is laughing, center of frame. "
    "A yellow ball on the left. Studio with a plain teal backdrop, warm light."
)
PLACE = "Studio with a plain teal backdrop, warm light."


def _tokens(states: torch.Tensor) -> int:
    return int((states.abs().sum(-1) > 0).sum())


def test_split_sentences_keeps_every_sentence_and_the_empty_prompt():
    assert split_sentences(PROMPT) == [
        "Close-up, eye level, static shot.",
        "A woman with long red hair in a blue shirt is laughing, center of frame.",
        "A yellow ball on the left.",
        PLACE,
    ]
    assert split_sentences("") == [""] and split_sentences("No full stop") == ["No full stop"]
    assert split_sentences("Wow! Really? Yes.") == ["Wow!", "Really?", "Yes."]


def test_a_sentence_means_the_same_alone_and_inside_a_prompt_only_when_encoded_by_sentence():
    for by_sentence in (True, False):
        whole, alone = PromptEncoder("cpu", 128, by_sentence=by_sentence)([PROMPT, PLACE])
        n, k = _tokens(whole), _tokens(alone)
        same = torch.allclose(whole[n - k : n], alone[:k], atol=2e-3)
        assert same == by_sentence  # whole-prompt states of the place sentence carry the rest of the prompt


def test_the_pipeline_encodes_a_sentence_wise_model_as_training_does(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(ASSET, folder)
    meta = json.loads((folder / "openreels.json").read_text())
    encoded = {}
    for mode in (None, "sentences"):
        meta.pop("text_encoding", None)
        if mode:
            meta["text_encoding"] = mode
        (folder / "openreels.json").write_text(json.dumps(meta))
        pipe = load_pipeline(folder, "t2v", device="cpu", dtype="float32")
        encoded[mode], _ = pipe.encode_prompt(
            PROMPT, do_classifier_free_guidance=False, max_sequence_length=128
        )
    for mode, by_sentence in ((None, False), ("sentences", True)):
        trained_with = PromptEncoder("cpu", 128, by_sentence=by_sentence)([PROMPT])
        assert torch.allclose(encoded[mode], trained_with, atol=1e-2)
    assert not torch.allclose(encoded[None], encoded["sentences"], atol=1e-2)


def test_a_prompts_states_do_not_depend_on_the_prompts_batched_with_it():
    alone = PromptEncoder("cpu", 128)([PLACE])
    together = PromptEncoder("cpu", 128)([PROMPT, PLACE])[1:]
    assert alone.shape == together.shape == (1, 128, 384)
    n = _tokens(alone)
    assert 5 < n < 20 and not together[0, n:].any()  # real tokens, then zero padding as the pipelines pad
    assert torch.allclose(alone, together, atol=2e-3)  # the cache keeps fp16


def test_the_encode_stage_stores_sentences_and_training_batches_join_a_few_of_them(tmp_path, one_thread):
    recipe = get_recipe("test")
    # Stage clips (several sentences per prompt) at the test recipe's toy size.
    recipe = replace(recipe, source="stage", size=64, clips=12, render_workers=0, max_sequence_length=128)
    recipe.vae_loop = replace(recipe.vae_loop, steps=2)
    recipe.dit_loop = replace(recipe.dit_loop, steps=2)
    run_recipe(recipe, tmp_path / "model", tmp_path / "work", "cpu", log=lambda _: None)
    assert json.loads((tmp_path / "model" / "openreels.json").read_text())["text_encoding"] == "sentences"
    run = Run(tmp_path / "work", torch.device("cpu"), DistInfo(), lambda _: None, None, {})
    data = _load_encoded(recipe, run)
    bank, lengths, clip_units = (data.tensors[k] for k in ("unit_bank", "unit_tokens", "clip_units"))
    assert (clip_units >= 0).sum(1).min() >= 3  # stage prompts: shot, character(s), objects, place

    def join(units):  # the clip's sentences as the pipeline would encode them
        return join_states([bank[u, : lengths[u]] for u in units], 128).float()

    clips = [[u for u in row if u >= 0] for row in clip_units.tolist()]
    whole = [join(units) for units in clips]
    short = [  # every ordered choice of 1 or 2 of a clip's sentences
        join([units[j] for j in range(len(units)) if mask >> j & 1])
        for units in clips
        for mask in range(1, 2 ** len(units))
        if mask.bit_count() <= recipe.short_prompt_sentences
    ]
    for p_short, expected in ((1.0, short), (0.0, whole)):
        model = replace(recipe, p_short_prompt=p_short).build(data, run)
        for text in model.batches(0, 0)["text"]:
            assert any(torch.equal(text, e) for e in expected)
    assert torch.equal(model.held_out[0]["text"][-1], whole[-1])  # held out: whole prompts
