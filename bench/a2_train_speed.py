"""Training samples per second of the a2-tiny design against the one it replaced, same run, same CPU.

Both train exactly as the `a2-tiny` recipe does (its objective with the mask + reference channels and the jointly
trained image encoder, AdamW, one optimizer step per batch) on random latents, references and text states of the
right shapes (three references and 16 frames: 3 + 4 latent frames), so only the design differs:
  - before: the shipped a2-tiny of issue 8: 8x VAE at 64x64 (8x8 latents), 4 heads x 64, 8 layers, ffn 1024,
    freq 256, batch 8;
  - after: the `a2-tiny` recipe now: 16x VAE at 128x128 (8x8 latents), the tiny transformer, its batch.
Both have 16 tokens per latent frame, so the difference is the transformer's width and depth, and the batch.

    OMP_NUM_THREADS=1 python bench/a2_train_speed.py --seconds 60
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import torch
from tiny_train_speed import time_training  # bench/ is the script's folder, so on sys.path
from transformers import CLIPVisionConfig, CLIPVisionModel

from openreels.train.a2 import TEXT_TOKENS, ReferenceTokens, build_a2_transformer, wan_forward
from openreels.train.objective import ChannelCondition, DiffusionForcingObjective, TokenCondition
from openreels.train.recipes import get_recipe
from openreels.train.text import TEXT_DIM

BEFORE = {
    "num_attention_heads": 4,
    "attention_head_dim": 64,
    "ffn_dim": 1024,
    "num_layers": 8,
    "freq_dim": 256,
}
REFS, LATENT_FRAMES, LATENT_HW, Z, TEMPORAL = 3, 7, 8, 16, 4


def samples_per_s(transformer_cfg: dict, batch: int, seconds: float, threads: int) -> dict:
    torch.set_num_threads(threads)
    recipe = replace(get_recipe("a2-tiny"), transformer=transformer_cfg, base=None)
    torch.manual_seed(0)
    hidden = recipe.image_encoder["hidden_size"]
    model = build_a2_transformer(recipe, Z, TEMPORAL, hidden).train()
    tokens = ReferenceTokens(CLIPVisionModel(CLIPVisionConfig(**recipe.image_encoder))).train()
    objective = DiffusionForcingObjective(
        forcing=recipe.forcing,
        channel_conditions=[ChannelCondition("references", TEMPORAL + Z, lambda b, x0: b["condition"])],
        token_condition=TokenCondition("references", tokens),
        forward=wan_forward,
    )
    side = recipe.image_encoder["image_size"]
    shape = (batch, Z, LATENT_FRAMES, LATENT_HW, LATENT_HW)
    data = {
        "latents": torch.randn(shape),
        "condition": torch.randn(batch, TEMPORAL + Z, *shape[2:]),
        "ref_pixels": torch.randn(batch, REFS, 3, side, side),
        "text": torch.randn(batch, TEXT_TOKENS, TEXT_DIM),
    }
    params = [*model.parameters(), *tokens.parameters()]
    return time_training(objective, model, params, data, seconds, LATENT_FRAMES * (LATENT_HW // 2) ** 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="timed seconds per design")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--batches", type=int, nargs="*", default=[], help="also time the new design at these batches"
    )
    args = ap.parse_args()
    recipe = get_recipe("a2-tiny")
    before = samples_per_s(BEFORE, 8, args.seconds, args.threads)
    after = samples_per_s(recipe.transformer, recipe.dit_batch, args.seconds, args.threads)
    result = {
        "threads": args.threads,
        "before": before,
        "after": after,
        "speedup": round(after["samples_per_s"] / before["samples_per_s"], 1),
    }
    for b in args.batches:
        result[f"after_batch_{b}"] = samples_per_s(recipe.transformer, b, args.seconds, args.threads)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
