"""`openreels bench`: speed and memory of real-size SkyReels architectures with random weights (no download).

For each model and size it builds the transformer from its published config with seeded random weights, wraps it
in the diffusers pipeline (text embeddings given directly, latents out), and times, for plain diffusers and for
each openreels variant in the same process: one transformer forward, one denoising step with CFG, a few end-to-end
steps; it reads peak GPU memory and computes MFU.

FLOP count (also in bench/results/README.md), per forward, batch 1, multiply-add = 2 FLOPs:
  SkyReels-V2 / Wan, N video tokens = F' * H/16 * W/16, L = 512 text tokens, D = dim, Fd = ffn dim, per layer
      self-attn projections 8*N*D^2 + attention 4*N^2*D + cross-attn q/o 4*N*D^2 + text k/v 4*L*D^2
      + cross attention 4*N*L*D + FFN 4*N*D*Fd;
  plus patch embed, output projection, text and time embedders.
  HunyuanVideo, Nv video tokens, Nt = 256 text tokens, N = Nv + Nt, D = 3072, MLP 4D:
      dual block 24*N*D^2 + 4*N^2*D, single block 24*N*D^2 + 4*N^2*D, token refiner on Nt, embedders, heads.
MFU = FLOPs / forward seconds / 800 TFLOP/s (H100 dense bf16, the issue's reference; fp8 rows use the same
denominator so the column compares wall time)."""

from __future__ import annotations

import gc
import json
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from openreels.errors import OpenreelsError
from openreels.runtime.options import RuntimeOptions

PEAK_FLOPS = 800e12

ARCHS: dict[str, tuple[str, dict[str, Any]]] = {
    "v2-1.3b": (
        "skyreels_v2",
        dict(num_attention_heads=12, attention_head_dim=128, ffn_dim=8960, num_layers=30),
    ),
    "v2-14b": (
        "skyreels_v2",
        dict(num_attention_heads=40, attention_head_dim=128, ffn_dim=13824, num_layers=40),
    ),
    "v1-13b": (
        "hunyuan_video",
        dict(num_attention_heads=24, attention_head_dim=128, num_layers=20, num_single_layers=40),
    ),
    # Tiny shapes for tests and CPU runs: same classes, same code path.
    "tiny-v2": (
        "skyreels_v2",
        dict(
            num_attention_heads=2, attention_head_dim=16, ffn_dim=64, num_layers=2, text_dim=32, freq_dim=32
        ),
    ),
    "tiny-v1": (
        "hunyuan_video",
        dict(
            num_attention_heads=2,
            attention_head_dim=12,
            num_layers=1,
            num_single_layers=1,
            num_refiner_layers=1,
            text_embed_dim=32,
            pooled_projection_dim=16,
            rope_axes_dim=(4, 4, 4),
        ),
    ),
}
SIZES: dict[str, tuple[int, int, int]] = {
    "540p": (544, 960, 97),
    "720p": (720, 1280, 121),
    "tiny": (32, 32, 9),
}
TEXT_TOKENS = {"skyreels_v2": 512, "hunyuan_video": 256}

VARIANTS: dict[str, RuntimeOptions] = {
    "diffusers": RuntimeOptions(),
    "attn": RuntimeOptions(attention="auto"),
    "fp8": RuntimeOptions(attention="auto", quant="fp8"),
    "fp8-compile": RuntimeOptions(attention="auto", quant="fp8", compile=True),
    "fp8-cfgbatch": RuntimeOptions(attention="auto", quant="fp8", cfg_batching=True),
    "compile": RuntimeOptions(attention="auto", compile=True),
    "cfgbatch": RuntimeOptions(attention="auto", cfg_batching=True),
}


def parse_memory(text: str) -> int:
    """'24GB' / '24GiB' / '24' (GiB) -> bytes."""
    t = text.strip().lower().replace(" ", "")
    for suffix, scale in (("gib", 2**30), ("gb", 10**9), ("g", 2**30), ("mib", 2**20), ("mb", 10**6)):
        if t.endswith(suffix):
            t, mult = t[: -len(suffix)], scale
            break
    else:
        mult = 2**30
    try:
        value = float(t)
    except ValueError:
        raise OpenreelsError(f"bad --max-memory {text!r}; write e.g. --max-memory 24GB") from None
    if value <= 0:
        raise OpenreelsError("--max-memory must be positive")
    return int(value * mult)


# ---------------------------------------------------------------- FLOPs


def latent_shape(height: int, width: int, frames: int) -> tuple[int, int, int, int]:
    if height % 16 or width % 16 or (frames - 1) % 4:
        raise OpenreelsError(
            f"size {height}x{width}x{frames}: height/width must be multiples of 16, frames 4k+1"
        )
    return 16, (frames - 1) // 4 + 1, height // 8, width // 8


def forward_flops(arch: str, height: int, width: int, frames: int, batch: int = 1) -> float:
    """Analytic FLOPs of one transformer forward (formula in the module docstring)."""
    family, cfg = ARCHS[arch]
    _, f, h, w = latent_shape(height, width, frames)
    n = f * (h // 2) * (w // 2)
    d = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    if family == "skyreels_v2":
        fd, layers, text_dim = cfg["ffn_dim"], cfg["num_layers"], cfg.get("text_dim", 4096)
        freq = cfg.get("freq_dim", 256)
        length = TEXT_TOKENS[family]
        per_layer = 8 * n * d * d + 4 * n * n * d + 4 * n * d * d + 4 * length * d * d + 4 * n * length * d
        per_layer += 4 * n * d * fd
        extra = 2 * n * 64 * d + 2 * n * d * 64  # patch embed (16 ch x 1x2x2), output projection
        extra += 2 * length * (text_dim * d + d * d)  # text embedder
        extra += 2 * (freq * d + d * d + 6 * d * d)  # time embedder + projection
        return float(batch * (layers * per_layer + extra))
    nt = TEXT_TOKENS[family]
    text_dim, pooled = cfg.get("text_embed_dim", 4096), cfg.get("pooled_projection_dim", 768)
    dual, single, refiner = cfg["num_layers"], cfg["num_single_layers"], cfg.get("num_refiner_layers", 2)
    tot = n + nt
    total = dual * (24 * tot * d * d + 4 * tot * tot * d + 24 * d * d)
    total += single * (24 * tot * d * d + 4 * tot * tot * d + 6 * d * d)
    total += refiner * (24 * nt * d * d + 4 * nt * nt * d + 12 * d * d)  # token refiner blocks
    total += 2 * nt * text_dim * d + 2 * text_dim * d  # refiner input projection + pooled-text projection
    total += 2 * n * 64 * d + 2 * n * d * 64 + 4 * d * d  # patch embed, output projection, output norm
    total += 3 * 2 * (256 * d + d * d) + 2 * (pooled * d + d * d)  # timestep x2, guidance, pooled text
    return float(batch * total)


# ---------------------------------------------------------------- random real-size models


def _transformer_class(family: str):
    from diffusers import HunyuanVideoTransformer3DModel, SkyReelsV2Transformer3DModel

    return SkyReelsV2Transformer3DModel if family == "skyreels_v2" else HunyuanVideoTransformer3DModel


def _materialize(
    module: torch.nn.Module, device: torch.device, dtype: torch.dtype, gen: torch.Generator, keep32
):
    """Replace meta parameters with seeded random ones on `device` (fan-in scaled normal; norms 1; biases 0)."""
    for mod_name, mod in module.named_modules():
        for name, param in list(mod.named_parameters(recurse=False)):
            if not param.is_meta:
                continue
            full = f"{mod_name}.{name}"
            dt = torch.float32 if any(k in full for k in keep32) else dtype
            data = torch.empty(param.shape, device=device, dtype=dt)
            if param.dim() >= 2:
                fan_in = math.prod(param.shape[1:])
                data.normal_(0.0, fan_in**-0.5, generator=gen)
            elif name == "weight":
                data.fill_(1.0)
            else:
                data.zero_()
            setattr(mod, name, torch.nn.Parameter(data, requires_grad=False))
        for name, buf in list(mod.named_buffers(recurse=False)):
            mod._buffers[name] = buf.to(device)


def build_transformer(
    arch: str,
    device: torch.device,
    dtype: torch.dtype = torch.bfloat16,
    seed: int = 0,
    per_block: Callable[[torch.nn.Module], None] | None = None,
) -> torch.nn.Module:
    """The architecture with seeded random weights, built straight on `device` without a full-precision copy.
    `per_block(block)` runs on each repeated block right after it is materialised (quantize while loading)."""
    from accelerate import init_empty_weights

    family, cfg = ARCHS[arch]
    cls = _transformer_class(family)
    with init_empty_weights(include_buffers=False):
        model = cls(**cfg)
    keep32 = tuple(getattr(cls, "_keep_in_fp32_modules", None) or ())
    gen = torch.Generator(device=device).manual_seed(seed)
    repeated = set(getattr(cls, "_repeated_blocks", []))
    blocks = [m for m in model.modules() if type(m).__name__ in repeated]
    for block in blocks:
        _materialize(block, device, dtype, gen, keep32)
        if per_block is not None:
            per_block(block)
    _materialize(model, device, dtype, gen, keep32)
    return model.eval()


def build_pipeline(arch: str, transformer: torch.nn.Module):
    """The diffusers pipeline around `transformer`, without text encoders or VAE (embeddings come in directly)."""
    family, _ = ARCHS[arch]
    if family == "skyreels_v2":
        from diffusers import SkyReelsV2Pipeline, UniPCMultistepScheduler

        sched = UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=8.0
        )
        return SkyReelsV2Pipeline(
            tokenizer=None, text_encoder=None, transformer=transformer, vae=None, scheduler=sched
        )
    from diffusers import FlowMatchEulerDiscreteScheduler, HunyuanVideoPipeline

    return HunyuanVideoPipeline(
        text_encoder=None,
        tokenizer=None,
        transformer=transformer,
        vae=None,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder_2=None,
        tokenizer_2=None,
    )


@dataclass
class Inputs:
    latents: torch.Tensor
    cond: dict[str, torch.Tensor]
    uncond: dict[str, torch.Tensor]


def make_inputs(
    arch: str, size: tuple[int, int, int], device: torch.device, dtype: torch.dtype, seed: int
) -> Inputs:
    family, cfg = ARCHS[arch]
    c, f, h, w = latent_shape(*size)
    gen = torch.Generator(device="cpu").manual_seed(seed + 1)
    latents = torch.randn(1, c, f, h, w, generator=gen).to(device, dtype)
    nt = TEXT_TOKENS[family]
    text_dim = cfg.get("text_dim", cfg.get("text_embed_dim", 4096))

    def text():
        return torch.randn(1, nt, text_dim, generator=gen).to(device, dtype)

    if family == "skyreels_v2":
        return Inputs(latents, {"encoder_hidden_states": text()}, {"encoder_hidden_states": text()})
    pooled = cfg.get("pooled_projection_dim", 768)

    def branch():
        return {
            "encoder_hidden_states": text(),
            "pooled_projections": torch.randn(1, pooled, generator=gen).to(device, dtype),
            "encoder_attention_mask": torch.ones(1, nt, device=device, dtype=dtype),
        }

    return Inputs(latents, branch(), branch())


def _forward_kwargs(arch: str, inputs: Inputs) -> dict[str, Any]:
    family, _ = ARCHS[arch]
    t = torch.tensor([999.0], device=inputs.latents.device)
    kwargs = dict(hidden_states=inputs.latents, timestep=t, return_dict=False, **inputs.cond)
    if family == "hunyuan_video":
        kwargs["guidance"] = torch.tensor([1000.0], device=inputs.latents.device)
    return kwargs


def _pipeline_kwargs(
    arch: str, inputs: Inputs, size: tuple[int, int, int], steps: int, seed: int
) -> dict[str, Any]:
    family, _ = ARCHS[arch]
    h, w, frames = size
    gen = torch.Generator(device="cpu").manual_seed(seed)
    common = dict(
        height=h, width=w, num_frames=frames, num_inference_steps=steps, output_type="latent", generator=gen
    )
    if family == "skyreels_v2":
        return dict(
            prompt_embeds=inputs.cond["encoder_hidden_states"],
            negative_prompt_embeds=inputs.uncond["encoder_hidden_states"],
            guidance_scale=6.0,
            **common,
        )
    return dict(
        prompt_embeds=inputs.cond["encoder_hidden_states"],
        pooled_prompt_embeds=inputs.cond["pooled_projections"],
        prompt_attention_mask=inputs.cond["encoder_attention_mask"],
        negative_prompt_embeds=inputs.uncond["encoder_hidden_states"],
        negative_pooled_prompt_embeds=inputs.uncond["pooled_projections"],
        negative_prompt_attention_mask=inputs.uncond["encoder_attention_mask"],
        true_cfg_scale=6.0,
        guidance_scale=1.0,
        **common,
    )


# ---------------------------------------------------------------- timing


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device, warmup: int, repeat: int) -> tuple[list[float], Any]:
    """Wall seconds of `repeat` calls after `warmup` calls, synchronising the device around each call."""
    out = None
    for _ in range(warmup):
        out = fn()
    _sync(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times, out


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of `a` against reference `b`, with the reference's value range as the peak."""
    a, b = a.double(), b.double()
    mse = (a - b).pow(2).mean().item()
    peak = (b.max() - b.min()).item()
    return float("inf") if mse == 0 else 10 * math.log10(peak * peak / mse)


@dataclass
class Row:
    arch: str
    size: str
    variant: str
    options: str
    forward_s: float | None = None
    forward_runs: list[float] = field(default_factory=list)
    step_cfg_s: float | None = None
    e2e_steps: int = 0
    e2e_s: float | None = None
    peak_mem_gib: float | None = None
    forward_tflops: float | None = None
    mfu: float | None = None
    speedup_forward: float | None = None
    speedup_step: float | None = None
    speedup_e2e: float | None = None
    psnr_db: float | None = None
    cache_skipped: dict[str, int] | None = None
    # MagCache ratios measured on this row's uncached run, for the magcache row after it
    mag_ratios: list[float] | None = None
    max_memory_gib: float | None = None
    error: str | None = None
    setup_s: float | None = None


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def run_variant(
    arch: str,
    size_name: str,
    variant: str,
    options: RuntimeOptions,
    *,
    device: torch.device,
    forward_repeat: int = 2,
    step: bool = True,
    e2e_steps: int = 0,
    seed: int = 0,
    max_memory: int | None = None,
    reference: torch.Tensor | None = None,
    keep_output: bool = False,
    record_mag_ratios: bool = False,
    mag_ratios: list[float] | None = None,
) -> tuple[Row, torch.Tensor | None]:
    """Build, apply `options` (plain diffusers for the 'diffusers' variant), and time one variant.

    `record_mag_ratios` measures MagCache ratios during the end-to-end run (into `row.mag_ratios`); a cached
    run takes them as `mag_ratios`, since random weights have no calibrated ones."""
    from openreels.runtime.apply import apply_runtime
    from openreels.runtime.magcache import ResidualRecorder
    from openreels.runtime.teacache import teacache_stats

    size = SIZES[size_name]
    row = Row(arch, size_name, variant, options.describe())
    if max_memory is not None:
        row.max_memory_gib = round(max_memory / 2**30, 2)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    _free(device)
    t0 = time.perf_counter()
    plain = variant == "diffusers"
    # Quantize while building, as from_pretrained with a torchao config does: bf16 weights never all on the GPU.
    per_block = None
    if options.quant == "fp8" and options.offload == "none" and device.type == "cuda":
        from openreels.runtime.apply import _linear_ok, fp8_config

        config = fp8_config(device)
        if config is not None:
            from torchao.quantization import quantize_

            def per_block(block):
                quantize_(block, config, filter_fn=_linear_ok, device=device)

            options = options.model_copy(update={"quant": "none"})
    build_device = torch.device("cpu") if options.offload != "none" else device
    transformer = build_transformer(arch, build_device, dtype, seed, per_block=per_block)
    pipe = build_pipeline(arch, transformer)
    pipe.set_progress_bar_config(disable=True)
    inputs = make_inputs(arch, size, device, dtype, seed)
    if plain:
        pipe.to(device)
    else:
        apply_runtime(
            pipe, options, device=device, num_inference_steps=e2e_steps or None, mag_ratios=mag_ratios
        )
    _sync(device)
    row.setup_s = round(time.perf_counter() - t0, 2)
    flops = forward_flops(arch, *size)
    output = None
    with torch.inference_mode():
        if forward_repeat > 0:
            kwargs = _forward_kwargs(arch, inputs)
            with transformer.cache_context("cond") if options.cache != "none" else _null():
                times, _ = timed(lambda: pipe.transformer(**kwargs), device, warmup=1, repeat=forward_repeat)
            row.forward_runs = [round(t, 4) for t in times]
            row.forward_s = sorted(times)[len(times) // 2]
            row.forward_tflops = flops / row.forward_s / 1e12
            row.mfu = flops / row.forward_s / PEAK_FLOPS
            if options.cache != "none":
                transformer._reset_stateful_cache()
        if step:
            kw = _pipeline_kwargs(arch, inputs, size, 1, seed)
            times, _ = timed(lambda: pipe(**kw), device, warmup=0 if forward_repeat else 1, repeat=1)
            row.step_cfg_s = times[0]
        if e2e_steps:
            kw = _pipeline_kwargs(arch, inputs, size, e2e_steps, seed)
            recorder = ResidualRecorder(transformer) if record_mag_ratios else None
            passes = _PassCounter(transformer) if options.cache in ("magcache", "fbc") else None
            times, result = timed(lambda: pipe(**kw), device, warmup=0, repeat=1)
            if recorder is not None:
                recorder.remove()
                row.mag_ratios = recorder.ratios(stride=max(1, len(recorder.norms) // e2e_steps))
            if passes is not None:
                passes.remove()
                row.cache_skipped = {"calls": passes.calls, "skipped": passes.calls - passes.ran}
            row.e2e_steps, row.e2e_s = e2e_steps, times[0]
            output = result.frames if hasattr(result, "frames") else result[0]
            output = output.float().cpu()
            if reference is not None:
                row.psnr_db = round(psnr(output, reference), 2)
            stats = teacache_stats(transformer)
            if stats:
                row.cache_skipped = stats
    if device.type == "cuda":
        row.peak_mem_gib = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return row, (output if keep_output or reference is None else None)


class _PassCounter:
    """Transformer calls, and how many ran the last block's feed-forward: diffusers' cache hooks replace a skipped
    block's forward, so only what runs inside the block tells a computed call from a skipped one."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        from openreels.runtime.magcache import transformer_blocks

        self.calls = self.ran = 0
        self._handles = [
            transformer.register_forward_pre_hook(lambda *_: self._count("calls")),
            transformer_blocks(transformer)[-1].ffn.register_forward_pre_hook(lambda *_: self._count("ran")),
        ]

    def _count(self, name: str) -> None:
        setattr(self, name, getattr(self, name) + 1)

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def environment(device: torch.device) -> dict[str, Any]:
    import diffusers

    env = {
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "python": platform.python_version(),
        "cuda": torch.version.cuda,
    }
    try:
        import torchao

        env["torchao"] = torchao.__version__
    except ImportError:
        env["torchao"] = None
    if device.type == "cuda":
        env["gpu_memory_gib"] = round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1)
    return env


def add_speedups(rows: list[Row]) -> None:
    """Fill speedup columns against the plain-diffusers row of the same model and size."""
    for row in rows:
        base = next(
            (r for r in rows if r.variant == "diffusers" and (r.arch, r.size) == (row.arch, row.size)), None
        )
        if base is None or row is base:
            continue
        if base.forward_s and row.forward_s:
            row.speedup_forward = round(base.forward_s / row.forward_s, 3)
        if base.step_cfg_s and row.step_cfg_s:
            row.speedup_step = round(base.step_cfg_s / row.step_cfg_s, 3)
        if base.e2e_s and row.e2e_s and base.e2e_steps == row.e2e_steps:
            row.speedup_e2e = round(base.e2e_s / row.e2e_s, 3)


def write_json(path: str, rows: list[Row], device: torch.device, settings: dict[str, Any]) -> None:
    from openreels.media import atomic_output

    payload = {"environment": environment(device), "settings": settings, "results": [asdict(r) for r in rows]}
    with atomic_output(path) as tmp:
        with open(tmp, "w") as fh:
            json.dump(payload, fh, indent=2)


def table(rows: list[Row]) -> list[list[str]]:
    def f(v, fmt="{:.3f}"):
        return "-" if v is None else fmt.format(v)

    out = [
        [
            "model",
            "size",
            "variant",
            "fwd s",
            "MFU",
            "x fwd",
            "step+CFG s",
            "x step",
            "e2e s",
            "x e2e",
            "PSNR",
            "peak GiB",
        ]
    ]
    for r in rows:
        out.append(
            [
                r.arch,
                r.size,
                r.variant if not r.error else f"{r.variant} (error)",
                f(r.forward_s),
                f(r.mfu, "{:.1%}"),
                f(r.speedup_forward, "{:.2f}x"),
                f(r.step_cfg_s),
                f(r.speedup_step, "{:.2f}x"),
                f(r.e2e_s) + (f"/{r.e2e_steps}" if r.e2e_steps else ""),
                f(r.speedup_e2e, "{:.2f}x"),
                f(r.psnr_db, "{:.1f}"),
                f(r.peak_mem_gib, "{:.1f}"),
            ]
        )
    return out
