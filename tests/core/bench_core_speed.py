"""openreels vs plain diffusers: seconds for one 33-frame run of the tiny DF config, measured side by side.

Run: PYTHONPATH=src python tests/core/bench_core_speed.py [--repeats N]
Both sides load the same saved checkpoint and make the same frames (checked); the figure is the best of
`repeats` interleaved runs, cold (loading included) and warm (pipeline already loaded).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from openreels.models import get_model
from openreels.models.tiny import STANDIN_DEFAULTS, build_tiny_checkpoint, minilm_path
from openreels.pipelines import GenerateRequest, clear_pipeline_cache, generate

PROMPT = "Medium shot, eye level, static shot. A woman with long red hair in a blue shirt is laughing."


def _plain_pipeline(folder: Path):
    from diffusers import SkyReelsV2DiffusionForcingPipeline
    from transformers import AutoModel, AutoTokenizer

    pipe = SkyReelsV2DiffusionForcingPipeline.from_pretrained(
        folder,
        text_encoder=AutoModel.from_pretrained(minilm_path()),
        tokenizer=AutoTokenizer.from_pretrained(minilm_path()),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _plain_run(pipe, d: dict, negative_prompt: str) -> np.ndarray:
    torch.manual_seed(0)
    out = pipe(
        prompt=PROMPT,
        negative_prompt=negative_prompt,
        height=d["size"][0],
        width=d["size"][1],
        num_frames=33,
        num_inference_steps=d["steps"],
        guidance_scale=d["guidance"],
        max_sequence_length=d["max_sequence_length"],
        base_num_frames=33,
        fps=d["fps"],
        output_type="np",
        generator=torch.Generator("cpu").manual_seed(0),
    ).frames[0]
    return (np.clip(out, 0, 1) * 255).round().astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    d = dict(STANDIN_DEFAULTS, frames=33, random=False)
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_tiny_checkpoint(
            "v2-df", Path(tmp) / "tiny", defaults=d, dim_heads=2, head_dim=16, layers=2, vae_dim=16
        )
        request = GenerateRequest(prompt=PROMPT, model=str(folder), seed=0)
        negative = get_model(str(folder)).negative_prompt
        generate(request)  # warm imports and caches for both sides
        # (wall, CPU) seconds per side; CPU time (all threads) is less disturbed by other processes.
        cold: dict = {"openreels": [], "diffusers": []}
        warm: dict = {"openreels": [], "diffusers": []}

        def timed(runs: list, fn):
            wall, cpu = time.perf_counter(), time.process_time()
            result = fn()
            runs.append((time.perf_counter() - wall, time.process_time() - cpu))
            return result

        for _ in range(args.repeats):
            clear_pipeline_cache()
            ours = timed(cold["openreels"], lambda: generate(request)[0].frames)
            ours = timed(warm["openreels"], lambda: generate(request)[0].frames)
            plain: dict = {}

            def plain_cold(plain=plain):
                plain["pipe"] = _plain_pipeline(folder)
                return _plain_run(plain["pipe"], d, negative)

            theirs = timed(cold["diffusers"], plain_cold)
            theirs = timed(warm["diffusers"], lambda plain=plain: _plain_run(plain["pipe"], d, negative))
        assert ours.shape == (33, *d["size"], 3) and np.array_equal(ours, theirs), "outputs differ"
    print(
        f"tiny DF config, 33 frames, {d['size'][0]}x{d['size'][1]}, {d['steps']} steps, CFG {d['guidance']}"
    )
    print(f"torch threads {torch.get_num_threads()}; best of {args.repeats}; frames identical: yes")
    for name, runs in (("cold (load + run)", cold), ("warm (run only)", warm)):
        o, p = min(runs["openreels"]), min(runs["diffusers"])
        print(
            f"{name:18s} wall: openreels {o[0]:6.2f} s, diffusers {p[0]:6.2f} s, ratio {o[0] / p[0]:.3f}   "
            f"cpu: openreels {o[1]:6.2f} s, diffusers {p[1]:6.2f} s, ratio {o[1] / p[1]:.3f}"
        )


if __name__ == "__main__":
    main()
