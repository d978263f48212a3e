"""Elements-to-video (SkyReels-A2): 1-3 reference images and a prompt -> a video in which those elements act.

A2 is the Wan 2.1 image-to-video transformer (diffusers `WanTransformer3DModel` with image cross-attention),
fine-tuned so that every reference enters twice:
  - semantic stream: each reference (padded on white to a square) goes through the CLIP image encoder; the
    penultimate hidden states of all references, one after another, feed the image cross-attention;
  - spatial stream: the references become the first frames of a condition video (the 2nd and 3rd repeated
    once per VAE time step, so that each fills exactly one latent frame; zeros after), which the VAE encodes;
    four mask channels mark those latent frames as given. Noise, mask and condition are concatenated on
    channels (z + 4 + z = 36 for the 14B model).
Denoising is flow matching with UniPC (shift 8) and classifier-free guidance on the text only (both passes see
the references). The decoded frames that show the references are dropped.

Reading order: `load_compose_pipeline` -> `ComposePipeline.__call__` (encode_prompt, encode_references,
build_condition, the denoising loop, decode).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKLWan, DiffusionPipeline, UniPCMultistepScheduler, WanTransformer3DModel

from openreels.errors import OpenreelsError
from openreels.pipelines.a2.layout import REQUIRED_SUBFOLDERS, TEXT_SUBFOLDERS
from openreels.pipelines.a2.references import Reference, prepare_references
from openreels.pipelines.request import check_finite_frames

# The Wan attention splits its context as [image tokens, last 512 text tokens], so prompts pad to exactly 512.
TEXT_TOKENS = 512

# The English negative prompt the A2 release ships with.
NEGATIVE_PROMPT = (
    "Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, images, static, "
    "overall gray, worst quality, low quality, JPEG compression residue, ugly, incomplete, extra fingers, "
    "poorly drawn hands, poorly drawn faces, deformed, disfigured, misshapen limbs, fused fingers, still "
    "picture, messy background, three legs, many people in the background, walking backwards"
)


@dataclass(frozen=True)
class ComposeDefaults:
    """The A2 release's settings: 81 frames in all at 480x832, of which 69 follow the reference frames."""

    height: int = 480
    width: int = 832
    frames: int = 69
    steps: int = 50
    guidance: float = 5.0
    shift: float = 8.0
    fps: float = 15.0
    negative_prompt: str = NEGATIVE_PROMPT


DEFAULTS = ComposeDefaults()


def folder_defaults(root: Path) -> ComposeDefaults:
    """A2's defaults, overridden by the folder's openreels.json (size [h, w], frames, steps, guidance, shift,
    fps, negative_prompt).

    A small checkpoint (the bundled tiny A2) records the settings it was trained for there.
    """
    from openreels.models.registry import read_openreels_json

    meta = read_openreels_json(root)
    keys = ("frames", "steps", "guidance", "shift", "fps", "negative_prompt")
    changes = {key: meta[key] for key in keys if key in meta}
    if "size" in meta:
        changes["height"], changes["width"] = (int(v) for v in meta["size"])
    return dataclasses.replace(DEFAULTS, **changes)


def size_multiple(root: Path) -> int:
    """What height and width must be multiples of (VAE downscale x transformer patch), read from the folder's
    configs, so a bad --size is refused before the model loads."""
    vae = json.loads((Path(root) / "vae" / "config.json").read_text())
    transformer = json.loads((Path(root) / "transformer" / "config.json").read_text())
    return _spatial_scale(vae) * transformer["patch_size"][1]


def _spatial_scale(vae_config) -> int:
    # A Wan2.2-layout VAE (2x2 pixels folded into channels, as openreels-tiny's) says so in scale_factor_spatial;
    # the Wan2.1 layout halves the size once per stage.
    return vae_config.get("scale_factor_spatial") or 2 ** len(vae_config["temperal_downsample"])


def check_size(height: int, width: int, multiple: int, defaults: ComposeDefaults) -> None:
    if height % multiple or width % multiple or height <= 0 or width <= 0:
        raise OpenreelsError(
            f"size {height}x{width}: height and width must be positive multiples of {multiple} "
            f"for this model (e.g. {defaults.height}x{defaults.width})"
        )


@dataclass
class ComposeOutput:
    """Generated frames (T, H, W, 3) uint8, their fps, notes for the user and the settings used."""

    frames: np.ndarray
    fps: float
    notes: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)


class ComposePipeline(DiffusionPipeline):
    """SkyReels-A2 elements-to-video over diffusers/transformers components."""

    model_cpu_offload_seq = "text_encoder->image_encoder->transformer->vae"
    defaults: ComposeDefaults = DEFAULTS  # set per checkpoint by load_compose_pipeline

    def __init__(self, tokenizer, text_encoder, image_encoder, image_processor, transformer, vae, scheduler):
        super().__init__()
        self.register_modules(
            tokenizer=tokenizer,
            text_encoder=text_encoder,
            image_encoder=image_encoder,
            image_processor=image_processor,
            transformer=transformer,
            vae=vae,
            scheduler=scheduler,
        )

    @property
    def vae_scale_temporal(self) -> int:
        return 2 ** sum(self.vae.config.temperal_downsample)

    @property
    def vae_scale_spatial(self) -> int:
        return _spatial_scale(self.vae.config)

    @property
    def size_multiple(self) -> int:
        """Height and width must be multiples of this (VAE downscale x transformer patch)."""
        return self.vae_scale_spatial * self.transformer.config.patch_size[1]

    def encode_prompt(
        self, prompt: str, negative_prompt: str | None = None, do_classifier_free_guidance: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(prompt states, negative states or None), each (1, 512, text_dim).

        Wan's return shape, which runtime's CFG batching hooks onto.
        """
        texts = [prompt] + ([negative_prompt or ""] if do_classifier_free_guidance else [])
        states = self.text_states(texts)
        return states[:1], (states[1:] if do_classifier_free_guidance else None)

    def text_states(self, prompts: Sequence[str]) -> torch.Tensor:
        """Text states (B, 512, text_dim), zero past each prompt's end as the Wan pipelines do."""
        device = self._execution_device
        tokens = self.tokenizer(
            [" ".join(text.split()) for text in prompts],
            padding="max_length",
            max_length=TEXT_TOKENS,
            truncation=True,
            add_special_tokens=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        mask = tokens.attention_mask.to(device)
        states = self.text_encoder(tokens.input_ids.to(device), attention_mask=mask).last_hidden_state
        return (states * mask[..., None].to(states.dtype)).to(self.transformer.dtype)

    def encode_references(self, clip_images: Sequence[np.ndarray]) -> torch.Tensor:
        """Image tokens (1, n * tokens, image_dim): each reference's penultimate CLIP states, concatenated."""
        pixels = self.image_processor(images=list(clip_images), return_tensors="pt").pixel_values
        pixels = pixels.to(self._execution_device, dtype=self.image_encoder.dtype)
        states = self.image_encoder(pixel_values=pixels, output_hidden_states=True).hidden_states[-2]
        return states.reshape(1, -1, states.shape[-1]).to(self.transformer.dtype)

    def _latent_stats(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (1, self.vae.config.z_dim, 1, 1, 1)
        mean = torch.tensor(self.vae.config.latents_mean, dtype=torch.float32, device=device).view(shape)
        std = torch.tensor(self.vae.config.latents_std, dtype=torch.float32, device=device).view(shape)
        return mean, std

    def reference_video(
        self, vae_images: Sequence[np.ndarray], num_latent_frames: int, clip: np.ndarray | None = None
    ) -> torch.Tensor:
        """The pixel video (1, 3, T, H, W) in [-1, 1] whose VAE latent frame k is reference k.

        The causal VAE maps pixel frame 0 to latent 0 and each next `temporal` frames to one latent frame,
        so the 2nd and 3rd references are repeated `temporal` times. After them come zeros (the condition)
        or, for training targets, `clip` frames (F, H, W, 3) uint8 with F = temporal x generated latents.
        """
        temporal = self.vae_scale_temporal
        pictures = [torch.from_numpy(np.array(img)).permute(2, 0, 1) for img in vae_images]
        layout = [pictures[0]] + [pic for pic in pictures[1:] for _ in range(temporal)]
        height, width = vae_images[0].shape[:2]
        video = torch.zeros(1, 3, 1 + temporal * (num_latent_frames - 1), height, width)
        video[0, :, : len(layout)] = torch.stack(layout, dim=1).float() / 127.5 - 1.0
        if clip is not None:
            if len(layout) + len(clip) != video.shape[2]:
                raise ValueError(f"clip must have {video.shape[2] - len(layout)} frames, got {len(clip)}")
            video[0, :, len(layout) :] = (
                torch.from_numpy(np.array(clip)).permute(3, 0, 1, 2).float() / 127.5 - 1.0
            )
        return video

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """Pixels (1, 3, T, H, W) in [-1, 1] -> normalised latents (1, z, L, h, w), float32."""
        device = self._execution_device
        # The mode, not a sample: the condition does not need the VAE's noise (diffusers' Wan I2V does the same).
        latents = self.vae.encode(video.to(device, dtype=self.vae.dtype)).latent_dist.mode().float()
        mean, std = self._latent_stats(device)
        return (latents - mean) / std

    def build_condition(self, vae_images: Sequence[np.ndarray], num_latent_frames: int) -> torch.Tensor:
        """Mask + reference latents (1, temporal + z, L, h, w): reference k fills latent frame k."""
        latents = self.encode_video(self.reference_video(vae_images, num_latent_frames))
        mask = torch.zeros(
            1, self.vae_scale_temporal, num_latent_frames, *latents.shape[-2:], device=latents.device
        )
        mask[:, :, : len(vae_images)] = 1.0
        return torch.cat([mask, latents], dim=1)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents (1, z, L, h, w) -> frames (T, H, W, 3) uint8."""
        mean, std = self._latent_stats(latents.device)
        video = self.vae.decode((latents * std + mean).to(self.vae.dtype), return_dict=False)[0]
        check_finite_frames(video, "the A2 checkpoint")
        video = ((video[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return video.permute(1, 2, 3, 0).cpu()

    @torch.no_grad()
    def __call__(
        self,
        prompt: str,
        references: Sequence[Reference | str | os.PathLike | np.ndarray],
        *,
        kinds: Sequence[str] | None = None,
        negative_prompt: str | None = None,
        height: int | None = None,
        width: int | None = None,
        num_frames: int | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        shift: float | None = None,
        seed: int | None = None,
        fps: float | None = None,
        on_step: Callable[[int, int], None] | None = None,
    ) -> ComposeOutput:
        """Compose `num_frames` frames from `references` (paths, RGB arrays or References) and `prompt`.

        Settings left as None take the checkpoint's defaults (`self.defaults`; the negative prompt is A2's,
        or the empty one a checkpoint trained with an empty unconditional prompt names in openreels.json).
        """
        d = self.defaults
        height = d.height if height is None else height
        width = d.width if width is None else width
        num_frames = d.frames if num_frames is None else num_frames
        num_inference_steps = d.steps if num_inference_steps is None else num_inference_steps
        guidance_scale = d.guidance if guidance_scale is None else guidance_scale
        shift = d.shift if shift is None else shift
        fps = d.fps if fps is None else fps
        negative_prompt = d.negative_prompt if negative_prompt is None else negative_prompt
        if not prompt or not prompt.strip():
            raise OpenreelsError("the prompt is empty; describe what the elements do")
        check_size(height, width, self.size_multiple, d)
        if num_frames < 1:
            raise OpenreelsError(f"--frames must be at least 1, got {num_frames}")
        if num_inference_steps < 1:
            raise OpenreelsError(f"--steps must be at least 1, got {num_inference_steps}")
        if guidance_scale < 0:
            raise OpenreelsError(f"--guidance must be 0 or more, got {guidance_scale}")
        prepared = prepare_references(references, height, width, kinds)
        seed = secrets.randbits(31) if seed is None else int(seed)
        device = self._execution_device
        temporal = self.vae_scale_temporal
        count = len(prepared.references)
        num_latent_frames = count + math.ceil(num_frames / temporal)
        use_cfg = guidance_scale > 1.0

        text, negative = self.encode_prompt(prompt, negative_prompt, use_cfg)
        image_tokens = self.encode_references(prepared.clip_images)
        condition = self.build_condition(prepared.vae_images, num_latent_frames).to(self.transformer.dtype)

        spatial = self.vae_scale_spatial
        shape = (1, self.vae.config.z_dim, num_latent_frames, height // spatial, width // spatial)
        # Noise is drawn on the CPU so one seed gives the same video on every device.
        generator = torch.Generator("cpu").manual_seed(seed)
        latents = torch.randn(shape, generator=generator, dtype=torch.float32).to(device)
        scheduler = UniPCMultistepScheduler.from_config(self.scheduler.config, flow_shift=shift)
        scheduler.set_timesteps(num_inference_steps, device=device)
        for index, t in enumerate(scheduler.timesteps):
            model_input = torch.cat([latents.to(self.transformer.dtype), condition], dim=1)
            timestep = t.expand(1)
            # Both passes see the references; only the text differs (as in the original).
            inputs = dict(
                hidden_states=model_input,
                timestep=timestep,
                encoder_hidden_states_image=image_tokens,
                return_dict=False,
            )
            prediction = self.transformer(encoder_hidden_states=text, **inputs)[0]
            if use_cfg:
                unconditional = self.transformer(encoder_hidden_states=negative, **inputs)[0]
                prediction = unconditional + guidance_scale * (prediction - unconditional)
            latents = scheduler.step(prediction.float(), t, latents, return_dict=False)[0]
            if on_step is not None:
                on_step(index + 1, num_inference_steps)

        frames = self.decode(latents)
        reference_frames = 1 + temporal * (count - 1)
        # Keep the last num_frames: any rounding excess goes from the transition right after the references.
        frames = frames[reference_frames:][-num_frames:].numpy()
        settings = {
            "task": "compose",
            "prompt": prompt,
            "negative_prompt": negative_prompt,
            "references": [{"name": ref.name, "kind": ref.kind} for ref in prepared.references],
            "height": height,
            "width": width,
            "frames": int(frames.shape[0]),
            "steps": num_inference_steps,
            "guidance": guidance_scale,
            "shift": shift,
            "seed": seed,
            "fps": fps,
        }
        return ComposeOutput(frames=frames, fps=fps, notes=prepared.notes, settings=settings)


def locate_a2(model: str | os.PathLike) -> Path:
    """An A2 checkpoint folder: a path, or a registered id / Hugging Face id found in the local HF cache."""
    from openreels.models.registry import get_model
    from openreels.models.weights import locate_weights

    path = Path(model).expanduser()
    if path.is_dir():
        return path
    spec = get_model(str(model))
    if spec.family != "skyreels-a2":
        raise OpenreelsError(
            f"model {spec.id} cannot compose; use openreels-a2-tiny, skyreels-a2 or an A2 checkpoint folder"
        )
    return locate_weights(spec)  # the bundled tiny A2, or the release from the local HF cache


def _text_components(root: Path, dtype: torch.dtype) -> tuple:
    """The tokenizer and text encoder: the folder's own, or the bundled MiniLM its openreels.json names."""
    from transformers import AutoModel, AutoTokenizer, T5EncoderModel, UMT5EncoderModel

    from openreels.models.registry import read_openreels_json
    from openreels.models.tiny import MINILM, minilm_path

    if read_openreels_json(root).get("text_encoder") == MINILM:
        return AutoTokenizer.from_pretrained(minilm_path()), AutoModel.from_pretrained(minilm_path())
    missing = [name + "/" for name in TEXT_SUBFOLDERS if not (root / name).is_dir()]
    if missing:
        raise OpenreelsError(f"{root} is not a SkyReels-A2 folder: missing {', '.join(missing)}")
    config = json.loads((root / "text_encoder" / "config.json").read_text())
    # The T5 families hold a decoder too; only their encoder is wanted. Anything else loads as is.
    model_class = {"umt5": UMT5EncoderModel, "t5": T5EncoderModel}.get(config.get("model_type"), AutoModel)
    tokenizer = AutoTokenizer.from_pretrained(root, subfolder="tokenizer")
    return tokenizer, model_class.from_pretrained(root, subfolder="text_encoder", dtype=dtype)


def load_compose_pipeline(
    model: str | os.PathLike, device: str | torch.device = "cpu", dtype: str | torch.dtype = "auto"
) -> ComposePipeline:
    """Load a folder in the `Skywork/SkyReels-A2` layout (the 14B release or any smaller one).

    The transformer and text encoder run in `dtype` (auto: bfloat16 on CUDA, float32 on CPU); the VAE and
    the image encoder stay in float32, as the original runs them.
    """
    from transformers import AutoImageProcessor, CLIPVisionModel

    from openreels.pipelines.loader import resolve_device, resolve_dtype

    root = locate_a2(model)
    missing = [name + "/" for name in REQUIRED_SUBFOLDERS if not (root / name).is_dir()]
    if missing:
        raise OpenreelsError(f"{root} is not a SkyReels-A2 folder: missing {', '.join(missing)}")
    device = device if isinstance(device, torch.device) else resolve_device(device)
    dtype = dtype if isinstance(dtype, torch.dtype) else resolve_dtype(dtype, device)
    try:
        transformer = WanTransformer3DModel.from_pretrained(root, subfolder="transformer", torch_dtype=dtype)
        vae = AutoencoderKLWan.from_pretrained(root, subfolder="vae", torch_dtype=torch.float32)
        image_encoder = CLIPVisionModel.from_pretrained(root, subfolder="image_encoder", dtype=torch.float32)
        image_processor = AutoImageProcessor.from_pretrained(root, subfolder="image_processor")
        tokenizer, text_encoder = _text_components(root, dtype)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OpenreelsError(f"cannot load the A2 checkpoint in {root}: {reason}") from exc
    _check_compatible(root, transformer, vae, image_encoder, text_encoder)
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        num_train_timesteps=1000,
        flow_shift=DEFAULTS.shift,
    )
    pipe = ComposePipeline(
        tokenizer, text_encoder, image_encoder, image_processor, transformer, vae, scheduler
    )
    pipe.defaults = folder_defaults(root)
    return pipe.to(device)


def _check_compatible(root: Path, transformer, vae, image_encoder, text_encoder) -> None:
    """One clear line when the components cannot work together (e.g. a T2V transformer in transformer/)."""
    config = transformer.config
    if config.added_kv_proj_dim is None or config.image_dim is None:
        raise OpenreelsError(
            f"{root}/transformer has no image cross-attention (image_dim/added_kv_proj_dim unset): "
            "it is not a SkyReels-A2 (image-to-video) transformer"
        )
    temporal = 2 ** sum(vae.config.temperal_downsample)
    expected = 2 * vae.config.z_dim + temporal
    if config.in_channels != expected:
        raise OpenreelsError(
            f"{root}/transformer takes {config.in_channels} input channels but the VAE needs {expected} "
            f"(noise {vae.config.z_dim} + mask {temporal} + references {vae.config.z_dim})"
        )
    if config.image_dim != image_encoder.config.hidden_size:
        raise OpenreelsError(
            f"{root}/transformer expects {config.image_dim}-d image tokens but image_encoder gives "
            f"{image_encoder.config.hidden_size}"
        )
    text_width = getattr(text_encoder.config, "d_model", None) or text_encoder.config.hidden_size
    if config.text_dim != text_width:
        raise OpenreelsError(
            f"{root}/transformer expects {config.text_dim}-d text states but text_encoder gives {text_width}"
        )
