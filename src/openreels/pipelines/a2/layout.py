"""The SkyReels-A2 checkpoint folder, and a writer of randomly initialised ones in that same layout.

`Skywork/SkyReels-A2` holds one folder per component, each readable by a diffusers/transformers class:
transformer/ (WanTransformer3DModel config keys; the original saves it as `A2Model`), vae/
(AutoencoderKLWan), image_encoder/ (CLIPVisionModel), image_processor/ (CLIPImageProcessor),
text_encoder/ (UMT5EncoderModel), tokenizer/ (T5 tokenizer) and scheduler/. The random writer gives tests,
the trainer (as a starting point) and the studio an offline A2 of any size, loaded by the very code that
loads the 14B one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

REQUIRED_SUBFOLDERS = ("transformer", "vae", "image_encoder", "image_processor")
TEXT_SUBFOLDERS = ("text_encoder", "tokenizer")  # absent when openreels.json names the bundled MiniLM
MINILM_WIDTH = 384

# Words of the stage vocabulary (shared/WORLD.md) become single tokens; anything else falls back to letters.
_WORDS = (
    "a an the is are and in of with on at to from shot frame backdrop light man woman child hair shirt "
    "light medium dark black brown blonde red white blue short long bald left center right orange yellow "
    "green teal purple pink gray studio room street park beach night sky daylight warm cool dim neutral "
    "happy laughing sad crying angry surprised fearful disgusted contemptuous thoughtful talking waving "
    "nodding shaking head jumping walking raising arms turning around standing ball cup hat book umbrella "
    "flower close-up medium full wide extreme eye level high low angle overhead static pan tilt up down "
    "zoom dolly truck roll clockwise counterclockwise handheld holding plain wall floor"
).split()
_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"-()/"


@dataclass(frozen=True)
class A2Sizes:
    """Sizes of a randomly initialised A2; the defaults make a model of about 0.1M parameters."""

    num_layers: int = 2
    num_attention_heads: int = 2
    attention_head_dim: int = 8
    ffn_dim: int = 32
    text_dim: int = 16  # text encoder width
    text_layers: int = 1
    image_dim: int = 16  # image encoder width
    image_layers: int = 2  # the pipeline reads the penultimate layer, so at least 2
    image_size: int = 32
    image_patch: int = 8
    z_dim: int = 4
    vae_base_dim: int = 8


def _tokenizer():
    from transformers import T5Tokenizer

    # T5 order: <pad>=0, </s>=1, <unk>=2, then the pieces; whole words score above single letters.
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [(f"\u2581{word}", -1.0) for word in dict.fromkeys(_WORDS)]
    pieces += [(char, -5.0) for char in _CHARS]
    return T5Tokenizer(vocab=pieces, extra_ids=0)


def write_random_a2_layout(
    path: str | os.PathLike,
    sizes: A2Sizes = A2Sizes(),
    seed: int = 0,
    text_encoder: str = "umt5",
) -> Path:
    """Write a randomly initialised A2 in the published folder layout; returns the folder.

    `text_encoder="minilm"` ships no text_encoder/ or tokenizer/ and names the bundled MiniLM in
    `openreels.json` instead (the convention of openreels' tiny checkpoints); text_dim becomes 384.
    """
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel
    from transformers import (
        CLIPImageProcessorPil,
        CLIPVisionConfig,
        CLIPVisionModel,
        UMT5Config,
        UMT5EncoderModel,
    )

    from openreels.models.tiny import MINILM

    if text_encoder not in ("umt5", "minilm"):
        raise ValueError(f"text_encoder must be 'umt5' or 'minilm', got {text_encoder!r}")
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    text_dim = sizes.text_dim
    index = {"_class_name": "A2Pipeline"}
    if text_encoder == "minilm":
        (root / "openreels.json").write_text(json.dumps({"text_encoder": MINILM}, indent=2) + "\n")
        text_dim = MINILM_WIDTH
    else:
        tokenizer = _tokenizer()
        tokenizer.save_pretrained(root / "tokenizer")
        heads = max(1, text_dim // 8)
        model = UMT5EncoderModel(
            UMT5Config(
                vocab_size=len(tokenizer),
                d_model=text_dim,
                d_kv=text_dim // heads,
                d_ff=text_dim * 2,
                num_layers=sizes.text_layers,
                num_heads=heads,
                relative_attention_num_buckets=8,
            )
        )
        model.save_pretrained(root / "text_encoder")
        index |= {
            "text_encoder": ["transformers", "UMT5EncoderModel"],
            "tokenizer": ["transformers", "T5Tokenizer"],
        }
    CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=sizes.image_dim,
            intermediate_size=sizes.image_dim * 2,
            num_hidden_layers=sizes.image_layers,
            num_attention_heads=max(1, sizes.image_dim // 8),
            image_size=sizes.image_size,
            patch_size=sizes.image_patch,
        )
    ).save_pretrained(root / "image_encoder")
    side = {"shortest_edge": sizes.image_size}
    crop = {"height": sizes.image_size, "width": sizes.image_size}
    CLIPImageProcessorPil(size=side, crop_size=crop).save_pretrained(root / "image_processor")
    vae = AutoencoderKLWan(
        base_dim=sizes.vae_base_dim,
        z_dim=sizes.z_dim,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        latents_mean=[0.0] * sizes.z_dim,
        latents_std=[1.0] * sizes.z_dim,
    )
    vae.save_pretrained(root / "vae")
    temporal = 2 ** sum(vae.config.temperal_downsample)
    inner = sizes.num_attention_heads * sizes.attention_head_dim
    WanTransformer3DModel(
        num_attention_heads=sizes.num_attention_heads,
        attention_head_dim=sizes.attention_head_dim,
        in_channels=2 * sizes.z_dim + temporal,  # noise + mask + reference latents
        out_channels=sizes.z_dim,
        text_dim=text_dim,
        freq_dim=max(16, inner),
        ffn_dim=sizes.ffn_dim,
        num_layers=sizes.num_layers,
        image_dim=sizes.image_dim,
        added_kv_proj_dim=inner,
        rope_max_seq_len=256,
    ).save_pretrained(root / "transformer")
    # The original saves its transformer as `A2Model` (same keys); keep that name so loading is tested on it.
    config_path = root / "transformer" / "config.json"
    config = json.loads(config_path.read_text())
    config["_class_name"] = "A2Model"
    config_path.write_text(json.dumps(config, indent=2))
    UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=8.0
    ).save_pretrained(root / "scheduler")
    # model_index.json is informational: the loader reads each folder with a fixed class.
    index |= {
        "image_encoder": ["transformers", "CLIPVisionModel"],
        "image_processor": ["transformers", "CLIPImageProcessor"],
        "scheduler": ["diffusers", "UniPCMultistepScheduler"],
        "transformer": ["diffusers", "WanTransformer3DModel"],
        "vae": ["diffusers", "AutoencoderKLWan"],
    }
    (root / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
    return root
