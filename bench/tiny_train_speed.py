"""Training samples per second of the tiny text-to-video design against the one it replaced, same run, same CPU.

Both train their transformer on cached latents exactly as the `tiny` recipe does (DiffusionForcingObjective,
AdamW, one optimizer step per batch), on random latents and text states of the right shapes, so only the
design differs:
  - before: 8x VAE latents 16x9x16x16 (576 tokens), 4 heads x 64, 8 layers, ffn 1024, freq 256, batch 16;
  - narrow: the design of sessions 1-6, width 128 x 4 layers on the same latents as now (too narrow for the
    192 values each token writes: docs/tiny-model.md, session 7);
  - after: the `tiny` recipe now: 16x VAE latents 48x9x8x8 (144 tokens), its transformer (width 256 x 2
    layers) and batch.

    OMP_NUM_THREADS=1 python bench/tiny_train_speed.py --seconds 60
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from openreels.train.objective import DiffusionForcingObjective
from openreels.train.recipes import TRANSFORMER_128, build_transformer, get_recipe
from openreels.train.text import TEXT_DIM

BEFORE = {
    "transformer": {
        "num_attention_heads": 4,
        "attention_head_dim": 64,
        "ffn_dim": 1024,
        "num_layers": 8,
        "freq_dim": 256,
    },
    "latent_hw": 16,
    "z_dim": 16,
    "batch": 16,
}


def samples_per_s(
    transformer_cfg: dict, z: int, latent_hw: int, batch: int, seconds: float, threads: int
) -> dict:
    torch.set_num_threads(threads)
    recipe = get_recipe("tiny")
    recipe.transformer = transformer_cfg
    recipe.vae = recipe.vae | {"z_dim": z}
    torch.manual_seed(0)
    model = build_transformer(recipe).train()
    objective = DiffusionForcingObjective(forcing=recipe.forcing)
    batch_data = {
        "latents": torch.randn(batch, z, 9, latent_hw, latent_hw),
        "text": torch.randn(batch, recipe.max_sequence_length, TEXT_DIM),
    }
    return time_training(
        objective, model, list(model.parameters()), batch_data, seconds, 9 * (latent_hw // 2) ** 2
    )


def time_training(objective, model, params: list, data: dict, seconds: float, tokens: int) -> dict:
    """Optimiser steps of `objective` on one fixed batch for `seconds` (after one warm-up step): samples/s.
    bench/a2_train_speed.py times A2's designs with it too."""
    opt = torch.optim.AdamW(params, lr=1e-4)
    g = torch.Generator().manual_seed(0)

    def step() -> None:
        loss = objective(model, data, g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up (allocations, first-call overheads)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    elapsed = time.perf_counter() - t0
    batch = len(next(iter(data.values())))
    return {
        "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
        "tokens": tokens,
        "batch": batch,
        "steps": n,
        "samples_per_s": round(n * batch / elapsed, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="timed seconds per design")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    recipe = get_recipe("tiny")
    before = samples_per_s(
        BEFORE["transformer"],
        BEFORE["z_dim"],
        BEFORE["latent_hw"],
        BEFORE["batch"],
        args.seconds,
        args.threads,
    )
    z = recipe.vae["z_dim"]
    narrow = samples_per_s(TRANSFORMER_128, z, 8, recipe.dit_batch, args.seconds, args.threads)
    after = samples_per_s(recipe.transformer, z, 8, recipe.dit_batch, args.seconds, args.threads)
    result = {
        "threads": args.threads,
        "before": before,
        "narrow": narrow,
        "after": after,
        "speedup": round(after["samples_per_s"] / before["samples_per_s"], 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
