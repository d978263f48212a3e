"""Field accuracy of the captioners on held-out stage clips, beside SkyCaptioner-V1's published figures and
chance (docs/captions.md).

Held-out clips are scenes of the held-out split (a (shirt colour, expression, camera motion) combination
the learned captioner never saw) with a seed of their own, rendered as the bundled video model writes
them: 128x128, 33 frames, 8 fps. Chance is the best constant answer (the commonest word on these clips)
and 1/K (a uniform guess among the field's K words).

    OMP_NUM_THREADS=1 nice -n 10 python -m openreels.caption.accuracy --n 40 --out docs/captions.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from openreels.caption.schema import FIELDS, flat_fields

# Table rows: label -> flat field.
ROWS = {
    "shot type": "shot_type",
    "shot angle": "shot_angle",
    "shot position": "shot_position",
    "camera motion": "camera_motion",
    "expression": "main.expression",
    "action": "main.action",
    "backdrop": "backdrop",
    "environment": "environment",
    "lighting": "lighting",
    "people (1 or 2)": "people",
    "kind": "main.kind",
    "hair colour": "main.hair_color",
    "shirt colour": "main.shirt_color",
    "subject position": "main.position",
    "first object": "object0.kind",
}
# REFERENCE.md section 4: SkyCaptioner-V1's reported field accuracy.
SKYCAPTIONER = {
    "shot type": 0.937,
    "shot angle": 0.898,
    "shot position": 0.831,
    "camera motion": 0.853,
    "expression": 0.688,
}
SIZE, FRAMES, FPS = (128, 128), 33, 8.0


def heldout_clips(n: int, seed: int = 2000):
    from openreels.world import render, sample_scene

    for k in range(n):
        yield render(sample_scene(np.random.default_rng([seed, k]), split="heldout"), FRAMES, SIZE, FPS)


def seconds_per_clip(repeats: int = 20) -> float:
    """Median wall time of the learned captioner on one 33-frame 128x128 clip (one CPU thread)."""
    import torch

    from openreels.caption.learned import bundled, caption_clip

    torch.set_num_threads(1)
    clip = next(heldout_clips(1, seed=99))
    model = bundled()
    caption_clip(clip.frames, model)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        caption_clip(clip.frames, model)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def measure(n: int, backends: tuple[str, ...] = ("stage", "learned"), log=print) -> dict:
    from openreels.caption.run import captioner

    fns = {b: captioner(b) for b in backends}
    truth: list[dict] = []
    got: dict[str, list[dict]] = {b: [] for b in backends}
    seconds: dict[str, float] = {b: 0.0 for b in backends}
    for k, clip in enumerate(heldout_clips(n)):
        truth.append(flat_fields(clip.caption))
        for b, fn in fns.items():
            t0 = time.perf_counter()
            got[b].append(flat_fields(fn(clip.frames, FPS)))
            seconds[b] += time.perf_counter() - t0
        if (k + 1) % 10 == 0:
            log(f"{k + 1}/{n} clips")
    rows = {}
    for label, field in ROWS.items():
        named = [i for i, t in enumerate(truth) if field in t]
        if not named:
            continue
        answers = [truth[i][field] for i in named]
        row = {
            "n": len(named),
            "majority": round(Counter(answers).most_common(1)[0][1] / len(named), 3),
            "uniform": round(1 / len(FIELDS[field]), 3),
            "skycaptioner_v1": SKYCAPTIONER.get(label),
        }
        for b in backends:
            row[b] = round(float(np.mean([got[b][i].get(field) == truth[i][field] for i in named])), 3)
        rows[label] = row
    return {
        "clips": n,
        "clip": {"size": list(SIZE), "frames": FRAMES, "fps": FPS, "split": "heldout"},
        "seconds_per_clip": {b: round(seconds[b] / n, 3) for b in backends},
        "fields": rows,
    }


def markdown(result: dict, backends: tuple[str, ...]) -> str:
    head = ["field", *backends, "SkyCaptioner-V1", "chance (commonest)", "chance (1/K)", "n"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    pct = lambda v: "" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    for label, r in result["fields"].items():
        cells = [label, *(pct(r[b]) for b in backends), pct(r["skycaptioner_v1"])]
        cells += [pct(r["majority"]), pct(r["uniform"]), str(r["n"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m openreels.caption.accuracy", description=__doc__.split("\n")[0]
    )
    p.add_argument("--n", type=int, default=40, help="held-out clips")
    p.add_argument("--backends", default="stage,learned")
    p.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    a = p.parse_args(argv)
    backends = tuple(a.backends.split(","))
    result = measure(a.n, backends)
    if "learned" in backends:
        from openreels.caption.learned import WEIGHTS

        result["learned"] = {"bytes": WEIGHTS.stat().st_size, "seconds_per_33_frame_clip": seconds_per_clip()}
    if a.out:
        a.out.write_text(json.dumps(result, indent=1) + "\n")
    print(markdown(result, backends))
    print(json.dumps({k: v for k, v in result.items() if k != "fields"}))


if __name__ == "__main__":
    main()
