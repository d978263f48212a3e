import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from openreels.errors import OpenreelsError
from openreels.pipelines.a1 import A1Size, A1Transformer3DModel, create_random_a1
from openreels.pipelines.animate import (
    AnimatePipeline,
    animate,
    plan_windows,
    resolve_checkpoint,
    window_weights,
)

SIZE = A1Size(height=32, width=32, frames=17)  # 4 driving latents per window


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return create_random_a1(tmp_path_factory.mktemp("a1") / "SkyReels-A1", SIZE)


@pytest.fixture(scope="module")
def pipe(checkpoint):
    return AnimatePipeline.from_pretrained(checkpoint)


def test_windows_cover_every_latent_and_blend_weights_sum_to_one():
    assert plan_windows(5, 12, 3) == [0]
    starts = plan_windows(20, 8, 3)
    assert starts[0] == 0 and starts[-1] + 8 == 20
    assert all(b - a <= 5 for a, b in zip(starts, starts[1:], strict=False))  # overlap >= 3
    weights = window_weights(starts, 8, 20)
    total = np.zeros(20)
    for s, w in zip(starts, weights, strict=True):
        total[s : s + 8] += w
        assert (w > 0).all()
    np.testing.assert_allclose(total, 1.0)
    # Inside an overlap the earlier window fades out while the later one fades in.
    w0, w1 = weights[0], weights[1]
    ov = range(starts[1], 8)
    assert all(np.diff([w0[i] for i in ov]) < 0) and all(np.diff([w1[i - starts[1]] for i in ov]) > 0)
    with pytest.raises(ValueError):
        plan_windows(20, 4, 4)


def test_published_layout_loads_with_a1_key_names(checkpoint, tmp_path):
    keys = load_file(checkpoint / "transformer" / "diffusion_pytorch_model.safetensors").keys()
    assert {
        "patch_embed.pose_proj.0.weight",
        "patch_embed.pose_proj.2.weight",
        "patch_embed.text_proj.weight",
    } <= set(keys)
    # The published config names diffusers' class and nests the model under SkyReels-A1-5B/ in the README layout.
    nested = tmp_path / "pretrained" / "SkyReels-A1-5B"
    shutil.copytree(checkpoint, nested)
    cfg_path = nested / "transformer" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["_class_name"] = "CogVideoXTransformer3DModel"
    cfg_path.write_text(json.dumps(cfg))
    assert resolve_checkpoint(tmp_path / "pretrained") == nested
    pipe = AnimatePipeline.from_pretrained(tmp_path / "pretrained")
    assert isinstance(pipe.transformer, A1Transformer3DModel)
    saved = load_file(checkpoint / "transformer" / "diffusion_pytorch_model.safetensors")
    for k in (
        "patch_embed.pose_proj.0.weight",
        "patch_embed.proj.weight",
        "transformer_blocks.0.attn1.to_q.weight",
    ):
        torch.testing.assert_close(pipe.transformer.state_dict()[k], saved[k])
    assert pipe.transformer.config.in_channels == 3 * pipe.latent_channels
    assert pipe.window_frames == 16 and pipe.native_size == (32, 32)


def test_full_siglip_checkpoint_loads_as_the_vision_tower(checkpoint, tmp_path):
    # The published siglip-so400m-patch14-384/ is a whole SigLIP (text + vision) checkpoint.
    from transformers import SiglipConfig, SiglipModel, SiglipVisionConfig

    root = tmp_path / "a1"
    shutil.copytree(checkpoint, root)
    vision = SiglipVisionConfig.from_pretrained(root / "siglip-so400m-patch14-384").to_dict()
    full = SiglipModel(
        SiglipConfig(
            text_config={
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
            },
            vision_config=vision,
        )
    )
    full.save_pretrained(root / "siglip-so400m-patch14-384")
    pipe = AnimatePipeline.from_pretrained(root)
    torch.testing.assert_close(
        pipe.image_encoder.embeddings.patch_embedding.weight,
        full.vision_model.embeddings.patch_embedding.weight,
    )


def test_incomplete_or_foreign_folders_are_refused(checkpoint, tmp_path):
    with pytest.raises(OpenreelsError, match="pose_guider"):
        resolve_checkpoint(tmp_path)
    root = tmp_path / "a1"
    shutil.copytree(checkpoint, root)
    cfg = root / "scheduler" / "scheduler_config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "_class_name": "EulerDiscreteScheduler"}))
    with pytest.raises(OpenreelsError, match="scheduler"):
        AnimatePipeline.from_pretrained(root)


def _inputs(face, frames):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    ref = face(center=(16, 16), size=9)
    drv = np.stack([face(center=(16, 16), size=9, mouth_open=abs(np.sin(i / 2))) for i in range(frames)])
    return image, ref, drv


def test_tiny_pipeline_animates_end_to_end(pipe, face):
    image, ref, drv = _inputs(face, 10)
    calls = []
    out = animate(
        pipe, image, ref, drv, num_inference_steps=2, seed=3, progress=lambda d, t: calls.append((d, t))
    )
    assert out.frames.shape == (10, 32, 32, 3) and out.frames.dtype == np.uint8 and out.windows == 1
    assert calls[-1] == (2, 2)
    again = animate(pipe, image, ref, drv, num_inference_steps=2, seed=3)
    np.testing.assert_array_equal(out.frames, again.frames)  # one seed, one result
    still = animate(pipe, image, ref, np.repeat(drv[:1], 10, axis=0), num_inference_steps=2, seed=3)
    assert np.abs(still.frames.astype(int) - out.frames.astype(int)).max() > 0  # the landmarks condition it
    with pytest.raises(OpenreelsError, match="multiple of 16"):
        pipe(np.zeros((24, 32, 3), np.uint8), np.zeros((3, 24, 32, 3), np.uint8), image)


def test_pose_guidance_pushes_away_from_the_reference_held_still(pipe, face, monkeypatch):
    image, ref, drv = _inputs(face, 8)
    kwargs = {"num_inference_steps": 2, "seed": 5}
    plain = animate(pipe, image, ref, drv, **kwargs)
    assert pipe.pose_guidance_scale == 1.0  # off unless the folder names it, as A1 samples
    np.testing.assert_array_equal(
        plain.frames, animate(pipe, image, ref, drv, pose_guidance_scale=1.0, **kwargs).frames
    )
    guided = animate(pipe, image, ref, drv, pose_guidance_scale=4.0, **kwargs)
    assert np.abs(guided.frames.astype(int) - plain.frames.astype(int)).max() > 0
    # Driving landmarks equal to the reference's own: the extra branch sees the same input, so it adds nothing.
    still = np.repeat(ref[None], 8, axis=0)
    np.testing.assert_allclose(
        animate(pipe, image, ref, still, pose_guidance_scale=4.0, **kwargs).frames.astype(int),
        animate(pipe, image, ref, still, **kwargs).frames.astype(int),
        atol=1,
    )
    monkeypatch.setattr(pipe, "pose_guidance_scale", 4.0)  # what a folder's openreels.json sets
    np.testing.assert_array_equal(animate(pipe, image, ref, drv, **kwargs).frames, guided.frames)


def test_sampling_defaults_come_from_the_folder_or_else_are_a1s(checkpoint, tmp_path):
    a1 = AnimatePipeline.from_pretrained(checkpoint)
    assert (a1.guidance_scale, a1.pose_guidance_scale) == (3.0, 1.0)
    folder = tmp_path / "a1"
    shutil.copytree(checkpoint, folder)
    meta = json.loads((folder / "openreels.json").read_text())
    (folder / "openreels.json").write_text(json.dumps(meta | {"guidance": 1.5, "pose_guidance": 4}))
    pipe = AnimatePipeline.from_pretrained(folder)
    assert (pipe.guidance_scale, pipe.pose_guidance_scale) == (1.5, 4.0)


def test_decoded_latents_stay_odd_so_every_frame_keeps_its_time(pipe, face, monkeypatch):
    # CogVideoX's VAE decodes an even latent count to 4 frames a latent instead of 1 + 4 (n - 1): the pipeline
    # must pad to an odd total, or the frames it keeps are shifted in time.
    decode, decoded = pipe.decode, []

    def recording(latents):
        frames = decode(latents)
        decoded.append((latents.shape[1], len(frames)))
        return frames

    monkeypatch.setattr(pipe, "decode", recording)
    for frames in (4, 5, 9, 12, 13):  # 1, 2, 3, 3, 4 motion latents before padding
        image, ref, drv = _inputs(face, frames)
        out = animate(pipe, image, ref, drv, num_inference_steps=1, guidance_scale=1.0)
        assert len(out.frames) == frames
    assert all(n % 2 == 1 and length == 1 + pipe.temporal_scale * (n - 1) for n, length in decoded), decoded


def test_long_driving_video_runs_in_blended_windows_that_agree_with_one_window(pipe, face, monkeypatch):
    # With a model whose prediction for a frame depends only on that frame, overlapping windows blended in
    # latent space must give exactly what one long window gives.
    image, ref, drv = _inputs(face, 24)

    def per_frame(hidden_states, encoder_hidden_states, timestep, **kw):
        c = pipe.latent_channels
        x = hidden_states[:, :, :c]
        return (0.3 * x + 0.1 * hidden_states[:, :, 2 * c :] + 0.01 * timestep.view(-1, 1, 1, 1, 1) / 1000,)

    monkeypatch.setattr(pipe.transformer, "forward", per_frame)
    kwargs = {"num_inference_steps": 2, "seed": 1, "guidance_scale": 1.0}
    windowed = animate(pipe, image, ref, drv, window_frames=8, overlap_frames=4, **kwargs)
    single = animate(pipe, image, ref, drv, window_frames=24, **kwargs)
    assert windowed.windows > 2 and single.windows == 1
    assert windowed.frames.shape == (24, 32, 32, 3)
    np.testing.assert_allclose(windowed.frames.astype(int), single.frames.astype(int), atol=1)


def test_a_2x_temporal_vae_sets_the_latent_counts_and_every_frame_comes_back(tmp_path, face, monkeypatch):
    # A1's VAE compresses time 4x; a1-tiny may use a 2x one (docs/a1-tiny.md, "The VAE and the mouth"). The
    # latent counts, windows and pose encodings follow the VAE's config; the frames returned do not change.
    root = create_random_a1(
        tmp_path / "a1", A1Size(height=32, width=32, frames=9, vae_temporal_compression=2)
    )
    assert json.loads((root / "vae" / "config.json").read_text())["temporal_compression_ratio"] == 2
    pipe = AnimatePipeline.from_pretrained(root)
    assert pipe.temporal_scale == 2 and pipe.window_frames == 8
    seen, decoded, decode = [], [], pipe.decode
    pipe.transformer.register_forward_pre_hook(
        lambda m, args, kw: seen.append(kw["hidden_states"].shape[1]), with_kwargs=True
    )

    def recording(latents):
        frames = decode(latents)
        decoded.append((latents.shape[1], len(frames)))
        return frames

    monkeypatch.setattr(pipe, "decode", recording)
    for frames, windows in ((5, 1), (11, 2)):
        image, ref, drv = _inputs(face, frames)
        out = animate(pipe, image, ref, drv, num_inference_steps=1, guidance_scale=1.0)
        assert out.frames.shape == (frames, 32, 32, 3) and out.windows == windows
    # Windows of 8 frames are 4 latents (2 at 4x); 5 frames take 3 latents, padded to 4 (an odd total), and 11
    # take 6 in two windows; the decoder gives 2 frames a latent after the reference's.
    assert seen == [5, 5, 5] and decoded == [(5, 9), (7, 13)]


def test_learned_positions_pad_short_videos_to_a_window_and_keep_the_native_size(tmp_path, face):
    # CogVideoX-5B I2V (A1's base) learns its positions for 49 frames at 480x720: short driving videos are
    # padded to a whole window and other sizes are refused up front.
    root = create_random_a1(tmp_path / "a1", A1Size(height=32, width=32, frames=9, learned_positions=True))
    pipe = AnimatePipeline.from_pretrained(root)
    image, ref, drv = _inputs(face, 3)
    seen = []
    pipe.transformer.register_forward_pre_hook(
        lambda m, args, kw: seen.append(kw["hidden_states"].shape[1]), with_kwargs=True
    )
    out = animate(pipe, image, ref, drv, num_inference_steps=1, guidance_scale=1.0)
    assert out.frames.shape == (3, 32, 32, 3)
    assert seen == [3]  # reference + the whole 2-latent window, though 3 frames need only 1 latent
    with pytest.raises(OpenreelsError, match="native size 32x32"):
        pipe(np.zeros((48, 32, 3), np.uint8), np.zeros((5, 48, 32, 3), np.uint8), image)


def test_face_crop_aligns_the_five_points_to_the_ffhq_template(face):
    from openreels.face.layout import part
    from openreels.pipelines.animate import FFHQ_TEMPLATE_512, face_crop

    shape = face(center=(40, 50), size=20)
    image = np.zeros((100, 100, 3), np.uint8)
    for p in (part(shape, "nose_tip")[0], part(shape, "lips_outer")[0]):
        x, y = np.round(p).astype(int)
        image[y - 1 : y + 2, x - 1 : x + 2] = 255
    crop = face_crop(image, shape, size=128)
    assert crop.shape == (128, 128, 3)
    bright = np.argwhere(crop.max(-1) > 128)
    for target in (FFHQ_TEMPLATE_512[2], FFHQ_TEMPLATE_512[3]):
        t = target * 128 / 512
        # The marked nose tip and mouth corner land near their template spots (the face's proportions differ
        # from FFHQ's, so a few pixels off).
        assert np.min(np.linalg.norm(bright[:, ::-1] - t, axis=1)) < 8
    # Where the crop leaves the image (a face at the image's corner) it is filled with facexlib's grey.
    assert tuple(face_crop(image, face(center=(5, 5), size=20), size=64)[0, 0]) == (135, 133, 132)
