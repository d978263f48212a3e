"""One loading path for every checkpoint, tiny or real: a diffusers folder -> the task's pipeline."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from openreels.errors import OpenreelsError
from openreels.models.registry import ModelSpec, read_openreels_json, spec_from_folder
from openreels.models.tiny import MINILM, minilm_path
from openreels.pipelines.text import SENTENCES
from openreels.runtime.parallel import load_once_per_node

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}
_DTYPES |= {"float16": torch.float16, "fp16": torch.float16}


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise OpenreelsError(f"unknown --device {device!r}; use auto, cpu, cuda or cuda:N") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise OpenreelsError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    return resolved


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if dtype not in _DTYPES:
        raise OpenreelsError(f"unknown --dtype {dtype!r}; use auto, float32, bfloat16 or float16")
    return _DTYPES[dtype]


def pipeline_class(name: str):
    """The diffusers pipeline class called `name`; DF classes come back as openreels' tail-safe subclasses."""
    from openreels.pipelines.df import TAIL_SAFE

    if name in TAIL_SAFE:
        return TAIL_SAFE[name]
    import diffusers

    return getattr(diffusers, name)


def _extra_components(model_dir: Path, spec: ModelSpec, dtype: torch.dtype) -> tuple[Path, dict]:
    """Components a folder names instead of shipping (MiniLM), and the base repo of transformer-only V1."""
    extra: dict = {}
    if read_openreels_json(model_dir).get("text_encoder") == MINILM:
        from transformers import AutoModel, AutoTokenizer

        extra["text_encoder"] = AutoModel.from_pretrained(minilm_path(), dtype=torch.float32).eval()
        extra["tokenizer"] = AutoTokenizer.from_pretrained(minilm_path())
    if (model_dir / "model_index.json").is_file():
        return model_dir, extra
    # A transformer-only SkyReels-V1 repo: VAE, text encoders and scheduler come from HunyuanVideo.
    from diffusers import HunyuanVideoTransformer3DModel

    from openreels.models.weights import cached_snapshot

    base_repo = spec.base_repo or "hunyuanvideo-community/HunyuanVideo"
    base = cached_snapshot(base_repo)
    if base is None:
        raise OpenreelsError(
            f"{model_dir} holds only a transformer; its VAE and text encoders come from {base_repo}: "
            f"run `huggingface-cli download {base_repo} --exclude 'transformer/*'`"
        )
    sub = model_dir / "transformer" if (model_dir / "transformer" / "config.json").is_file() else model_dir
    extra["transformer"] = HunyuanVideoTransformer3DModel.from_pretrained(sub, dtype=dtype)
    return base, extra


def load_pipeline(
    model_dir: str | os.PathLike,
    task: str,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype = "auto",
    spec: ModelSpec | None = None,
):
    """Load the pipeline that runs `task` from a checkpoint folder, on `device` in `dtype`.

    The same call loads the tiny test checkpoints and a 14B SkyReels download; the VAE stays in float32.
    """
    model_dir = Path(model_dir)
    spec = spec or spec_from_folder(model_dir)
    device = device if isinstance(device, torch.device) else resolve_device(device)
    dtype = dtype if isinstance(dtype, torch.dtype) else resolve_dtype(dtype, device)
    cls = pipeline_class(spec.pipeline_for(task))

    def read():
        root, extra = _extra_components(model_dir, spec, dtype)
        return cls.from_pretrained(root, dtype={"default": dtype, "vae": torch.float32}, **extra)

    try:
        pipe = load_once_per_node(read)  # under torchrun, the node's disk is read once, not once per rank
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        raise OpenreelsError(
            f"cannot load the checkpoint in {model_dir}: {str(exc).splitlines()[0]}"
        ) from exc
    pipe.set_progress_bar_config(disable=True)
    if hasattr(pipe, "text_by_sentence"):  # openreels' DF pipelines
        pipe.text_by_sentence = read_openreels_json(model_dir).get("text_encoding") == SENTENCES
    return pipe.to(device)
