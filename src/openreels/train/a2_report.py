"""Measure the bundled tiny A2 against issue 8's targets on held-out stage compositions.

A held-out composition is a stage scene of the held-out split (a (shirt colour, expression, camera motion)
combination never trained on) with one person and one object in a studio. Its references are cut from the
stage (`stage_references`: the person on white, the object on white, the empty backdrop plate) and composed
through `load_compose_pipeline` (the path `openreels compose` takes), with two prompts:
  - `full`: the stage prompt, colours named (how A2 is used: the prompt describes the scene);
  - `plain`: the same prompt with every colour word removed, so colours can only come from the references.
Each clip is scored by the stage probes (`openreels.eval.score_clip`) against the scene's full caption, beside
the ground-truth render of the same scene (the probes' ceiling) and chance (the generated clips scored against
the captions of other held-out compositions).

    python -m openreels.train.a2_report --n 24 --out docs/a2-tiny.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

# Issue 8, item 5: target -> the probe fields it pools.
TARGETS = {
    "character colours": (0.90, ("shirt_color", "hair_color")),
    "object colour": (0.80, ("object_color",)),
    "backdrop": (0.90, ("backdrop",)),
    "action and camera motion": (0.70, ("action", "camera_motion")),
}


def heldout_composition(k: int, size: tuple[int, int], frames: int, fps: float, seed: int = 0):
    """Held-out scene k (one person, one object, studio), its ground-truth clip and its references."""
    from openreels.pipelines.a2 import stage_references
    from openreels.world import render, sample_heldout_scene

    rng = np.random.default_rng([seed, k, 3])
    scene = sample_heldout_scene(rng, n_characters=1, n_objects=1, environment="studio")
    return scene, render(scene, frames, size, fps), stage_references(scene, size)


def _pool(scores: list[dict], fields: tuple[str, ...]) -> dict:
    values = [s[f] for s in scores for f in fields if f in s]
    return {"accuracy": float(np.mean(values)) if values else float("nan"), "n": len(values)}


def _fields(scores: list[dict]) -> dict:
    out: dict[str, list[float]] = {}
    for s in scores:
        for k, v in s.items():
            out.setdefault(k, []).append(v)
    return {k: {"accuracy": float(np.mean(v)), "n": len(v)} for k, v in sorted(out.items())}


def _table(scores: list[dict]) -> dict:
    return {
        "targets": {name: _pool(scores, fields) for name, (_, fields) in TARGETS.items()},
        "fields": _fields(scores),
    }


def measure(n: int, model: str = "openreels-a2-tiny", device: str = "cpu", seed: int = 0, log=print) -> dict:
    from openreels.eval import score_clip
    from openreels.pipelines.compose import load_compose_pipeline
    from openreels.train.a2 import plain_prompt

    pipe = load_compose_pipeline(model, device=device)
    d = pipe.defaults
    size = (d.height, d.width)
    items = [heldout_composition(k, size, d.frames, d.fps, seed) for k in range(n)]
    captions = [clip.caption for _, clip, _ in items]
    shuffled = [captions[(i + 1) % n] for i in range(n)]
    out: dict = {
        "model": model,
        "device": device,
        "size": list(size),
        "frames": d.frames,
        "fps": d.fps,
        "steps": d.steps,
        "guidance": d.guidance,
        "compositions": n,
        "ground_truth": _table([score_clip(clip.frames, clip.caption, d.fps) for _, clip, _ in items]),
    }
    videos = {}
    for mode in ("full", "plain"):
        clips, seconds = [], []
        for k, (_, clip, refs) in enumerate(items):
            prompt = clip.prompt if mode == "full" else plain_prompt(clip.caption)
            t = time.perf_counter()
            clips.append(pipe(prompt, refs, seed=k).frames)
            seconds.append(time.perf_counter() - t)
            log(f"{mode} {k + 1}/{n}: {seconds[-1]:.1f} s")
        out[mode] = {
            "generated": _table([score_clip(v, c, d.fps) for v, c in zip(clips, captions, strict=True)]),
            "chance": _table([score_clip(v, c, d.fps) for v, c in zip(clips, shuffled, strict=True)]),
            "seconds_per_clip": float(np.mean(seconds)),
        }
        videos[mode] = np.stack(clips)
    out["met"] = {
        name: bool(out["full"]["generated"]["targets"][name]["accuracy"] >= goal)
        for name, (goal, _) in TARGETS.items()
    }
    return out | {"videos": videos}


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24, help="held-out compositions")
    ap.add_argument("--model", default="openreels-a2-tiny", help="registry id or A2 folder")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (compose seconds depend on it)")
    ap.add_argument("--out", type=Path, required=True, help="JSON report; the clips go beside it as .npz")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    res = measure(args.n, args.model, args.device)
    res["threads"] = args.threads
    videos = res.pop("videos")
    np.savez_compressed(args.out.with_suffix(".npz"), **videos)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    for name, (goal, _) in TARGETS.items():
        row = [res[m]["generated"]["targets"][name]["accuracy"] for m in ("full", "plain")]
        gt = res["ground_truth"]["targets"][name]["accuracy"]
        chance = res["full"]["chance"]["targets"][name]["accuracy"]
        print(
            f"{name}: full {row[0]:.2f} plain {row[1]:.2f} ground truth {gt:.2f} chance {chance:.2f} (>= {goal})"
        )


if __name__ == "__main__":
    main()
