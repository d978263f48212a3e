"""Every runtime option's numerics on tiny random SkyReels-V2 / HunyuanVideo pipelines (CPU, float32).

Lossless options must reproduce plain diffusers (bitwise, or to 1e-5 where a batched or differently-dispatched
kernel reorders float32 sums); lossy ones must stay within the stated PSNR."""

from __future__ import annotations

import pytest
import torch

from openreels.errors import OpenreelsError
from openreels.eval import bench as B
from openreels.runtime import RuntimeOptions, apply_runtime
from openreels.runtime.teacache import teacache_stats

CPU = torch.device("cpu")
SIZE = B.SIZES["tiny"]
REORDER_TOL = 1e-5  # float32 reordering (batched matmuls, masked vs unmasked SDPA)
LOSSY_PSNR_DB = 30.0  # the quality bar for step caching; also applied to fp8 weight storage


def _pipe(arch: str, options: RuntimeOptions | None, df: bool = False):
    transformer = B.build_transformer(arch, CPU, torch.float32, seed=0)
    if df:
        from diffusers import SkyReelsV2DiffusionForcingPipeline, UniPCMultistepScheduler

        sched = UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=8.0
        )
        pipe = SkyReelsV2DiffusionForcingPipeline(
            tokenizer=None, text_encoder=None, transformer=transformer, vae=None, scheduler=sched
        )
    else:
        pipe = B.build_pipeline(arch, transformer)
    pipe.set_progress_bar_config(disable=True)
    if options is not None:
        apply_runtime(pipe, options, device=CPU)
    return pipe


def _generate(pipe, arch: str, steps: int, df: bool = False, mask_keep: int | None = None) -> torch.Tensor:
    inputs = B.make_inputs(arch, SIZE, CPU, torch.float32, seed=0)
    if mask_keep is not None:  # a padded prompt: only the first tokens are real
        for branch in (inputs.cond, inputs.uncond):
            branch["encoder_attention_mask"][:, mask_keep:] = 0
    kwargs = B._pipeline_kwargs(arch, inputs, SIZE, steps, seed=0)
    if df:
        kwargs.update(prompt=None, num_frames=13, ar_step=2, causal_block_size=1)
    with torch.inference_mode():
        return pipe(**kwargs).frames.float()


@pytest.fixture(scope="module")
def baseline():
    cache: dict[tuple, torch.Tensor] = {}

    def get(arch: str, steps: int = 3, df: bool = False, mask_keep: int | None = None) -> torch.Tensor:
        key = (arch, steps, df, mask_keep)
        if key not in cache:
            cache[key] = _generate(_pipe(arch, None, df), arch, steps, df, mask_keep)
        return cache[key]

    return get


@pytest.mark.parametrize("arch", ["tiny-v2", "tiny-v1"])
def test_sdpa_is_bitwise_plain_diffusers(baseline, arch):
    out = _generate(_pipe(arch, RuntimeOptions(attention="sdpa")), arch, 3)
    assert torch.equal(out, baseline(arch))


def test_hunyuan_text_trim_and_mask_drop_are_lossless(baseline):
    # attention=auto trims text padding and drops the then all-true mask so SDPA can use its fast kernels.
    ref = baseline("tiny-v1", mask_keep=100)
    out = _generate(_pipe("tiny-v1", RuntimeOptions(attention="auto")), "tiny-v1", 3, mask_keep=100)
    assert (out - ref).abs().max().item() < REORDER_TOL
    assert not torch.equal(ref, baseline("tiny-v1")), "the padded prompt must actually change the result"


@pytest.mark.parametrize("arch", ["tiny-v2", "tiny-v1"])
def test_cfg_batching_is_lossless(baseline, arch):
    pipe = _pipe(arch, RuntimeOptions(cfg_batching=True))
    calls = []
    first = getattr(pipe.transformer, "blocks", None) or pipe.transformer.transformer_blocks
    first[0].register_forward_pre_hook(lambda m, args: calls.append(args[0].shape[0]))
    out = _generate(pipe, arch, 3)
    assert (out - baseline(arch)).abs().max().item() < REORDER_TOL
    assert calls == [2, 2, 2], "each step should run one batched transformer call"


def test_cfg_batching_with_diffusion_forcing(baseline):
    out = _generate(_pipe("tiny-v2", RuntimeOptions(cfg_batching=True), df=True), "tiny-v2", 5, df=True)
    assert (out - baseline("tiny-v2", 5, df=True)).abs().max().item() < REORDER_TOL


def test_group_offload_is_bitwise(baseline):
    out = _generate(_pipe("tiny-v2", RuntimeOptions(offload="group")), "tiny-v2", 3)
    assert torch.equal(out, baseline("tiny-v2"))


def test_regional_compile_traces_full_graph_and_matches(baseline, monkeypatch):
    # Inductor codegen takes minutes on two CPU cores; the eager backend still makes dynamo capture each block
    # as one full graph (fullgraph=True fails on any break) and run the captured graph.
    real_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda *a, **k: real_compile(*a, **{**k, "backend": "eager"}))
    torch._dynamo.reset()
    pipe = _pipe("tiny-v2", RuntimeOptions(compile=True))
    assert all(b._compiled_call_impl is not None for b in pipe.transformer.blocks)
    out = _generate(pipe, "tiny-v2", 3)
    assert (out - baseline("tiny-v2")).abs().max().item() < REORDER_TOL


def test_fp8_weights_within_tolerance(baseline, capsys):
    pipe = _pipe("tiny-v2", RuntimeOptions(quant="fp8"))
    assert "fp8" in capsys.readouterr().err
    weight = pipe.transformer.blocks[0].ffn.net[0].proj.weight
    assert weight.dtype == torch.float8_e4m3fn
    out = _generate(pipe, "tiny-v2", 3)
    assert not torch.equal(out, baseline("tiny-v2"))
    assert B.psnr(out, baseline("tiny-v2")) > LOSSY_PSNR_DB


@pytest.mark.parametrize(("cache", "threshold"), [("teacache", 0.3), ("fbc", 0.5)])
def test_step_cache_skips_and_stays_close(baseline, cache, threshold):
    pipe = _pipe("tiny-v2", RuntimeOptions(cache=cache, cache_threshold=threshold))
    calls = []
    # The last block's FFN runs only when the blocks are computed (hooks return before it when skipping).
    pipe.transformer.blocks[-1].ffn.register_forward_hook(lambda *a: calls.append(1))
    out = _generate(pipe, "tiny-v2", 10)
    ref = baseline("tiny-v2", 10)
    assert len(calls) < 20, "some of the 20 calls must skip the blocks"
    assert B.psnr(out, ref) > LOSSY_PSNR_DB


def test_teacache_works_with_diffusion_forcing_per_frame_timesteps(baseline):
    pipe = _pipe("tiny-v2", RuntimeOptions(cache="teacache", cache_threshold=0.3), df=True)
    out = _generate(pipe, "tiny-v2", 5, df=True)
    stats = teacache_stats(pipe.transformer)
    assert stats["cond_skipped"] > 0 and stats["cond_calls"] > stats["cond_skipped"]
    assert torch.isfinite(out).all()
    assert B.psnr(out, baseline("tiny-v2", 5, df=True)) > LOSSY_PSNR_DB


def test_cache_state_resets_between_generations():
    pipe = _pipe("tiny-v2", RuntimeOptions(cache="teacache", cache_threshold=0.3))
    first = _generate(pipe, "tiny-v2", 6)
    second = _generate(pipe, "tiny-v2", 6)
    assert torch.equal(first, second)


def test_magcache_without_ratios_names_the_fix():
    with pytest.raises(OpenreelsError, match="teacache"):
        _pipe("tiny-v2", RuntimeOptions(cache="magcache"))


def test_vae_tiling_within_tolerance():
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=8, z_dim=4, dim_mult=[1, 1, 1, 1], num_res_blocks=1).eval()
    z = torch.randn(1, 4, 1, 16, 16)
    with torch.inference_mode():
        ref = vae.decode(z).sample

    class Holder:  # apply_runtime only needs .transformer and .vae
        transformer = B.build_transformer("tiny-v2", CPU, torch.float32)

    holder = Holder()
    holder.vae = vae
    apply_runtime(holder, RuntimeOptions(vae_tiling=True), device=CPU)
    assert vae.use_tiling
    # Shrink tiles below the input so the tiled path really runs (defaults exceed this tiny frame).
    vae.tile_sample_min_height = vae.tile_sample_min_width = 96
    vae.tile_sample_stride_height = vae.tile_sample_stride_width = 64
    with torch.inference_mode():
        out = vae.decode(z).sample
    assert out.shape == ref.shape
    assert B.psnr(out, ref) > 25.0


def test_options_compose(baseline):
    options = RuntimeOptions(
        quant="fp8", offload="group", cfg_batching=True, cache="teacache", attention="auto"
    )
    out = _generate(_pipe("tiny-v2", options), "tiny-v2", 3)
    assert torch.isfinite(out).all()
    assert B.psnr(out, baseline("tiny-v2")) > LOSSY_PSNR_DB
