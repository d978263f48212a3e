"""Measure the bundled model against its targets: held-out prompt adherence, image-to-video, long video, speed.

Every clip is made through `openreels.pipelines.generate` (the path `openreels generate` takes) and scored by
`openreels.eval`. Each probe is reported beside the ground-truth renders of the same prompts (the probe's
ceiling) and beside chance (the generated clips scored against the prompts of other held-out clips).

    python -m openreels.train.report --t2v 6 --i2v 3 --long-windows 10 --out docs/tiny-model.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

TARGETS = {"backdrop": 0.90, "camera_motion": 0.85, "expression": 0.60, "action": 0.60}


def _hist_overlap(a: np.ndarray, b: np.ndarray, bins: int = 8) -> float:
    """Colour-histogram intersection of two frame sets (1 = the same palette)."""

    def h(x: np.ndarray) -> np.ndarray:
        q = (x.reshape(-1, 3) // (256 // bins)).astype(np.int64)
        counts = np.bincount(q[:, 0] * bins * bins + q[:, 1] * bins + q[:, 2], minlength=bins**3)
        return counts / counts.sum()

    return float(np.minimum(h(a), h(b)).sum())


def _model_folder(model: str) -> Path:
    """A model folder as given, or the bundled openreels-tiny's for its registry id."""
    from openreels.models.tiny import bundled_tiny_dir

    return Path(model) if Path(model).is_dir() else bundled_tiny_dir()


@torch.no_grad()
def _reconstruct(vae, frames: np.ndarray) -> np.ndarray:
    """The VAE's decode of its encoding (posterior mode) of uint8 frames (T, H, W, 3)."""
    from openreels.train.data import to_uint8_frames, to_video_tensor
    from openreels.train.vae import encode_mode

    latents = encode_mode(vae, to_video_tensor(torch.from_numpy(frames)[None]))
    return to_uint8_frames(vae.decode(latents, return_dict=False)[0])


def _accuracy(scores: list[dict]) -> dict:
    fields: dict[str, list[float]] = {}
    for s in scores:
        for k, v in s.items():
            fields.setdefault(k, []).append(v)
    return {k: {"accuracy": float(np.mean(v)), "n": len(v)} for k, v in sorted(fields.items())}


def measure(
    n_t2v: int,
    n_i2v: int,
    long_windows: int,
    seed: int = 0,
    long_prompts: int = 4,
    log=print,
    model: str = "openreels-tiny",
    device: str = "cpu",
    guidance: float | None = None,
    vae_ceiling: bool = True,
) -> dict:
    """`vae_ceiling`: also score the probes on the VAE's reconstructions of the t2v clips (the report's
    reference row; a ship score needs only the generated clips, so it turns this off)."""
    from diffusers import AutoencoderKLWan

    from openreels.eval import consistency, score_clip
    from openreels.models.registry import get_model
    from openreels.pipelines import GenerateRequest, generate
    from openreels.train.data import uint8_psnr
    from openreels.world.dataset import StageClips

    spec = get_model(model)
    h, w = spec.size
    vae = AutoencoderKLWan.from_pretrained(_model_folder(model) / "vae").eval()
    held = StageClips((h, w), spec.frames, fps=spec.fps, seed=seed, split="heldout")
    items = [held.item(k) for k in range(max(n_t2v, n_i2v))]
    out: dict = {
        "model": spec.id,
        "guidance": spec.guidance if guidance is None else guidance,
        "size": [h, w],
        "frames": spec.frames,
        "fps": spec.fps,
        "steps": spec.steps,
    }

    gen, gen_s = [], []
    for k in range(n_t2v):
        t = time.perf_counter()
        gen.append(
            generate(
                GenerateRequest(
                    prompt=items[k]["prompt"], seed=k, model=model, device=device, guidance=guidance
                )
            )[0].frames
        )
        gen_s.append(time.perf_counter() - t)
        log(f"t2v {k + 1}/{n_t2v}: {gen_s[-1]:.1f} s")
    if n_t2v:
        prompts = [it["prompt"] for it in items[:n_t2v]]
        shuffled = [prompts[(i + 1) % n_t2v] for i in range(n_t2v)] if n_t2v > 1 else prompts
        out["t2v"] = {
            "generated": _accuracy([score_clip(g, p, spec.fps) for g, p in zip(gen, prompts, strict=True)]),
            "ground_truth": _accuracy(
                [score_clip(it["frames"].numpy(), it["prompt"], spec.fps) for it in items[:n_t2v]]
            ),
            "chance": _accuracy([score_clip(g, p, spec.fps) for g, p in zip(gen, shuffled, strict=True)]),
            "seconds_per_clip": gen_s,
        }
        if vae_ceiling:  # the most a transformer in this latent space can score
            out["t2v"]["vae_reconstruction"] = _accuracy(
                [
                    score_clip(_reconstruct(vae, it["frames"].numpy()), it["prompt"], spec.fps)
                    for it in items[:n_t2v]
                ]
            )
        out["t2v_frames"] = np.stack(gen)

    psnrs, motion = [], []
    for k in range(n_i2v):
        first = items[k]["frames"][0].numpy()
        v = generate(
            GenerateRequest(
                prompt=items[k]["prompt"], image=first, seed=k, model=model, device=device, guidance=guidance
            )
        )[0].frames
        psnrs.append(uint8_psnr(v[0], first))
        motion.append(float(np.abs(v[-1].astype(np.float32) - v[0].astype(np.float32)).mean()))
        log(f"i2v {k + 1}/{n_i2v}: frame-0 PSNR {psnrs[-1]:.2f} dB")
    if n_i2v:
        out["i2v"] = {"frame0_psnr_db": psnrs, "last_vs_first_mean_abs": motion}

    if long_windows and long_prompts:
        # One long video is a noisy measure (first-to-last overlap 0.02-0.90 across three prompts of one
        # model), so it is averaged over several prompts, each beside the renderer's own long clip of the scene
        # and the VAE's reconstruction of that clip (about the most a transformer in this latent space can keep).
        from openreels.world.renderer import render

        new = spec.frames - spec.overlap_history
        frames = spec.frames + (long_windows - 1) * new
        windows = [slice(i * new, i * new + spec.frames) for i in range(long_windows)]

        def with_first(video: np.ndarray) -> list[float]:
            return [_hist_overlap(video[windows[0]], video[w]) for w in windows]

        per_prompt, videos = [], []
        for k in range(long_prompts):
            clip = render(held.scene(k), frames, (h, w), spec.fps)  # its prompt is held-out clip k's
            truth = clip.frames
            t = time.perf_counter()
            request = GenerateRequest(
                prompt=clip.prompt, frames=frames, seed=k, model=model, device=device, guidance=guidance
            )
            v = generate(request)[0].frames
            seconds = time.perf_counter() - t
            per_prompt.append(
                {
                    "seconds": seconds,
                    "palette_overlap_with_first": with_first(v),
                    "ground_truth_overlap_with_first": with_first(truth),
                    "vae_overlap_with_first": with_first(_reconstruct(vae, truth)),
                    "consistency": consistency(v, window=new),
                    "window_pixel_std": [float(v[w].std()) for w in windows],
                    "ground_truth_pixel_std": float(truth.std()),
                }
            )
            videos.append(v)
            log(
                f"long {k + 1}/{long_prompts}: palette overlap {per_prompt[-1]['palette_overlap_with_first'][-1]:.3f}"
            )

        def first_last(key: str) -> float:
            return float(np.mean([p[key][-1] for p in per_prompt]))

        out["long"] = {
            "windows": long_windows,
            "frames": frames,
            "prompts": long_prompts,
            "first_last_palette_overlap": first_last("palette_overlap_with_first"),
            "ground_truth_first_last_overlap": first_last("ground_truth_overlap_with_first"),
            "vae_first_last_overlap": first_last("vae_overlap_with_first"),
            "per_prompt": per_prompt,
        }
        out["long_frames"] = np.stack(videos)
        log(
            "long: first-to-last palette overlap {first_last_palette_overlap:.3f} (ground truth "
            "{ground_truth_first_last_overlap:.3f}, its VAE reconstruction {vae_first_last_overlap:.3f})".format(
                **out["long"]
            )
        )
    return out


@torch.no_grad()
def prompt_effect(model: str = "openreels-tiny", n: int = 16, sigma: float = 0.95, seed: int = 0) -> dict:
    """How much the prompt decides the picture, before sampling can hide it: n held-out studio clips are encoded
    and noised to `sigma` as training does, the transformer predicts the velocity once with the prompt and
    once with the empty prompt, and the rebuilt x0 of each is decoded and scored against the clip's caption.
    At high noise the picture itself tells little, so the gap between the two is what the text pathway
    has learned. `reconstruction` scores the VAE's own decode of the clean latents (the ceiling)."""
    from openreels.eval.probes import score_colours
    from openreels.models.registry import get_model
    from openreels.pipelines import load_pipeline
    from openreels.train.data import to_uint8_frames, to_video_tensor
    from openreels.train.flow import add_noise, timesteps_from_sigmas
    from openreels.train.vae import encode_mode, normalise
    from openreels.world.renderer import render
    from openreels.world.scene import sample_scene

    spec = get_model(model)
    pipe = load_pipeline(_model_folder(model), "t2v", device="cpu", dtype="float32")
    mean, std = pipe.vae.config.latents_mean, pipe.vae.config.latents_std

    def decode(latents: torch.Tensor) -> np.ndarray:  # as the pipeline de-normalises and decodes
        m, s = (torch.tensor(v).view(1, -1, 1, 1, 1) for v in (mean, std))
        return to_uint8_frames(pipe.vae.decode(latents * s + m, return_dict=False)[0])

    scores: dict[str, list[dict]] = {"reconstruction": [], "with_prompt": [], "empty_prompt": []}
    for k in range(n):
        rng = np.random.default_rng([seed, k, 2])
        clip = render(
            sample_scene(rng, split="heldout", environment="studio"), spec.frames, spec.size, spec.fps
        )
        x0 = normalise(encode_mode(pipe.vae, to_video_tensor(torch.from_numpy(clip.frames)[None])), mean, std)
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(k))
        level = torch.full((1, x0.shape[2]), sigma)
        noisy = add_noise(x0, noise, level)
        cond, empty = pipe.encode_prompt(clip.prompt, "", max_sequence_length=spec.max_sequence_length)
        for name, latents in (
            ("reconstruction", x0),
            *(
                (
                    name,
                    noisy
                    - sigma
                    * pipe.transformer(
                        hidden_states=noisy,
                        timestep=timesteps_from_sigmas(level),
                        encoder_hidden_states=states,
                        enable_diffusion_forcing=True,
                        fps=[1],
                        return_dict=False,
                    )[0],
                )
                for name, states in (("with_prompt", cond), ("empty_prompt", empty))
            ),
        ):
            scores[name].append(score_colours(decode(latents)[:1], clip.caption, spec.fps))
    return {"sigma": sigma, "clips": n} | {name: _accuracy(v) for name, v in scores.items()}


def target_score(result: dict) -> float:
    """One number to rank models by: the mean held-out accuracy over the target fields."""
    fields = result["t2v"]["generated"]
    return float(np.mean([fields[k]["accuracy"] if k in fields else 0.0 for k in TARGETS]))


def ship_if_better(
    candidate: Path, shipped: Path, n: int, score: Callable[[Path, int, Callable], float], log=print
) -> dict:
    """Score both folders on the same n held-out items with the recipe's `score(folder, n, log)`; replace
    `shipped` with `candidate` only if the candidate scores higher. Returns both scores and whether it was
    shipped."""
    from openreels.train.export import atomic_folder

    scores: dict = {}
    for name, folder in (("candidate", candidate), ("shipped", shipped)):
        if not (folder / "transformer").is_dir():
            scores[name] = None
            continue
        scores[name] = float(score(folder, n, log))
        log(f"[ship] {name} {folder}: held-out score {scores[name]:.3f} on {n} items")
    better = scores["shipped"] is None or scores["candidate"] > scores["shipped"]
    if better:
        with atomic_folder(shipped) as tmp:
            shutil.copytree(candidate, tmp, dirs_exist_ok=True)
        log(f"[ship] {shipped} replaced by {candidate}")
    else:
        log(f"[ship] {shipped} kept: the candidate does not score better")
    return scores | {"shipped_new": better}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t2v", type=int, default=6)
    ap.add_argument("--i2v", type=int, default=3)
    ap.add_argument("--long-windows", type=int, default=10)
    ap.add_argument("--long-prompts", type=int, default=4, help="held-out prompts with a long video each")
    ap.add_argument("--model", default="openreels-tiny", help="registry id or model folder")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (seconds are then the GPU's)")
    ap.add_argument("--guidance", type=float, default=None, help="CFG scale (default: the model's)")
    ap.add_argument(
        "--prompt-effect", type=int, default=0, help="held-out clips for `prompt_effect` (0: skip)"
    )
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    res = measure(
        args.t2v,
        args.i2v,
        args.long_windows,
        long_prompts=args.long_prompts,
        model=args.model,
        device=args.device,
        guidance=args.guidance,
    )
    if args.prompt_effect:
        res["prompt_effect"] = prompt_effect(args.model, args.prompt_effect)
    arrays = {k: res.pop(k) for k in ("t2v_frames", "long_frames") if k in res}
    np.savez_compressed(args.out.with_suffix(".npz"), **arrays)
    args.out.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
