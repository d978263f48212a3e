"""TeaCache-style step caching that also works under diffusion forcing.

Written by hand because diffusers ships no TeaCache hook, and the original TeaCache reads one scalar timestep per
call, which breaks diffusion forcing's per-frame timesteps (users report black or noisy output). Here the skip
signal is the first block's *modulated input*, built from whatever timestep embedding the block receives
(one per sample or one per frame token), so per-frame noise levels are measured, not assumed.

When the accumulated relative L1 change of that signal since the last full forward stays under the threshold,
all blocks are skipped and the last full forward's residual (blocks' output - blocks' input) is reused. State is
kept per cache context ("cond"/"uncond") and reset when the token count changes (a new DF window)."""

from __future__ import annotations

import torch
from diffusers.hooks._helpers import TransformerBlockRegistry
from diffusers.hooks.hooks import BaseState, HookRegistry, ModelHook, StateManager

_HEAD = "openreels_teacache_head"
_BLOCK = "openreels_teacache_block"


class TeaCacheState(BaseState):
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prev_signal: torch.Tensor | None = None
        self.accumulated = 0.0
        self.residual: tuple[torch.Tensor, torch.Tensor | None] | None = None
        self.head_input: tuple[torch.Tensor, torch.Tensor | None] | None = None
        self.skip = False


def _modulated_input(block: torch.nn.Module, hidden: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
    """The first block's norm1(x) * (1 + scale) + shift, from a per-sample or per-token timestep embedding."""
    name = type(block).__name__
    if name.startswith(("SkyReelsV2", "Wan")):
        table = block.scale_shift_table
        if temb.dim() == 4:  # diffusion forcing: (b, 6, tokens, dim)
            shift, scale = (table.unsqueeze(2) + temb.float())[:, :2].unbind(1)
        else:  # (b, 6, dim)
            shift, scale = (table + temb.float())[:, :2].unsqueeze(2).unbind(1)
        return block.norm1(hidden.float()) * (1 + scale) + shift
    if hasattr(block, "norm1"):
        try:
            return block.norm1(hidden, emb=temb)[0]
        except TypeError:
            pass
    return hidden


def _arg(args: tuple, kwargs: dict, name: str, index: int):
    return kwargs[name] if name in kwargs else (args[index] if len(args) > index else None)


class _TeaHead(ModelHook):
    _is_stateful = True

    def __init__(self, state: StateManager, threshold: float, single_block: bool) -> None:
        super().__init__()
        self.state = state
        self.threshold = threshold
        self.single_block = single_block
        # Calls and skips per cache context; kept outside the state, which pipelines reset when they finish.
        self.counts: dict[str, list[int]] = {}

    def initialize_hook(self, module):
        self.meta = TransformerBlockRegistry.get(type(module))
        return module

    def new_forward(self, module, *args, **kwargs):
        st: TeaCacheState = self.state.get_state()
        hidden = _arg(args, kwargs, "hidden_states", 0)
        encoder = _arg(args, kwargs, "encoder_hidden_states", 1)
        temb = _arg(args, kwargs, "temb", 2)
        with torch.no_grad():
            signal = _modulated_input(module, hidden, temb)
        counts = self.counts.setdefault(self.state.context.name, [0, 0])
        counts[0] += 1
        if st.prev_signal is not None and st.prev_signal.shape != signal.shape:
            st.reset()
        if st.prev_signal is not None and st.residual is not None:
            change = (
                (signal - st.prev_signal).abs().mean() / st.prev_signal.abs().mean().clamp_min(1e-12)
            ).item()
            st.accumulated += change
        st.prev_signal = signal
        st.skip = st.residual is not None and st.accumulated < self.threshold
        if st.skip:
            counts[1] += 1
            out_h = hidden + st.residual[0]
            if self.meta.return_encoder_hidden_states_index is None:
                return out_h
            out = [None, None]
            out[self.meta.return_hidden_states_index] = out_h
            out[self.meta.return_encoder_hidden_states_index] = encoder + st.residual[1]
            return tuple(out)
        st.accumulated = 0.0
        st.head_input = (
            hidden,
            encoder if self.meta.return_encoder_hidden_states_index is not None else None,
        )
        output = self.fn_ref.original_forward(*args, **kwargs)
        if self.single_block:
            _store_residual(st, self.meta, output)
        return output

    def reset_state(self, module):
        self.state.reset()
        return module


def _store_residual(st: TeaCacheState, meta, output) -> None:
    if isinstance(output, tuple):
        h = output[meta.return_hidden_states_index] - st.head_input[0]
        e = None
        if meta.return_encoder_hidden_states_index is not None:
            e = output[meta.return_encoder_hidden_states_index] - st.head_input[1]
        st.residual = (h, e)
    else:
        st.residual = (output - st.head_input[0], None)


class _TeaBlock(ModelHook):
    def __init__(self, state: StateManager, is_tail: bool) -> None:
        super().__init__()
        self.state = state
        self.is_tail = is_tail

    def initialize_hook(self, module):
        self.meta = TransformerBlockRegistry.get(type(module))
        return module

    def new_forward(self, module, *args, **kwargs):
        st: TeaCacheState = self.state.get_state()
        if not st.skip:
            output = self.fn_ref.original_forward(*args, **kwargs)
            if self.is_tail:
                _store_residual(st, self.meta, output)
            return output
        hidden = _arg(args, kwargs, "hidden_states", 0)
        if self.meta.return_encoder_hidden_states_index is None:
            return hidden
        out = [None, None]
        out[self.meta.return_hidden_states_index] = hidden
        out[self.meta.return_encoder_hidden_states_index] = _arg(args, kwargs, "encoder_hidden_states", 1)
        return tuple(out)


def _blocks(transformer: torch.nn.Module) -> list[torch.nn.Module]:
    names = ("blocks", "transformer_blocks", "single_transformer_blocks")
    return [b for n in names for b in getattr(transformer, n, None) or []]


def apply_teacache(transformer: torch.nn.Module, threshold: float) -> None:
    """Attach the hooks; the transformer must be called inside `cache_context(name)` (diffusers pipelines are)."""
    blocks = _blocks(transformer)
    if not blocks:
        raise ValueError(f"{type(transformer).__name__} has no transformer block list for teacache")
    state = StateManager(TeaCacheState)
    head = _TeaHead(state, threshold, single_block=len(blocks) == 1)
    HookRegistry.check_if_exists_or_initialize(blocks[0]).register_hook(head, _HEAD)
    for i, block in enumerate(blocks[1:], start=1):
        HookRegistry.check_if_exists_or_initialize(block).register_hook(
            _TeaBlock(state, is_tail=i == len(blocks) - 1), _BLOCK
        )
    transformer._openreels_teacache = head


def teacache_stats(transformer: torch.nn.Module) -> dict[str, int]:
    """Transformer calls and skipped calls per cache context since teacache was applied."""
    head: _TeaHead | None = getattr(transformer, "_openreels_teacache", None)
    if head is None:
        return {}
    return {
        f"{name}_{k}": v[i] for name, v in head.counts.items() for i, k in enumerate(("calls", "skipped"))
    }
