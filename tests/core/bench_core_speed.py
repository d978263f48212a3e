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
        cold = {"openreels": [], "diffusers": []}
        warm = {"openreels": [], "diffusers": []}
        for _ in range(args.repeats):
            clear_pipeline_cache()
            start = time.perf_counter()
            ours = generate(request)[0].frames
            cold["openreels"].append(time.perf_counter() - start)
            start = time.perf_counter()
            ours = generate(request)[0].frames
            warm["openreels"].append(time.perf_counter() - start)

            start = time.perf_counter()
            pipe = _plain_pipeline(folder)
            theirs = _plain_run(pipe, d, negative)
            cold["diffusers"].append(time.perf_counter() - start)
            start = time.perf_counter()
            theirs = _plain_run(pipe, d, negative)
            warm["diffusers"].append(time.perf_counter() - start)
        assert ours.shape == (33, *d["size"], 3) and np.array_equal(ours, theirs), "outputs differ"
    print(
        f"tiny DF config, 33 frames, {d['size'][0]}x{d['size'][1]}, {d['steps']} steps, CFG {d['guidance']}"
    )
    print(f"torch threads {torch.get_num_threads()}; best of {args.repeats}; frames identical: yes")
    for name, runs in (("cold (load + run)", cold), ("warm (run only)", warm)):
        o, p = min(runs["openreels"]), min(runs["diffusers"])
        print(f"{name:18s} openreels {o:6.2f} s   diffusers {p:6.2f} s   ratio {o / p:.3f}")


if __name__ == "__main__":
    main()
