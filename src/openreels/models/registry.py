"""The model registry: every SkyReels checkpoint openreels knows, with the defaults of its official tools.

A `ModelSpec` says which diffusers pipeline runs each task of a checkpoint and what the official code uses
by default (size, frames, steps, guidance, shift, negative prompt, prompt prefix). Figures come from
REFERENCE.md sections 1-2; download sizes are approximate (bf16/fp32 weights as published, text encoder
included) and only used to tell a user how much disk a missing checkpoint needs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from openreels.errors import OpenreelsError

Task = Literal["t2v", "i2v", "flf2v", "extend", "long", "animate", "compose"]

V1_NEGATIVE = (
    "Aerial view, aerial view, overexposed, low quality, deformation, a poor composition, bad hands, "
    "bad teeth, bad eyes, bad limbs, distortion"
)
# The English form of Wan2.1's negative prompt, which SkyReels-V2 reuses.
V2_NEGATIVE = (
    "Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, images, static, "
    "overall gray, worst quality, low quality, JPEG compression residue, ugly, incomplete, extra fingers, "
    "poorly drawn hands, poorly drawn faces, deformed, disfigured, misshapen limbs, fused fingers, still "
    "picture, messy background, three legs, many people in the background, walking backwards"
)

DF_PIPELINES = {
    "t2v": "SkyReelsV2DiffusionForcingPipeline",
    "long": "SkyReelsV2DiffusionForcingPipeline",
    "i2v": "SkyReelsV2DiffusionForcingImageToVideoPipeline",
    "flf2v": "SkyReelsV2DiffusionForcingImageToVideoPipeline",
    "extend": "SkyReelsV2DiffusionForcingVideoToVideoPipeline",
}
V2_T2V_PIPELINES = {"t2v": "SkyReelsV2Pipeline"}
V2_I2V_PIPELINES = {"i2v": "SkyReelsV2ImageToVideoPipeline", "flf2v": "SkyReelsV2ImageToVideoPipeline"}
V1_T2V_PIPELINES = {"t2v": "HunyuanVideoPipeline"}
V1_I2V_PIPELINES = {"i2v": "HunyuanSkyreelsImageToVideoPipeline"}


class ModelSpec(BaseModel):
    """One checkpoint: identity, tasks, the pipeline per task and the official defaults."""

    model_config = ConfigDict(frozen=True)

    id: str
    family: str = Field(description="skyreels-v1, skyreels-v2, skyreels-a1, skyreels-a2 or openreels-tiny")
    variant: str = Field("", description="t2v, i2v, flf2v or df: which kind of checkpoint of the family")
    tasks: tuple[str, ...]
    size: tuple[int, int] = Field(description="native (height, width)")
    frames: int = Field(description="native frame count, also the diffusion-forcing window")
    fps: int
    steps: int
    guidance: float = Field(description="classifier-free guidance (true CFG for V1)")
    embedded_guidance: float | None = Field(None, description="V1 only: the distilled guidance input")
    shift: float = Field(description="flow-matching sigma shift of the scheduler")
    negative_prompt: str = ""
    prompt_prefix: str = ""
    hf_repo: str | None = None
    base_repo: str | None = Field(
        None, description="repo with the parts the checkpoint lacks (V1: VAE, text)"
    )
    pipelines: dict[str, str] = Field(default_factory=dict, description="task -> diffusers pipeline class")
    download_gb: float = Field(0.0, description="approximate download size in GB (with base_repo)")
    size_multiple: int = Field(16, description="height and width must be multiples of this (VAE x patch)")
    overlap_history: int = 17
    addnoise_condition: float = 20.0
    max_sequence_length: int | None = None
    description: str = ""

    @property
    def is_df(self) -> bool:
        return self.variant == "df"

    def pipeline_for(self, task: str) -> str:
        if task not in self.pipelines:
            raise OpenreelsError(
                f"model {self.id} cannot do {task!r} (it does: {', '.join(self.tasks)}); "
                "pick another --model (see `openreels models`)"
            )
        return self.pipelines[task]


def _v1(variant: str, pipelines: dict[str, str], description: str) -> ModelSpec:
    """A SkyReels-V1 transformer repo; VAE and text encoders come from the HunyuanVideo base repo."""
    return ModelSpec(
        id=f"skyreels-v1-hunyuan-{variant}",
        family="skyreels-v1",
        variant=variant,
        tasks=(variant,),
        size=_P540,
        frames=97,
        fps=24,
        steps=30,
        guidance=6.0,
        embedded_guidance=1.0,
        shift=7.0,
        negative_prompt=V1_NEGATIVE,
        prompt_prefix="FPS-24, ",
        hf_repo=f"Skywork/SkyReels-V1-Hunyuan-{variant.upper()}",
        base_repo="hunyuanvideo-community/HunyuanVideo",
        pipelines=pipelines,
        download_gb=42,
        description=description,
    )


def _v2(
    name: str,
    variant: str,
    params_b: float,
    size: tuple[int, int],
    frames: int,
    guidance: float,
    shift: float,
) -> ModelSpec:
    pipelines = {
        "df": DF_PIPELINES,
        "t2v": V2_T2V_PIPELINES,
        "i2v": V2_I2V_PIPELINES,
        "flf2v": V2_I2V_PIPELINES,
    }
    tasks = {
        "df": ("t2v", "i2v", "flf2v", "extend", "long"),
        "t2v": ("t2v",),
        "i2v": ("i2v", "flf2v"),
        "flf2v": ("i2v", "flf2v"),
    }
    # transformer in fp32 as published + umT5-xxl (11.4 GB) + VAE; I2V adds the CLIP ViT-H image encoder.
    gb = params_b * 4 + 11.4 + 0.5 + (2.5 if variant in ("i2v", "flf2v") else 0.0)
    return ModelSpec(
        id=f"skyreels-v2-{name.lower()}",
        family="skyreels-v2",
        variant=variant,
        tasks=tasks[variant],
        size=size,
        frames=frames,
        fps=24,
        steps=30,
        guidance=guidance,
        shift=shift,
        negative_prompt=V2_NEGATIVE,
        hf_repo=f"Skywork/SkyReels-V2-{name}-Diffusers",
        pipelines=pipelines[variant],
        download_gb=round(gb),
        description=f"SkyReels-V2 {variant.upper()} {params_b:g}B, {size[0]}x{size[1]}",
    )


_P540, _P720 = (544, 960), (720, 1280)

_REGISTRY: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="openreels-tiny",
        family="openreels-tiny",
        variant="df",
        tasks=("t2v", "i2v", "flf2v", "extend", "long"),
        # The bundled folder's openreels.json overrides these; they match it so the listing agrees.
        size=(128, 128),
        frames=33,
        fps=8,
        steps=20,
        guidance=5.0,
        shift=3.0,
        pipelines=DF_PIPELINES,
        download_gb=0.0,
        max_sequence_length=128,
        overlap_history=9,
        description="bundled small diffusion-forcing model; runs on a CPU, no download",
    ),
    ModelSpec(
        id="openreels-a2-tiny",
        family="skyreels-a2",
        variant="compose",
        tasks=("compose",),
        # The bundled folder's openreels.json holds the same settings (docs/a2-tiny.md).
        size=(128, 128),
        frames=16,
        fps=8,
        steps=20,
        guidance=5.0,
        shift=3.0,
        download_gb=0.0,
        description="bundled small SkyReels-A2 (elements-to-video); runs on a CPU, no download",
    ),
    ModelSpec(
        id="openreels-a1-tiny",
        family="skyreels-a1",
        variant="animate",
        tasks=("animate",),
        # The bundled folder's openreels.json holds the same settings (docs/a1-tiny.md).
        size=(64, 64),
        frames=9,
        fps=8,
        steps=10,
        guidance=3.0,
        shift=0.0,
        download_gb=0.0,
        description="bundled small SkyReels-A1 (portrait animation); runs on a CPU, no download",
    ),
    _v1("t2v", V1_T2V_PIPELINES, "SkyReels-V1 text-to-video on HunyuanVideo 13B (true CFG)"),
    _v1("i2v", V1_I2V_PIPELINES, "SkyReels-V1 image-to-video on HunyuanVideo 13B (true CFG)"),
    _v2("DF-1.3B-540P", "df", 1.3, _P540, 97, 6.0, 8.0),
    _v2("DF-14B-540P", "df", 14, _P540, 97, 6.0, 8.0),
    _v2("DF-14B-720P", "df", 14, _P720, 121, 6.0, 8.0),
    _v2("T2V-14B-540P", "t2v", 14, _P540, 97, 6.0, 8.0),
    _v2("T2V-14B-720P", "t2v", 14, _P720, 121, 6.0, 8.0),
    _v2("I2V-1.3B-540P", "i2v", 1.3, _P540, 97, 5.0, 3.0),
    _v2("I2V-14B-540P", "i2v", 14, _P540, 97, 5.0, 3.0),
    _v2("I2V-14B-720P", "i2v", 14, _P720, 121, 5.0, 3.0),
    _v2("FLF2V-1.3B-540P", "flf2v", 1.3, _P540, 97, 5.0, 3.0),
    ModelSpec(
        id="skyreels-a1",
        family="skyreels-a1",
        variant="animate",
        tasks=("animate",),
        size=(480, 720),
        frames=49,
        fps=12,
        steps=10,
        guidance=3.0,
        shift=0.0,
        hf_repo="Skywork/SkyReels-A1",
        download_gb=25,
        description="portrait animation (CogVideoX-5B I2V + pose guider): `openreels animate`",
    ),
    ModelSpec(
        id="skyreels-a2",
        family="skyreels-a2",
        variant="compose",
        tasks=("compose",),
        size=(480, 832),
        frames=81,
        fps=16,
        steps=50,
        guidance=5.0,
        shift=8.0,
        hf_repo="Skywork/SkyReels-A2",
        download_gb=75,
        description="elements-to-video (Wan2.1-I2V-14B, 1-3 reference images): `openreels compose`",
    ),
)

DEFAULT_MODEL = "openreels-tiny"
DEFAULT_COMPOSE_MODEL = "openreels-a2-tiny"  # the bundled A2, what `openreels compose` runs by default
DEFAULT_ANIMATE_MODEL = "openreels-a1-tiny"  # the bundled A1, what `openreels animate` runs by default

# Family defaults for a checkpoint folder given by path, keyed by the pipeline class in its model_index.json.
_BY_PIPELINE_CLASS = {
    "SkyReelsV2DiffusionForcingPipeline": "skyreels-v2-df-1.3b-540p",
    "SkyReelsV2DiffusionForcingImageToVideoPipeline": "skyreels-v2-df-1.3b-540p",
    "SkyReelsV2DiffusionForcingVideoToVideoPipeline": "skyreels-v2-df-1.3b-540p",
    "SkyReelsV2Pipeline": "skyreels-v2-t2v-14b-540p",
    "SkyReelsV2ImageToVideoPipeline": "skyreels-v2-i2v-14b-540p",
    "HunyuanVideoPipeline": "skyreels-v1-hunyuan-t2v",
    "HunyuanSkyreelsImageToVideoPipeline": "skyreels-v1-hunyuan-i2v",
}


def list_models() -> list[ModelSpec]:
    """Every known checkpoint, the bundled tiny model first."""
    return [get_model(DEFAULT_MODEL), *_REGISTRY[1:]]


def _by_id(model_id: str) -> ModelSpec | None:
    key = model_id.lower().removeprefix("skywork/").removesuffix("-diffusers")
    for spec in _REGISTRY:
        if spec.id == key or spec.id == f"skyreels-{key}" or (spec.hf_repo or "").lower() == model_id.lower():
            return spec
    return None


def read_openreels_json(folder: Path) -> dict:
    """The optional `openreels.json` of a checkpoint folder (text encoder choice and default settings)."""
    path = Path(folder) / "openreels.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise OpenreelsError(f"{path} is not valid JSON ({exc}); fix or remove it") from exc


_OVERRIDABLE = (
    "size",
    "frames",
    "fps",
    "steps",
    "guidance",
    "shift",
    "negative_prompt",
    "prompt_prefix",
    "overlap_history",
    "addnoise_condition",
    "max_sequence_length",
    "size_multiple",
)


def _size_multiple(folder: Path) -> int | None:
    """VAE spatial compression x transformer patch, at least the 16 the diffusers pipelines demand."""
    try:
        vae = json.loads((folder / "vae" / "config.json").read_text())
        transformer = json.loads((folder / "transformer" / "config.json").read_text())
    except (OSError, ValueError):
        return None
    # A Wan2.2-style VAE (patch_size set) folds 2x2 pixels into channels before its stages: its config says the total.
    spatial = (vae.get("scale_factor_spatial") if vae.get("patch_size") else None) or vae.get(
        "spatial_compression_ratio"
    )
    spatial = spatial or 2 ** len(vae.get("temperal_downsample") or [0, 0, 0])
    patch = transformer.get("patch_size", 2)
    patch = patch[-1] if isinstance(patch, list) else patch
    return math.lcm(16, int(spatial) * int(patch))


def spec_from_folder(folder: Path, base: ModelSpec | None = None) -> ModelSpec:
    """Infer a spec for a checkpoint folder: family defaults from its pipeline class, then `openreels.json`."""
    folder = Path(folder)
    if base is None:
        index = folder / "model_index.json"
        cls = ""
        if index.is_file():
            try:
                cls = json.loads(index.read_text()).get("_class_name", "")
            except ValueError as exc:
                raise OpenreelsError(f"{index} is not valid JSON; the checkpoint is damaged") from exc
        else:
            config = folder / "config.json"
            if not config.is_file():
                config = folder / "transformer" / "config.json"
            if config.is_file() and "Hunyuan" in config.read_text():
                # A transformer-only V1 checkpoint: I2V takes image latents on extra input channels.
                cfg = json.loads(config.read_text())
                i2v = cfg.get("in_channels", 16) > (cfg.get("out_channels") or 16)
                cls = "HunyuanSkyreelsImageToVideoPipeline" if i2v else "HunyuanVideoPipeline"
        if cls not in _BY_PIPELINE_CLASS:
            raise OpenreelsError(
                f"{folder} is not a SkyReels checkpoint openreels knows (no model_index.json naming a "
                "SkyReels-V2 or HunyuanVideo pipeline); pass a diffusers-format folder to --model"
            )
        base = get_model(_BY_PIPELINE_CLASS[cls])
    extra = read_openreels_json(folder)
    updates = {k: (tuple(v) if k == "size" else v) for k, v in extra.items() if k in _OVERRIDABLE}
    multiple = _size_multiple(folder)
    if multiple and "size_multiple" not in updates:
        updates["size_multiple"] = multiple
    return base.model_copy(update={"id": str(folder), "hf_repo": None, "download_gb": 0.0, **updates})


def get_model(id_or_path: str | Path) -> ModelSpec:
    """A registered model by id (or Hugging Face repo id), or the spec of a checkpoint folder given by path."""
    if isinstance(id_or_path, str):
        spec = _by_id(id_or_path)
        if spec is not None:
            if spec.id == DEFAULT_MODEL:
                from openreels.models.tiny import bundled_tiny_dir

                bundled = bundled_tiny_dir()
                if bundled is not None:
                    return spec_from_folder(bundled, base=spec).model_copy(update={"id": spec.id})
            return spec
    path = Path(id_or_path).expanduser()
    if path.is_dir():
        return spec_from_folder(path)
    text = str(id_or_path)
    if path.exists():
        raise OpenreelsError(f"--model {text} is a file; pass a checkpoint folder or a model id")
    if isinstance(id_or_path, Path) or text.startswith((".", "~", "/")):
        raise OpenreelsError(f"model folder not found: {text}; check the path, or pass a model id")
    import difflib

    ids = [s.id for s in _REGISTRY]
    close = difflib.get_close_matches(text, ids, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    if "/" in text:  # a Hugging Face repo id openreels does not know, or a relative folder that is not there
        raise OpenreelsError(
            f"unknown model {text!r}: no such folder here and no registered repo; {hint}see `openreels models`"
        )
    raise OpenreelsError(f"unknown model {text!r}; {hint}see `openreels models` for the {len(ids)} ids")
