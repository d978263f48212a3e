"""Training a small diffusers AutoencoderKLWan, and encoding clips into normalised latents.

The objective is reconstruction (L1 + MSE in pixel space) plus a small KL term that keeps the latent
space smooth enough to diffuse in. No perceptual or adversarial term: their usual networks (VGG/LPIPS
weights) cannot be had offline, and the stage's flat colours and sharp edges reconstruct well without them.
After training, per-channel latent mean and std go into the VAE config (`latents_mean`, `latents_std`), where
the SkyReels-V2 pipelines read them to normalise latents, exactly as for the released Wan VAE.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from openreels.train.loop import DistInfo, LoopConfig, Trainer


class VAELoss(nn.Module):
    """Wraps the VAE so one forward returns the loss (DDP only synchronises through forward)."""

    def __init__(self, vae: nn.Module, kl_weight: float = 1e-4, mse_weight: float = 1.0) -> None:
        super().__init__()
        self.vae = vae
        self.kl_weight = kl_weight
        self.mse_weight = mse_weight

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        posterior = self.vae.encode(x).latent_dist
        z = posterior.sample(generator=generator)
        recon = self.vae.decode(z).sample.float()
        x = x.float()
        loss = (recon - x).abs().mean() + self.mse_weight * (recon - x).pow(2).mean()
        if self.kl_weight:  # KL to N(0, 1) per latent element
            kl = 0.5 * (
                posterior.mean.float().pow(2) + posterior.var.float() - 1.0 - posterior.logvar.float()
            )
            loss = loss + self.kl_weight * kl.mean()
        return loss


class DecoderLoss(nn.Module):
    """Decoder fine-tuning with the encoder frozen: the latent space (and a transformer trained in it) stays
    valid while the decoder learns full-length, full-size clips from the latents it will actually be given
    (the posterior mode, as the pipelines encode). `weight` (B, 1, T, H, W), optional: per-pixel loss weights
    (a weighted mean), to spend the decoder on small regions that matter more than their area (a face's mouth)."""

    def __init__(self, vae: nn.Module) -> None:
        super().__init__()
        self.vae = vae
        for name, p in vae.named_parameters():
            p.requires_grad_(name.startswith(("decoder.", "post_quant_conv.")))

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        with torch.no_grad():
            z = self.vae.encode(x).latent_dist.mode()
        err = self.vae.decode(z).sample.float() - x.float()
        loss = err.abs() + err.pow(2)
        if weight is None:
            return loss.mean()
        return (loss * weight).mean() / weight.mean()


def random_crops(
    g: torch.Generator, count: int, clips: int, shape: tuple[int, int, int], frames: int, side: int
) -> list[tuple[int, int, int, int]]:
    """`count` (clip, first frame, top, left) origins of `frames` x `side` x `side` crops of clips of `shape`
    (T, H, W): the VAE stages train on crops, which cost a fraction of whole clips and see the same detail."""
    t, h, w = shape
    idx = torch.randint(clips, (count,), generator=g).tolist()
    a = torch.randint(t - frames + 1, (count,), generator=g).tolist()
    y = torch.randint(h - side + 1, (count,), generator=g).tolist()
    x = torch.randint(w - side + 1, (count,), generator=g).tolist()
    return list(zip(idx, a, y, x, strict=True))


def train_autoencoder(
    name: str,
    loss: VAELoss | DecoderLoss,
    batches: Callable[[int, int], dict],
    loop: LoopConfig,
    workdir: str | Path,
    device: torch.device,
    batch_size: int,
    dist_info: DistInfo | None = None,
    log: Callable[[str], None] | None = None,
    pause_at: float | None = None,
) -> tuple[nn.Module, int]:
    """One VAE stage (`VAELoss` from scratch or `DecoderLoss` fine-tuning) through the shared `Trainer`, resumable
    from `<workdir>/<name>.ckpt`. Returns the trained VAE, frozen, and the steps it ran."""
    trainer = Trainer(
        name,
        loss,
        vae_loss_fn,
        batches,
        loop,
        workdir,
        device,
        dist_info,
        samples_per_batch=batch_size,
        log=log,
        pause_at=pause_at,
    )
    return trainer.run().vae.eval().requires_grad_(False), trainer.step


def vae_loss_fn(
    model: nn.Module, batch: dict, gen: torch.Generator, noise_gen: torch.Generator
) -> torch.Tensor:
    weight = {"weight": batch["weight"]} if "weight" in batch else {}
    return model(batch["video"], generator=noise_gen, **weight)


@torch.no_grad()
def encode_mode(vae: nn.Module, video: torch.Tensor) -> torch.Tensor:
    """Raw latents (posterior mode) of video (B, 3, T, H, W) in [-1, 1]; the pipelines encode with argmax too."""
    return vae.encode(video.to(vae.dtype)).latent_dist.mode()


def latent_stats(latents: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std over (N, C, F, H, W) raw latents, for the VAE config."""
    c = latents.shape[1]
    flat = latents.transpose(0, 1).reshape(c, -1).float()
    return flat.mean(dim=1).tolist(), flat.std(dim=1).clamp_min(1e-4).tolist()


def normalise(latents: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """(z - mean) / std per channel: the space the transformer is trained and sampled in."""
    shape = (1, -1, 1, 1, 1)
    m = torch.tensor(mean, device=latents.device, dtype=latents.dtype).view(shape)
    s = torch.tensor(std, device=latents.device, dtype=latents.dtype).view(shape)
    return (latents - m) / s
