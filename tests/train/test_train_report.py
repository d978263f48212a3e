"""The tiny model's report: the prompt-effect measurement (one transformer call at high noise, with and without
the prompt, decoded and colour-scored) on the shipped openreels-tiny."""

import pytest
import torch

from openreels.train.report import prompt_effect


def test_prompt_effect_decodes_as_the_pipeline_does_and_scores_both_predictions():
    low = prompt_effect("openreels-tiny", 3, sigma=0.02)
    assert low["clips"] == 3 and low["sigma"] == 0.02
    recon = low["reconstruction"]["backdrop"]
    assert recon["n"] == 3 and recon["accuracy"] >= 2 / 3  # the VAE's own decode keeps the backdrop
    # At almost no noise the prediction is the clip itself, with the prompt or without.
    for name in ("with_prompt", "empty_prompt"):
        assert low[name]["backdrop"] == recon


def test_long_video_is_measured_over_several_prompts_beside_the_renderers_long_clips():
    from openreels.train.report import measure

    res = measure(0, 0, 2, long_prompts=2, log=lambda _line: None)
    long = res["long"]
    assert long["prompts"] == 2 and len(long["per_prompt"]) == 2
    assert res["long_frames"].shape[:2] == (2, long["frames"])
    for p in long["per_prompt"]:
        for key in (
            "palette_overlap_with_first",
            "ground_truth_overlap_with_first",
            "vae_overlap_with_first",
        ):
            assert len(p[key]) == 2 and p[key][0] == pytest.approx(1.0)  # a window against itself
    # The mean is over the prompts' last windows, for the model and for the renderer alike.
    last = [p["palette_overlap_with_first"][-1] for p in long["per_prompt"]]
    assert long["first_last_palette_overlap"] == sum(last) / 2
    # Two renders of one scene 24 frames apart share most of their palette: a real ceiling, not zero.
    assert long["ground_truth_first_last_overlap"] > 0.5
    assert 0 < long["vae_first_last_overlap"] <= 1


def test_text_to_video_scores_sit_beside_the_vaes_own_reconstructions():
    """The ceiling of a transformer in this latent space: the probes on the VAE's reconstruction of each held-out
    clip, over the same fields as the ground truth (which scores every field perfectly)."""
    from diffusers import AutoencoderKLWan

    from openreels.eval import score_clip
    from openreels.models.tiny import bundled_tiny_dir
    from openreels.train.report import _reconstruct, measure
    from openreels.world.dataset import StageClips

    t2v = measure(1, 0, 0, log=lambda _line: None)["t2v"]
    assert set(t2v["vae_reconstruction"]) == set(t2v["ground_truth"]) == set(t2v["generated"])
    assert all(truth["accuracy"] == 1.0 for truth in t2v["ground_truth"].values())
    clip = StageClips((128, 128), 33, fps=8.0, seed=0, split="heldout").item(0)
    vae = AutoencoderKLWan.from_pretrained(bundled_tiny_dir() / "vae").eval()
    with torch.no_grad():
        want = score_clip(_reconstruct(vae, clip["frames"].numpy()), clip["prompt"], 8.0)
    assert {k: v["accuracy"] for k, v in t2v["vae_reconstruction"].items()} == want
