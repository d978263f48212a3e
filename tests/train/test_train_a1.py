"""The a1-tiny recipe at toy sizes: v-prediction objective, stage pairs, export in the published A1 layout."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from openreels.face import eye_opening, mouth_opening
from openreels.pipelines.a1.checkpoint import a1_scheduler
from openreels.train.a1 import (
    A1Recipe,
    a1_toy,
    face_pixels,
    face_region,
    heldout_pair,
    make_pair,
    mouth_eye_curves,
    vae_curve_check,
)
from openreels.train.objective import VPrediction
from openreels.train.recipes import get_recipe
from openreels.train.runner import run_recipe, same_design, shipped_path
from openreels.train.vae import DecoderLoss, encode_mode

pytestmark = pytest.mark.usefixtures("one_thread")


def test_v_prediction_matches_the_cogvideox_scheduler():
    sched = a1_scheduler()
    vp = VPrediction(sched.alphas_cumprod)
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(3, 4, 2, 4, 4, generator=g), torch.randn(3, 4, 2, 4, 4, generator=g)
    sigmas = torch.tensor([[0.0, 0.0], [0.3, 0.3], [1.0, 1.0]])
    x_t, target, t = vp(x0, noise, sigmas)
    steps = t[:, 0].long()
    assert steps.tolist() == [0, 300, 999]
    torch.testing.assert_close(x_t, sched.add_noise(x0, noise, steps))
    torch.testing.assert_close(target, sched.get_velocity(x0, noise, steps))
    # zero terminal SNR: at the last step the input is pure noise and v is -x0
    torch.testing.assert_close(x_t[2], noise[2], atol=1e-4, rtol=0)
    torch.testing.assert_close(target[2], -x0[2], atol=1e-4, rtol=0)


def test_training_pairs_are_reference_then_target_with_matching_landmark_drawings():
    recipe = a1_toy()
    a, b = make_pair(recipe, 0), make_pair(recipe, 0)
    np.testing.assert_array_equal(a.video, b.video)  # seeded
    assert a.video.shape == a.pose.shape == (recipe.a1.frames, 64, 64, 3)
    assert a.pose[0].any() and not np.array_equal(a.video[0], a.video[1])  # the reference is its own frame
    assert not np.array_equal(make_pair(recipe, 1).video, a.video)


@pytest.mark.parametrize("temporal, latents", [(4, 3), (2, 5)])  # 9 frames: 1 + 8 / temporal latents
def test_face_region_marks_the_latent_cells_under_the_landmark_drawing(temporal, latents):
    from diffusers import AutoencoderKLCogVideoX

    pair = make_pair(A1Recipe(), 0)
    vae = AutoencoderKLCogVideoX(
        down_block_types=("CogVideoXDownBlock3D",) * 3,
        up_block_types=("CogVideoXUpBlock3D",) * 3,
        block_out_channels=(8, 16, 32),
        latent_channels=8,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=temporal,
    )
    poses = np.stack([pair.pose, np.zeros_like(pair.pose)])  # a drawing, and a blank landmark video
    region = face_region(poses, vae)
    assert region.shape == (2, 1, latents, 16, 16) and region.dtype == torch.bool
    assert region.shape[2] == encode_mode(vae, torch.zeros(1, 3, len(pair.pose), 64, 64)).shape[2]
    assert not region[1].any()
    share = region[0].float().mean().item()
    assert 0.05 < share < 0.5  # the face of a close-up, not the frame
    drawn = pair.pose[0].max(axis=-1) > 0
    ys, xs = np.nonzero(drawn)
    assert region[0, 0, 0, ys // 4, xs // 4].all()  # every drawn pixel's cell is in


def test_mouth_and_eye_pixel_measures_follow_the_stage_landmarks():
    # The metric behind the curve targets, checked on ground truth (a talking, blinking driving clip).
    rs = []
    for i in range(3):
        p = heldout_pair(i)
        mouth, _ = mouth_eye_curves(p.driving, p.driving_shapes, p.driving_gain)
        rs.append(np.corrcoef(mouth, mouth_opening(p.driving_shapes))[0, 1])
    assert min(rs) > 0.9
    still = np.repeat(p.driving[:1], len(p.driving), 0)  # a frozen clip shows no opening change
    mouth, eyes = mouth_eye_curves(still, p.driving_shapes[:1].repeat(len(still), 0), p.driving_gain)
    assert mouth.std() == 0 and eyes.std() == 0
    assert eye_opening(p.driving_shapes).shape == (len(p.driving),)


class _StubVAE(torch.nn.Module):
    """An autoencoder whose latents are the pixels: a perfect reconstruction, or (still) every frame the first
    target frame."""

    dtype = torch.float32

    def __init__(self, still: bool = False) -> None:
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))
        self.still = still

    def encode(self, x):
        return SimpleNamespace(latent_dist=SimpleNamespace(mode=lambda: x))

    def decode(self, z):
        return SimpleNamespace(sample=z[:, :, 1:2].expand_as(z) if self.still else z)


def test_vae_curve_check_measures_the_reconstruction_not_the_clip():
    perfect = vae_curve_check(_StubVAE(), pairs=2)
    assert perfect["truth"]["mouth_r"] > 0.9 and perfect["driving"]["eye_r"] > 0.3
    for clip in ("truth", "driving"):
        for measure in ("mouth_r", "eye_r"):
            assert perfect[f"{clip}_vae"][measure] == perfect[clip][measure]
        assert perfect[f"{clip}_vae"]["psnr_db"] > 90
    still = vae_curve_check(_StubVAE(still=True), pairs=2)
    assert still["truth"] == perfect["truth"]  # the clips' own curves do not depend on the VAE
    assert still["truth_vae"]["mouth_r"] == 0 and still["driving_vae"]["eye_r"] == 0
    assert still["truth_vae"]["psnr_db"] < 40  # a close-up changes little: a still frame scores about 31 dB


def test_face_pixels_cover_the_mouth_and_eyes_of_the_landmark_drawing():
    from openreels.face.layout import part

    pair = make_pair(A1Recipe(), 0)
    mask = face_pixels(np.stack([pair.pose, np.zeros_like(pair.pose)]))
    assert mask.shape == (2, 9, 64, 64) and mask.dtype == torch.bool and not mask[1].any()
    assert 0.03 < mask[0].float().mean().item() < 0.3  # eyes, brows and lips, not the frame
    lips = part(pair.reference_shape, "lips_outer").round().astype(int)
    assert mask[0, 0, lips[:, 1], lips[:, 0]].all()
    x, y = lips.mean(0).round().astype(int)
    assert mask[0, 0, y, x]  # the inside of the mouth too


def test_decoder_loss_weights_pixels():
    from diffusers import AutoencoderKLCogVideoX

    torch.manual_seed(0)
    loss = DecoderLoss(
        AutoencoderKLCogVideoX(
            block_out_channels=(4,),
            norm_num_groups=2,
            latent_channels=2,
            down_block_types=("CogVideoXDownBlock3D",),
            up_block_types=("CogVideoXUpBlock3D",),
        )
    )
    x = torch.rand(1, 3, 5, 8, 8) * 2 - 1
    plain = loss(x)
    torch.testing.assert_close(loss(x, weight=torch.full((1, 1, 5, 8, 8), 3.0)), plain)
    left = torch.zeros(1, 1, 5, 8, 8)
    left[..., :4] = 1.0
    right = 1.0 - left
    # a 0/1 weight is the mean over its pixels, so the two halves average to the whole
    torch.testing.assert_close((loss(x, weight=left) + loss(x, weight=right)) / 2, plain)
    assert not torch.isclose(loss(x, weight=left), plain)


def test_the_vae_temporal_compression_is_part_of_the_design(tmp_path):
    from dataclasses import replace

    from openreels.errors import OpenreelsError
    from openreels.pipelines.a1 import A1Size, create_random_a1

    tiny = A1Recipe()
    two = replace(tiny, a1=replace(tiny.a1, vae_temporal_compression=2))
    shipped = shipped_path("a1-tiny")
    # The shipped model (4x) warm-starts a1-tiny but not a 2x recipe, whose transformer learns other latents.
    assert same_design(shipped, tiny) and not same_design(shipped, two)
    # A1's 4x keeps the cache key it had before the field existed (encoded work folders stay valid).
    assert "vae_temporal_compression" not in tiny.cache_key()["a1"]
    assert two.cache_key()["a1"]["vae_temporal_compression"] == 2
    folder = create_random_a1(
        tmp_path / "a1", A1Size(height=32, width=32, frames=9, vae_temporal_compression=2)
    )
    assert two.load_vae(folder / "vae", torch.device("cpu")).config.temporal_compression_ratio == 2
    with pytest.raises(OpenreelsError, match="compresses time 2x but recipe 'a1-tiny' asks for 4x"):
        tiny.load_vae(folder / "vae", torch.device("cpu"))


def test_train_cli_gives_the_a1_recipe_the_temporal_compression_of_vae_from(tmp_path, monkeypatch):
    from openreels.cli import main
    from openreels.pipelines.a1 import A1Size, create_random_a1

    seen = []
    monkeypatch.setattr("openreels.train.runner.run_recipe", lambda r, *a, **kw: seen.append(r) or {})
    folder = create_random_a1(
        tmp_path / "a1", A1Size(height=32, width=32, frames=9, vae_temporal_compression=2)
    )
    args = ["train", "--recipe", "a1-tiny", "--out", str(tmp_path / "m"), "--device", "cpu", "--quiet"]
    assert main(args) == 0 and main([*args, "--vae-from", str(folder / "vae")]) == 0
    assert [r.a1.vae_temporal_compression for r in seen] == [4, 2]


def test_toy_recipe_trains_exports_and_animates(tmp_path):
    from openreels.pipelines.animate import AnimatePipeline, face_crop

    assert isinstance(get_recipe("a1-tiny"), A1Recipe)
    logs = []
    summary = run_recipe(a1_toy(), tmp_path / "model", tmp_path / "work", "cpu", log=logs.append)
    assert summary["dit_steps"] == 4 and summary["vae_steps"] == 3 and summary["decoder_steps"] == 2
    root = tmp_path / "model"
    meta = json.loads((root / "openreels.json").read_text())
    assert meta["random"] is False and meta["family"] == "skyreels-a1" and meta["size"] == [64, 64]
    for sub in ("transformer", "vae", "pose_guider", "scheduler", "siglip-so400m-patch14-384"):
        assert (root / sub).is_dir()
    # One trained encoder serves as both, the one of stage 1; the decoder was fine-tuned on whole clips after it.
    vae = load_file(root / "vae" / "diffusion_pytorch_model.safetensors")
    pose = load_file(root / "pose_guider" / "diffusion_pytorch_model.safetensors")
    stage1 = torch.load(tmp_path / "work" / "vae.ckpt", weights_only=False)["module"]
    stage1 = {k[len("model.vae.") :]: v.half() for k, v in stage1.items()}
    assert all(
        torch.equal(vae[k], pose[k]) and torch.equal(vae[k], stage1[k])
        for k in vae
        if k.startswith("encoder.")
    )
    assert any(not torch.equal(vae[k], stage1[k]) for k in vae if k.startswith("decoder."))
    pipe = AnimatePipeline.from_pretrained(root)
    assert pipe.native_size == (64, 64) and pipe.window_frames == 8
    p = heldout_pair(0, frames=8)
    out = pipe(p.reference, p.pose, face_crop(p.reference, p.reference_shape), num_inference_steps=2).frames
    assert out.shape == (8, 64, 64, 3) and out.dtype == np.uint8
    # A second run resumes from the workdir: nothing is rendered or trained again.
    logs.clear()
    run_recipe(a1_toy(), tmp_path / "model2", tmp_path / "work", "cpu", log=logs.append)
    assert any("loaded from" in line for line in logs) and not any("[render]" in line for line in logs)


def test_toy_recipe_with_a_2x_temporal_vae_trains_exports_and_animates(tmp_path):
    from dataclasses import replace

    from openreels.pipelines.animate import AnimatePipeline, face_crop

    toy = a1_toy()
    recipe = replace(toy, a1=replace(toy.a1, vae_temporal_compression=2))
    summary = run_recipe(recipe, tmp_path / "model", tmp_path / "work", "cpu", log=lambda line: None)
    assert summary["dit_steps"] == 4 and summary["decoder_steps"] == 2
    for sub in ("vae", "pose_guider"):
        config = json.loads((tmp_path / "model" / sub / "config.json").read_text())
        assert config["temporal_compression_ratio"] == 2
    # 9-frame training clips are 5 latents at 2x (3 at 4x), and so are the face-region weights beside them.
    cache = torch.load(tmp_path / "work" / "encoded.pt", weights_only=True)
    assert cache["latents"].shape[2] == cache["face_region"].shape[2] == 5
    pipe = AnimatePipeline.from_pretrained(tmp_path / "model")
    p = heldout_pair(0, frames=11)
    out = pipe(p.reference, p.pose, face_crop(p.reference, p.reference_shape), num_inference_steps=2)
    assert out.frames.shape == (11, 64, 64, 3) and out.windows == 2


def test_evaluate_scores_the_bundled_model_against_truth_and_chance():
    """One held-out pair through `evaluate`: the ground truth is perfect on its own probes, and the speckle
    figure is each clip's PSNR against the ground truth (none for the truth itself)."""
    from openreels.models.tiny import bundled_a1_dir
    from openreels.train.a1 import evaluate
    from openreels.train.data import uint8_psnr

    folder = bundled_a1_dir()
    got = evaluate(folder, pairs=1, steps=2)
    assert got["pairs"] == [0, 1] and got["truth"]["colours"] == 1.0 and got["truth"]["psnr_db"] is None
    pair = heldout_pair(0, (64, 64))
    still = np.repeat(pair.reference[None], len(pair.truth), 0)
    assert got["chance"]["psnr_db"] == pytest.approx(uint8_psnr(still, pair.truth), abs=1e-3)
    assert 5 < got["model"]["psnr_db"] < 60 and got["model"]["n_psnr_db"] == 1
