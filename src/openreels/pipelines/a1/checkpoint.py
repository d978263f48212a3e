"""Write a randomly initialised SkyReels-A1 checkpoint in the published folder layout.

Tests load it through exactly the path a real checkpoint takes, and a trainer can start a small A1 from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class A1Size:
    """Shapes of a small A1; defaults are tiny enough to sample on a CPU in seconds."""

    height: int = 64  # native pixel size (the transformer's sample size times the VAE's spatial scale)
    width: int = 64
    frames: int = 49  # native clip length incl. the reference frame (1 + tk, t the temporal compression)
    latent_channels: int = 4
    vae_channels: tuple[int, ...] = (8, 8, 8, 8)  # 4 levels: 8x spatial
    vae_temporal_compression: int = 4  # frames per latent after the first (A1's CogVideoX VAE: 4)
    heads: int = 2
    head_dim: int = 16
    layers: int = 1
    text_embed_dim: int = 32
    time_embed_dim: int = 16
    face_width: int = 32  # SigLIP hidden size (1152 in so400m)
    face_image: int = 28  # SigLIP input size (384 in so400m)
    face_patch: int = 14
    learned_positions: bool = False
    patch_size: int = (
        2  # transformer patch (A1: 2); a larger one keeps a low-compression VAE's token count small
    )


def a1_scheduler():
    """CogVideoX-I2V's sampler settings (v-prediction, zero-terminal-SNR, trailing spacing), as A1 ships them."""
    from diffusers import CogVideoXDDIMScheduler

    return CogVideoXDDIMScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        clip_sample=False,
        prediction_type="v_prediction",
        rescale_betas_zero_snr=True,
        set_alpha_to_one=True,
        timestep_spacing="trailing",
        snr_shift_scale=1.0,
    )


def create_random_a1(path: str | Path, size: A1Size = A1Size(), seed: int = 0) -> Path:
    """Save random transformer/, vae/, pose_guider/, siglip-so400m-patch14-384/ and scheduler/ under path."""
    from diffusers import AutoencoderKLCogVideoX
    from transformers import SiglipImageProcessor, SiglipVisionConfig, SiglipVisionModel

    from openreels.pipelines.a1.transformer import A1Transformer3DModel
    from openreels.pipelines.animate import SIGLIP_FOLDER

    root = Path(path)
    torch.manual_seed(seed)
    scale = 2 ** (len(size.vae_channels) - 1)
    face_tokens = (size.face_image // size.face_patch) ** 2
    A1Transformer3DModel(
        num_attention_heads=size.heads,
        attention_head_dim=size.head_dim,
        in_channels=3 * size.latent_channels,
        out_channels=size.latent_channels,
        time_embed_dim=size.time_embed_dim,
        text_embed_dim=size.text_embed_dim,
        num_layers=size.layers,
        sample_width=size.width // scale,
        sample_height=size.height // scale,
        sample_frames=size.frames,
        temporal_compression_ratio=size.vae_temporal_compression,
        use_rotary_positional_embeddings=True,
        use_learned_positional_embeddings=size.learned_positions,
        face_embed_dim=size.face_width,
        face_seq_length=face_tokens,
        patch_size=size.patch_size,
    ).save_pretrained(root / "transformer")
    for sub in ("vae", "pose_guider"):
        AutoencoderKLCogVideoX(
            down_block_types=("CogVideoXDownBlock3D",) * len(size.vae_channels),
            up_block_types=("CogVideoXUpBlock3D",) * len(size.vae_channels),
            block_out_channels=size.vae_channels,
            latent_channels=size.latent_channels,
            layers_per_block=1,
            norm_num_groups=2,
            temporal_compression_ratio=size.vae_temporal_compression,
            sample_height=size.height,
            sample_width=size.width,
        ).save_pretrained(root / sub)
    siglip = SiglipVisionConfig(
        hidden_size=size.face_width,
        intermediate_size=2 * size.face_width,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=size.face_image,
        patch_size=size.face_patch,
    )
    SiglipVisionModel(siglip).save_pretrained(root / SIGLIP_FOLDER)
    SiglipImageProcessor(size={"height": size.face_image, "width": size.face_image}).save_pretrained(
        root / SIGLIP_FOLDER
    )
    a1_scheduler().save_pretrained(root / "scheduler")
    # Marks the folder as untrained for the CLI (the core's checkpoints use the same file).
    (root / "openreels.json").write_text(json.dumps({"random": True, "family": "skyreels-a1"}) + "\n")
    return root
