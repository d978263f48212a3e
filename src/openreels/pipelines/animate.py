"""Portrait animation (SkyReels-A1): a reference portrait moved by a driving video's landmarks.

Architecture (as published): CogVideoX image-to-video transformer whose input is, on channels, the noisy video
latents, the landmark video encoded by a second CogVideoX VAE (the pose guider), and the reference image latent
(frame 0, zeros after it); SigLIP tokens of the reference face go through `pose_proj` in place of T5 text
tokens. Sampling follows A1: CogVideoX DDIM/DPM scheduler, v-prediction, classifier-free guidance against
all-zero face tokens, 10 steps at guidance 3. An openreels addition, off unless asked for: guidance toward the
driving landmarks against the reference's own landmarks held still ("pose guidance"), which strengthens a small
model's weak pull toward the driving expression. A model folder's openreels.json may set both scales
("guidance", "pose_guidance"); the published A1 folder has none, so it samples as A1 does.

Long driving videos run in overlapping windows of the transformer's native length. Every window shares the
reference frame (latent 0); at each step each window predicts its own span and the predictions are blended in
latent space with linear ramps over the overlaps before one scheduler step on the whole sequence, so windows
agree at every step instead of being stitched at the end.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from openreels.errors import OpenreelsError
from openreels.pipelines.request import check_finite_frames

# Sub-folders of the published Skywork/SkyReels-A1 layout that inference needs (text_encoder/ and tokenizer/
# exist there too but A1 never uses text: face tokens replace them).
REQUIRED_FOLDERS = ("transformer", "vae", "pose_guider", "siglip-so400m-patch14-384", "scheduler")
SIGLIP_FOLDER = "siglip-so400m-patch14-384"
NESTED_FOLDER = "SkyReels-A1-5B"  # the GitHub README's layout nests the model one level down
SUPPORTED_SCHEDULERS = ("CogVideoXDDIMScheduler", "CogVideoXDPMScheduler")


A1_MODEL_ID = "skyreels-a1"  # the registry id of the published checkpoint
_STANDIN_NAME = "a1-tiny-random-1"  # bump when the stand-in's shape changes


def locate_a1(model: str | Path | None = None) -> tuple[Path, bool]:
    """The A1 folder to load and whether it is an untrained random stand-in.

    `model` is a folder, or the registry id `skyreels-a1` (found in the Hugging Face cache, never downloaded);
    None or `openreels-a1-tiny` means the bundled tiny A1, or without it a seeded random stand-in built once
    into the cache.
    """
    from openreels.models.registry import DEFAULT_ANIMATE_MODEL, get_model
    from openreels.models.tiny import bundled_a1_dir

    if model is not None and Path(model).expanduser().is_dir():
        return resolve_checkpoint(Path(model).expanduser()), _is_random(Path(model).expanduser())
    spec = get_model(str(model)) if model is not None else None
    if spec is not None and spec.id != DEFAULT_ANIMATE_MODEL:
        from openreels.models.weights import cached_snapshot, download_hint

        if spec.family != "skyreels-a1":
            raise OpenreelsError(
                f"model {spec.id} does not animate portraits; use --model {A1_MODEL_ID} or an A1 folder"
            )
        found = cached_snapshot(spec.hf_repo)
        if found is None:
            raise OpenreelsError(f"model {spec.id} is not downloaded: {download_hint(spec)}")
        return resolve_checkpoint(found), False
    bundled = bundled_a1_dir()
    if bundled is not None:
        return bundled, _is_random(bundled)
    from openreels.models.tiny import openreels_cache_dir
    from openreels.pipelines.a1.checkpoint import create_random_a1

    folder = openreels_cache_dir() / _STANDIN_NAME
    if not (folder / "transformer").is_dir():
        import shutil
        import tempfile

        tmp = None
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{_STANDIN_NAME}.", dir=folder.parent))
            create_random_a1(tmp)
            tmp.rename(folder)  # built whole, then moved into place
        except OSError as exc:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            if not (folder / "transformer").is_dir():  # lost a race to another process: fine
                raise OpenreelsError(
                    f"cannot build the tiny A1 in {folder.parent}: {exc.strerror}; set OPENREELS_CACHE to a writable folder"
                ) from exc
    return folder, True


def _is_random(folder: Path) -> bool:
    from openreels.models.registry import read_openreels_json

    return bool(read_openreels_json(folder).get("random"))


def resolve_checkpoint(path: str | Path) -> Path:
    """The folder holding transformer/, vae/, pose_guider/, ... (the given one or its SkyReels-A1-5B/)."""
    root = Path(path)
    for cand in (root, root / NESTED_FOLDER):
        if all((cand / sub).is_dir() for sub in REQUIRED_FOLDERS):
            return cand
    missing = [sub for sub in REQUIRED_FOLDERS if not (root / sub).is_dir()]
    raise OpenreelsError(
        f"{root} is not a SkyReels-A1 checkpoint (missing {', '.join(missing)}/); "
        "point --model at a folder laid out like Skywork/SkyReels-A1"
    )


def plan_windows(num_latents: int, window: int, overlap: int) -> list[int]:
    """Start indices of windows of `window` latents covering `num_latents`, overlapping by at least `overlap`."""
    if window >= num_latents:
        return [0]
    if not 0 <= overlap < window:
        raise ValueError(f"overlap {overlap} must be in [0, window={window})")
    starts = list(range(0, num_latents - window + 1, window - overlap))
    if starts[-1] + window < num_latents:
        starts.append(num_latents - window)
    return starts


def window_weights(starts: list[int], window: int, num_latents: int) -> list[np.ndarray]:
    """Blend weights per window (linear ramps over each overlap), normalised to sum to 1 at every latent."""
    window = min(window, num_latents)
    raw = []
    for k, s in enumerate(starts):
        left = starts[k - 1] + window - s if k > 0 else 0
        right = s + window - starts[k + 1] if k + 1 < len(starts) else 0
        j = np.arange(window, dtype=np.float64)
        raw.append(np.minimum.reduce([np.ones(window), (j + 1) / (left + 1), (window - j) / (right + 1)]))
    total = np.zeros(num_latents)
    for s, w in zip(starts, raw, strict=True):
        total[s : s + window] += w
    return [w / total[s : s + window] for s, w in zip(starts, raw, strict=True)]


@dataclass
class AnimateOutput:
    frames: np.ndarray  # (T, H, W, 3) uint8, one per driving frame
    windows: int  # how many windows the driving video ran in


class AnimatePipeline:
    """SkyReels-A1 inference over diffusers components; build with `from_pretrained(folder)`."""

    def __init__(self, transformer, vae, pose_guider, image_encoder, feature_extractor, scheduler):
        if transformer.config.patch_size_t is not None:
            raise OpenreelsError(
                "A1 is built on CogVideoX 1.0; a transformer with patch_size_t is not supported"
            )
        self.transformer = transformer
        self.vae = vae
        self.pose_guider = pose_guider
        self.image_encoder = image_encoder
        self.feature_extractor = feature_extractor
        self.scheduler = scheduler
        self.latent_channels = transformer.config.out_channels
        if transformer.config.in_channels != 3 * self.latent_channels:
            raise OpenreelsError(
                f"A1 transformer in_channels {transformer.config.in_channels} is not 3 x out_channels "
                f"{self.latent_channels} (noise + pose + reference)"
            )
        self.spatial_scale = 2 ** (len(vae.config.block_out_channels) - 1)
        self.temporal_scale = vae.config.temporal_compression_ratio
        # Sampling defaults: A1's, unless the folder's openreels.json names others (see from_pretrained).
        self.guidance_scale = 3.0
        self.pose_guidance_scale = 1.0

    @classmethod
    def from_pretrained(
        cls, path: str | Path, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
    ) -> AnimatePipeline:
        import diffusers
        from diffusers import AutoencoderKLCogVideoX
        from diffusers.utils import logging as df_logging
        from transformers import SiglipImageProcessor, SiglipVisionModel
        from transformers.utils import logging as tf_logging

        from openreels.models.registry import read_openreels_json
        from openreels.pipelines.a1 import A1Transformer3DModel

        root = resolve_checkpoint(path)
        sched_name = json.loads((root / "scheduler" / "scheduler_config.json").read_text())["_class_name"]
        if sched_name not in SUPPORTED_SCHEDULERS:
            raise OpenreelsError(
                f"scheduler {sched_name} is not one A1 samples with ({', '.join(SUPPORTED_SCHEDULERS)})"
            )
        kw = {"torch_dtype": dtype}
        # Loading is quiet: no per-file progress bars, and the published SigLIP folder's text tower (a whole
        # text + vision checkpoint) is expected to go unused, so its "unexpected keys" report is muted.
        verbosity, bars = tf_logging.get_verbosity(), tf_logging.is_progress_bar_enabled()
        df_bars = df_logging.is_progress_bar_enabled()
        tf_logging.set_verbosity_error()
        tf_logging.disable_progress_bar()
        df_logging.disable_progress_bar()
        try:
            pipe = cls(
                transformer=A1Transformer3DModel.from_pretrained(root, subfolder="transformer", **kw),
                vae=AutoencoderKLCogVideoX.from_pretrained(root, subfolder="vae", **kw),
                pose_guider=AutoencoderKLCogVideoX.from_pretrained(root, subfolder="pose_guider", **kw),
                image_encoder=SiglipVisionModel.from_pretrained(root / SIGLIP_FOLDER, dtype=dtype),
                feature_extractor=SiglipImageProcessor.from_pretrained(root / SIGLIP_FOLDER),
                scheduler=getattr(diffusers, sched_name).from_pretrained(root, subfolder="scheduler"),
            )
        finally:
            tf_logging.set_verbosity(verbosity)
            if df_bars:
                df_logging.enable_progress_bar()
            if bars:
                tf_logging.enable_progress_bar()
        meta = read_openreels_json(root)
        pipe.guidance_scale = float(meta.get("guidance", pipe.guidance_scale))
        pipe.pose_guidance_scale = float(meta.get("pose_guidance", pipe.pose_guidance_scale))
        return pipe.to(device)

    def to(self, device: str | torch.device) -> AnimatePipeline:
        for m in (self.transformer, self.vae, self.pose_guider, self.image_encoder):
            m.to(device)
        return self

    @property
    def device(self) -> torch.device:
        return next(self.transformer.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.transformer.parameters()).dtype

    @property
    def window_frames(self) -> int:
        """Driving frames per window: the transformer's native clip length minus the reference frame."""
        return self.transformer.config.sample_frames - 1

    @property
    def native_size(self) -> tuple[int, int]:
        c = self.transformer.config
        return c.sample_height * self.spatial_scale, c.sample_width * self.spatial_scale

    # -- conditioning --------------------------------------------------------------------------------------
    def _pixels(self, frames: np.ndarray) -> torch.Tensor:
        """(T, H, W, 3) uint8 -> (1, 3, T, H, W) in [-1, 1]."""
        x = torch.from_numpy(np.array(frames, dtype=np.float32)).to(
            self.device
        )  # a copy: inputs may be read-only
        return (x / 127.5 - 1.0).permute(3, 0, 1, 2).unsqueeze(0).to(self.dtype)

    def encode_face(self, face: np.ndarray) -> torch.Tensor:
        """SigLIP last hidden state of the face crop: (1, tokens, width)."""
        inputs = self.feature_extractor(images=[face], return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, self.dtype)
        return self.image_encoder(pixel_values=pixels).last_hidden_state

    def encode_reference(self, image: np.ndarray, generator: torch.Generator) -> torch.Tensor:
        """Reference latent (1, 1, C, h, w), sampled from the VAE posterior as A1 does."""
        dist = self.vae.encode(self._pixels(image[None])).latent_dist
        return (dist.sample(generator) * self.vae.config.scaling_factor).permute(0, 2, 1, 3, 4)

    def encode_pose(self, pose: np.ndarray) -> torch.Tensor:
        """Landmark video (1 + tk frames, t the temporal compression) -> pose-guider latents (1, 1 + k, C, h, w)
        (posterior mode)."""
        dist = self.pose_guider.encode(self._pixels(pose)).latent_dist
        return (dist.mode() * self.pose_guider.config.scaling_factor).permute(0, 2, 1, 3, 4)

    def _rotary(self, height: int, width: int, frames: int):
        from diffusers.models.embeddings import get_3d_rotary_pos_embed
        from diffusers.pipelines.cogvideo.pipeline_cogvideox_image2video import (
            get_resize_crop_region_for_grid,
        )

        c = self.transformer.config
        if not c.use_rotary_positional_embeddings:
            return None
        gh, gw = height // (self.spatial_scale * c.patch_size), width // (self.spatial_scale * c.patch_size)
        crops = get_resize_crop_region_for_grid(
            (gh, gw), c.sample_width // c.patch_size, c.sample_height // c.patch_size
        )
        return get_3d_rotary_pos_embed(
            embed_dim=c.attention_head_dim,
            crops_coords=crops,
            grid_size=(gh, gw),
            temporal_size=frames,
            device=self.device,
        )

    # -- sampling ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def __call__(
        self,
        image: np.ndarray,
        pose_video: np.ndarray,
        face: np.ndarray,
        num_inference_steps: int = 10,
        guidance_scale: float | None = None,
        seed: int = 0,
        pose_guidance_scale: float | None = None,
        window_frames: int | None = None,
        overlap_frames: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> AnimateOutput:
        """Animate `image` (H, W, 3) uint8 along `pose_video` (1 + T, H, W, 3): frame 0 is the reference's own
        landmark drawing, frames 1.. the retargeted driving landmarks. `face` is the reference face crop.
        Scales left None take the folder's defaults. `pose_guidance_scale` other than 1 adds a branch whose
        landmark video is frame 0 held still.
        Returns T frames. `progress(done, total)` is called after every transformer pass."""
        height, width = image.shape[:2]
        mult = self.spatial_scale * self.transformer.config.patch_size
        if height % mult or width % mult:
            raise OpenreelsError(f"size {height}x{width} must be a multiple of {mult} on both sides")
        if pose_video.shape[1:3] != (height, width) or len(pose_video) < 2:
            raise ValueError(
                f"pose video {pose_video.shape} must be (1 + T, {height}, {width}, 3) with T >= 1"
            )
        learned = self.transformer.config.use_learned_positional_embeddings
        if learned and (height, width) != self.native_size:
            h, w = self.native_size
            raise OpenreelsError(f"this model has learned positions and runs only at its native size {h}x{w}")
        ts = self.temporal_scale
        num_frames = len(pose_video) - 1
        win = max(1, (window_frames or self.window_frames) // ts)
        motion_latents = -(-num_frames // ts)
        if learned:  # its positions are learned for whole windows: pad short videos to one, as A1 does
            motion_latents = max(motion_latents, win)
        # CogVideoX's VAE decodes 1 + 2k latents to 1 + 2tk frames but 2k latents to 2tk frames (t = ts), which
        # would shift every frame after the first batch: keep the total (reference + motion) odd.
        motion_latents += motion_latents % 2
        # Pad the driving landmarks with their last frame up to a whole number of latent frames.
        pad = motion_latents * ts - num_frames
        pose_video = np.concatenate([pose_video, np.repeat(pose_video[-1:], pad, axis=0)])

        ov = (overlap_frames if overlap_frames is not None else max(ts, win * ts // 4)) // ts
        ov = min(ov, win - 1) if win > 1 else 0
        starts = plan_windows(motion_latents, win, ov)
        win = min(win, motion_latents)
        weights = window_weights(starts, win, motion_latents)

        generator = torch.Generator("cpu").manual_seed(seed)
        if guidance_scale is None:
            guidance_scale = self.guidance_scale
        if pose_guidance_scale is None:
            pose_guidance_scale = self.pose_guidance_scale
        cfg = guidance_scale > 1.0
        pose_cfg = pose_guidance_scale != 1.0
        branches = 1 + cfg + pose_cfg  # [no face,] face, [face with the landmarks held still]
        face_tokens = self.encode_face(face)
        if cfg:
            face_tokens = torch.cat([torch.zeros_like(face_tokens), face_tokens])
        if pose_cfg:
            face_tokens = torch.cat([face_tokens, face_tokens[-1:]])
            still_pose = self.encode_pose(np.repeat(pose_video[:1], 1 + win * ts, axis=0))
        ref = self.encode_reference(image, generator)
        pose_windows = []
        for s in starts:
            frames = np.concatenate([pose_video[:1], pose_video[1 + s * ts : 1 + (s + win) * ts]])
            pose_windows.append(self.encode_pose(frames))
        ref_window = torch.cat([ref, ref.new_zeros(1, win, *ref.shape[2:])], dim=1)

        self.scheduler.set_timesteps(num_inference_steps, device=self.device)
        timesteps = self.scheduler.timesteps
        shape = (1, 1 + motion_latents, self.latent_channels, *ref.shape[-2:])
        latents = torch.randn(shape, generator=generator, dtype=torch.float32).to(self.device, self.dtype)
        latents = latents * self.scheduler.init_noise_sigma
        rotary = self._rotary(height, width, 1 + win)
        w_t = [torch.tensor(w, dtype=self.dtype, device=self.device).view(1, -1, 1, 1, 1) for w in weights]

        old_pred = None
        total, done = len(timesteps) * len(starts), 0
        for i, t in enumerate(timesteps):
            pred = torch.zeros_like(latents)
            for s, pose_lat, w in zip(starts, pose_windows, w_t, strict=True):
                idx = [0, *range(1 + s, 1 + s + win)]
                x = self.scheduler.scale_model_input(latents[:, idx], t)
                rows = [torch.cat([x, pose_lat, ref_window], dim=2)] * (1 + cfg)
                if pose_cfg:
                    rows.append(torch.cat([x, still_pose, ref_window], dim=2))
                x = torch.cat(rows)
                out = self.transformer(
                    hidden_states=x,
                    encoder_hidden_states=face_tokens,
                    timestep=t.expand(x.shape[0]),
                    image_rotary_emb=rotary,
                    return_dict=False,
                )[0].float()
                outs = out.chunk(branches)
                cond = outs[int(cfg)]
                out = cond
                if cfg:
                    out = out + (guidance_scale - 1) * (cond - outs[0])
                if pose_cfg:
                    out = out + (pose_guidance_scale - 1) * (cond - outs[-1])
                out = out.to(self.dtype)
                # The shared reference latent is averaged over windows; motion latents follow the ramps.
                pred[:, :1] += out[:, :1] / len(starts)
                pred[:, 1 + s : 1 + s + win] += out[:, 1:] * w
                done += 1
                if progress is not None:
                    progress(done, total)
            latents, old_pred = self._step(pred, old_pred, t, timesteps[i - 1] if i > 0 else None, latents)

        video = self.decode(latents)
        return AnimateOutput(frames=video[1 : 1 + num_frames], windows=len(starts))

    def _step(self, pred, old_pred, t, prev_t, latents):
        from diffusers import CogVideoXDPMScheduler

        if isinstance(self.scheduler, CogVideoXDPMScheduler):
            latents, old_pred = self.scheduler.step(pred, old_pred, t, prev_t, latents, return_dict=False)
        else:
            latents = self.scheduler.step(pred, t, latents, return_dict=False)[0]
        return latents.to(self.dtype), old_pred

    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """(1, F, C, h, w) latents -> (1 + t(F-1), H, W, 3) uint8 frames (t the temporal compression)."""
        x = latents.permute(0, 2, 1, 3, 4) / self.vae.config.scaling_factor
        video = self.vae.decode(x).sample[0]  # (3, T, H, W) in [-1, 1]
        check_finite_frames(video, "the A1 checkpoint")
        video = ((video.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return video.permute(1, 2, 3, 0).cpu().numpy()


def fit_image(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float, np.ndarray]:
    """Centre-crop `image` to the aspect of size (H, W) and resize to it.

    Returns the new image with the scale and crop origin that map its old pixel points p to (p - origin) * scale.
    """
    from PIL import Image

    h, w = image.shape[:2]
    th, tw = size
    scale = max(th / h, tw / w)
    ch, cw = th / scale, tw / scale
    origin = np.array([(w - cw) / 2, (h - ch) / 2])
    box = (origin[0], origin[1], origin[0] + cw, origin[1] + ch)
    out = Image.fromarray(image).resize((tw, th), Image.Resampling.BICUBIC, box=box)
    return np.asarray(out), scale, origin


# Five-point face template of a 512x512 aligned crop (image-left eye, image-right eye, nose tip, image-left and
# image-right mouth corners): the FFHQ alignment that A1's face helper (facexlib) warps the reference face to.
FFHQ_TEMPLATE_512 = np.array(
    [
        [192.98138, 239.94708],
        [318.90277, 240.1936],
        [256.63416, 314.01935],
        [201.26117, 371.41043],
        [313.08905, 371.15118],
    ]
)
FACE_PAD_COLOR = (135, 133, 132)  # facexlib's fill outside the image


def face_crop(image: np.ndarray, shape: np.ndarray, size: int = 512) -> np.ndarray:
    """The reference face warped to the FFHQ 5-point template (size x size), A1's input to SigLIP."""
    from PIL import Image

    from openreels.face.layout import part
    from openreels.face.retarget import fit_similarity

    lips = part(shape, "lips_outer")
    points = np.stack(
        [
            part(shape, "right_eye").mean(0),
            part(shape, "left_eye").mean(0),
            part(shape, "nose_tip")[0],
            lips[0],
            lips[10],
        ]
    )
    to_crop = fit_similarity(points, FFHQ_TEMPLATE_512 * (size / 512))
    # PIL maps output pixels back to input pixels: hand it the inverse transform.
    inv = np.linalg.inv(to_crop.matrix)
    offset = -inv @ to_crop.shift
    coeffs = (inv[0, 0], inv[0, 1], offset[0], inv[1, 0], inv[1, 1], offset[1])
    warped = Image.fromarray(image).transform(
        (size, size), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR, fillcolor=FACE_PAD_COLOR
    )
    return np.asarray(warped)


def animate(
    pipe: AnimatePipeline,
    image: np.ndarray,
    reference_shape: np.ndarray,
    driving_shapes: np.ndarray,
    smooth_motion: float = 1.5,
    smooth_expression: float = 0.75,
    **kwargs,
) -> AnimateOutput:
    """Retarget the driving face shapes onto the reference, draw them and run the pipeline.

    `image` is the reference at output size; `reference_shape` (C, 2) and `driving_shapes` (T, C, 2) are canonical
    face shapes (`openreels.face`), the reference's in `image` pixels. Extra arguments go to the pipeline.
    """
    from openreels.face import render_video, retarget

    moved = retarget(
        reference_shape, driving_shapes, smooth_motion=smooth_motion, smooth_expression=smooth_expression
    )
    pose = render_video(np.concatenate([reference_shape[None], moved]), image.shape[:2])
    return pipe(image, pose, face_crop(image, reference_shape), **kwargs)
