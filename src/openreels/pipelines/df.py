"""Diffusion forcing as diffusers runs it, with the tail-frame flaw fixed.

diffusers' SkyReels-V2 DF pipelines (like the original code) group latent frames into
`num_latent_frames // causal_block_size` blocks, so the frames past the last whole block are never
denoised and come out as noise; they also cut conditioning latents down to a whole number of blocks.
The subclasses here keep diffusers' loops and replace only the step schedule: conditioning frames form one
finished region and the rest is split into blocks of `causal_block_size` with a shorter last block, so
every frame is denoised. When all counts are whole blocks the schedule equals diffusers' row for row.

The block size only shapes the schedule here; the transformer keeps full attention (REFERENCE.md 3: the
released models were not trained for block-causal attention), which also avoids diffusers' dense mask.

A second fix: diffusers hands each frame's scheduler a view, `latents[:, :, idx]`, which UniPC keeps as
`last_sample` for its corrector, and then writes the step's result into that same view. The next step's
corrector then reads the updated latents instead of the previous ones. Here every scheduler's `step` works
on its own copy of the sample, so the corrector sees what it saw.

And one option: a model whose openreels.json says `"text_encoding": "sentences"` (tiny-recipe models since session 3) is
given each sentence of the prompt encoded on its own, as it was trained (`openreels.pipelines.text`).
"""

from __future__ import annotations

import math
import types

import torch
from diffusers import (
    SkyReelsV2DiffusionForcingImageToVideoPipeline,
    SkyReelsV2DiffusionForcingPipeline,
    SkyReelsV2DiffusionForcingVideoToVideoPipeline,
)
from diffusers.pipelines.skyreels_v2.pipeline_skyreels_v2_diffusion_forcing import prompt_clean

from openreels.pipelines.text import sentence_wise_states


def df_step_matrix(
    num_latent_frames: int,
    step_template: torch.Tensor,
    base_num_latent_frames: int,
    ar_step: int = 0,
    num_pre_ready: int = 0,
    causal_block_size: int = 1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[tuple[int, int]]]:
    """Per-row timesteps for every latent frame: (step_matrix, step_index, update_mask, valid_interval).

    Same contract as diffusers' `generate_timestep_matrix`, with blocks that need not divide the frame count.
    """
    bounds: list[tuple[int, int]] = [(0, num_pre_ready)] if num_pre_ready > 0 else []
    start = num_pre_ready
    while start < num_latent_frames:
        bounds.append((start, min(start + causal_block_size, num_latent_frames)))
        start += causal_block_size
    num_blocks = len(bounds)
    base_num_blocks = max(1, sum(1 for _, end in bounds if end <= base_num_latent_frames))
    num_iterations = len(step_template) + 1
    if base_num_blocks < num_blocks:
        min_ar_step = len(step_template) / base_num_blocks
        if ar_step < min_ar_step:
            raise ValueError(f"`ar_step` should be at least {math.ceil(min_ar_step)} in your setting")

    template = torch.cat(
        [
            torch.tensor([999], dtype=torch.int64, device=step_template.device),
            step_template.long(),
            torch.tensor([0], dtype=torch.int64, device=step_template.device),
        ]
    )
    pre_row = torch.zeros(num_blocks, dtype=torch.long)
    if num_pre_ready > 0:
        pre_row[0] = num_iterations
    rows, masks = [], []
    while not torch.all(pre_row >= num_iterations - 1):
        new_row = torch.zeros(num_blocks, dtype=torch.long)
        for i in range(num_blocks):
            if i == 0 or pre_row[i - 1] >= num_iterations - 1:
                new_row[i] = pre_row[i] + 1
            else:
                new_row[i] = new_row[i - 1] - ar_step
        new_row = new_row.clamp(0, num_iterations)
        masks.append((new_row != pre_row) & (new_row != num_iterations))
        rows.append(new_row)
        pre_row = new_row

    intervals: list[tuple[int, int]] = []
    terminal = base_num_blocks
    for mask in masks:
        if terminal < num_blocks and mask[terminal]:
            terminal += 1
        intervals.append((bounds[max(terminal - base_num_blocks, 0)][0], bounds[terminal - 1][1]))

    lengths = torch.tensor([end - begin for begin, end in bounds])
    step_index = torch.stack(rows).repeat_interleave(lengths, dim=1)
    update_mask = torch.stack(masks).repeat_interleave(lengths, dim=1)
    return template[step_index], step_index, update_mask, intervals


def _step_on_private_copy(self, model_output, timestep, sample, *args, **kwargs):
    # `sample` may be a view the caller overwrites in place; the scheduler keeps what it is given.
    return type(self).step(self, model_output, timestep, sample.clone(), *args, **kwargs)


def keep_samples_private(scheduler) -> None:
    """Make `scheduler.step` keep a copy of its sample (copies made by deepcopy keep the behaviour)."""
    if "step" not in vars(scheduler):
        scheduler.step = types.MethodType(_step_on_private_copy, scheduler)


class _TailSafeSchedule:
    """Mixin: the step schedule above, with `step_block_size` set by openreels before each call, and
    schedulers that never alias the latents (see the module docstring)."""

    step_block_size: int = 1
    text_by_sentence: bool = False  # set by the loader from the folder's openreels.json

    def _get_t5_prompt_embeds(
        self, prompt=None, num_videos_per_prompt=1, max_sequence_length=226, device=None, dtype=None
    ):
        if not self.text_by_sentence:
            return super()._get_t5_prompt_embeds(
                prompt, num_videos_per_prompt, max_sequence_length, device, dtype
            )
        prompts = [prompt] if isinstance(prompt, str) else prompt
        rows = [
            sentence_wise_states(self.tokenizer, self.text_encoder, prompt_clean(p), max_sequence_length)
            for p in prompts
        ]
        embeds = torch.stack(rows).to(device or self._execution_device, dtype or self.text_encoder.dtype)
        return embeds.repeat_interleave(num_videos_per_prompt, dim=0)

    def __call__(self, *args, **kwargs):
        keep_samples_private(self.scheduler)  # at call time: a scheduler swapped in later is covered too
        spatial = getattr(self.vae.config, "scale_factor_spatial", None)
        if getattr(self.vae.config, "patch_size", None) and spatial != self.vae_scale_factor_spatial:
            # diffusers 0.42's SkyReels-V2 pipelines derive the factor from the VAE's stages alone (8); a
            # Wan2.2-style VAE folds 2x2 pixels into channels first, and its config gives the total (16).
            from diffusers.video_processor import VideoProcessor

            self.vae_scale_factor_spatial = spatial
            self.video_processor = VideoProcessor(vae_scale_factor=spatial)
        return super().__call__(*args, **kwargs)

    def generate_timestep_matrix(
        self,
        num_latent_frames: int,
        step_template: torch.Tensor,
        base_num_latent_frames: int,
        ar_step: int = 5,
        num_pre_ready: int = 0,
        causal_block_size: int = 1,
        shrink_interval_with_mask: bool = False,
    ):
        # diffusers passes the transformer's attention block size (1: full attention); the schedule uses ours.
        return df_step_matrix(
            num_latent_frames,
            step_template,
            base_num_latent_frames,
            ar_step,
            num_pre_ready,
            self.step_block_size,
        )


class DiffusionForcingPipeline(_TailSafeSchedule, SkyReelsV2DiffusionForcingPipeline):
    """SkyReels-V2 DF text-to-video (and long video) without dropped tail frames."""


class DiffusionForcingImageToVideoPipeline(_TailSafeSchedule, SkyReelsV2DiffusionForcingImageToVideoPipeline):
    """SkyReels-V2 DF image-to-video and start/end frame without dropped tail frames."""


class DiffusionForcingVideoToVideoPipeline(_TailSafeSchedule, SkyReelsV2DiffusionForcingVideoToVideoPipeline):
    """SkyReels-V2 DF video extension without dropped tail frames."""


TAIL_SAFE = {
    "SkyReelsV2DiffusionForcingPipeline": DiffusionForcingPipeline,
    "SkyReelsV2DiffusionForcingImageToVideoPipeline": DiffusionForcingImageToVideoPipeline,
    "SkyReelsV2DiffusionForcingVideoToVideoPipeline": DiffusionForcingVideoToVideoPipeline,
}


def plan_windows(
    latent_frames: int, window: int, overlap: int, first_prefix: int, extend: bool = False
) -> list[tuple[int, int]]:
    """(latent frames, conditioning latents) of each window, following diffusers' long-video arithmetic.

    `latent_frames` counts every latent the pipeline produces (for extension: the overlap plus new ones).
    """
    if latent_frames <= window and not extend:
        return [(latent_frames, first_prefix)]
    n_iter = 1 + (latent_frames - window - 1) // (window - overlap) + 1
    plans = []
    for k in range(max(n_iter, 1)):
        if k == 0 and not extend:
            plans.append((window, first_prefix))
            continue
        done = k * (window - overlap) + overlap
        plans.append((min(latent_frames - done + overlap, window), overlap))
    return plans


def count_rows(frames: int, prefix: int, steps: int, ar_step: int, block: int, end_frames: int = 0) -> int:
    """How many denoising rows (transformer calls per guidance branch) one window takes."""
    template = torch.arange(steps, 0, -1)
    total = frames + end_frames
    return len(df_step_matrix(total, template, total, ar_step, prefix, block)[0])
