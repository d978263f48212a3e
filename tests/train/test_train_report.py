"""The tiny model's report: the prompt-effect measurement (one transformer call at high noise, with and without
the prompt, decoded and colour-scored) on the shipped openreels-tiny."""

from openreels.train.report import prompt_effect


def test_prompt_effect_decodes_as_the_pipeline_does_and_scores_both_predictions():
    low = prompt_effect("openreels-tiny", 3, sigma=0.02)
    assert low["clips"] == 3 and low["sigma"] == 0.02
    recon = low["reconstruction"]["backdrop"]
    assert recon["n"] == 3 and recon["accuracy"] >= 2 / 3  # the VAE's own decode keeps the backdrop
    # At almost no noise the prediction is the clip itself, with the prompt or without.
    for name in ("with_prompt", "empty_prompt"):
        assert low[name]["backdrop"] == recon
