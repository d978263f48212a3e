"""Measure what the prompt enhancer does for generation: held-out short prompts are generated with and
without the (offline) enhancer by the bundled model, same seed, and each clip is scored on the fields the
short prompt names (what the user asked for) by `openreels eval`'s probes and by its fast path (the learned
captioner). Prints and writes the per-field and mean accuracy of both arms and their difference.

Short prompts name two or three fields, from the held-out (shirt colour, expression, camera motion)
combinations and the stage's words, e.g. "a laughing woman, red backdrop".

    OMP_NUM_THREADS=1 nice -n 10 python -m openreels.caption.enhance_effect --n 12 --out docs/enhance-effect.json

Clips go to --videos (default out/enhance-effect) with sidecars; a stopped run resumes, and --score-only
scores what is there (e.g. again after retraining the captioner). Delete the folder to measure a new model.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from openreels.world import vocab as V
from openreels.world.scene import HELD_OUT


def short_prompts(n: int, seed: int = 0) -> list[str]:
    """n short prompts in four templates, over held-out combinations (deterministic)."""
    rng = np.random.default_rng(seed)
    triples = sorted(HELD_OUT)
    out = []
    for i in range(n):
        shirt, expression, motion = triples[int(rng.integers(len(triples)))]
        kind = V.KINDS[int(rng.integers(len(V.KINDS)))]
        backdrop = V.COLOR_NAMES[int(rng.integers(len(V.COLOR_NAMES)))]
        action = V.ACTIONS[int(rng.integers(len(V.ACTIONS)))]
        place = ("at the beach", "in a park", "on a street", "at night")[int(rng.integers(4))]
        out.append(
            (
                f"a {expression} {kind}, {backdrop} backdrop",
                f"a {kind} in a {shirt} shirt, {motion} shot",
                f"a {kind} {action} {place}",
                f"a {expression} {kind} in a {shirt} shirt",
            )[i % 4]
        )
    return out


def _mean(scores: list[dict[str, float]]) -> dict:
    fields: dict[str, list[float]] = {}
    for s in scores:
        for k, v in s.items():
            fields.setdefault(k, []).append(v)
    per = {k: round(float(np.mean(v)), 3) for k, v in fields.items()}
    every = [v for vals in fields.values() for v in vals]
    return {"fields": per, "mean": round(float(np.mean(every)), 3) if every else None, "scored": len(every)}


def generate_clips(
    n: int, out_dir: Path, model: str | None = None, steps: int | None = None, log=print
) -> None:
    """Both arms of every short prompt as out_dir/NN-plain.mp4 and NN-enhanced.mp4 (with sidecars that keep
    the short prompt); clips already there are kept, so a stopped run resumes."""
    from openreels.caption.enhance import enhance
    from openreels.cli.common import quiet_libraries
    from openreels.pipelines import GenerateRequest, generate

    quiet_libraries()
    t0 = time.time()
    for i, short in enumerate(short_prompts(n)):
        enhanced = enhance(short, seed=i)
        for arm, prompt in (("plain", short), ("enhanced", enhanced.prompt)):
            path = out_dir / f"{i:02d}-{arm}.mp4"
            if path.exists():
                continue
            settings = {k: v for k, v in (("model", model), ("steps", steps)) if v}
            video = generate(GenerateRequest(prompt=prompt, seed=i, **settings))[0]
            video.metadata |= {"short_prompt": short} | (enhanced.record() if arm == "enhanced" else {})
            video.save(path)
        log(f"{i + 1}/{n} prompts generated ({time.time() - t0:.0f} s)")


def score_clips(out_dir: Path) -> dict:
    """Score every clip of `out_dir` on the fields its short prompt names, with the probes and the fast path."""
    from openreels.caption.score import fast_scores
    from openreels.eval import score_clip
    from openreels.media import read_video

    arms = {"plain": {"probes": [], "fast": []}, "enhanced": {"probes": [], "fast": []}}
    clips = []
    for path in sorted(out_dir.glob("*-*.mp4")):
        arm = path.stem.split("-", 1)[1]
        meta = json.loads(path.with_suffix(".json").read_text())
        frames, fps = read_video(path)
        short = meta["short_prompt"]
        probes, fast = score_clip(frames, short, fps), fast_scores(frames, short)
        arms[arm]["probes"].append(probes)
        arms[arm]["fast"].append(fast)
        clips.append(
            {"video": path.name, "short": short, "prompt": meta["prompt"], "probes": probes, "fast": fast}
        )
    result: dict = {"pairs": len(arms["plain"]["probes"]), "model": None, "clips": clips}
    result["model"] = json.loads(next(out_dir.glob("*.json")).read_text()).get("model") if clips else None
    for arm, scores in arms.items():
        result[arm] = {kind: _mean(s) for kind, s in scores.items()}
    result["difference"] = {
        kind: round(result["enhanced"][kind]["mean"] - result["plain"][kind]["mean"], 3)
        for kind in ("probes", "fast")
        if result["plain"][kind]["mean"] is not None and result["enhanced"][kind]["mean"] is not None
    }
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m openreels.caption.enhance_effect", description=__doc__.split("\n")[0]
    )
    p.add_argument("--n", type=int, default=12, help="short prompts (two clips each)")
    p.add_argument("--model", default=None, help="video model (default: the bundled openreels-tiny)")
    p.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    p.add_argument("--videos", type=Path, default=Path("out/enhance-effect"), help="folder for the clips")
    p.add_argument("--score-only", action="store_true", help="score the clips already in --videos")
    p.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    a = p.parse_args(argv)
    if not a.score_only:
        a.videos.mkdir(parents=True, exist_ok=True)
        generate_clips(a.n, a.videos, a.model, a.steps)
    result = score_clips(a.videos)
    if a.out:
        a.out.write_text(json.dumps(result, indent=1) + "\n")
    for kind in ("probes", "fast"):
        plain, enh = result["plain"][kind], result["enhanced"][kind]
        print(
            f"{kind}: plain {plain['mean']} enhanced {enh['mean']} difference {result['difference'].get(kind)}"
        )
        for field in sorted(set(plain["fields"]) | set(enh["fields"])):
            print(
                f"  {field:15s} {plain['fields'].get(field, float('nan')):.2f} -> {enh['fields'].get(field, float('nan')):.2f}"
            )


if __name__ == "__main__":
    main()
