"""Rectified-flow (flow-matching) objective with diffusion forcing, as Wan and SkyReels-V2 train it.

A clean latent video x0 and Gaussian noise e are mixed per latent frame: x_s = (1 - s) * x0 + s * e, where s in
[0, 1] is that frame's noise level (sigma). The model sees x_s and the timestep 1000 * s of every frame and
predicts the velocity e - x0. Diffusion forcing draws s independently per frame (or per causal block) and
sometimes holds a prefix (or the last frame) clean, so one network learns text-to-video (all frames noisy),
image-to-video and extension (clean first frames), start/end frames (clean last frame) and long video (windows
conditioned on earlier clean frames). Inference samplers in diffusers use the same convention: timesteps are
1000 * shifted sigma, and a clean conditioning frame is fed at timestep 0 (or a small `addnoise_condition`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def shift_sigma(sigma: torch.Tensor, shift: float) -> torch.Tensor:
    """The SD3/Wan timestep shift: s' = k s / (1 + (k - 1) s); k > 1 spends more training on high noise."""
    return shift * sigma / (1.0 + (shift - 1.0) * sigma)


@dataclass
class ForcingConfig:
    """How noise levels are drawn per sample. The mode probabilities are normalised; each sample picks one.

    - uniform: one sigma for all frames (synchronous full-sequence denoising, as t2v runs it)
    - independent: one sigma per causal block (diffusion forcing); half of these sorted so later blocks are
      noisier, as asynchronous inference sees them
    - prefix: the first k frames clean (k >= 1, drawn), the rest share one sigma (i2v, extension, long video)
    - prefix_independent: clean prefix, then independent per-block sigmas
    """

    shift: float = 3.0
    block_size: int = 1
    p_uniform: float = 0.4
    p_independent: float = 0.2
    p_prefix: float = 0.3
    p_prefix_independent: float = 0.1
    max_prefix: int | None = None  # most clean prefix frames; None means all but one frame
    # Inference's `addnoise_condition` feeds clean prefix frames at a small noise level (t = 20 -> s = 0.02);
    # this fraction of prefixes trains on such a level instead of exactly zero.
    p_noisy_prefix: float = 0.3
    max_prefix_sigma: float = 0.05
    logit_normal: bool = False  # draw base sigmas from a logit-normal (SD3) instead of uniform

    def probabilities(self) -> torch.Tensor:
        p = torch.tensor([self.p_uniform, self.p_independent, self.p_prefix, self.p_prefix_independent])
        if (p < 0).any() or p.sum() <= 0:
            raise ValueError("ForcingConfig mode probabilities must be non-negative and not all zero")
        return p / p.sum()


MODES = ("uniform", "independent", "prefix", "prefix_independent")


def _base_sigma(
    shape: tuple[int, ...], cfg: ForcingConfig, generator: torch.Generator | None
) -> torch.Tensor:
    if cfg.logit_normal:
        u = torch.sigmoid(torch.randn(shape, generator=generator))
    else:
        u = torch.rand(shape, generator=generator)
    return shift_sigma(u, cfg.shift)


def sample_sigmas(
    batch: int,
    frames: int,
    cfg: ForcingConfig,
    generator: torch.Generator | None = None,
    modes: list[str] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame noise levels for a batch of latent videos.

    Returns (sigmas, clean): sigmas (batch, frames) in [0, 1]; clean (batch, frames) bool, True for the
    conditioning frames (clean prefix) that carry no loss. `modes` forces one mode per sample (tests).
    Runs on the CPU generator so a seed gives the same schedule on every device.
    """
    bs = max(1, cfg.block_size)
    blocks = -(-frames // bs)  # a ragged last block is a block too (the tail is never left out)
    probs = cfg.probabilities()
    if modes is None:
        picks = torch.multinomial(probs, batch, replacement=True, generator=generator).tolist()
        modes = [MODES[i] for i in picks]
    sigmas = torch.empty(batch, frames)
    clean = torch.zeros(batch, frames, dtype=torch.bool)
    max_prefix_blocks = max(1, (cfg.max_prefix or (frames - 1)) // bs if frames > 1 else 1)
    max_prefix_blocks = min(max_prefix_blocks, max(blocks - 1, 1))
    for i, mode in enumerate(modes):
        if mode in ("independent", "prefix_independent"):
            per_block = _base_sigma((blocks,), cfg, generator)
            if torch.rand((), generator=generator) < 0.5:
                per_block = per_block.sort().values  # later blocks noisier, as the async schedule runs
        else:
            per_block = _base_sigma((1,), cfg, generator).expand(blocks)
        row = per_block.repeat_interleave(bs)[:frames]
        if mode in ("prefix", "prefix_independent") and frames > 1:
            k_blocks = int(torch.randint(1, max_prefix_blocks + 1, (), generator=generator))
            k = min(k_blocks * bs, frames - 1)
            level = 0.0
            if torch.rand((), generator=generator) < cfg.p_noisy_prefix:
                level = float(torch.rand((), generator=generator)) * cfg.max_prefix_sigma
            row = row.clone()
            row[:k] = level
            clean[i, :k] = True
        sigmas[i] = row
    return sigmas, clean


def add_noise(x0: torch.Tensor, noise: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """x_s = (1 - s) x0 + s e with one s per latent frame; x0 and noise are (B, C, F, H, W), sigmas (B, F)."""
    s = sigmas.to(x0.dtype)[:, None, :, None, None]
    return (1.0 - s) * x0 + s * noise


def velocity_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The rectified-flow velocity dx/ds = e - x0 (what diffusers' flow_prediction schedulers expect)."""
    return noise - x0


def timesteps_from_sigmas(sigmas: torch.Tensor) -> torch.Tensor:
    """Model timesteps: 1000 * sigma (the samplers pass 999 ... 0 per frame)."""
    return sigmas * 1000.0


def flow_loss(
    pred: torch.Tensor, target: torch.Tensor, clean: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean squared velocity error over the frames that were noised (clean conditioning frames excluded).
    `weight` (B, 1, F, H, W), optional, scales each latent position's error (e.g. up on a face region)."""
    err = (pred.float() - target.float()).pow(2)
    if weight is not None:
        err = err * weight.float()
    err = err.mean(dim=(1, 3, 4))  # (B, F)
    weight = (~clean).to(err.dtype)
    return (err * weight).sum() / weight.sum().clamp_min(1.0)
