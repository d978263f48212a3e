"""Several GPUs under torchrun: context parallel (Ulysses x ring) with our own plans for the SkyReels-V2 and
HunyuanVideo transformers (diffusers ships none), CFG parallel, VAE decode split across ranks, rank-0-only
writing and weights read from disk once per node.

    torchrun --nproc-per-node 8 -m openreels generate ... --parallel ulysses=4,cfg=2

Ranks form a (cfg, ring, ulysses) mesh. Context parallel shards the token sequence inside each cfg group;
CFG parallel gives each of the two groups one guidance branch (runtime/cfg.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist

from openreels.errors import OpenreelsError
from openreels.runtime.options import ParallelSpec


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def is_writer() -> bool:
    """Only global rank 0 writes files or prints results."""
    return rank() == 0


def init_distributed() -> torch.device:
    """Join the torchrun process group (nccl on GPUs, gloo on CPU) and return this rank's device."""
    if "RANK" not in os.environ and not is_distributed():
        raise OpenreelsError(
            "--parallel needs several processes: launch with torchrun --nproc-per-node N -m openreels ..."
        )
    cuda = torch.cuda.is_available()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    if not is_distributed():
        dist.init_process_group("nccl" if cuda else "gloo")
    return torch.device("cuda", local) if cuda else torch.device("cpu")


# ---------------------------------------------------------------- context-parallel plans


def _skyreels_plan(transformer: torch.nn.Module) -> dict[str, Any]:
    from diffusers.models._modeling_parallel import ContextParallelInput, ContextParallelOutput

    last = len(transformer.blocks) - 1
    return {
        # RoPE tables (1, tokens, 1, dim): shard the module's outputs along tokens.
        "rope": {
            0: ContextParallelInput(split_dim=1, expected_dims=4, split_output=True),
            1: ContextParallelInput(split_dim=1, expected_dims=4, split_output=True),
        },
        "blocks.0": {"hidden_states": ContextParallelInput(split_dim=1, expected_dims=3)},
        # Diffusion forcing gives every token its own modulation (b, 6, tokens, dim): shard it for each block.
        # The 3-D per-sample form is left whole (expected_dims).
        "blocks.*": {"temb": ContextParallelInput(split_dim=2, expected_dims=4)},
        # Gather after the last block, not at proj_out: the output norm's per-token DF shift/scale are built
        # inline from the full-length embedding, so the head runs on the whole sequence.
        f"blocks.{last}": ContextParallelOutput(gather_dim=1, expected_dims=3),
    }


def _hunyuan_plan(transformer: torch.nn.Module) -> dict[str, Any]:
    from diffusers.models._modeling_parallel import ContextParallelInput, ContextParallelOutput

    last = len(transformer.single_transformer_blocks) - 1
    return {
        # RoPE tables (video tokens, dim).
        "rope": {
            0: ContextParallelInput(split_dim=0, expected_dims=2, split_output=True),
            1: ContextParallelInput(split_dim=0, expected_dims=2, split_output=True),
        },
        # Joint attention over [video; text]: both streams are sharded, so the gathered sequence holds every
        # text token exactly once (a replicated text stream would be counted once per rank).
        "transformer_blocks.0": {
            "hidden_states": ContextParallelInput(split_dim=1, expected_dims=3),
            "encoder_hidden_states": ContextParallelInput(split_dim=1, expected_dims=3),
        },
        f"single_transformer_blocks.{last}": [
            ContextParallelOutput(gather_dim=1, expected_dims=3),
            ContextParallelOutput(gather_dim=1, expected_dims=3),
        ],
    }


CP_PLANS: dict[str, Callable[[torch.nn.Module], dict[str, Any]]] = {
    "SkyReelsV2Transformer3DModel": _skyreels_plan,
    "HunyuanVideoTransformer3DModel": _hunyuan_plan,
}


def cp_plan_for(transformer: torch.nn.Module) -> dict[str, Any]:
    name = type(transformer).__name__
    if name in CP_PLANS:
        return CP_PLANS[name](transformer)
    if getattr(transformer, "_cp_plan", None):
        return transformer._cp_plan
    raise OpenreelsError(f"no context-parallel plan for {name}; use --parallel cfg=2 only")


def _enable_context_parallel(
    transformer: torch.nn.Module, spec: ParallelSpec, mesh, device: torch.device
) -> None:
    """What ModelMixin.enable_parallelism does, with our plan and our mesh (its own picks a device per rank
    from the accelerator count, which fails on CPU/gloo)."""
    from diffusers.hooks.context_parallel import apply_context_parallel
    from diffusers.models._modeling_parallel import ContextParallelConfig, ParallelConfig
    from diffusers.models.attention import AttentionModuleMixin
    from diffusers.models.attention_processor import Attention

    if getattr(transformer.config, "num_frame_per_block", 1) > 1:
        raise OpenreelsError(
            "context parallel needs full attention; use synchronous diffusion forcing (ar_step 0)"
        )
    heads = transformer.config.num_attention_heads
    if heads % spec.ulysses:
        raise OpenreelsError(f"ulysses={spec.ulysses} must divide the model's {heads} attention heads")
    cp = ContextParallelConfig(ring_degree=spec.ring, ulysses_degree=spec.ulysses)
    config = ParallelConfig(context_parallel_config=cp)
    config.setup(dist.get_rank(), dist.get_world_size(), device, mesh=mesh["ring", "ulysses"])
    transformer._parallel_config = config
    for module in transformer.modules():
        if isinstance(module, (Attention, AttentionModuleMixin)) and hasattr(
            module.processor, "_parallel_config"
        ):
            module.processor._parallel_config = config
    apply_context_parallel(transformer, cp, cp_plan_for(transformer))


def enable_parallel(pipe: Any, spec: ParallelSpec, device: torch.device) -> str:
    """Shard `pipe` over the torchrun ranks according to `spec`; returns a description."""
    device = init_distributed() if not is_distributed() else device
    if dist.get_world_size() != spec.world_size:
        raise OpenreelsError(
            f"--parallel {spec} needs {spec.world_size} processes but torchrun started {dist.get_world_size()}"
        )
    from torch.distributed.device_mesh import init_device_mesh

    mesh = init_device_mesh(
        device.type, (spec.cfg, spec.ring, spec.ulysses), mesh_dim_names=("cfg", "ring", "ulysses")
    )
    transformer = pipe.transformer
    if device.type == "cuda":
        pipe.to(device)
    if spec.ring * spec.ulysses > 1:
        _enable_context_parallel(transformer, spec, mesh, device)
        from openreels.runtime.apply import _drop_full_masks

        _drop_full_masks(transformer)  # HunyuanVideo: trimmed text, no mask, as CP attention requires
    if spec.cfg == 2:
        from openreels.runtime.cfg import enable_cfg_batching

        enable_cfg_batching(pipe, group=mesh["cfg"].get_group())
    vae = getattr(pipe, "vae", None)
    if vae is not None:
        split_vae_decode(vae, mesh)
    return f"parallel {spec} over {dist.get_world_size()} ranks"


# ---------------------------------------------------------------- VAE decode across ranks


def split_vae_decode(vae: torch.nn.Module, mesh=None, halo: int = 8) -> None:
    """Each rank decodes one vertical strip of the latent (plus `halo` latent columns of context on each side);
    strips are cropped and gathered. Lossy only at strip seams, where the halo covers most of the VAE's
    receptive field."""
    if not is_distributed() or dist.get_world_size() == 1:
        return
    group = None if mesh is None else mesh._flatten().get_group() if mesh.ndim > 1 else mesh.get_group()
    world = dist.get_world_size(group)
    me = dist.get_rank(group)
    original = vae.decode

    def decode(z: torch.Tensor, *args, **kwargs):
        width = z.shape[-1]
        if width < 2 * world:
            return original(z, *args, **kwargs)
        bounds = [round(i * width / world) for i in range(world + 1)]
        lo, hi = bounds[me], bounds[me + 1]
        out = original(z[..., max(0, lo - halo) : min(width, hi + halo)], *args, **kwargs)
        sample = out[0] if isinstance(out, tuple) else out.sample
        scale = sample.shape[-1] // (min(width, hi + halo) - max(0, lo - halo))
        strip = sample[..., (lo - max(0, lo - halo)) * scale :][..., : (hi - lo) * scale].contiguous()
        widths = [(bounds[i + 1] - bounds[i]) * scale for i in range(world)]
        pieces = [strip.new_empty(*strip.shape[:-1], w) for w in widths]
        dist.all_gather(pieces, strip, group=group)
        full = torch.cat(pieces, dim=-1)
        if isinstance(out, tuple):
            return (full, *out[1:])
        return type(out)(sample=full)

    vae.decode = decode


# ---------------------------------------------------------------- loading


def load_once_per_node(loader: Callable[[], Any]) -> Any:
    """Run `loader` on local rank 0 first, then on the node's other ranks: they read the weights from the page
    cache rank 0 just filled instead of all hitting the disk at once (the originals' 20-minute 8-GPU start)."""
    if not is_distributed():
        return loader()
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if local == 0:
        try:
            return loader()
        finally:  # also on failure: the other ranks then try, fail the same way and exit, instead of hanging
            dist.barrier()
    dist.barrier()
    return loader()
