"""The a2 recipe: toy-size run end to end (loss falls, the export loads as an A2), warm start and text match."""

import re
from dataclasses import replace

import numpy as np
import torch

from openreels.train.recipes import get_recipe
from openreels.train.runner import run_recipe


def test_a2_recipe_trains_and_exports_an_a2_folder(tmp_path):
    from diffusers import WanTransformer3DModel

    from openreels.models.registry import read_openreels_json
    from openreels.pipelines.a2 import stage_references
    from openreels.pipelines.compose import load_compose_pipeline
    from openreels.world import sample_scene

    recipe = get_recipe("a2-test")
    lines: list[str] = []
    summary = run_recipe(recipe, tmp_path / "model", tmp_path / "work", "cpu", log=lines.append)
    losses = [
        float(m.group(1)) for m in map(re.compile(r"\[dit\] step \d+/\d+ loss ([\d.]+)").search, lines) if m
    ]
    assert len(losses) == 2 and losses[-1] < losses[0], lines
    assert (
        summary["dit_steps"] == recipe.dit_loop.steps and sum(summary["references"].values()) == recipe.clips
    )

    meta = read_openreels_json(tmp_path / "model")
    assert meta["family"] == "skyreels-a2" and meta["random"] is False and meta["size"] == [64, 64]
    pipe = load_compose_pipeline(tmp_path / "model")
    assert isinstance(pipe.transformer, WanTransformer3DModel)
    assert pipe.image_encoder.config.hidden_size == pipe.transformer.config.image_dim
    scene = sample_scene(1, n_objects=1)
    out = pipe("A woman is waving.", stage_references(scene, (64, 64)), seed=0)
    assert out.frames.shape == (recipe.frames, 64, 64, 3) and out.settings["negative_prompt"] == ""

    # A second call resumes from the cache and the finished checkpoint instead of encoding or training again.
    lines.clear()
    run_recipe(recipe, tmp_path / "model2", tmp_path / "work", "cpu", log=lines.append)
    assert any("loaded from" in line for line in lines) and not any("[dit] step" in line for line in lines)


def test_a_work_folder_stays_valid_when_the_checkout_moves(tmp_path, monkeypatch):
    """The cache key names the VAE as given (None: the bundled one), not the bundled folder's path, so a
    work folder encoded in one checkout continues in another."""
    import openreels.train.a2 as a2

    recipe = get_recipe("a2-test")
    before = recipe.cache_key()
    monkeypatch.setattr(a2, "_bundled_a2_dir", lambda: tmp_path / "another-checkout" / "a2-tiny")
    assert recipe.cache_key() == before and before["vae_from"] is None
    assert replace(recipe, vae_from=str(tmp_path / "vae")).cache_key() != before


def test_a_vae_of_another_design_is_refused_before_encoding(tmp_path):
    """`--vae-from` naming a VAE whose latent space is not the recipe's stops the run with one line."""
    import pytest
    from diffusers import AutoencoderKLWan

    from openreels.errors import OpenreelsError

    recipe = get_recipe("a2-test")
    AutoencoderKLWan(**(recipe.vae | {"z_dim": 8})).save_pretrained(tmp_path / "vae")
    recipe = replace(recipe, vae_from=str(tmp_path / "vae"))
    with pytest.raises(OpenreelsError, match=r"the VAE is not of the recipe's design \(z_dim differ\)"):
        run_recipe(recipe, tmp_path / "model", tmp_path / "work", "cpu", log=lambda s: None)
    assert not (tmp_path / "work" / "encoded.pt").exists() and not (tmp_path / "model").exists()


def test_warm_start_is_the_text_to_video_model_until_trained(tmp_path):
    """New input channels and image values start at zero: the A2 transformer equals the text-to-video one."""
    from diffusers import SkyReelsV2Transformer3DModel

    from openreels.train.a2 import build_a2_transformer
    from openreels.train.text import TEXT_DIM

    recipe = get_recipe("a2-tiny")
    recipe.transformer = recipe.transformer | {"num_layers": 2}  # two blocks are enough to compare
    torch.manual_seed(0)
    base = SkyReelsV2Transformer3DModel(
        in_channels=16, out_channels=16, text_dim=TEXT_DIM, patch_size=(1, 2, 2), **recipe.transformer
    ).eval()
    base.save_pretrained(tmp_path / "t2v")
    recipe.base = str(tmp_path / "t2v")
    a2 = build_a2_transformer(recipe, 16, 4, 32).eval()
    g = torch.Generator().manual_seed(0)
    x, cond = torch.randn(1, 16, 3, 4, 4, generator=g), torch.randn(1, 20, 3, 4, 4, generator=g)
    text, image = torch.randn(1, 512, 384, generator=g), torch.randn(1, 17, 32, generator=g)
    t = torch.tensor([500.0])
    with torch.no_grad():
        got = a2(torch.cat([x, cond], 1), t, text, encoder_hidden_states_image=image, return_dict=False)[0]
        want = base(x, t, text, return_dict=False)[0]
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_a_base_of_other_latent_channels_gives_its_blocks(tmp_path):
    """A text-to-video base of a 48-channel VAE starts a 16-channel A2's blocks; its in/out layers start fresh."""
    from diffusers import SkyReelsV2Transformer3DModel

    from openreels.train.a2 import build_a2_transformer
    from openreels.train.text import TEXT_DIM

    recipe = get_recipe("a2-tiny")
    recipe.transformer = recipe.transformer | {"num_layers": 2}
    base = SkyReelsV2Transformer3DModel(
        in_channels=48, out_channels=48, text_dim=TEXT_DIM, patch_size=(1, 2, 2), **recipe.transformer
    )
    base.save_pretrained(tmp_path / "t2v")
    torch.manual_seed(0)
    fresh = build_a2_transformer(replace(recipe, base=None), 16, 4, 32).state_dict()
    torch.manual_seed(0)
    built = build_a2_transformer(replace(recipe, base=str(tmp_path / "t2v")), 16, 4, 32).state_dict()
    theirs = base.state_dict()
    block = "blocks.1.ffn.net.0.proj.weight"
    assert torch.equal(built[block], theirs[block]) and not torch.equal(built[block], fresh[block])
    for name in ("patch_embedding.weight", "patch_embedding.bias", "proj_out.weight", "proj_out.bias"):
        assert torch.equal(built[name], fresh[name]), name


def test_an_a2_base_is_continued_as_it_is(tmp_path):
    """`base` naming an A2 transformer (one with image_dim) starts from its weights, unchanged."""
    from openreels.train.a2 import build_a2_transformer

    recipe = replace(get_recipe("a2-tiny"), base=None)
    recipe.transformer = recipe.transformer | {"num_layers": 2}
    torch.manual_seed(0)
    saved = build_a2_transformer(recipe, 16, 4, 32)
    saved.save_pretrained(tmp_path / "a2")
    built = build_a2_transformer(replace(recipe, base=str(tmp_path / "a2")), 16, 4, 32)
    for name, value in saved.state_dict().items():
        torch.testing.assert_close(built.state_dict()[name], value, msg=name)


def test_a_model_of_another_vae_is_not_continued(tmp_path):
    """The first shipped a2-tiny's design (the 8x VAE) does not fit, even beside a transformer of the right
    size: the run notes it and a new model starts (from `base` when one is set; openreels-tiny's transformer
    has another block layout since session 7, so the recipe sets none)."""
    import json

    from openreels.train.runner import _warm_start_folder, same_design

    recipe = get_recipe("a2-tiny")
    assert recipe.base is None
    folder = tmp_path / "old"
    old_vae = recipe.vae | {"base_dim": 24, "decoder_base_dim": None, "is_residual": False}
    old_vae |= {"patch_size": None, "in_channels": 3, "out_channels": 3, "scale_factor_spatial": 8}
    for sub, config in (recipe.design() | {"vae": old_vae}).items():
        (folder / sub).mkdir(parents=True, exist_ok=True)
        (folder / sub / "config.json").write_text(json.dumps(config))
    assert not same_design(folder, recipe)
    lines: list[str] = []
    assert _warm_start_folder(replace(recipe, warm_from=str(folder)), tmp_path / "work", lines.append) is None
    assert lines == [
        f"[warm] {folder} is of another design than recipe 'a2-tiny': a new model starts (not from it)"
    ]
    (folder / "vae" / "config.json").write_text(json.dumps(recipe.vae))  # the recipe's VAE: it fits
    assert same_design(folder, recipe)


def test_training_text_states_match_the_pipeline(tmp_path):
    """The recipe encodes prompts at 128 tokens and pads to 512; the pipeline encodes at 512 directly."""
    from openreels.pipelines.a2 import write_random_a2_layout
    from openreels.pipelines.compose import load_compose_pipeline
    from openreels.train.a2 import PROMPT_TOKENS, TEXT_TOKENS, plain_prompt
    from openreels.train.text import PromptEncoder
    from openreels.world import render, sample_scene, vocab

    pipe = load_compose_pipeline(write_random_a2_layout(tmp_path / "a2", text_encoder="minilm"))
    clip = render(sample_scene(4, n_objects=1), 1, (64, 64))
    prompts = [clip.prompt, plain_prompt(clip.caption)]
    colours = set(vocab.COLOR_NAMES) | set(vocab.HAIR_COLORS)
    assert clip.caption["camera_motion"] in prompts[1] and not colours & set(
        prompts[1].replace(".", " ").replace(",", " ").split()
    )
    states = PromptEncoder("cpu", PROMPT_TOKENS)(prompts)
    padded = torch.cat([states, states.new_zeros(2, TEXT_TOKENS - PROMPT_TOKENS, 384)], dim=1)
    with torch.no_grad():
        want = pipe.text_states(prompts)
    assert want.shape == padded.shape
    assert torch.equal(padded.abs().sum(-1) > 0, want.abs().sum(-1) > 0)  # the same tokens, zeros after
    np.testing.assert_allclose(padded.numpy(), want.numpy(), atol=3e-3)  # the recipe stores states in fp16
