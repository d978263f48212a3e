"""The tiny random A2 end to end: both reference streams, output shape, determinism, bad settings."""

import numpy as np
import pytest
import torch

from openreels.errors import OpenreelsError

KINDS = ["character", "object", "background"]
# 3 frames after the references are one latent frame: the VAE's frame-by-frame decode dominates the cost.
SETTINGS = dict(height=16, width=32, num_frames=3, num_inference_steps=2, guidance_scale=5.0)


@pytest.mark.parametrize("count", [1, 2, 3])
def test_end_to_end_shape_for_1_2_3_references(a2_pipe, ref_images, count):
    run = {**SETTINGS, "num_frames": 5}  # not a multiple of 4: the extra generated frames are trimmed
    out = a2_pipe("a man holding a ball", ref_images[:count], kinds=KINDS[:count], seed=3, **run)
    assert out.frames.shape == (5, 16, 32, 3) and out.frames.dtype == np.uint8
    assert out.frames.std() > 0
    assert [ref["kind"] for ref in out.settings["references"]] == KINDS[:count]
    assert out.settings["seed"] == 3 and out.settings["frames"] == 5
    assert len(out.notes) == count  # every reference had another size, so each got a resize note


def test_same_seed_same_video_other_seed_other_video(a2_pipe, ref_images):
    run = dict(kinds=KINDS[:1], **SETTINGS)
    first = a2_pipe("a woman waving", ref_images[:1], seed=11, **run).frames
    again = a2_pipe("a woman waving", ref_images[:1], seed=11, **run).frames
    other = a2_pipe("a woman waving", ref_images[:1], seed=12, **run).frames
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_the_references_change_the_video(a2_pipe, ref_images):
    run = dict(kinds=["character"], seed=5, **SETTINGS)
    red = a2_pipe("a child jumping", [ref_images[0]], **run).frames
    blue = a2_pipe("a child jumping", [ref_images[1]], **run).frames
    assert not np.array_equal(red, blue)


def test_image_tokens_of_references_are_concatenated(a2_pipe, ref_images):
    from openreels.pipelines.a2 import prepare_references

    clip = prepare_references(ref_images, 32, 32, KINDS).clip_images
    both = a2_pipe.encode_references(clip[:2])
    one, two = a2_pipe.encode_references(clip[:1]), a2_pipe.encode_references(clip[1:2])
    config = a2_pipe.image_encoder.config
    tokens = (config.image_size // config.patch_size) ** 2 + 1
    assert both.shape == (1, 2 * tokens, config.hidden_size)
    torch.testing.assert_close(both, torch.cat([one, two], dim=1))


def test_condition_video_puts_reference_k_in_latent_frame_k(a2_pipe, ref_images):
    from openreels.pipelines.a2 import prepare_references

    vae_images = prepare_references(ref_images, 16, 16, KINDS).vae_images
    condition = a2_pipe.build_condition(vae_images, num_latent_frames=5)
    temporal, z = a2_pipe.vae_scale_temporal, a2_pipe.vae.config.z_dim
    assert condition.shape == (1, temporal + z, 5, 2, 2)
    mask = condition[:, :temporal]
    assert torch.all(mask[:, :, :3] == 1) and torch.all(mask[:, :, 3:] == 0)
    # The VAE is causal: changing the 2nd reference changes latent frame 1 but never frame 0.
    changed = a2_pipe.build_condition([vae_images[0], 255 - vae_images[1], vae_images[2]], 5)
    latents, latents_changed = condition[:, temporal:], changed[:, temporal:]
    torch.testing.assert_close(latents[:, :, 0], latents_changed[:, :, 0])
    assert not torch.allclose(latents[:, :, 1], latents_changed[:, :, 1])


def test_reference_video_layout_for_training_targets(a2_pipe, ref_images):
    from openreels.pipelines.a2 import prepare_references

    vae_images = prepare_references(ref_images, 32, 32, KINDS).vae_images
    clip = np.full((8, 32, 32, 3), 200, np.uint8)  # two generated latent frames after three references
    video = a2_pipe.reference_video(vae_images, num_latent_frames=5, clip=clip)
    assert video.shape == (1, 3, 17, 32, 32)  # 1 + 4 + 4 reference frames, then the clip
    pixels = ((video[0].permute(1, 2, 3, 0) + 1) * 127.5).round().to(torch.uint8).numpy()
    assert np.array_equal(pixels[0], vae_images[0])
    assert all(np.array_equal(pixels[i], vae_images[1]) for i in range(1, 5))
    assert all(np.array_equal(pixels[i], vae_images[2]) for i in range(5, 9))
    assert np.array_equal(pixels[9:], clip)
    with pytest.raises(ValueError, match="clip must have 8 frames"):
        a2_pipe.reference_video(vae_images, num_latent_frames=5, clip=clip[:5])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(height=30), "multiples of 16"),
        (dict(num_frames=0), "--frames must be at least 1"),
        (dict(num_inference_steps=0), "--steps must be at least 1"),
        (dict(guidance_scale=-1.0), "--guidance must be 0 or more"),
    ],
)
def test_bad_settings_are_one_line(a2_pipe, ref_images, change, message):
    with pytest.raises(OpenreelsError, match=message):
        a2_pipe("a man", ref_images[:1], **{**SETTINGS, **change})


def test_empty_prompt_is_refused(a2_pipe, ref_images):
    with pytest.raises(OpenreelsError, match="prompt is empty"):
        a2_pipe("   ", ref_images[:1], **SETTINGS)


def test_references_cut_from_the_stage(a2_pipe):
    from openreels.pipelines.a2 import stage_references
    from openreels.world import Scene
    from openreels.world.scene import Character, SceneObject

    scene = Scene(
        characters=[Character(shirt_color="red"), Character(kind="man", position="left")],
        objects=[SceneObject(kind="cup", color="blue")],
    )
    refs = stage_references(scene, (64, 96))  # the stage renders at 64 px and up
    assert [ref.kind for ref in refs] == ["character", "object", "background"]
    assert all(ref.image.shape == (64, 96, 3) and ref.image.dtype == np.uint8 for ref in refs)
    assert (refs[0].image[0] == 255).all()  # the character stands on white
    two_people = stage_references(scene.replace(objects=[]), (64, 64), background=False)
    assert [ref.name for ref in two_people] == ["stage character 1", "stage character 2"]
    out = a2_pipe("a woman holding a blue cup", refs, **SETTINGS)
    assert out.frames.shape == (3, 16, 32, 3) and len(out.notes) == 3


def test_runtime_cfg_batching_applies(a2_dir, a2_pipe, ref_images):
    """runtime's CFG batching hooks encode_prompt/transformer; compose must give the same video under it."""
    from openreels.pipelines.compose import load_compose_pipeline
    from openreels.runtime.cfg import enable_cfg_batching

    run = dict(kinds=KINDS[:2], seed=2, **SETTINGS)
    plain = a2_pipe("a man holding a ball", ref_images[:2], **run).frames
    batched_pipe = load_compose_pipeline(a2_dir)
    enable_cfg_batching(batched_pipe)
    batched = batched_pipe("a man holding a ball", ref_images[:2], **run).frames
    assert np.abs(plain.astype(int) - batched).max() <= 2  # batched matmuls round differently
