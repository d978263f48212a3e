"""Training that spans sessions on the tiny design: held-out loss falls, a finished run continues as a new
segment, a new work folder warm-starts from a model folder of the same design, and the history adds up."""

import json
from dataclasses import replace

import pytest
import torch

from openreels.train.recipes import get_recipe
from openreels.train.runner import run_recipe


def _recipe(**changes):
    r = get_recipe("test")
    r.clips = 16
    r.vae_loop = replace(r.vae_loop, steps=3)
    r.dit_loop = replace(r.dit_loop, steps=25, ckpt_every=100)
    for k, v in changes.items():
        setattr(r, k, v)
    return r


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("sessions")
    lines: list[str] = []
    summary = run_recipe(_recipe(), root / "model", root / "work", "cpu", log=lines.append)
    return root, summary, lines


def test_a_short_run_lowers_held_out_loss(first_run):
    _, summary, _ = first_run
    before, after = summary["heldout_loss"]
    assert after < 0.9 * before  # clips never trained on


def test_a_new_work_folder_warm_starts_from_a_model_of_the_same_design(first_run, tmp_path):
    root, summary, _ = first_run
    lines: list[str] = []
    again = run_recipe(
        _recipe(warm_from=str(root / "model")), tmp_path / "model", tmp_path / "work", "cpu", log=lines.append
    )
    assert any("warm start from" in line for line in lines)
    assert again["warm_from"] == str(root / "model") and "vae_steps" not in again  # its VAE, not a new one
    # It starts where the first run ended (the held-out clips differ: the warm run encodes its own set).
    assert again["heldout_loss"][0] < summary["heldout_loss"][0]
    meta = json.loads((tmp_path / "model" / "openreels.json").read_text())["training"]
    assert len(meta["history"]) == 2 and meta["samples_seen"] == 2 * 25 * 8


def test_a_finished_run_continues_as_a_new_segment(tmp_path):
    r = _recipe(warm_from=str(tmp_path / "none-yet"))  # set, but nothing there: the first run starts fresh
    run_recipe(r, tmp_path / "model", tmp_path / "work", "cpu", log=lambda _: None)
    first = torch.load(tmp_path / "work" / "dit.ckpt", weights_only=False)["step"]
    lines: list[str] = []
    run_recipe(r, tmp_path / "model", tmp_path / "work", "cpu", log=lines.append)
    assert any("segment 2: continuing from the finished run" in line for line in lines)
    assert (tmp_path / "work" / "dit.0.ckpt").exists() and first == 25
    history = json.loads((tmp_path / "model" / "openreels.json").read_text())["training"]["history"]
    assert [h["samples"] for h in history] == [200, 200]


def test_a_run_stopped_before_its_first_checkpoint_still_continues_the_kept_one(tmp_path):
    r = _recipe(warm_from=str(tmp_path / "none-yet"))
    first = run_recipe(r, tmp_path / "model", tmp_path / "work", "cpu", log=lambda _: None)
    # What a new segment does first, then a kill before it checkpoints: only the kept run is left.
    (tmp_path / "work" / "dit.ckpt").rename(tmp_path / "work" / "dit.0.ckpt")
    lines: list[str] = []
    again = run_recipe(r, tmp_path / "model", tmp_path / "work", "cpu", log=lines.append)
    assert any("segment 2: continuing from the finished run kept as" in line for line in lines)
    # It starts from the first run's weights, not from a fresh model.
    assert again["heldout_loss"][0] == pytest.approx(first["heldout_loss"][1], rel=1e-4)


def test_a_folder_of_another_design_is_not_warm_started_from(first_run, tmp_path):
    root, _, _ = first_run
    r = _recipe(warm_from=str(root / "model"))
    r.transformer = r.transformer | {"num_layers": 3}
    lines: list[str] = []
    run_recipe(r, tmp_path / "model", tmp_path / "work", "cpu", log=lines.append)
    assert any("of another design" in line for line in lines)


def test_a_new_vae_design_starts_from_the_blocks_of_another(first_run, tmp_path):
    """A VAE with another z is another design: the whole model is not warm-started, but `transformer_from`
    gives the new transformer every weight of the same shape; the patch embedding and the output projection,
    whose shapes follow z, start fresh."""
    from safetensors.torch import load_file

    from openreels.train.recipes import build_transformer

    root, _, _ = first_run
    r = _recipe(warm_from=str(root / "model"), transformer_from=str(root / "model" / "transformer"))
    r.vae = r.vae | {"z_dim": 8}
    lines: list[str] = []
    run_recipe(
        replace(r, dit_loop=replace(r.dit_loop, steps=1)), tmp_path / "m", tmp_path / "w", "cpu", lines.append
    )
    assert any("of another design" in line for line in lines)
    started = [line for line in lines if "segment 1 of a new design" in line]
    assert started and "fresh: patch_embedding, proj_out" in started[0], lines

    theirs = load_file(next((root / "model" / "transformer").glob("*.safetensors")))
    torch.manual_seed(0)
    model = build_transformer(r)
    fresh = model.patch_embedding.weight.clone()
    r.fresh_start(model)
    ours = model.state_dict()
    assert ours["patch_embedding.weight"].shape[1] == 8 and torch.equal(ours["patch_embedding.weight"], fresh)
    for name in ("blocks.0.attn1.to_q.weight", "condition_embedder.text_embedder.linear_1.weight"):
        torch.testing.assert_close(ours[name], theirs[name].float())
