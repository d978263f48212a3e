"""CFG batching and CFG parallel for diffusers pipelines that call the transformer twice per step.

Hand-written because diffusers' SkyReels-V2 and HunyuanVideo pipelines run the cond and uncond branches as two
sequential transformer calls and offer no hook to merge them. We learn both branches' text inputs from
`encode_prompt` (wrapped), and on the cond call run both branches at once: as one batch of two (batching), or
one branch per rank group followed by an all-gather (CFG parallel). The uncond call then returns the stored
result. Any call we do not recognise runs unchanged."""

from __future__ import annotations

import functools
from typing import Any

import torch
from diffusers.hooks.hooks import HookRegistry, ModelHook

_HOOK = "openreels_cfg"
# Transformer keyword arguments that differ between the two guidance branches.
BRANCH_KEYS = ("encoder_hidden_states", "encoder_attention_mask", "pooled_projections")


class _Branches:
    """Text inputs of each guidance branch, as produced by the pipeline's encode_prompt for the current call."""

    def __init__(self) -> None:
        self.cond: dict[str, torch.Tensor] | None = None
        self.uncond: dict[str, torch.Tensor] | None = None
        self._pending: list[dict[str, torch.Tensor]] = []

    def record(self, result: Any) -> None:
        if not isinstance(result, tuple):
            return
        tensors = [t for t in result if isinstance(t, torch.Tensor)]
        if len(result) == 2 and len(tensors) == 2 and tensors[0].dim() == 3:
            # SkyReels-V2 / Wan: (prompt_embeds, negative_prompt_embeds)
            self.cond = {"encoder_hidden_states": result[0]}
            self.uncond = {"encoder_hidden_states": result[1]}
        elif len(result) == 3 and len(tensors) == 3:
            # HunyuanVideo: (embeds, pooled, mask), called once per branch: first cond, then uncond
            self._pending.append(
                {
                    "encoder_hidden_states": result[0],
                    "pooled_projections": result[1],
                    "encoder_attention_mask": result[2],
                }
            )
            if len(self._pending) == 2:
                self.cond, self.uncond = self._pending
                self._pending = []
        else:
            return

    def reset(self) -> None:
        self.cond = self.uncond = None
        self._pending = []

    def role(self, kwargs: dict) -> str | None:
        ehs = kwargs.get("encoder_hidden_states")
        if ehs is None or self.cond is None or self.uncond is None:
            return None
        for name, branch in (("cond", self.cond), ("uncond", self.uncond)):
            ref = branch["encoder_hidden_states"]
            if ref.shape == ehs.shape and (ref.data_ptr() == ehs.data_ptr() or torch.equal(ref.to(ehs), ehs)):
                return name
        return None


def _expand(value: Any, batch: int, copies: int) -> Any:
    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == batch:
        return torch.cat([value] * copies)
    if isinstance(value, list) and len(value) == batch:
        return value * copies
    return value


def _branch_inputs(kwargs: dict, branches: _Branches) -> tuple[dict, dict]:
    """Cond and uncond kwargs, with text inputs trimmed to one common length when masks allow it."""
    cond = dict(kwargs)
    uncond = dict(kwargs)
    for key in BRANCH_KEYS:
        if key in kwargs and key in branches.uncond:
            uncond[key] = branches.uncond[key].to(device=kwargs[key].device, dtype=kwargs[key].dtype)
    mask_c, mask_u = cond.get("encoder_attention_mask"), uncond.get("encoder_attention_mask")
    if mask_c is not None and mask_u is not None and mask_c.shape != mask_u.shape:
        keep = int(max(mask_c.sum(1).max(), mask_u.sum(1).max()))
        for d in (cond, uncond):
            d["encoder_attention_mask"] = d["encoder_attention_mask"][:, :keep]
            d["encoder_hidden_states"] = d["encoder_hidden_states"][:, :keep]
    return cond, uncond


def _split(output: Any, parts: int) -> list[Any]:
    if isinstance(output, torch.Tensor):
        return list(output.chunk(parts))
    if isinstance(output, tuple):
        pieces = [_split(o, parts) if isinstance(o, torch.Tensor) else [o] * parts for o in output]
        return [tuple(p[i] for p in pieces) for i in range(parts)]
    if hasattr(output, "sample"):
        return [type(output)(sample=s) for s in output.sample.chunk(parts)]
    raise TypeError(f"cannot split transformer output of type {type(output).__name__}")


def _join(outputs: list[Any]) -> Any:
    first = outputs[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(outputs)
    if isinstance(first, tuple):
        return tuple(
            _join([o[i] for o in outputs]) if isinstance(first[i], torch.Tensor) else first[i]
            for i in range(len(first))
        )
    return type(first)(sample=torch.cat([o.sample for o in outputs]))


class CFGHook(ModelHook):
    """On the cond call, compute both branches (batched, or split over a process group); serve uncond from store."""

    def __init__(self, branches: _Branches, group: Any = None) -> None:
        super().__init__()
        self.branches = branches
        self.group = group  # torch.distributed group of 2 ranks for CFG parallel; None means batching
        self._stored: tuple[torch.Tensor, Any] | None = None

    def new_forward(self, module, *args, **kwargs):
        role = self.branches.role(kwargs) if not args else None
        hidden = kwargs.get("hidden_states")
        if role == "uncond" and self._stored is not None and self._stored[0] is hidden:
            output = self._stored[1]
            self._stored = None
            return output
        if role != "cond" or hidden is None:
            return self.fn_ref.original_forward(*args, **kwargs)
        cond, uncond = _branch_inputs(kwargs, self.branches)
        if self.group is None:
            batch = hidden.shape[0]
            merged = {k: _expand(v, batch, 2) for k, v in cond.items()}
            for key in BRANCH_KEYS:
                if key in cond and cond[key] is not None:
                    merged[key] = torch.cat([cond[key], uncond[key]])
            out_c, out_u = _split(self.fn_ref.original_forward(**merged), 2)
        else:
            import torch.distributed as dist

            mine = cond if dist.get_rank(self.group) == 0 else uncond
            local = self.fn_ref.original_forward(**mine)
            out_c, out_u = _gather_branches(local, self.group)
        self._stored = (hidden, out_u)
        return out_c


def _gather_branches(local: Any, group: Any) -> tuple[Any, Any]:
    import torch.distributed as dist

    tensor = (
        local if isinstance(local, torch.Tensor) else (local[0] if isinstance(local, tuple) else local.sample)
    )
    gathered = [torch.empty_like(tensor) for _ in range(2)]
    dist.all_gather(gathered, tensor.contiguous(), group=group)

    def wrap(t: torch.Tensor) -> Any:
        if isinstance(local, torch.Tensor):
            return t
        if isinstance(local, tuple):
            return (t, *local[1:])
        return type(local)(sample=t)

    return wrap(gathered[0]), wrap(gathered[1])


def on_pipeline_start(pipe: Any, callback) -> None:
    """Wrap pipe.encode_prompt (called at the start of every generation) to run `callback(result)` after it."""
    encode = getattr(pipe, "encode_prompt", None)
    if encode is None:
        return
    original = getattr(encode, "__openreels_original__", encode)
    callbacks = getattr(encode, "__openreels_callbacks__", [])
    callbacks.append(callback)

    @functools.wraps(original)
    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        for cb in callbacks:
            cb(result)
        return result

    wrapped.__openreels_original__ = original
    wrapped.__openreels_callbacks__ = callbacks
    pipe.encode_prompt = wrapped


def enable_cfg_batching(pipe: Any, group: Any = None) -> None:
    """Batch (or, with a 2-rank `group`, parallelise) the two guidance branches of every denoising step."""
    transformer = pipe.transformer
    branches = _Branches()
    hook = CFGHook(branches, group)
    first_encode = [True]

    def record(result):
        # The pipeline encodes cond then (for Hunyuan) uncond; a new generation starts with a fresh record.
        if first_encode[0] or branches.cond is not None:
            branches.reset()
            hook._stored = None
        first_encode[0] = False
        branches.record(result)

    on_pipeline_start(pipe, record)
    HookRegistry.check_if_exists_or_initialize(transformer).register_hook(hook, _HOOK)
