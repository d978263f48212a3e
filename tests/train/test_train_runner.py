"""The one runner for the A1 and A2 toy recipes (the tiny design's sessions are in test_train_sessions.py):
pause and resume to the same weights, a finished run continued as a new segment, a warm start from a model
folder of the same design, the design check, a cache of another recipe refused, and --ship's held-out scores."""

import json
import shutil
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from openreels.errors import OpenreelsError
from openreels.train import loop
from openreels.train.a1 import a1_toy
from openreels.train.recipes import get_recipe
from openreels.train.report import ship_if_better
from openreels.train.runner import check_token_width, run_recipe, same_design, shipped_path


def _recipe(kind: str, **changes):
    r = a1_toy() if kind == "a1" else get_recipe("a2-test")
    return replace(r, **changes)


def _weights(folder) -> dict:
    return load_file(folder / "transformer" / "diffusion_pytorch_model.safetensors")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module", params=["a1", "a2"])
def first(request, tmp_path_factory):
    """A finished run whose recipe has sessions on (`warm_from` set, but nothing there yet: it starts fresh)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp(request.param)
    r = _recipe(request.param, warm_from=str(root / "none-yet"))
    summary = run_recipe(r, root / "model", root / "work", "cpu", log=lambda _: None)
    yield request.param, root, summary
    torch.set_num_threads(before)


def test_a_paused_run_resumes_to_the_weights_of_a_straight_one(first, tmp_path, monkeypatch):
    kind, root, _ = first
    original = loop.Trainer._should_pause
    monkeypatch.setattr(
        loop.Trainer, "_should_pause", lambda self: (self.name == "dit" and self.step == 2) or original(self)
    )
    with pytest.raises(loop.TrainingPaused) as paused:
        run_recipe(_recipe(kind), tmp_path / "model", tmp_path / "work", "cpu", log=lambda _: None)
    assert (paused.value.name, paused.value.step) == ("dit", 2) and not (tmp_path / "model").exists()
    monkeypatch.setattr(loop.Trainer, "_should_pause", original)
    lines: list[str] = []
    run_recipe(_recipe(kind), tmp_path / "model", tmp_path / "work", "cpu", log=lines.append)
    assert any("encoded data and the VAE loaded" in line for line in lines)
    assert any(line.startswith("[dit] resumed from step 2/") for line in lines)
    straight, resumed = _weights(root / "model"), _weights(tmp_path / "model")
    assert straight.keys() == resumed.keys()
    for k in straight:
        torch.testing.assert_close(resumed[k], straight[k], msg=k)


def test_a_finished_run_continues_as_a_new_segment(first, tmp_path):
    kind, root, summary = first
    shutil.copytree(root / "work", tmp_path / "work")
    r = _recipe(kind, warm_from=str(root / "none-yet"))
    lines: list[str] = []
    again = run_recipe(r, tmp_path / "model", tmp_path / "work", "cpu", log=lines.append)
    assert any("segment 2: continuing from the finished run" in line for line in lines)
    assert (tmp_path / "work" / "dit.0.ckpt").exists()
    # It starts from the first run's EMA weights (and trained conditions): the same held-out loss.
    assert again["heldout_loss"][0] == summary["heldout_loss"][1]
    steps = r.dit_loop.steps * r.dit_batch
    history = json.loads((tmp_path / "model" / "openreels.json").read_text())["training"]["history"]
    assert [h["samples"] for h in history] == [steps, steps]
    assert json.loads((tmp_path / "work" / "history.json").read_text())["history"] == history
    assert _weights(tmp_path / "model").keys() == _weights(root / "model").keys()


def test_a_new_work_folder_warm_starts_from_a_model_of_the_same_design(first, tmp_path):
    kind, root, summary = first
    lines: list[str] = []
    r = _recipe(kind, warm_from=str(root / "model"))
    again = run_recipe(r, tmp_path / "model", tmp_path / "work", "cpu", log=lines.append)
    assert any(f"warm start from {root / 'model'}" in line for line in lines)
    assert again["warm_from"] == str(root / "model") and "vae_steps" not in again  # its VAE, not a new one
    # It starts where the first run ended (the same held-out items, weights rounded to fp16 by the export).
    assert again["heldout_loss"][0] == pytest.approx(summary["heldout_loss"][1], rel=2e-3)
    assert again["heldout_loss"][0] != pytest.approx(summary["heldout_loss"][0], rel=2e-3)
    meta = json.loads((tmp_path / "model" / "openreels.json").read_text())["training"]
    assert len(meta["history"]) == 2 and meta["samples_seen"] == 2 * r.dit_loop.steps * r.dit_batch


def test_a_warm_start_begins_from_the_folders_weights_and_trained_conditions(first, tmp_path):
    kind, root, _ = first
    r = _recipe(kind, warm_from=str(root / "model"))
    r.dit_loop = replace(r.dit_loop, steps=0)  # nothing trained: the export is the starting point
    run_recipe(r, tmp_path / "model", tmp_path / "work", "cpu", log=lambda _: None)
    encoder = (
        "siglip-so400m-patch14-384/model.safetensors" if kind == "a1" else "image_encoder/model.safetensors"
    )
    for part in ("transformer/diffusion_pytorch_model.safetensors", encoder):
        want, got = load_file(root / "model" / part), load_file(tmp_path / "model" / part)
        assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want), part


def test_a_folder_of_another_design_does_not_fit(first):
    kind, root, _ = first
    r = _recipe(kind)
    assert same_design(root / "model", r)
    if kind == "a1":
        other = replace(r, a1=replace(r.a1, layers=2))
    else:
        other = replace(r, transformer=r.transformer | {"num_layers": 3})
    assert not same_design(root / "model", other)


def test_a_cache_of_another_recipe_is_refused_in_one_line(first, tmp_path):
    kind, root, summary = first
    (tmp_path / "work").mkdir()
    shutil.copy(root / "work" / "encoded.pt", tmp_path / "work")
    other = _recipe("a2" if kind == "a1" else "a1")
    with pytest.raises(
        OpenreelsError, match=f"encoded for recipe '{summary['recipe']}'; pass another --workdir"
    ):
        run_recipe(other, tmp_path / "model", tmp_path / "work", "cpu", log=lambda _: None)
    with pytest.raises(OpenreelsError, match="encoded for other settings of recipe"):
        run_recipe(_recipe(kind, clips=5), tmp_path / "model", tmp_path / "work", "cpu", log=lambda _: None)


def test_ship_scores_with_the_recipes_held_out_evaluation(first, tmp_path):
    kind, root, _ = first
    r = _recipe(kind)
    lines: list[str] = []
    shipped = tmp_path / "shipped"
    res = ship_if_better(root / "model", shipped, 2, r.score, log=lines.append)
    assert res["shipped"] is None and res["shipped_new"] and (shipped / "transformer").is_dir()
    again = ship_if_better(root / "model", shipped, 2, r.score, log=lines.append)
    assert 0.0 <= again["candidate"] <= 1.0 and again["candidate"] == again["shipped"]  # seeded: the same
    assert not again["shipped_new"] and any("kept" in line for line in lines)


def test_ship_replaces_only_when_the_candidate_scores_higher(tmp_path):
    for name, value in (("shipped", "0.5"), ("better", "0.6"), ("worse", "0.4")):
        (tmp_path / name / "transformer").mkdir(parents=True)
        (tmp_path / name / "score").write_text(value)

    def score(folder, n, log):
        return float((folder / "score").read_text())

    shipped = tmp_path / "shipped"
    assert not ship_if_better(tmp_path / "worse", shipped, 2, score, log=lambda _: None)["shipped_new"]
    assert (shipped / "score").read_text() == "0.5"
    res = ship_if_better(tmp_path / "better", shipped, 2, score, log=lambda _: None)
    assert res == {"candidate": 0.6, "shipped": 0.5, "shipped_new": True}
    assert (shipped / "score").read_text() == "0.6"


@pytest.mark.parametrize("name", ["tiny", "a1-tiny", "a2-tiny"])
def test_a_bundled_recipe_continues_its_shipped_model(name, tmp_path):
    from openreels.models.tiny import bundled_a1_dir, bundled_a2_dir, bundled_tiny_dir

    shipped = {"tiny": bundled_tiny_dir, "a1-tiny": bundled_a1_dir, "a2-tiny": bundled_a2_dir}[name]()
    assert shipped_path(name) == shipped  # where --ship writes
    r = get_recipe(name)
    assert r.warm_from == "bundled" and same_design(shipped, r)
    # A few clips, nothing trained: the export is the starting point, the shipped weights themselves.
    r = replace(r, clips=6, dit_batch=2, dit_loop=replace(r.dit_loop, steps=0))
    if name == "tiny":
        r = replace(r, vae_clips=6, decoder_clips=6, render_workers=0)
    summary = run_recipe(r, tmp_path / "model", tmp_path / "work", "cpu", log=lambda _: None)
    assert summary["warm_from"] == str(shipped) and "vae_steps" not in summary
    want, got = _weights(shipped), _weights(tmp_path / "model")
    assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)
    assert shipped_path("test") is None and shipped_path("a2-test") is None


def test_a_transformer_narrower_than_the_values_its_tokens_write_is_refused():
    from diffusers import SkyReelsV2Transformer3DModel

    def wan(head_dim: int):
        return SkyReelsV2Transformer3DModel(
            patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=head_dim, in_channels=16,
            out_channels=16, text_dim=16, freq_dim=16, ffn_dim=32, num_layers=1,
        )  # fmt: skip

    check_token_width(wan(32))  # 64 wide, 16 channels x 2 x 2 values
    with pytest.raises(OpenreelsError, match="16 wide but each token writes 64 values"):
        check_token_width(wan(8))
    # CogVideoX-style configs (A1): a square patch as one number, and a temporal one when set.
    cog = {"num_attention_heads": 2, "attention_head_dim": 32, "patch_size": 4, "out_channels": 4}
    check_token_width(SimpleNamespace(config=SimpleNamespace(**cog, patch_size_t=None)))
    with pytest.raises(OpenreelsError, match="each token writes 128 values"):
        check_token_width(SimpleNamespace(config=SimpleNamespace(**cog, patch_size_t=2)))
