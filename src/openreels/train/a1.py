"""The `a1-tiny` recipe: a small SkyReels-A1 trained on stage portraits, exported in the published A1 layout.

Training pairs come from the stage (`openreels.world`): a close-up of one character; the reference is that
character's first frame with another expression, standing still; the target is a clip of it with its own
expression and action (talking, nodding, ...); the driving landmark video is the stage's ground-truth face
landmarks of the target, drawn by the A1 landmark renderer (`openreels.face`), the reference's own drawing
first, exactly as `pipelines.animate` builds it from retargeted landmarks at inference.

Stages (the `tiny` recipe's shape, with A1's components; what all recipes share is `runner.run_recipe`):
  1. render the pairs; train one small AutoencoderKLCogVideoX on crops of both the stage clips and the landmark
     videos (it is saved as vae/ and as pose_guider/: the pose guider only encodes, and one VAE that
     reconstructs both keeps the landmarks' detail in its latents at half the CPU cost of two); 1b. fine-tune
     its decoder on whole clips, the encoder frozen;
  2. encode every pair once (target video, landmark video, reference frame; posterior modes scaled by the
     measured `scaling_factor`) and the reference face crop with the SigLIP processor;
  3. train the A1 transformer with `DiffusionForcingObjective` (v-prediction on the scheduler's alphas, uniform
     noise level per clip, landmark and reference latents as channel conditions, SigLIP face tokens as a jointly
     trained token condition, dropped 10% of the time for guidance);
  4. export transformer/, vae/, pose_guider/, siglip-so400m-patch14-384/ and scheduler/ (EMA weights) with
     openreels.json, loadable by `AnimatePipeline.from_pretrained` like the real checkpoint.

`evaluate` measures the issue's targets on held-out stage pairs (reference character A, driving clip of B).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from openreels.errors import OpenreelsError
from openreels.pipelines.a1.checkpoint import A1Size, a1_scheduler, create_random_a1
from openreels.pipelines.animate import SIGLIP_FOLDER
from openreels.train.data import to_video_tensor, uint8_psnr
from openreels.train.export import atomic_folder, save_module, write_json
from openreels.train.flow import ForcingConfig
from openreels.train.loop import DistInfo, LoopConfig
from openreels.train.objective import ChannelCondition, DiffusionForcingObjective, TokenCondition, VPrediction
from openreels.train.runner import Encoded, Model, RecipeParts, Run, finetune_decoder, train_vae
from openreels.train.vae import encode_mode

PORTRAIT_ACTIONS = ("talking", "standing", "nodding", "shaking head")


@dataclass
class A1Recipe(RecipeParts):
    """Sizes and schedules of a tiny A1 run (field names follow `recipes.Recipe` where they mean the same)."""

    name: str = "a1-tiny"
    seed: int = 0
    a1: A1Size = field(
        default_factory=lambda: A1Size(
            height=64,
            width=64,
            frames=9,  # 1 reference + 8 driving frames (1 s at 8 fps) per window
            latent_channels=8,
            vae_channels=(8, 16, 32),  # 3 levels: 4x spatial
            vae_temporal_compression=4,  # 2 keeps the mouth's frame-to-frame motion apart (docs/a1-tiny.md)
            heads=4,
            head_dim=32,
            layers=4,
            text_embed_dim=128,
            time_embed_dim=64,
            face_width=64,
            face_image=28,
            face_patch=14,
            patch_size=4,  # 16x16 latents -> 4x4 tokens per latent frame
        )
    )
    fps: float = 8.0
    clips: int = 1200  # training pairs
    vae_loop: LoopConfig = field(
        default_factory=lambda: LoopConfig(
            steps=4000, lr=1e-3, warmup=50, ema_decay=None, ckpt_every=250, log_every=50
        )
    )
    vae_batch: int = 4
    vae_crop: int = 9
    vae_crop_size: int = 32
    vae_kl_weight: float = 1e-4
    dit_loop: LoopConfig = field(
        default_factory=lambda: LoopConfig(
            steps=10854, lr=8e-4, warmup=100, ema_decay=0.999, ckpt_every=250, log_every=50
        )
    )
    dit_batch: int = 32
    # Stage 1b: the decoder alone on whole clips, encoder frozen (`DecoderLoss`): the crops of stage 1 never show
    # it a full-size clip, and every latent the transformer learns from stays valid.
    decoder_loop: LoopConfig = field(
        default_factory=lambda: LoopConfig(
            steps=300, lr=5e-4, warmup=20, ema_decay=None, ckpt_every=50, log_every=10
        )
    )
    decoder_batch: int = 2
    decoder_clips: int = 400
    # Extra decoder loss weight on the pixels near the landmark drawing (eyes, brows, lips; `face_pixels`): an open
    # mouth is a few pixels of a 64 px frame, and an unweighted decoder blurs it away (docs/a1-tiny.md).
    decoder_face_weight: float = 0.0
    face_drop_prob: float = 0.1  # classifier-free guidance on the face tokens, as A1 samples
    # Extra loss weight on the latents the landmark drawing covers. Expression and mouth motion change a few
    # pixels of a 64 px frame, so unweighted they barely move the loss and the model learns to ignore the pose.
    face_loss_weight: float = 4.0
    sample_steps: int = 10
    # Sampling defaults written to openreels.json, chosen on held-out pairs 0-23 and checked on pairs 24-71
    # (docs/a1-tiny.md): guidance on the face pulls toward the reference's own expression, guidance on the
    # landmarks toward the driving one.
    guidance: float = 1.0
    pose_guidance: float = 4.0
    source: str = "stage"  # the only source: pairs need ground-truth face landmarks
    render_wait_s: float | None = None  # accepted for CLI compatibility; pairs render in the foreground
    vae_from: str | None = None  # a trained AutoencoderKLCogVideoX folder (its scaling factor kept)
    # Continue from a model folder of the same design ("bundled": the shipped a1-tiny); see `runner`.
    warm_from: str | None = None

    def defaults(self) -> dict:
        return {
            "size": [self.a1.height, self.a1.width],
            "frames": self.a1.frames,
            "fps": int(round(self.fps)),
            "steps": self.sample_steps,
            "guidance": self.guidance,
            "pose_guidance": self.pose_guidance,
            "recipe": self.name,
            "seed": self.seed,
        }

    # ---- the runner's parts (see openreels.train.runner.RecipeParts) -------------------------------------

    def check(self, dist: DistInfo) -> None:
        if dist.world_size > 1:
            raise OpenreelsError("the a1 recipes run in one process; launch them without torchrun")
        if self.source != "stage":
            raise OpenreelsError(
                "the a1 recipes train on stage clips only (they need face landmarks); drop --source"
            )

    def cache_key(self) -> dict:
        a1 = asdict(self.a1)
        # A1's 4x is the VAE as it was: work folders encoded before the field existed stay valid.
        if a1["vae_temporal_compression"] == 4:
            del a1["vae_temporal_compression"]
        key = {
            "name": self.name,
            "seed": self.seed,
            "a1": a1,
            "clips": self.clips,
            "fps": self.fps,
            "vae_from": self.vae_from,
            "vae_steps": self.vae_loop.steps,
            "decoder_steps": self.decoder_loop.steps,
        }
        # Weight 0 is the decoder stage as it was: work folders encoded before the option stay valid.
        if self.decoder_face_weight:
            key["decoder_face_weight"] = self.decoder_face_weight
        return key

    def design(self) -> dict[str, dict]:
        a = self.a1
        scale = 2 ** (len(a.vae_channels) - 1)
        return {
            "transformer": {
                "num_attention_heads": a.heads,
                "attention_head_dim": a.head_dim,
                "num_layers": a.layers,
                "in_channels": 3 * a.latent_channels,
                "patch_size": a.patch_size,
                "sample_height": a.height // scale,
                "sample_width": a.width // scale,
                "face_embed_dim": a.face_width,
                "text_embed_dim": a.text_embed_dim,
                "time_embed_dim": a.time_embed_dim,
            },
            "vae": {
                "block_out_channels": list(a.vae_channels),
                "latent_channels": a.latent_channels,
                "temporal_compression_ratio": a.vae_temporal_compression,
            },
            SIGLIP_FOLDER: {
                "hidden_size": a.face_width,
                "image_size": a.face_image,
                "patch_size": a.face_patch,
            },
        }

    def continued_from(self, folder: Path) -> A1Recipe:
        # Its VAE (encoder, scaling factor and fine-tuned decoder) as it is.
        return replace(self, vae_from=str(folder / "vae"), decoder_loop=replace(self.decoder_loop, steps=0))

    def load_vae(self, folder: Path, dev: torch.device):
        from diffusers import AutoencoderKLCogVideoX

        vae = AutoencoderKLCogVideoX.from_pretrained(folder, torch_dtype=torch.float32).to(dev)
        ratio = vae.config.temporal_compression_ratio
        if ratio != self.a1.vae_temporal_compression:
            raise OpenreelsError(
                f"the VAE in {folder} compresses time {ratio}x but recipe {self.name!r} asks for "
                f"{self.a1.vae_temporal_compression}x (A1Size.vae_temporal_compression)"
            )
        return vae

    def encode(self, vae, run: Run) -> Encoded:
        return _encode_pairs(self, vae, run)

    def build(self, data: Encoded, run: Run) -> Model:
        return _model(self, data, run)

    def warm_parts(self, model, extras) -> dict:
        return {"transformer": model, SIGLIP_FOLDER: extras[0].siglip}  # the face tokens learned with it

    def export(self, out_dir: Path, transformer, extras, data: Encoded, meta: dict, run: Run) -> None:
        from transformers import SiglipImageProcessor

        processor = SiglipImageProcessor.from_pretrained(_init_folder(self, run.workdir) / SIGLIP_FOLDER)
        export_a1_folder(out_dir, transformer, data.vae, data.vae, extras[0].siglip, processor, meta)

    def score(self, folder: Path, n: int, log) -> float:
        """The mean of the issue's four held-out measures (`evaluate`): reference colours, expression, and the
        mouth and eye correlations with the driving clip (a measure no pair gave counts 0)."""
        result = evaluate(folder, pairs=n)["model"]
        return float(np.mean([result[k] or 0.0 for k in ("colours", "expression", "mouth_r", "eye_r")]))


def a1_tiny() -> A1Recipe:
    return A1Recipe(warm_from="bundled")


def a1_toy() -> A1Recipe:
    """Toy sizes for the test suite (seconds on a CPU); the same code path as `a1-tiny`."""
    return A1Recipe(
        name="a1-toy",
        a1=A1Size(
            height=64,  # the stage's smallest size
            width=64,
            frames=9,  # CogVideoX's VAE decodes odd latent counts only: 1 + 8k frames
            latent_channels=4,
            vae_channels=(4, 4, 4),
            heads=2,
            head_dim=32,  # CogVideoX rotary needs a multiple of 16; 64 wide for the 4 x 4 x 4 values a token writes
            layers=1,
            text_embed_dim=16,
            time_embed_dim=16,
            face_width=16,
            face_image=28,
            face_patch=14,
            patch_size=4,
        ),
        clips=6,
        vae_loop=LoopConfig(steps=3, lr=1e-3, warmup=1, ema_decay=None, ckpt_every=100, log_every=1),
        vae_batch=2,
        vae_crop_size=16,
        dit_loop=LoopConfig(steps=4, lr=1e-3, warmup=1, ema_decay=0.9, ckpt_every=100, log_every=2),
        dit_batch=4,
        decoder_loop=LoopConfig(steps=2, lr=1e-3, warmup=1, ema_decay=None, ckpt_every=100, log_every=1),
        decoder_clips=4,
        decoder_face_weight=4.0,
        sample_steps=2,
    )


# ---- data --------------------------------------------------------------------------------------------------


def portrait_scene(rng: np.random.Generator, split: str | None = "train"):
    """A close-up of one centred character in front of a plain backdrop (studio or room), static camera."""
    from openreels.world import vocab as V
    from openreels.world.scene import sample_scene

    return sample_scene(
        rng,
        split=split,
        n_characters=1,
        n_objects=0,
        environment=str(rng.choice(V.BACKDROP_ENVIRONMENTS)),
        shot_type="close-up",
        angle="eye level",
        camera_motion="static",
        position="center",
        action=str(rng.choice(PORTRAIT_ACTIONS)),
    )


def reference_of(scene, expression: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The character of `scene` with `expression`, standing: (first frame (H, W, 3), canonical shape (C, 2))."""
    from openreels.face import from_clip
    from openreels.world import render

    ref = scene.replace()
    ref.characters[0].expression = expression
    ref.characters[0].action = "standing"
    clip = render(ref, 1, size, caption=False)
    return clip.frames[0], from_clip(clip)[0]


@dataclass
class Pair:
    video: np.ndarray  # (1 + T, H, W, 3): the reference frame, then the target clip
    pose: np.ndarray  # (1 + T, H, W, 3): the landmark drawings of the same frames
    reference_shape: np.ndarray  # (C, 2)


def make_pair(recipe: A1Recipe, index: int) -> Pair:
    """Training pair `index` of the recipe's seeded stream."""
    from openreels.face import from_clip, render_video
    from openreels.world import render
    from openreels.world import vocab as V

    rng = np.random.default_rng([recipe.seed, index, 7])
    size = (recipe.a1.height, recipe.a1.width)
    scene = portrait_scene(rng)
    ref_img, ref_shape = reference_of(scene, str(rng.choice(V.EXPRESSIONS)), size)
    clip = render(scene, recipe.a1.frames - 1, size, recipe.fps, caption=False)
    shapes = np.concatenate([ref_shape[None], from_clip(clip)])
    return Pair(np.concatenate([ref_img[None], clip.frames]), render_video(shapes, size), ref_shape)


def face_region(poses: np.ndarray, vae) -> torch.Tensor:
    """(N, 1, F, h, w) bool on the VAE's latent grid: where landmark videos (N, 1 + tk, H, W, 3) draw
    anything, grown by one latent cell (t the VAE's temporal compression). Latent 0 is frame 0 alone, each later
    one t frames, as the causal VAE groups them."""
    spatial = 2 ** (len(vae.config.block_out_channels) - 1)
    temporal = vae.config.temporal_compression_ratio
    drawn = torch.from_numpy(np.ascontiguousarray(poses.max(axis=-1) > 0)).float()  # (N, T, H, W)
    head, rest = drawn[:, :1], drawn[:, 1:]
    rest = rest.reshape(len(drawn), -1, temporal, *drawn.shape[2:]).amax(dim=2)
    grid = nn.functional.max_pool2d(torch.cat([head, rest], dim=1), spatial)
    grid = nn.functional.max_pool2d(grid, 3, stride=1, padding=1)
    return (grid > 0).unsqueeze(1)


def face_pixels(poses: np.ndarray, grow: int = 2) -> torch.Tensor:
    """(N, T, H, W) bool: the pixels of landmark videos (N, T, H, W, 3) within `grow` px of anything drawn (the
    eyes, brows and lips; the lips' outline grown by 2 px covers the inside of a stage mouth)."""
    drawn = torch.from_numpy(np.ascontiguousarray(poses.max(axis=-1) > 0)).float()
    return nn.functional.max_pool2d(drawn, 2 * grow + 1, stride=1, padding=grow) > 0


# ---- model pieces --------------------------------------------------------------------------------------------


class FaceTokens(nn.Module):
    """The SigLIP vision tower as a jointly trained token condition: batch["face"] pixels -> last hidden state."""

    def __init__(self, siglip: nn.Module) -> None:
        super().__init__()
        self.siglip = siglip

    def forward(self, batch: dict) -> torch.Tensor:
        return self.siglip(pixel_values=batch["face"]).last_hidden_state


def rotary_embedding(transformer, frames: int):
    """CogVideoX's 3-D rotary embedding at the transformer's native size, as `AnimatePipeline` computes it."""
    from diffusers.models.embeddings import get_3d_rotary_pos_embed
    from diffusers.pipelines.cogvideo.pipeline_cogvideox_image2video import get_resize_crop_region_for_grid

    c = transformer.config
    gh, gw = c.sample_height // c.patch_size, c.sample_width // c.patch_size
    crops = get_resize_crop_region_for_grid((gh, gw), gw, gh)
    return get_3d_rotary_pos_embed(
        embed_dim=c.attention_head_dim, crops_coords=crops, grid_size=(gh, gw), temporal_size=frames
    )


def a1_forward(model, x, timesteps, text, tokens) -> torch.Tensor:
    """`DiffusionForcingObjective.forward` for A1: (B, C, F, H, W) channels-first in, one timestep per clip."""
    net = getattr(model, "module", model)  # DDP
    rotary = rotary_embedding(net, x.shape[2])
    out = model(
        hidden_states=x.permute(0, 2, 1, 3, 4),
        encoder_hidden_states=tokens,
        timestep=timesteps[:, 0],
        image_rotary_emb=tuple(r.to(x.device) for r in rotary),
        return_dict=False,
    )[0]
    return out.permute(0, 2, 1, 3, 4)


# ---- the recipe ----------------------------------------------------------------------------------------------


def _init_folder(recipe: A1Recipe, workdir: Path) -> Path:
    """A freshly written random A1 folder (seeded) in the work folder: the components training starts from."""
    init = workdir / "init"
    if not (init / "openreels.json").exists():
        shutil.rmtree(init, ignore_errors=True)
        create_random_a1(init, recipe.a1, seed=recipe.seed)
    return init


def _encode_pairs(recipe: A1Recipe, vae, run: Run) -> Encoded:
    """Stage 1: render the pairs and train the VAE on crops of clips and landmark videos (unless given one);
    stage 1b: its decoder on whole clips; stage 2: encode every pair once, and crop every reference face."""
    from diffusers import AutoencoderKLCogVideoX
    from transformers import SiglipImageProcessor

    from openreels.pipelines.animate import face_crop

    init = _init_folder(recipe, run.workdir)
    summary, dev = run.summary, run.dev
    t0 = time.perf_counter()
    pairs = [make_pair(recipe, i) for i in range(recipe.clips)]
    summary["render_s"] = round(time.perf_counter() - t0, 1)
    run.log(f"[render] {len(pairs)} pairs of {pairs[0].video.shape} in {summary['render_s']} s")
    videos = torch.from_numpy(np.stack([p.video for p in pairs]))
    poses = torch.from_numpy(np.stack([p.pose for p in pairs]))
    given = vae is not None
    if not given:
        t0 = time.perf_counter()
        vae = AutoencoderKLCogVideoX.from_pretrained(init, subfolder="vae").to(dev)
        vae = train_vae(recipe, vae, [videos, poses], run)
        summary["vae_train_s"] = round(time.perf_counter() - t0, 1)

    t0 = time.perf_counter()
    with torch.no_grad():
        raw, raw_pose, raw_ref, ref_std, regions = [], [], [], [], []
        for i in range(0, len(pairs), 16):
            v = to_video_tensor(videos[i : i + 16], dev)
            raw.append(encode_mode(vae, v).float())
            ref_dist = vae.encode(v[:, :, :1]).latent_dist
            raw_ref.append(ref_dist.mode().float())
            ref_std.append(ref_dist.std.float())
            raw_pose.append(encode_mode(vae, to_video_tensor(poses[i : i + 16], dev)).float())
            regions.append(face_region(poses[i : i + 16].numpy(), vae))
        raw_t = torch.cat(raw)
        # A VAE from a folder keeps the scaling factor its transformer was trained with.
        scaling = vae.config.scaling_factor if given else float(1.0 / raw_t.std().clamp_min(1e-4))
        vae.register_to_config(scaling_factor=scaling)
        processor = SiglipImageProcessor.from_pretrained(init / SIGLIP_FOLDER)
        faces = processor(
            images=[face_crop(p.video[0], p.reference_shape) for p in pairs], return_tensors="pt"
        )["pixel_values"]
    summary["scaling_factor"] = round(scaling, 4)
    summary["vae_psnr_db"] = round(_psnr(vae, videos[:8], dev), 2)
    summary["pose_psnr_db"] = round(_psnr(vae, poses[:8], dev), 2)
    summary["encode_s"] = round(time.perf_counter() - t0, 1)
    run.log(
        f"[encode] {len(pairs)} pairs; VAE PSNR {summary['vae_psnr_db']} dB on clips, "
        f"{summary['pose_psnr_db']} dB on landmark videos; scaling factor {scaling:.3f}"
    )
    tensors = {
        "latents": raw_t * scaling,
        "pose": torch.cat(raw_pose) * scaling,
        "ref": torch.cat(raw_ref) * scaling,
        "ref_std": torch.cat(ref_std) * scaling,
        "face": faces,
        "face_region": torch.cat(regions),
    }
    # The decoder alone on whole clips, encoder frozen: the crops of stage 1 never show it a full-size clip, and
    # the latents above stay valid. The pose guider only encodes, so one VAE serves as vae/ and pose_guider/.
    if recipe.decoder_loop.steps > 0:
        t0 = time.perf_counter()
        clips = slice(0, recipe.decoder_clips)
        weights = None
        if recipe.decoder_face_weight:
            weights = 1.0 + recipe.decoder_face_weight * face_pixels(poses[clips].numpy()).float()
        vae = finetune_decoder(recipe, vae, videos[clips], run, weights)
        summary["decoder_train_s"] = round(time.perf_counter() - t0, 1)
        summary["decoder_psnr_db"] = round(_psnr(vae, videos[:8], dev), 2)
        run.log(
            f"[decoder] PSNR {summary['decoder_psnr_db']} dB on whole clips after {summary['decoder_steps']} steps"
        )
    keys = ("vae_steps", "vae_psnr_db", "pose_psnr_db", "scaling_factor", "decoder_steps", "decoder_psnr_db")
    return Encoded(vae, tensors, {k: summary[k] for k in keys if k in summary})


def _model(recipe: A1Recipe, data: Encoded, run: Run) -> Model:
    """The A1 transformer and SigLIP from the random init folder, under v-prediction with the landmark and
    reference latents as channel conditions and the face tokens as a jointly trained token condition."""
    from transformers import SiglipVisionModel

    from openreels.pipelines.a1 import A1Transformer3DModel

    dev = run.dev
    init = _init_folder(recipe, run.workdir)
    transformer = A1Transformer3DModel.from_pretrained(init, subfolder="transformer").to(dev)
    siglip = SiglipVisionModel.from_pretrained(init / SIGLIP_FOLDER).to(dev)
    latents, pose, ref, ref_std, faces, region = (
        data.tensors[k].to(dev) for k in ("latents", "pose", "ref", "ref_std", "face", "face_region")
    )
    n = len(latents)
    run.summary["clips"] = n
    n_hold = min(64, max(1, n // 20)) if n > 1 else 0  # the last pairs are never trained on
    channels = recipe.a1.latent_channels
    objective = DiffusionForcingObjective(
        forcing=ForcingConfig(
            shift=1.0, p_uniform=1.0, p_independent=0.0, p_prefix=0.0, p_prefix_independent=0.0
        ),
        text_drop_prob=0.0,
        channel_conditions=(
            ChannelCondition("pose", channels, lambda b, x0: b["pose"]),
            ChannelCondition("reference", channels, lambda b, x0: b["ref"]),
        ),
        token_condition=TokenCondition("face", FaceTokens(siglip), drop_prob=recipe.face_drop_prob),
        forward=a1_forward,
        v_prediction=VPrediction(a1_scheduler().alphas_cumprod),
    )

    def batch(idx: torch.Tensor, ref_latents: torch.Tensor) -> dict:
        pad = ref_latents.new_zeros(len(idx), ref.shape[1], latents.shape[2] - 1, *ref.shape[3:])
        return {
            "latents": latents[idx],
            "pose": pose[idx],
            "ref": torch.cat([ref_latents, pad], dim=2),  # the reference latent first, zeros after
            "face": faces[idx],
            "text": latents.new_zeros(len(idx), 0),
            "loss_weight": 1.0 + recipe.face_loss_weight * region[idx].float(),
        }

    def batches(step: int, rank: int) -> dict:
        g = torch.Generator().manual_seed((recipe.seed * 104729 + step) * 131 + rank)
        idx = torch.randint(n - n_hold, (recipe.dit_batch,), generator=g).to(dev)
        # The reference latent is a posterior sample, as the pipeline encodes it.
        noise = torch.randn(ref_std[idx].shape, generator=g).to(dev)
        return batch(idx, ref[idx] + ref_std[idx] * noise)

    hold = torch.arange(n - n_hold, n, device=dev)
    return Model(transformer, objective, batches, [batch(hold, ref[hold])] if n_hold else [])


@torch.no_grad()
def _psnr(vae, frames: torch.Tensor, dev) -> float:
    """Reconstruction PSNR (dB) of uint8 videos (N, T, H, W, 3) through the posterior mode, as the pipeline
    encodes."""
    x = to_video_tensor(frames, dev)
    recon = vae.decode(encode_mode(vae, x)).sample.float().clamp(-1, 1)
    mse = ((recon - x) / 2).pow(2).mean().clamp_min(1e-10)
    return float(10 * torch.log10(1 / mse))


def export_a1_folder(
    out_dir, transformer, vae, pose_guider, siglip, processor, defaults: dict, dtype=torch.float16
) -> Path:
    """Write the published A1 layout atomically (built beside out_dir, then swapped in); `vae` and
    `pose_guider` may share an encoder (the recipe trains one VAE and fine-tunes a copy's decoder)."""
    out_dir = Path(out_dir)
    with atomic_folder(out_dir) as tmp:
        save_module(transformer, tmp / "transformer", dtype)
        for sub, model in (("vae", vae), ("pose_guider", pose_guider), (SIGLIP_FOLDER, siglip)):
            save_module(model, tmp / sub, dtype)
        processor.save_pretrained(tmp / SIGLIP_FOLDER)
        a1_scheduler().save_pretrained(tmp / "scheduler")
        write_json(tmp / "openreels.json", {"random": False, "family": "skyreels-a1", **defaults})
    return out_dir


# ---- evaluation ----------------------------------------------------------------------------------------------

EVAL_SEED = 1_000_003  # held-out pairs: a seed stream the recipe's training pairs never use


@dataclass
class HeldOutPair:
    """Reference character A (its first frame, another expression), driving clip of character B talking, and
    the ground truth: A rendered with B's expression and action."""

    reference: np.ndarray  # (H, W, 3)
    reference_shape: np.ndarray  # (C, 2)
    driving: np.ndarray  # (T, H, W, 3)
    driving_shapes: np.ndarray  # (T, C, 2)
    pose: np.ndarray  # (1 + T, H, W, 3): the retargeted landmark video the pipeline is given
    moved: np.ndarray  # (T, C, 2): the retargeted shapes (where A's mouth and eyes should be)
    truth: np.ndarray  # (T, H, W, 3)
    caption: dict  # A's caption with B's expression: what the output should show
    lighting_gain: np.ndarray  # (3,) of A's scene
    driving_gain: np.ndarray  # (3,) of B's scene


def heldout_pair(
    index: int, size: tuple[int, int] = (64, 64), frames: int = 16, fps: float = 8.0
) -> HeldOutPair:
    """Held-out pair `index`; expressions are retargeted against both characters' neutral faces, so an
    expression B holds for the whole clip carries over (see `face.retarget`)."""
    from openreels.face import from_clip, neutral_shape, render_video, retarget
    from openreels.world import render
    from openreels.world import vocab as V

    rng = np.random.default_rng([EVAL_SEED, index])
    scene_a, scene_b = portrait_scene(rng, split=None), portrait_scene(rng, split=None)
    scene_b.characters[0].action = "talking"  # the mouth moves in every driving clip
    ref_img, ref_shape = reference_of(scene_a, str(rng.choice(V.EXPRESSIONS)), size)
    drv = render(scene_b, frames, size, fps, caption=False)
    drv_shapes = from_clip(drv)
    moved = retarget(
        ref_shape,
        drv_shapes,
        driving_neutral=neutral_shape(scene_b, 0, size),
        reference_neutral=neutral_shape(scene_a, 0, size),
    )
    target = scene_a.replace()
    for name in ("expression", "intensity", "action"):
        setattr(target.characters[0], name, getattr(scene_b.characters[0], name))
    truth = render(target, frames, size, fps)
    return HeldOutPair(
        ref_img,
        ref_shape,
        drv.frames,
        drv_shapes,
        render_video(np.concatenate([ref_shape[None], moved]), size),
        moved,
        truth.frames,
        truth.caption,
        np.asarray(V.LIGHTING_GAIN[scene_a.lighting]),
        np.asarray(V.LIGHTING_GAIN[scene_b.lighting]),
    )


def _polygon_mask(points: np.ndarray, size: tuple[int, int], grow: float = 1.0) -> np.ndarray:
    from PIL import Image, ImageDraw

    center = points.mean(0)
    pts = center + (points - center) * grow
    img = Image.new("L", (size[1], size[0]))
    ImageDraw.Draw(img).polygon([tuple(p) for p in pts], fill=1, outline=1)
    return np.asarray(img, bool)


def mouth_eye_curves(
    frames: np.ndarray, shapes: np.ndarray, gain: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel measures of mouth opening and eye opening per frame: the share of the mouth region showing the
    stage's mouth interior or teeth, and of the eye regions showing eye white (colours under the scene's
    lighting). The regions are fixed per clip (the union over frames of where `shapes` put the outer lips and
    the eyes, grown), so a clip that does not change gives a flat curve whatever the landmarks do."""
    from openreels.face.layout import part

    size = frames.shape[1:3]
    mouth_mask = np.any([_polygon_mask(part(s, "lips_outer"), size, 1.3) for s in shapes], axis=0)
    eye_mask = np.any(
        [_polygon_mask(part(s, side), size, 1.5) for s in shapes for side in ("right_eye", "left_eye")],
        axis=0,
    )
    inside = np.array([(90, 20, 30), (245, 245, 240)]) * gain
    white = np.array([250, 250, 250]) * gain
    px = frames.astype(np.float64)
    mouth_px, eye_px = px[:, mouth_mask], px[:, eye_mask]  # (T, N, 3)
    # Thresholds (RGB distance) chosen on ground truth: on 24 held-out driving clips at their own landmarks the
    # curves reach r = 0.98 (mouth) and 0.94 (eyes, clips that blink); looser ones count dark lips as mouth.
    mouth = (np.linalg.norm(mouth_px[:, :, None] - inside, axis=-1).min(-1) < 25).mean(1)
    eyes = (np.linalg.norm(eye_px - white, axis=-1) < 40).mean(1)
    return mouth, eyes


def _corr(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson r; None when the driving curve `a` does not move, 0 when the output `b` does not."""
    if a.std() < 1e-6:
        return None
    if b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def evaluate(
    folder: str | Path,
    pairs: int = 24,
    steps: int = 10,
    guidance: float | None = None,
    pose_guidance: float | None = None,
    first: int = 0,
) -> dict:
    """The issue's targets on held-out pairs, for the model, the ground truth and chance baselines.

    colours: backdrop / shirt / hair probes of `score_clip` (mean over fields present) on the middle frame;
    expression: the expression probe on the middle frame against B's expression on A;
    psnr_db: every frame against the ground truth, over all pixels (the issue's speckle check);
    mouth / eyes: per-pair Pearson r between the driving video's landmark curves (`mouth_opening`,
    `eye_opening`) and the pixel measures of `mouth_eye_curves` read at the retargeted landmarks (pairs whose
    driving curve does not move are left out). Ground truth: A rendered doing what B does. Chance: the driving
    clip itself as the output (colours), and the reference frame held still (expression, curves).
    Pairs `first` .. `first + pairs - 1`; scales left None are the folder's sampling defaults."""
    from openreels.eval import score_clip
    from openreels.face import eye_opening, mouth_opening
    from openreels.pipelines.animate import AnimatePipeline, face_crop

    pipe = AnimatePipeline.from_pretrained(folder)
    size = pipe.native_size
    rows: dict[str, dict[str, list]] = {
        k: {"colours": [], "expression": [], "mouth_r": [], "eye_r": [], "psnr_db": []}
        for k in ("model", "truth", "chance")
    }
    check: dict[str, list] = {"mouth_r": [], "eye_r": []}  # the pixel measures on the driving clip itself
    seconds = []
    for i in range(first, first + pairs):
        p = heldout_pair(i, size)
        t0 = time.perf_counter()
        out = pipe(
            p.reference,
            p.pose,
            face_crop(p.reference, p.reference_shape),
            steps,
            guidance,
            seed=i,
            pose_guidance_scale=pose_guidance,
        ).frames
        seconds.append(time.perf_counter() - t0)
        mid = len(out) // 2
        still = np.repeat(p.reference[None], len(out), 0)
        drv_mouth, drv_eye = mouth_opening(p.driving_shapes), eye_opening(p.driving_shapes)
        for name, frames, colour_frames in (
            ("model", out, out),
            ("truth", p.truth, p.truth),
            ("chance", still, p.driving),
        ):
            colour = score_clip(colour_frames[mid:], p.caption)
            fields = [colour[k] for k in ("backdrop", "shirt_color", "hair_color") if k in colour]
            rows[name]["colours"].append(float(np.mean(fields)))
            if name != "truth":
                rows[name]["psnr_db"].append(uint8_psnr(frames, p.truth))
            expr = score_clip(frames[mid:], p.caption).get("expression")
            if expr is not None:
                rows[name]["expression"].append(expr)
            # the ground truth's own mouth is where A's landmarks put it, the others' where retargeting does
            mouth, eye = mouth_eye_curves(frames, p.moved, p.lighting_gain)
            for key, curve, ref in (("mouth_r", mouth, drv_mouth), ("eye_r", eye, drv_eye)):
                r = _corr(ref, curve)
                if r is not None:
                    rows[name][key].append(r)
        mouth, eye = mouth_eye_curves(p.driving, p.driving_shapes, p.driving_gain)
        for key, curve, ref in (("mouth_r", mouth, drv_mouth), ("eye_r", eye, drv_eye)):
            r = _corr(ref, curve)
            if r is not None:
                check[key].append(r)
    summary = {
        name: {k: (round(float(np.mean(v)), 3) if v else None) for k, v in vals.items()}
        | {f"n_{k}": len(v) for k, v in vals.items()}
        for name, vals in rows.items()
    }
    summary["measure_on_driving"] = {k: round(float(np.mean(v)), 3) if v else None for k, v in check.items()}
    summary["pairs"] = [first, first + pairs]
    summary["pipeline_s_per_pair"] = round(float(np.mean(seconds)), 2)
    return summary


@torch.no_grad()
def reconstruct(vae, first: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """`frames` (T, H, W, 3) uint8 through the VAE as the pipeline runs it: after a first frame of their own
    (the pipeline's reference latent; T a multiple of twice the temporal compression, so the latent count is
    odd), encoded to the posterior mode, decoded as one sequence, the first frame dropped."""
    clip = torch.from_numpy(np.concatenate([first[None], frames]))[None]
    x = to_video_tensor(clip, next(vae.parameters()).device)
    video = vae.decode(encode_mode(vae, x)).sample[0, :, 1:].float().clamp(-1, 1)
    return ((video + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).cpu().numpy()


def vae_curve_check(vae, pairs: int = 24, first: int = 0) -> dict:
    """Whether the VAE keeps the mouth and eye motion: the curve correlations of `evaluate` on held-out pairs, for
    each clip and its reconstruction (`reconstruct`), with the reconstructions' PSNR (dB, over all their pixels).

    truth: A doing B's expression and action, read at the retargeted landmarks (what `evaluate` compares the model
    with; its eyes blink on A's own timing, so its eye r is no reference). driving: B's own clip at B's own
    landmarks (the check of the measure itself: mouth and eyes both follow the driving curves)."""
    from openreels.face import eye_opening, mouth_opening

    rows: dict[str, dict[str, list]] = {
        k: {"mouth_r": [], "eye_r": [], "psnr_db": []}
        for k in ("truth", "truth_vae", "driving", "driving_vae")
    }
    for i in range(first, first + pairs):
        p = heldout_pair(i)
        curves = (mouth_opening(p.driving_shapes), eye_opening(p.driving_shapes))
        for name, ref, clip, shapes, gain in (
            ("truth", p.reference, p.truth, p.moved, p.lighting_gain),
            ("driving", p.driving[0], p.driving, p.driving_shapes, p.driving_gain),
        ):
            recon = reconstruct(vae, ref, clip)
            rows[f"{name}_vae"]["psnr_db"].append(uint8_psnr(recon, clip))
            for key, frames in ((name, clip), (f"{name}_vae", recon)):
                for measure, curve, drv in zip(
                    ("mouth_r", "eye_r"), mouth_eye_curves(frames, shapes, gain), curves, strict=True
                ):
                    r = _corr(drv, curve)
                    if r is not None:
                        rows[key][measure].append(r)
    return {
        name: {k: round(float(np.mean(v)), 3) for k, v in vals.items() if v} | {"n_eye": len(vals["eye_r"])}
        for name, vals in rows.items()
    } | {"pairs": [first, first + pairs]}


# python -m openreels.train.a1 FOLDER [PAIRS [FIRST]]: the held-out evaluation as JSON
if __name__ == "__main__":
    import sys

    torch.set_num_threads(1)
    pairs = int(sys.argv[2]) if len(sys.argv) > 2 else 24
    first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    print(json.dumps(evaluate(sys.argv[1], pairs, first=first), indent=2))
