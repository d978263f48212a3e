"""Train the learned captioner on stage clips and write its fp16 weights (the recipe of the bundled ones).

    OMP_NUM_THREADS=1 nice -n 10 python -m openreels.caption.train --data /tmp/captioner-clips.npz

Budgets are CPU time, so a busy machine trains the same model, only later. Clips are rendered once (9 frames
at 64x64, the same instants as every 4th frame of a 33-frame clip at 8 fps) from training-split scenes and
cached with --data; held-out-split scenes with another seed pick the weights kept.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from openreels.caption.learned import SIDE, STEPS, WEIGHTS, Captioner, save
from openreels.caption.schema import FIELDS, flat_fields

CLIP_FRAMES, CLIP_FPS = 33, 8.0  # the clip the steps stand for
STRIDE = (CLIP_FRAMES - 1) // (STEPS - 1)


def render_set(n: int, seed: int, split: str, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """n clips as uint8 (n, STEPS, 3, SIDE, SIDE) and their targets (n, fields) (-1: not named)."""
    from openreels.world import render, sample_scene

    names = list(FIELDS)
    x = np.empty((n, STEPS, 3, SIDE, SIDE), np.uint8)
    y = np.full((n, len(names)), -1, np.int16)
    t0 = time.process_time()
    for k in range(n):
        rng = np.random.default_rng([seed, k])
        clip = render(sample_scene(rng, split=split), STEPS, (SIDE, SIDE), CLIP_FPS / STRIDE)
        x[k] = clip.frames.transpose(0, 3, 1, 2)
        y[k] = targets(clip.caption, names)
        if progress and (k + 1) % 500 == 0:
            print(f"rendered {k + 1}/{n} {split} clips in {time.process_time() - t0:.0f} CPU s", flush=True)
    return x, y


def targets(caption: dict, names: list[str]) -> list[int]:
    flat = flat_fields(caption)
    return [FIELDS[f].index(flat[f]) if f in flat and flat[f] in FIELDS[f] else -1 for f in names]


def loss_of(model: Captioner, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    logits = model(x)
    total = x.new_zeros(())
    for i, f in enumerate(model.fields):
        keep = y[:, i] >= 0
        if keep.any():
            total = total + F.cross_entropy(logits[f][keep], y[keep, i].long())
    return total / len(model.fields)


def _batch(x: np.ndarray, idx: np.ndarray, noise: float, gen: torch.Generator | None) -> torch.Tensor:
    b = torch.from_numpy(x[idx]).float() / 255.0
    if noise:  # a little sensor/codec noise so decoded MP4s look like the training clips
        b = (b + noise * torch.randn(b.shape, generator=gen)).clamp(0, 1)
    return b


def heldout_eval(model: Captioner, x: np.ndarray, y: np.ndarray, batch: int = 64) -> tuple[float, float]:
    """(loss, accuracy) on held-out clips; accuracy is over every field a clip names."""
    model.eval()
    loss, hits, named = 0.0, 0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            idx = np.arange(i, min(i + batch, len(x)))
            xb, yb = _batch(x, idx, 0.0, None), torch.from_numpy(y[idx]).long()
            logits = model(xb)
            loss += float(loss_of(model, xb, yb)) * len(idx)
            for j, f in enumerate(model.fields):
                keep = yb[:, j] >= 0
                hits += int((logits[f][keep].argmax(1) == yb[keep, j]).sum())
                named += int(keep.sum())
    model.train()
    return loss / len(x), hits / max(named, 1)


def train(
    clips: int = 3000,
    heldout: int = 300,
    minutes: float = 3.0,
    max_steps: int | None = None,
    batch: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
    data: Path | None = None,
    output: Path = WEIGHTS,
    log=print,
) -> dict:
    """Train for `minutes` of CPU time (the machine may be shared) or `max_steps`, keep the weights with the
    best held-out accuracy and save them to `output`; returns {"steps", "heldout_loss(_start)",
    "heldout_accuracy(_start)", "cpu_seconds", "clips"}."""
    torch.manual_seed(seed)
    if data is not None and data.is_file():
        cached = np.load(data)
        xs, ys, xv, yv = cached["x"], cached["y"], cached["xv"], cached["yv"]
    else:
        xs, ys = render_set(clips, seed, "train", progress=log is print)
        xv, yv = render_set(heldout, seed + 1000, "heldout")
        if data is not None:
            data.parent.mkdir(parents=True, exist_ok=True)
            np.savez(data.with_suffix(".tmp.npz"), x=xs, y=ys, xv=xv, yv=yv)
            data.with_suffix(".tmp.npz").replace(data)
    model = Captioner()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    start, start_acc = heldout_eval(model, xv, yv)
    # kept by held-out accuracy, not loss: the cross-entropy of a few hard fields (expression, intensity)
    # rises with overconfidence while the fields themselves are still being read better
    best, best_loss, step = start_acc, start, 0
    best_state = {k: v.clone() for k, v in model.state_dict().items()}
    t0 = time.process_time()
    budget = minutes * 60
    total = max_steps or 10**9
    eval_every = 200 if max_steps is None else max(1, total // 4)
    while True:
        done = step >= total or time.process_time() - t0 >= budget
        if (step and step % eval_every == 0) or done:
            val, acc = heldout_eval(model, xv, yv)
            log(
                f"step {step} held-out loss {val:.3f} accuracy {acc:.3f} ({time.process_time() - t0:.0f} CPU s)"
            )
            if acc > best:
                best, best_loss = acc, val
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
        if done:
            break
        # cosine schedule over the CPU-time budget (or the step budget)
        frac = step / total if max_steps else (time.process_time() - t0) / budget
        for g in opt.param_groups:
            g["lr"] = lr * 0.5 * (1 + np.cos(np.pi * min(frac, 1.0)))
        idx = torch.randint(len(xs), (batch,), generator=gen).numpy()
        loss = loss_of(model, _batch(xs, idx, 2.0 / 255, gen), torch.from_numpy(ys[idx]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
    model.load_state_dict(best_state)
    result = {
        "steps": step,
        "heldout_loss_start": round(start, 4),
        "heldout_accuracy_start": round(start_acc, 4),
        "heldout_loss": round(best_loss, 4),
        "heldout_accuracy": round(best, 4),
        "cpu_seconds": round(time.process_time() - t0, 1),
        "clips": len(xs),
    }
    save(model.eval(), Path(output), result)
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m openreels.caption.train", description=__doc__.split("\n")[0])
    p.add_argument("--clips", type=int, default=3000, help="training clips to render (cached with --data)")
    p.add_argument("--heldout", type=int, default=300, help="held-out clips that pick the weights kept")
    p.add_argument("--minutes", type=float, default=3.0, help="training CPU time (rendering not counted)")
    p.add_argument("--steps", type=int, default=None, help="stop after this many steps instead")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", type=Path, default=None, help="cache of rendered clips (.npz)")
    p.add_argument("--output", type=Path, default=WEIGHTS, help="where the fp16 weights go")
    a = p.parse_args(argv)
    print(train(a.clips, a.heldout, a.minutes, a.steps, seed=a.seed, data=a.data, output=a.output))


if __name__ == "__main__":
    main()
