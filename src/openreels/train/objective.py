"""The diffusion-forcing training objective, with the conditioning of every openreels model as options.

One objective trains the text-to-video DF model and the conditioned variants without a fork:

- `ChannelCondition`: extra input channels concatenated after the noisy latents on the channel axis. SkyReels-A1
  puts its landmark video here (rendered landmarks -> pose-guider VAE -> latents); SkyReels-A2 puts its condition
  video here (reference images' VAE latents as the first frames, zeros after) plus mask channels. The transformer
  is built with in_channels = latent channels + the conditions' channels.
- `TokenCondition`: extra tokens for the transformer's image cross-attention (`encoder_hidden_states_image`), as
  A2's reference-image tokens (and Wan I2V's CLIP tokens) enter. A condition that is an nn.Module (a jointly
  trained image encoder) has its parameters trained with the model.
- `forward`: how the network is called. The default calls a diffusers SkyReels-V2 / Wan transformer with
  per-frame timesteps; a model with another signature (A1's CogVideoX transformer, one timestep per sample)
  passes its own function and sets `ForcingConfig` to uniform noise levels.

`VPrediction` swaps the rectified-flow noising for DDPM noising with a v-prediction target on a scheduler's
cumulative alphas, as CogVideoX (and so A1) is trained and sampled by its DDIM/DPM schedulers.

Every condition has its own dropout probability so classifier-free guidance can drop text, references or
landmarks separately, as the inference pipelines guide on them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from openreels.train.flow import (
    ForcingConfig,
    add_noise,
    flow_loss,
    sample_sigmas,
    timesteps_from_sigmas,
    velocity_target,
)

ForwardFn = Callable[
    [nn.Module, torch.Tensor, torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor
]


@dataclass
class ChannelCondition:
    """Channels concatenated to the noisy latents: build(batch, x0) -> (B, channels, F, H, W)."""

    name: str
    channels: int
    build: Callable[[dict, torch.Tensor], torch.Tensor]
    drop_prob: float = 0.0


@dataclass
class TokenCondition:
    """Tokens for the image cross-attention: build(batch) -> (B, N, image_dim)."""

    name: str
    build: Callable[[dict], torch.Tensor]
    drop_prob: float = 0.0


@dataclass
class VPrediction:
    """DDPM noising with a v-prediction target on a scheduler's `alphas_cumprod` (T entries).

    A noise level s in [0, 1] becomes the integer timestep t = round(s (T - 1)); with a = alphas_cumprod[t],
    x_t = sqrt(a) x0 + sqrt(1 - a) e and the target is v = sqrt(a) e - sqrt(1 - a) x0 (diffusers' get_velocity).
    """

    alphas_cumprod: torch.Tensor

    def __call__(
        self, x0: torch.Tensor, noise: torch.Tensor, sigmas: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(noisy input, target, timesteps (B, F)) for x0 and noise (B, C, F, H, W) and sigmas (B, F)."""
        last = len(self.alphas_cumprod) - 1
        t = (sigmas.clamp(0, 1) * last).round().long()
        a = self.alphas_cumprod.to(x0.device, torch.float32)[t].to(x0.dtype)[:, None, :, None, None]
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
        return x_t, a.sqrt() * noise - (1 - a).sqrt() * x0, t.to(sigmas.dtype)


def skyreels_forward(
    model: nn.Module,
    x: torch.Tensor,
    timesteps: torch.Tensor,
    text: torch.Tensor,
    image_tokens: torch.Tensor | None,
) -> torch.Tensor:
    """A diffusers SkyReelsV2Transformer3DModel (or DDP around one) with one timestep per latent frame."""
    return model(
        hidden_states=x,
        timestep=timesteps,
        encoder_hidden_states=text,
        encoder_hidden_states_image=image_tokens,
        enable_diffusion_forcing=True,
        return_dict=False,
    )[0]


def _drop(x: torch.Tensor, prob: float, generator: torch.Generator | None, null: torch.Tensor | None = None):
    """Replace a random subset of the batch by `null` (zeros by default) for classifier-free guidance; with no
    generator (held-out loss), keep every item."""
    if prob <= 0 or generator is None:
        return x
    keep = (torch.rand(x.shape[0], generator=generator) >= prob).to(x.device)
    keep = keep.view(-1, *([1] * (x.dim() - 1)))
    null = torch.zeros_like(x) if null is None else null.to(x.device, x.dtype).expand_as(x)
    return torch.where(keep, x, null)


@dataclass
class DiffusionForcingObjective:
    """Flow-matching loss with per-frame noise levels and optional conditions.

    A batch holds "latents" (B, C, F, H, W, normalised VAE latents), "text" (B, L, D) and optionally
    "last_latent" (B, C, 1, H, W: the last video frame encoded alone, appended as a clean frame with
    probability `p_end_frame` so the model learns start/end-frame generation), "loss_weight" (B, 1, F, H, W:
    how much each latent position counts, see `flow_loss`) and whatever the conditions read.
    """

    forcing: ForcingConfig = field(default_factory=ForcingConfig)
    text_drop_prob: float = 0.1
    null_text: torch.Tensor | None = None  # the encoded empty prompt; zeros if None
    p_end_frame: float = 0.0
    channel_conditions: Sequence[ChannelCondition] = ()
    token_condition: TokenCondition | None = None
    forward: ForwardFn = skyreels_forward
    v_prediction: VPrediction | None = None  # None: rectified flow (Wan, SkyReels-V2)

    def trainable_modules(self) -> list[nn.Module]:
        """Conditions that learn with the model (e.g. a jointly trained reference-image encoder)."""
        conds = [*self.channel_conditions, self.token_condition]
        return [c.build for c in conds if c is not None and isinstance(c.build, nn.Module)]

    def with_modules(self, modules: Sequence[nn.Module]) -> DiffusionForcingObjective:
        """A copy whose trainable conditions are `modules`, in `trainable_modules` order (e.g. the EMA copies)."""
        swap = dict(zip(map(id, self.trainable_modules()), modules, strict=True))

        def new(c):
            return replace(c, build=swap[id(c.build)]) if c is not None and id(c.build) in swap else c

        return replace(
            self,
            channel_conditions=[new(c) for c in self.channel_conditions],
            token_condition=new(self.token_condition),
        )

    @torch.no_grad()
    def held_out_loss(
        self, model: nn.Module, batch: dict, sigmas: tuple[float, ...] = (0.25, 0.5, 0.75), seed: int = 0
    ) -> float:
        """Unweighted loss of a batch at fixed noise levels and fixed noise, every condition given (none
        dropped): the same every call, so it compares models on data they were not trained on."""
        x0 = batch["latents"]
        g = torch.Generator().manual_seed(seed)
        losses = []
        for s in sigmas:
            noise = torch.randn(x0.shape, generator=g).to(x0)
            sig = torch.full(x0.shape[:1] + x0.shape[2:3], s, device=x0.device)
            x_in, target, timesteps, text, tokens = self._inputs(x0, noise, sig, batch, None)
            pred = self.forward(model, x_in, timesteps, text, tokens)
            losses.append(float((pred.float() - target.float()).pow(2).mean()))
        return sum(losses) / len(losses)

    def _inputs(self, x0, noise, sigmas, batch: dict, generator: torch.Generator | None) -> tuple:
        """(noisy input with the condition channels, target, timesteps, text, image tokens); conditions are
        dropped at their rates with `generator`, all given without."""
        if self.v_prediction is not None:
            x_in, target, timesteps = self.v_prediction(x0, noise, sigmas)
        else:
            x_in, target = add_noise(x0, noise, sigmas), velocity_target(x0, noise)
            timesteps = timesteps_from_sigmas(sigmas)
        if self.channel_conditions:
            extra = [_drop(c.build(batch, x0), c.drop_prob, generator) for c in self.channel_conditions]
            x_in = torch.cat([x_in, *[e.to(x_in.dtype) for e in extra]], dim=1)
        text = _drop(batch["text"], self.text_drop_prob, generator, self.null_text)
        tokens = None
        if self.token_condition is not None:
            tokens = _drop(self.token_condition.build(batch), self.token_condition.drop_prob, generator)
        return x_in, target, timesteps, text, tokens

    def __call__(
        self,
        model: nn.Module,
        batch: dict,
        generator: torch.Generator,
        noise_generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        x0 = batch["latents"]
        b = x0.shape[0]
        sigmas, clean = sample_sigmas(b, x0.shape[2], self.forcing, generator)
        if (
            self.p_end_frame > 0
            and "last_latent" in batch
            and torch.rand((), generator=generator) < self.p_end_frame
        ):
            x0 = torch.cat([x0, batch["last_latent"].to(x0)], dim=2)
            sigmas = torch.cat([sigmas, torch.zeros(b, 1)], dim=1)
            clean = torch.cat([clean, torch.ones(b, 1, dtype=torch.bool)], dim=1)
        noise = torch.randn(x0.shape, generator=noise_generator, device=x0.device, dtype=x0.dtype)
        x_in, target, timesteps, text, tokens = self._inputs(
            x0, noise, sigmas.to(x0.device), batch, generator
        )
        pred = self.forward(model, x_in, timesteps, text, tokens)
        weight = batch.get("loss_weight")
        if weight is not None and weight.shape[2] < x0.shape[2]:  # an appended end frame counts plainly
            ones = weight.new_ones(*weight.shape[:2], x0.shape[2] - weight.shape[2], *weight.shape[3:])
            weight = torch.cat([weight, ones], dim=2)
        return flow_loss(pred, target, clean.to(x0.device), weight)
