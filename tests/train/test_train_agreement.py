"""Training and sampling agree on every convention between them, checked on the shipped openreels-tiny.

A ground-truth stage clip is encoded and noised to sigma 0.5 exactly as the trainer does (its VAE encoding,
latent normalisation, text states, noising and timestep scale); one transformer call made as the shipped
pipeline makes it (its own prompt encoding, shift, timestep format) predicts the velocity; x0 is rebuilt and
decoded with the pipeline's de-normalisation, and the backdrop colour must come back. A convention changed on
one side only (normalisation, text padding, timestep scale, shift, velocity sign) breaks one of the checks."""

from pathlib import Path

import torch

from openreels.eval import score_clip
from openreels.models.registry import read_openreels_json
from openreels.pipelines import load_pipeline
from openreels.pipelines.text import SENTENCES
from openreels.train.data import to_video_tensor
from openreels.train.flow import add_noise, shift_sigma, timesteps_from_sigmas
from openreels.train.recipes import get_recipe
from openreels.train.text import PromptEncoder
from openreels.train.vae import encode_mode, normalise
from openreels.world.renderer import render
from openreels.world.scene import sample_scene

ASSET = Path(__file__).resolve().parents[2] / "src" / "openreels" / "assets" / "openreels-tiny"


def _decode_as_the_pipeline_does(pipe, latents: torch.Tensor):
    # diffusers' SkyReels-V2 DF pipelines: latents / (1 / std) + mean, then the VAE, then [-1, 1] -> uint8
    mean = torch.tensor(pipe.vae.config.latents_mean).view(1, -1, 1, 1, 1)
    inv_std = 1.0 / torch.tensor(pipe.vae.config.latents_std).view(1, -1, 1, 1, 1)
    video = pipe.vae.decode(latents / inv_std + mean, return_dict=False)[0]
    return ((video[0].permute(1, 2, 3, 0).clamp(-1, 1) + 1) * 127.5).round().byte().numpy()


@torch.no_grad()
def test_a_noised_ground_truth_clip_comes_back_through_the_pipeline_conventions():
    pipe = load_pipeline(ASSET, "t2v", device="cpu", dtype="float32")
    meta = read_openreels_json(ASSET)
    recipe = get_recipe("tiny")
    # The shift and timestep scale the trainer draws with are the sampler's.
    assert pipe.scheduler.config.flow_shift == recipe.forcing.shift == meta["shift"]
    pipe.scheduler.set_timesteps(meta["steps"])
    sampler_sigmas = pipe.scheduler.sigmas[:-1].float()
    assert torch.allclose(pipe.scheduler.timesteps.float(), timesteps_from_sigmas(sampler_sigmas), atol=1.0)
    grid = torch.linspace(1, 0, meta["steps"] + 1)[:-1]
    assert torch.allclose(sampler_sigmas, shift_sigma(grid, recipe.forcing.shift), atol=5e-3)

    scores = []
    for seed, backdrop in ((0, "red"), (1, "green"), (2, "yellow")):
        scene = sample_scene(seed, environment="studio", backdrop=backdrop, shot_type="medium shot")
        clip = render(scene, meta["frames"], tuple(meta["size"]), meta["fps"])
        # Training side: encoding, normalisation with the folder's statistics, text states, noising.
        video = to_video_tensor(torch.from_numpy(clip.frames)[None])
        x0 = normalise(
            encode_mode(pipe.vae, video), pipe.vae.config.latents_mean, pipe.vae.config.latents_std
        )
        by_sentence = meta.get("text_encoding") == SENTENCES
        text = PromptEncoder("cpu", meta["max_sequence_length"], by_sentence=by_sentence)([clip.prompt])
        sigma = torch.full((1, x0.shape[2]), 0.5)
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
        noisy = add_noise(x0, noise, sigma)
        # Sampling side: the pipeline's own prompt states and transformer call.
        embeds, _ = pipe.encode_prompt(
            clip.prompt, do_classifier_free_guidance=False, max_sequence_length=meta["max_sequence_length"]
        )
        assert embeds.shape == text.shape and torch.allclose(embeds, text, atol=1e-2)
        velocity = pipe.transformer(
            hidden_states=noisy,
            timestep=timesteps_from_sigmas(sigma),
            encoder_hidden_states=embeds,
            enable_diffusion_forcing=True,
            fps=[1],
            return_dict=False,
        )[0]
        frames = _decode_as_the_pipeline_does(pipe, noisy - 0.5 * velocity)
        scores.append(score_clip(frames, clip.caption, meta["fps"])["backdrop"])
    assert scores == [1.0, 1.0, 1.0]
