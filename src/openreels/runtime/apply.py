"""apply_runtime: turn RuntimeOptions into diffusers hooks on a loaded pipeline (or a bare transformer).

Everything here is a diffusers or torch facility (attention backends, group offloading with streams,
FirstBlockCache/MagCache hooks, layerwise casting, regional compile) or torchao; only TeaCache-for-diffusion-
forcing and CFG batching/parallel are hand-written (runtime/teacache.py, runtime/cfg.py), because diffusers has
neither for these pipelines."""

from __future__ import annotations

import os
import sys
from typing import Any

import torch

from openreels.errors import OpenreelsError
from openreels.runtime.options import RuntimeOptions

# Default step-cache thresholds per transformer family (relative L1 of the first block's modulated input for
# teacache, residual difference for fbc). Not calibrated on released weights: none can be downloaded here.
CACHE_THRESHOLDS: dict[str, dict[str, float]] = {
    "teacache": {"skyreels_v2": 0.1, "wan": 0.1, "hunyuan_video": 0.1, "other": 0.1},
    "fbc": {"skyreels_v2": 0.05, "wan": 0.05, "hunyuan_video": 0.05, "other": 0.05},
    "magcache": {"skyreels_v2": 0.06, "wan": 0.06, "hunyuan_video": 0.06, "other": 0.06},
}


def note(message: str) -> None:
    """One-line notice on stderr (chosen profile, fallbacks); the library never prints elsewhere."""
    print(f"note: {message}", file=sys.stderr)


def family_of(transformer: torch.nn.Module) -> str:
    name = type(transformer).__name__
    if name.startswith("SkyReelsV2"):
        return "skyreels_v2"
    if name.startswith("Wan"):
        return "wan"
    if name.startswith("HunyuanVideo"):
        return "hunyuan_video"
    return "other"


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def _denoiser(pipe: Any) -> torch.nn.Module:
    for name in ("transformer", "unet"):
        module = getattr(pipe, name, None)
        if isinstance(module, torch.nn.Module):
            return module
    if isinstance(pipe, torch.nn.Module):
        return pipe
    raise OpenreelsError(
        "apply_runtime needs a diffusers pipeline with a transformer, or a transformer model"
    )


def _components(pipe: Any) -> dict[str, torch.nn.Module]:
    comps = getattr(pipe, "components", None)
    if isinstance(comps, dict):
        return {k: v for k, v in comps.items() if isinstance(v, torch.nn.Module)}
    return {"transformer": _denoiser(pipe)}


# ---------------------------------------------------------------- attention


def _backend_usable(name: str) -> bool:
    from diffusers.models.attention_dispatch import (
        AttentionBackendName,
        _check_attention_backend_requirements,
    )

    try:
        _check_attention_backend_requirements(AttentionBackendName(name))
    except (RuntimeError, ImportError, ValueError):
        return False
    return True


def resolve_attention(choice: str, device: torch.device) -> str:
    """Map --attention to a diffusers backend name, falling back with one note when a kernel is missing."""
    cuda = device.type == "cuda"
    if choice == "sdpa":
        return "native"
    if choice == "sage":
        if cuda and _backend_usable("sage"):
            return "sage"
        note(
            "SageAttention is not installed or needs a CUDA GPU (pip install sageattention); using --attention auto"
        )
        return resolve_attention("auto", device)
    if choice == "cudnn":
        if cuda:
            return "_native_cudnn"
        note("cuDNN attention needs a CUDA GPU; using torch SDPA")
        return "native"
    if choice == "flash":
        for name in ("_flash_3", "flash"):
            if cuda and _backend_usable(name):
                return name
        if cuda:
            note("flash-attn (FA3/FA2) is not installed; using torch's built-in flash kernel")
            return "_native_flash"
        note("flash attention needs a CUDA GPU; using torch SDPA")
        return "native"
    # auto: FlashAttention-3 when installed; otherwise torch SDPA's own choice, which measured 2% faster than
    # cuDNN attention for V2-14B at 544x960x97 on an H100 (bench/results/).
    if cuda and _backend_usable("_flash_3"):
        return "_flash_3"
    return "native"


def _set_attention(transformer: torch.nn.Module, backend: str) -> None:
    if hasattr(transformer, "set_attention_backend"):
        import logging

        # diffusers warns on every call that the API is experimental; once is enough for us.
        logging.getLogger("diffusers.models.modeling_utils").setLevel(logging.ERROR)
        transformer.set_attention_backend(backend)


def _drop_full_masks(transformer: torch.nn.Module) -> None:
    """HunyuanVideo always passes a boolean text-padding mask, which keeps SDPA off its flash kernels. Trimming
    the padding (masked keys never reach video tokens) makes the mask all-true, and an all-true mask is dropped:
    the output is unchanged."""
    if family_of(transformer) != "hunyuan_video":
        return

    def trim(module, args, kwargs):
        mask = kwargs.get("encoder_attention_mask")
        ehs = kwargs.get("encoder_hidden_states")
        if mask is None or ehs is None or mask.dim() != 2:
            return None
        keep = int(mask.sum(dim=1).max().item())
        if 0 < keep < mask.shape[1]:
            kwargs = dict(kwargs, encoder_attention_mask=mask[:, :keep], encoder_hidden_states=ehs[:, :keep])
        return args, kwargs

    transformer.register_forward_pre_hook(trim, with_kwargs=True)
    full: dict[int, bool] = {}

    def drop(module, args, kwargs):
        if len(args) > 3 and isinstance(args[3], torch.Tensor) and args[3].dtype == torch.bool:
            key = id(args[3])
            if key not in full:
                full.clear()
                full[key] = bool(args[3].all())
            if full[key]:
                return (*args[:3], None, *args[4:]), kwargs
        return None

    for name in ("transformer_blocks", "single_transformer_blocks"):
        for block in getattr(transformer, name, []):
            block.register_forward_pre_hook(drop, with_kwargs=True)


# ---------------------------------------------------------------- quantization


def _quant_targets(transformer: torch.nn.Module) -> list[torch.nn.Module]:
    """The repeated transformer blocks: they hold nearly all weights and FLOPs; embedders and heads stay bf16."""
    names = set(getattr(transformer, "_repeated_blocks", []) or [])
    blocks = [m for m in transformer.modules() if type(m).__name__ in names]
    return blocks or [transformer]


def _linear_ok(module: torch.nn.Module, fqn: str = "") -> bool:
    return (
        isinstance(module, torch.nn.Linear) and module.in_features % 16 == 0 and module.out_features % 16 == 0
    )


def fp8_config(device: torch.device) -> Any | None:
    """torchao config for --quant fp8 on this device, or None (with a note) when torchao or the GPU is missing."""
    if device.type != "cuda":
        return None
    try:
        from torchao.quantization import (
            Float8DynamicActivationFloat8WeightConfig,
            Float8WeightOnlyConfig,
            PerRow,
        )
    except ImportError:
        note(
            "torchao is not installed (pip install 'openreels[gpu]'); storing fp8 weights without fp8 matmuls"
        )
        return None
    if torch.cuda.get_device_capability(device) >= (8, 9):
        return Float8DynamicActivationFloat8WeightConfig(granularity=PerRow())
    return Float8WeightOnlyConfig()


def quantize_fp8(transformer: torch.nn.Module, device: torch.device, storage_only: bool = False) -> str:
    """Quantize the transformer blocks to float8, one block at a time on `device` so bf16 weights never all sit
    there at once. `storage_only` (used with offloading, whose hooks move plain tensors) keeps fp8 weights and
    bf16 matmuls. Returns what was done."""
    config = None if storage_only else fp8_config(device)
    if config is None:
        if device.type != "cuda":
            note("fp8 matmuls need a CUDA GPU; storing fp8 weights only (half the memory, same speed)")
        # Fallback: diffusers layerwise casting keeps weights in float8 and upcasts per layer (memory, not speed).
        dtype = next(transformer.parameters()).dtype
        transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=dtype)
        return "fp8 weight storage (layerwise casting)"
    from torchao.quantization import quantize_

    for block in _quant_targets(transformer):
        block.to(device)
        quantize_(block, config, filter_fn=_linear_ok, device=device)
    return type(config).__name__


# ---------------------------------------------------------------- caching


def _register_block_metadata() -> None:
    """diffusers' cache hooks look blocks up in a registry that lacks SkyReels-V2; its block returns hidden states."""
    from diffusers.hooks._helpers import TransformerBlockMetadata, TransformerBlockRegistry
    from diffusers.models.transformers.transformer_skyreels_v2 import SkyReelsV2TransformerBlock

    try:
        TransformerBlockRegistry.get(SkyReelsV2TransformerBlock)
    except ValueError:
        TransformerBlockRegistry.register(
            model_class=SkyReelsV2TransformerBlock,
            metadata=TransformerBlockMetadata(
                return_hidden_states_index=0, return_encoder_hidden_states_index=None
            ),
        )


def _apply_cache(
    pipe: Any,
    transformer: torch.nn.Module,
    options: RuntimeOptions,
    num_inference_steps: int | None,
    mag_ratios: list[float] | None = None,
) -> str:
    family = family_of(transformer)
    threshold = options.cache_threshold or CACHE_THRESHOLDS[options.cache][family]
    _register_block_metadata()
    if options.cache == "teacache":
        from openreels.runtime.teacache import apply_teacache

        apply_teacache(transformer, threshold)
    elif options.cache == "fbc":
        from diffusers.hooks import FirstBlockCacheConfig

        transformer.enable_cache(FirstBlockCacheConfig(threshold=threshold))
    elif options.cache == "magcache":
        from openreels.runtime.magcache import enable_magcache, mag_ratios_for

        # Checkpoint-specific: given, or measured into the model's openreels.json by `openreels calibrate`.
        ratios = mag_ratios or mag_ratios_for(pipe)
        if ratios is None:
            raise OpenreelsError(
                f"no calibrated MagCache ratios for this {family} checkpoint; measure them with "
                "`openreels calibrate --model MODEL --write`, or use --cache teacache or --cache fbc"
            )
        enable_magcache(pipe, transformer, ratios, threshold, num_inference_steps)
    return f"{options.cache}@{threshold:g}"


# ---------------------------------------------------------------- compile, offload


def _compile(transformer: torch.nn.Module, fullgraph: bool) -> None:
    # Persistent inductor cache: the second run of a process skips most of the compile time.
    os.environ.setdefault(
        "TORCHINDUCTOR_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "openreels", "inductor")
    )
    import torch._inductor.config as inductor_config

    inductor_config.fx_graph_cache = True
    if getattr(transformer, "_repeated_blocks", None):
        transformer.compile_repeated_blocks(fullgraph=fullgraph)
    else:
        transformer.compile(fullgraph=fullgraph)


def _offload(pipe: Any, mode: str, device: torch.device) -> None:
    if mode == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif mode == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    elif mode == "group":
        from diffusers.hooks import apply_group_offloading

        stream = device.type == "cuda"
        for module in _components(pipe).values():
            kind = "block_level" if hasattr(module, "_repeated_blocks") else "leaf_level"
            apply_group_offloading(
                module,
                onload_device=device,
                offload_device=torch.device("cpu"),
                offload_type=kind,
                num_blocks_per_group=1 if kind == "block_level" else None,
                use_stream=stream,
                record_stream=stream,
                non_blocking=stream,
            )


# ---------------------------------------------------------------- entry point


def apply_runtime(
    pipe: Any,
    options: RuntimeOptions | None = None,
    *,
    device: str | torch.device | None = None,
    num_inference_steps: int | None = None,
    mag_ratios: list[float] | None = None,
) -> Any:
    """Apply `options` to a diffusers pipeline (or a bare transformer) in place and return it. `mag_ratios`
    overrides the checkpoint's calibrated MagCache ratios (the bench measures them on its random weights).

    Places the pipeline on `device` itself (or offloads it), so as core's `pipeline_hook` it reports True
    (see runtime.cli_options.runtime_hook). Order matters: attention and parallel plans, quantization, caches
    and CFG hooks, compile, then placement or offload."""
    options = options or RuntimeOptions()
    dev = torch.device(device) if device is not None else default_device()
    transformer = _denoiser(pipe)
    done: list[str] = []

    parallel = options.parallel if options.parallel is not None and options.parallel.world_size > 1 else None
    backend = resolve_attention(options.attention, dev)
    if parallel is not None and parallel.ring > 1 and backend == "native":
        if dev.type != "cuda":
            raise OpenreelsError(
                "ring attention needs CUDA GPUs (no CPU kernel returns log-sum-exp); use ulysses=N"
            )
        backend = "_native_flash"  # ring attention merges partial results by log-sum-exp, which SDPA hides
    if backend != "native" or options.attention == "sdpa" or parallel is not None:
        _set_attention(transformer, backend)
        done.append(f"attention={backend}")

    if parallel is not None:
        from openreels.runtime.parallel import enable_parallel

        done.append(enable_parallel(pipe, parallel, dev))
        dev = torch.device("cuda", torch.cuda.current_device()) if dev.type == "cuda" else dev

    if options.quant == "fp8":
        done.append(quantize_fp8(transformer, dev, storage_only=options.offload != "none"))
    context_parallel = parallel is not None and parallel.ring * parallel.ulysses > 1
    if options.attention != "sdpa" and not context_parallel:  # context parallel installs these itself
        _drop_full_masks(transformer)

    if options.cache != "none":
        done.append(_apply_cache(pipe, transformer, options, num_inference_steps, mag_ratios))
        from openreels.runtime.cfg import on_pipeline_start

        # diffusers pipelines never reset cache hooks between generations; stale residuals would leak across.
        on_pipeline_start(pipe, lambda _result: transformer._reset_stateful_cache())

    if options.cfg_batching and (parallel is None or parallel.cfg == 1):
        from openreels.runtime.cfg import enable_cfg_batching

        enable_cfg_batching(pipe)
        done.append("cfg batching")

    if options.vae_tiling:
        vae = getattr(pipe, "vae", None)
        if vae is not None and hasattr(vae, "enable_tiling"):
            vae.enable_tiling()
            done.append("vae tiling")

    if options.compile:
        _compile(transformer, fullgraph=options.cache == "none")
        done.append("regional compile")

    if options.offload in ("model", "sequential") and dev.type != "cuda":
        note(f"--offload {options.offload} needs a GPU; keeping everything on {dev.type}")
    elif options.offload != "none":
        _offload(pipe, options.offload, dev)
        done.append(f"offload={options.offload}")
    elif hasattr(pipe, "to"):
        pipe.to(dev)

    try:
        pipe._openreels_runtime = ", ".join(done) or "plain diffusers defaults"
    except AttributeError:
        pass
    return pipe
