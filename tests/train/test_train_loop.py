"""A few training steps lower the loss; the A1/A2 conditioning options train through the same objective."""

import torch
from diffusers import SkyReelsV2Transformer3DModel
from torch import nn

from openreels.train import (
    ChannelCondition,
    DiffusionForcingObjective,
    ForcingConfig,
    LoopConfig,
    TokenCondition,
    Trainer,
)


def _transformer(in_channels=4, image_dim=None):
    torch.manual_seed(0)
    return SkyReelsV2Transformer3DModel(
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=in_channels,
        out_channels=4,
        text_dim=8,
        freq_dim=32,
        ffn_dim=64,
        num_layers=2,
        image_dim=image_dim,
        added_kv_proj_dim=None if image_dim is None else 32,
    )


def _data(n=16):
    g = torch.Generator().manual_seed(0)
    # structured latents: each sample is one of 4 constant patterns tied to its "text" token
    patterns = torch.randn(4, 4, 1, 1, 1, generator=g)
    labels = torch.arange(n) % 4
    latents = patterns[labels].expand(-1, -1, 3, 4, 4).clone()
    text = torch.nn.functional.one_hot(labels, 8).float()[:, None, :].expand(-1, 6, -1).clone()
    return latents, text


def test_few_steps_lower_the_loss(tmp_path):
    latents, text = _data()
    objective = DiffusionForcingObjective(forcing=ForcingConfig(shift=1.0), text_drop_prob=0.0)
    losses = []

    def batches(step, rank):
        return {"latents": latents, "text": text}

    def loss_fn(model, batch, gen, noise_gen):
        # the same noise and levels every step, so the curve measures learning rather than sampling luck
        fixed = torch.Generator().manual_seed(1)
        loss = objective(model, batch, fixed, torch.Generator().manual_seed(2))
        losses.append(float(loss.detach()))
        return loss

    cfg = LoopConfig(steps=25, lr=3e-3, warmup=1, ema_decay=0.999, ckpt_every=100, log_every=100)
    lines = []
    model = _transformer()
    init = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer = Trainer("t", model, loss_fn, batches, cfg, tmp_path, torch.device("cpu"), log=lines.append)
    ema_model = trainer.run()
    assert losses[-1] < 0.6 * losses[0], losses
    assert trainer.step == 25 and (tmp_path / "t.ckpt").exists()
    assert any("loss" in line and "samples/s" in line for line in lines)  # the progress line
    # EMA weights are returned; they differ from the raw weights but, thanks to the decay warm-up, keep
    # little of the random init even though 0.999 ** 25 would leave 98% of it
    raw = dict(trainer.model.named_parameters())
    assert any(not torch.equal(p, raw[n]) for n, p in ema_model.named_parameters())
    ema_gap = sum((p - raw[n]).norm() for n, p in ema_model.named_parameters())
    init_gap = sum((init[n] - raw[n]).norm() for n, _ in ema_model.named_parameters())
    assert ema_gap < 0.5 * init_gap


def test_landmark_channels_and_reference_tokens_train_through_the_same_objective(tmp_path):
    """A1: landmark latents concatenated on channels. A2: condition video + mask channels, plus image
    tokens from a jointly trained encoder through the image cross-attention."""
    latents, text = _data(4)
    landmarks = torch.randn(4, 4, 3, 4, 4)  # an encoded landmark video (A1)
    ref_encoder = nn.Linear(12, 16)  # a jointly trained reference-image encoder (A2)
    refs = torch.randn(4, 5, 12)

    def condition_video(
        batch, x0
    ):  # A2: reference latents as the first frame, then zeros, plus a mask channel
        cond = torch.zeros_like(x0)
        cond[:, :, :1] = x0[:, :, :1]
        mask = torch.zeros_like(x0[:, :1])
        mask[:, :, :1] = 1
        return torch.cat([cond, mask], dim=1)

    objective = DiffusionForcingObjective(
        text_drop_prob=0.5,
        channel_conditions=[
            ChannelCondition("landmarks", 4, lambda b, x0: b["landmarks"], drop_prob=0.1),
            ChannelCondition("condition_video", 5, condition_video, drop_prob=0.1),
        ],
        token_condition=TokenCondition("refs", _RefTokens(ref_encoder), drop_prob=0.1),
    )
    model = _transformer(in_channels=4 + 4 + 5, image_dim=16)

    def batches(step, rank):
        return {"latents": latents, "text": text, "landmarks": landmarks, "refs": refs}

    cfg = LoopConfig(steps=3, lr=1e-3, warmup=1, ema_decay=None, ckpt_every=100, log_every=100)
    before = ref_encoder.weight.detach().clone()
    trainer = Trainer(
        "cond",
        model,
        lambda m, b, g, ng: objective(m, b, g, ng),
        batches,
        cfg,
        tmp_path,
        torch.device("cpu"),
        extra_modules=objective.trainable_modules(),
        log=lambda s: None,
    )
    trainer.run()
    assert not torch.equal(before, ref_encoder.weight)  # the reference encoder learned with the model


class _RefTokens(nn.Module):
    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, batch):
        return self.enc(batch["refs"])
