"""Diffusion forcing: schedule parity with diffusers, the tail-frame fix, long video, extension, progress."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import SkyReelsV2DiffusionForcingPipeline
from diffusers.utils.torch_utils import randn_tensor

from openreels.errors import OpenreelsError
from openreels.pipelines import GenerateRequest, generate, load_pipeline
from openreels.pipelines.df import df_step_matrix

TEMPLATE = torch.tensor([999, 955, 875, 700, 500, 300])


@pytest.mark.parametrize(
    "frames,prefix,block,ar_step",
    [(9, 0, 1, 0), (10, 0, 5, 0), (10, 0, 5, 5), (15, 5, 5, 3), (9, 1, 1, 2), (12, 4, 2, 1)],
)
def test_schedule_equals_diffusers_on_whole_blocks(frames, prefix, block, ar_step):
    theirs = SkyReelsV2DiffusionForcingPipeline.generate_timestep_matrix(
        None, frames, TEMPLATE, frames, ar_step, prefix, block
    )
    ours = df_step_matrix(frames, TEMPLATE, frames, ar_step, prefix, block)
    for a, b in zip(ours[:3], theirs[:3], strict=True):
        assert torch.equal(a, b)
    assert ours[3] == theirs[3]


@pytest.mark.parametrize(
    "frames,prefix,block,ar_step", [(5, 0, 3, 0), (5, 0, 3, 2), (13, 5, 3, 3), (7, 1, 4, 1)]
)
def test_every_frame_is_denoised_when_blocks_do_not_divide(frames, prefix, block, ar_step):
    matrix, index, update, _ = df_step_matrix(frames, TEMPLATE, frames, ar_step, prefix, block)
    assert matrix.shape[1] == frames
    steps_per_frame = update.sum(dim=0)
    assert torch.all(steps_per_frame[prefix:] == len(TEMPLATE)) and torch.all(steps_per_frame[:prefix] == 0)
    assert torch.all(index[-1] >= len(TEMPLATE))  # every frame has taken its last step
    # diffusers' own schedule is narrower than the latents: the tail is never scheduled.
    theirs = SkyReelsV2DiffusionForcingPipeline.generate_timestep_matrix(
        None, frames, TEMPLATE, frames, ar_step, prefix, block
    )
    assert theirs[0].shape[1] < frames


def test_tail_latents_stay_noise_in_diffusers_but_not_in_openreels(tiny_dirs):
    folder = tiny_dirs["v2-df"]
    # 17 frames = 5 latent frames with blocks of 3: diffusers denoises 3 and returns the last 2 as noise.
    kw = dict(prompt="a ball", height=32, width=32, num_frames=17, num_inference_steps=2, guidance_scale=1.0)
    kw |= dict(max_sequence_length=16, output_type="latent", base_num_frames=17, causal_block_size=3)
    noise = randn_tensor((1, 16, 5, 4, 4), generator=torch.Generator("cpu").manual_seed(0))
    ours = load_pipeline(folder, "t2v", "cpu", "float32")
    ours.set_progress_bar_config(disable=True)
    plain = SkyReelsV2DiffusionForcingPipeline(**ours.components)
    plain.set_progress_bar_config(disable=True)
    theirs = plain(**kw, generator=torch.Generator("cpu").manual_seed(0)).frames
    ours.transformer._set_ar_attention(1)  # undo diffusers' sticky block-causal setting on the shared model
    ours.step_block_size = 3
    kw["causal_block_size"] = None
    mine = ours(**kw, generator=torch.Generator("cpu").manual_seed(0)).frames
    assert torch.equal(theirs[:, :, 3:], noise[:, :, 3:])  # the flaw, reproduced
    assert not torch.allclose(mine[:, :, 3:], noise[:, :, 3:], atol=0.05)
    # Synchronous mode moves all blocks together, so the block size must not change the result at all.
    ours.step_block_size = 1
    whole = ours(**kw, generator=torch.Generator("cpu").manual_seed(0)).frames
    assert torch.equal(mine, whole)


def _run(folder, **kw):
    calls = []
    (video,) = generate(
        GenerateRequest(prompt="a woman walking left", model=str(folder), seed=2, **kw),
        progress=lambda done, total, label: calls.append((done, total, label)),
    )
    steps = [c for c in calls if c[0] > 0]  # a (0, total, "loading model") line comes first
    assert steps and steps[-1][0] == steps[-1][1] == len(steps)  # the planned total matched the real rows
    return video, steps


def test_long_video_sync_and_async(tiny_dirs):
    folder = tiny_dirs["v2-df"]
    sync, calls = _run(folder, frames=17)  # 5 latents; windows of 3 sharing 2 -> 3 windows
    assert sync.frames.shape == (17, 32, 32, 3) and "window 3/3" in calls[-1][2]
    assert sync.metadata["overlap_history"] == 5 and sync.metadata["addnoise_condition"] == 20
    # Blocks of 2 leave a partial block in every window: all frames must still come out.
    asyn, calls_async = _run(folder, frames=17, ar_step=1, causal_block_size=2)
    assert asyn.frames.shape == (17, 32, 32, 3) and len(calls_async) > len(calls)
    assert not np.array_equal(sync.frames, asyn.frames)


def test_long_image_to_video(tiny_dirs, face):
    video, calls = _run(tiny_dirs["v2-df"], image=face, frames=13)  # the image starts the first window only
    assert video.frames.shape == (13, 32, 32, 3) and "window 2/2" in calls[-1][2]


def test_extension_keeps_input_and_adds_frames(tiny_dirs, face):
    folder = tiny_dirs["v2-df"]
    source = np.stack([np.roll(face, 2 * i, axis=1) for i in range(9)])
    video, _ = _run(folder, video=source, frames=8)
    assert video.frames.shape == (17, 32, 32, 3)
    np.testing.assert_array_equal(video.frames[:9], source)
    assert video.metadata["task"] == "extend"
    longer, calls = _run(folder, video=source, frames=16)  # more than one window of new frames
    assert longer.frames.shape == (25, 32, 32, 3) and "window 4/4" in calls[-1][2]


def test_start_end_frame_df(tiny_dirs, face):
    video, _ = _run(tiny_dirs["v2-df"], image=face, end_image=face[::-1].copy())
    assert video.frames.shape == (9, 32, 32, 3) and video.metadata["task"] == "flf2v"
    # The end image really conditions the run: another end image, same seed, other frames.
    other, _ = _run(tiny_dirs["v2-df"], image=face, end_image=face[:, ::-1].copy())
    assert not np.array_equal(video.frames, other.frames)
    # Past one window diffusers 0.42 mixes up the end-frame latents, so openreels refuses clearly.
    with pytest.raises(OpenreelsError, match="one window"):
        _run(tiny_dirs["v2-df"], image=face, end_image=face, frames=13)


def test_schedulers_do_not_alias_the_latents(tiny_dirs):
    """In sync mode every frame takes the same steps, so the DF loop must equal one UniPC scheduler stepping
    the whole latent tensor. diffusers' own loop hands each frame's scheduler a view it then overwrites,
    which corrupts UniPC's corrector from the third step on (the flaw is reproduced below)."""
    import copy

    folder = tiny_dirs["v2-df"]
    ours = load_pipeline(folder, "t2v", "cpu", "float32")
    ours.set_progress_bar_config(disable=True)
    kw = dict(prompt="a ball", height=32, width=32, num_frames=9, num_inference_steps=5, guidance_scale=1.0)
    kw |= dict(max_sequence_length=16, output_type="latent")
    mine = ours(**kw, generator=torch.Generator("cpu").manual_seed(0)).frames

    sched = copy.deepcopy(ours.scheduler)  # a plain deepcopy: `step` is UniPC's, passed whole tensors
    sched.step = type(sched).step.__get__(sched)
    sched.set_timesteps(5, device="cpu")
    embeds, _ = ours.encode_prompt("a ball", do_classifier_free_guidance=False, max_sequence_length=16)
    latents = randn_tensor((1, 16, 3, 4, 4), generator=torch.Generator("cpu").manual_seed(0))
    with torch.no_grad():
        for t in sched.timesteps:
            velocity = ours.transformer(
                hidden_states=latents,
                timestep=t.expand(1, 3),
                encoder_hidden_states=embeds,
                enable_diffusion_forcing=True,
                fps=[1],
                return_dict=False,
            )[0]
            latents = sched.step(velocity, t, latents, return_dict=False)[0]
    assert torch.allclose(mine, latents, atol=1e-5)

    plain = SkyReelsV2DiffusionForcingPipeline(**{**ours.components, "scheduler": copy.deepcopy(sched)})
    plain.set_progress_bar_config(disable=True)
    theirs = plain(**kw, generator=torch.Generator("cpu").manual_seed(0)).frames
    assert (theirs - latents).abs().max() > 1e-3  # diffusers' aliased loop drifts from the reference
