"""Recipes: the whole path from a seed to a shipped model, as one function.

`tiny` makes the bundled openreels-tiny model in two stages, as latent video models are made:
  1. render a seeded set of stage clips; train a small AutoencoderKLWan on short crops of them;
  2. encode every clip once (latents cached, normalised with the measured per-channel statistics), encode every
     prompt once with the frozen MiniLM, then train a small SkyReelsV2Transformer3DModel with the
     diffusion-forcing flow objective on the cached latents;
and exports the EMA weights as a diffusers folder. `test` is the same path at toy sizes on moving shapes
(for the test suite), `smoke` the tiny model's sizes on moving shapes with few steps (to time a device).
"""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from openreels.errors import OpenreelsError
from openreels.train.data import BackgroundRenderer, ClipSet, MovingShapes, to_video_tensor
from openreels.train.export import export_pipeline_folder, folder_size_mb, write_json
from openreels.train.flow import ForcingConfig
from openreels.train.loop import LoopConfig, Trainer, atomic_torch_save, init_distributed
from openreels.train.objective import DiffusionForcingObjective
from openreels.train.text import TEXT_DIM, PromptEncoder
from openreels.train.vae import (
    DecoderLoss,
    VAELoss,
    encode_mode,
    latent_stats,
    normalise,
    random_crops,
    train_autoencoder,
)


@dataclass
class Recipe:
    name: str
    seed: int = 0
    source: str = "stage"  # "stage" (openreels.world) or "shapes"
    size: int = 128
    frames: int = 33
    fps: float = 8.0
    clips: int = 2500
    vae_clips: int = 300  # the VAE trains on the first clips while the rest render
    decoder_clips: int = 300  # the decoder fine-tunes on the first clips
    render_wait_s: float | None = (
        None  # after the VAE, wait at most this long for the rest (then use what exists)
    )
    render_workers: int = -1  # -1: one per CPU core but one
    # A Wan2.2-style VAE (2x2 pixels folded into channels, then 8x: 16x spatial, 4x temporal, residual
    # shortcuts): a 128x128x33 clip becomes 9x8x8 latents, 144 transformer tokens (the old 8x VAE gave 576).
    # Thin (base 8, decoder 16) so a clip decodes in about a second on one CPU thread.
    vae: dict = field(
        default_factory=lambda: {
            "base_dim": 8,
            "decoder_base_dim": 16,
            "z_dim": 16,
            "dim_mult": [1, 2, 4, 4],
            "num_res_blocks": 1,
            "temperal_downsample": [False, True, True],
            "is_residual": True,
            "patch_size": 2,
            "in_channels": 12,
            "out_channels": 12,
            "scale_factor_spatial": 16,
        }
    )
    vae_loop: LoopConfig = field(
        default_factory=lambda: LoopConfig(steps=900, lr=1e-3, warmup=50, ema_decay=None, ckpt_every=100)
    )
    vae_batch: int = 8
    vae_crop: int = 9  # frames per VAE training crop (1 + 4k, so the temporal compression is exercised)
    vae_crop_size: int = 64  # square spatial crop: the VAE is convolutional, smaller crops train it faster
    vae_from: str | None = None  # a trained AutoencoderKLWan folder: skip the VAE stage (two-step runs)
    # Continue from a model folder of the same design (its VAE, latent statistics and transformer weights), so
    # every session adds training: "bundled" is the shipped model of this recipe's name. Used when the work
    # folder holds no transformer checkpoint of its own; a folder of another design is ignored, with a note.
    warm_from: str | None = None
    keep_latent_stats: bool = False  # with vae_from: keep that VAE's latents_mean/std (a warm start does)
    vae_kl_weight: float = 1e-4
    # Stage 1b: the decoder alone, encoder frozen, on whole clips (all frames, full size): the crops of stage 1
    # never show it long sequences, and its causal cache drifts past the crop length without this.
    decoder_loop: LoopConfig = field(
        default_factory=lambda: LoopConfig(steps=60, lr=3e-4, warmup=10, ema_decay=None, ckpt_every=20)
    )
    decoder_batch: int = 2
    # Sized for samples per CPU-second (docs/tiny-model.md): width 128, 4 layers, 1.3 M parameters.
    transformer: dict = field(
        default_factory=lambda: {
            "num_attention_heads": 2,
            "attention_head_dim": 64,
            "ffn_dim": 512,
            "num_layers": 4,
            "freq_dim": 64,
        }
    )
    # Trained by the clock on a CPU (`--time-limit`): the learning rate decays with the time left.
    dit_loop: LoopConfig = field(
        default_factory=lambda: LoopConfig(steps=20000, lr=1e-3, warmup=200, ema_decay=0.999, ckpt_every=200)
    )
    dit_batch: int = 64
    forcing: ForcingConfig = field(default_factory=lambda: ForcingConfig(shift=3.0, logit_normal=True))
    text_drop_prob: float = 0.1
    p_end_frame: float = 0.1
    max_sequence_length: int = 128  # stage prompts are at most ~90 MiniLM tokens
    # Generation defaults written to openreels.json.
    sample_steps: int = 20
    guidance: float = 5.0
    sample_shift: float = 3.0

    def defaults(self) -> dict:
        return {
            "size": [self.size, self.size],  # (height, width)
            "frames": self.frames,
            "fps": int(round(self.fps)),
            "steps": self.sample_steps,
            "guidance": self.guidance,
            "shift": self.sample_shift,
            "negative_prompt": "",
            "max_sequence_length": self.max_sequence_length,
            # long video: each window re-uses the last 9 frames (3 latent frames) of the one before
            "overlap_history": 9,
            "addnoise_condition": 20.0,
            "recipe": self.name,
            "seed": self.seed,
        }


def _tiny() -> Recipe:
    return Recipe(name="tiny", warm_from="bundled")


def _smoke() -> Recipe:
    r = Recipe(name="smoke", source="shapes", clips=512)
    r.vae_loop = replace(r.vae_loop, steps=60, log_every=10, ckpt_every=1000, warmup=10)
    r.decoder_loop = replace(r.decoder_loop, steps=20, log_every=10, ckpt_every=1000, warmup=5)
    r.dit_loop = replace(r.dit_loop, steps=200, log_every=25, ckpt_every=1000, warmup=20)
    return r


def _test() -> Recipe:
    r = Recipe(
        name="test",
        source="shapes",
        size=32,
        frames=9,
        clips=48,
        render_workers=0,
        vae={  # the tiny recipe's design (2x2 pixels folded in, 16x spatial) at toy width
            "base_dim": 4,
            "z_dim": 4,
            "dim_mult": [1, 2, 2, 2],
            "num_res_blocks": 1,
            "temperal_downsample": [False, True, True],
            "is_residual": True,
            "patch_size": 2,
            "in_channels": 12,
            "out_channels": 12,
            "scale_factor_spatial": 16,
        },
        transformer={
            "num_attention_heads": 2,
            "attention_head_dim": 16,
            "ffn_dim": 64,
            "num_layers": 2,
            "freq_dim": 32,
        },
        vae_batch=4,
        vae_crop=5,
        dit_batch=8,
        max_sequence_length=32,
        sample_steps=4,
    )
    r.vae_loop = LoopConfig(steps=10, lr=1e-3, warmup=2, ema_decay=None, ckpt_every=5, log_every=5)
    r.decoder_loop = LoopConfig(steps=2, lr=1e-3, warmup=1, ema_decay=None, ckpt_every=5, log_every=5)
    r.decoder_batch = 2
    r.dit_loop = LoopConfig(steps=30, lr=2e-3, warmup=3, ema_decay=0.9, ckpt_every=5, log_every=5)
    return r


def _a1_tiny():
    from openreels.train.a1 import a1_tiny

    return a1_tiny()


def _a2(name: str) -> Callable[[], Recipe]:
    def make() -> Recipe:
        from openreels.train import a2  # imported late: a2 builds on this module

        return {"a2-tiny": a2.a2_tiny_recipe, "a2-test": a2.a2_test_recipe}[name]()

    return make


RECIPES: dict[str, Callable[[], Recipe]] = {
    "tiny": _tiny,
    "smoke": _smoke,
    "test": _test,
    "a2-tiny": _a2("a2-tiny"),
    "a2-test": _a2("a2-test"),
    "a1-tiny": _a1_tiny,  # SkyReels-A1 (portrait animation); trains itself through its `run`
}


def get_recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise OpenreelsError(f"unknown recipe {name!r}; choose one of: {', '.join(RECIPES)}")
    return RECIPES[name]()


def clip_factory(recipe: Recipe) -> Callable[[int], object]:
    """seed -> iterable of clips for the recipe's source."""
    if recipe.source == "shapes":
        return _ShapesFactory(recipe.size, recipe.frames)
    if recipe.source == "stage":
        try:
            from openreels.world.dataset import StageClips  # noqa: F401
        except ImportError as exc:
            raise OpenreelsError(
                "the stage renderer (openreels.world) is not installed; use --source shapes or update openreels"
            ) from exc
        return _StageFactory(recipe.size, recipe.frames, recipe.fps)
    raise OpenreelsError(f"unknown data source {recipe.source!r}; use 'stage' or 'shapes'")


@dataclass
class _ShapesFactory:  # a picklable factory, so DataLoader workers can build it
    size: int
    frames: int

    def __call__(self, seed: int) -> MovingShapes:
        return MovingShapes(self.size, self.frames, seed)


@dataclass
class _StageFactory:
    size: int
    frames: int
    fps: float

    def __call__(self, seed: int):
        from openreels.world.dataset import StageClips

        return StageClips((self.size, self.size), self.frames, fps=self.fps, seed=seed, split="train")


def build_vae(recipe: Recipe):
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(**recipe.vae)


def build_transformer(recipe: Recipe):
    from diffusers import SkyReelsV2Transformer3DModel

    z = recipe.vae["z_dim"]
    return SkyReelsV2Transformer3DModel(
        in_channels=z, out_channels=z, text_dim=TEXT_DIM, patch_size=(1, 2, 2), **recipe.transformer
    )


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)


@dataclass
class EncodedClips:
    """Stage 1-3 output: the trained VAE and every clip and prompt encoded once (what the transformer trains on)."""

    vae: object
    latents: torch.Tensor  # (N, C, F, H, W), normalised with the VAE's latents_mean / latents_std
    last_latents: torch.Tensor  # the last frame alone, for the start/end-frame task
    prompt_idx: torch.Tensor  # clip -> row of text_bank
    text_bank: torch.Tensor  # (unique prompts, tokens used, TEXT_DIM) MiniLM states
    null_text: torch.Tensor
    stats: dict  # how stages 1-3 went (steps, VAE PSNR), kept for the run summary


def _cache_key(recipe: Recipe) -> dict:
    keys = (
        "name",
        "seed",
        "source",
        "size",
        "frames",
        "fps",
        "clips",
        "vae",
        "vae_from",
        "max_sequence_length",
    )
    return {k: getattr(recipe, k) for k in keys} | {
        "vae_steps": recipe.vae_loop.steps,
        "decoder_steps": recipe.decoder_loop.steps,
    }


def run_recipe(
    recipe: Recipe,
    out_dir: str | Path,
    workdir: str | Path,
    device: str = "auto",
    log: Callable[[str], None] | None = None,
    stop_after_s: float | None = None,
) -> dict:
    """Train the recipe end to end and export the model to out_dir; returns a summary (times, sizes, losses).

    With `stop_after_s`, a stage still running after that many seconds checkpoints and raises `TrainingPaused`;
    the same call again resumes where it stopped (the encoded clips are cached in `workdir`, so it does not
    render or encode again). This is how a run is split over jobs with a wall-clock limit.
    """
    if not isinstance(recipe, Recipe):  # other model families' recipes (a1-tiny) run their own stages
        return recipe.run(out_dir, workdir, device, log=log, stop_after_s=stop_after_s)
    from openreels.train.a2 import A2Recipe, run_a2_recipe

    if isinstance(recipe, A2Recipe):  # the bundled SkyReels-A2: see openreels.train.a2
        return run_a2_recipe(recipe, out_dir, workdir, device, log, stop_after_s)
    log = log or (lambda s: print(s, flush=True))
    dist_info, dev = init_distributed(device)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    pause_at = time.monotonic() + stop_after_s if stop_after_s is not None else None
    summary: dict = {
        "recipe": recipe.name,
        "seed": recipe.seed,
        "device": str(dev),
        "world_size": dist_info.world_size,
    }
    if dev.type == "cuda":
        summary["device_name"] = torch.cuda.get_device_name(dev)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    warm = _warm_start_folder(recipe, workdir, log)
    if warm is not None:
        # The transformer continues in the latent space it was trained in: the folder's VAE and statistics.
        recipe = replace(
            recipe,
            vae_from=str(warm / "vae"),
            keep_latent_stats=True,
            decoder_loop=replace(recipe.decoder_loop, steps=0),
        )
        summary["warm_from"] = str(warm)
    cache = workdir / "encoded.pt"
    if cache.exists() and (workdir / "vae" / "config.json").exists():
        data = _load_encoded(recipe, workdir, dev, summary)
        if dist_info.is_main:
            log(f"[encode] {len(data.latents)} encoded clips and the VAE loaded from {workdir}")
    else:
        data = _encode_clips(recipe, workdir, dev, dist_info, log, summary, pause_at)
        if dist_info.is_main:
            _save_encoded(recipe, data, workdir)
        if dist_info.world_size > 1:
            torch.distributed.barrier()
    vae, latents, last_latents = data.vae, data.latents, data.last_latents
    prompt_idx, text_bank, null_text = data.prompt_idx, data.text_bank, data.null_text
    used = text_bank.shape[1]
    n_clips = len(latents)
    summary |= data.stats | {"clips": n_clips, "unique_prompts": len(text_bank)}

    # 4. diffusion-forcing transformer
    _seed_everything(recipe.seed + 1)
    transformer = build_transformer(recipe)
    history = _start_segment(transformer, workdir, warm, log) if recipe.warm_from else []
    objective = DiffusionForcingObjective(
        forcing=recipe.forcing,
        text_drop_prob=recipe.text_drop_prob,
        null_text=null_text,
        p_end_frame=recipe.p_end_frame,
    )
    pad = recipe.max_sequence_length - used
    # The last clips are never trained on: their loss at fixed noise tells how the model generalises.
    n_hold = min(64, max(2, n_clips // 20))

    def clip_batch(idx: torch.Tensor) -> dict:
        text = text_bank[prompt_idx[idx]].float()
        text = torch.cat([text, text.new_zeros(text.shape[0], pad, TEXT_DIM)], dim=1)
        return {"latents": latents[idx].float(), "last_latent": last_latents[idx].float(), "text": text}

    def dit_batches(step: int, rank: int) -> dict:
        g = torch.Generator().manual_seed((recipe.seed * 104729 + step) * 131 + rank)
        return clip_batch(torch.randint(n_clips - n_hold, (recipe.dit_batch,), generator=g).to(dev))

    held_out = clip_batch(torch.arange(n_clips - n_hold, n_clips, device=dev))
    loss_before = heldout_loss(transformer.to(dev), held_out)

    dit_loop = replace(recipe.dit_loop, seed=recipe.seed)
    t0 = time.perf_counter()
    dit_trainer = Trainer(
        "dit",
        transformer,
        objective,
        dit_batches,
        dit_loop,
        workdir,
        dev,
        dist_info,
        extra_modules=objective.trainable_modules(),
        samples_per_batch=recipe.dit_batch,
        log=log,
        pause_at=pause_at,
    )
    transformer = dit_trainer.run().eval()
    summary["dit_train_s"] = round(time.perf_counter() - t0, 1)
    summary["dit_steps"] = dit_trainer.step
    summary["heldout_loss"] = [round(loss_before, 4), round(heldout_loss(transformer, held_out), 4)]
    if dist_info.is_main:
        log(f"[dit] held-out velocity MSE {summary['heldout_loss'][0]} -> {summary['heldout_loss'][1]}")
    segment = {
        "heldout_loss": summary["heldout_loss"],
        "samples": dit_trainer.step * recipe.dit_batch * recipe.dit_loop.grad_accum * dist_info.world_size,
        "train_s": round(dit_trainer.elapsed, 1),
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "clips": n_clips,
        "date": time.strftime("%Y-%m-%d"),
    }
    history = history + [segment]
    summary["history"] = history
    summary["samples_seen"] = sum(h["samples"] for h in history)

    # 5. export
    if dist_info.is_main:
        note = _training_note(summary) | {"history": history, "samples_seen": summary["samples_seen"]}
        export_pipeline_folder(out_dir, transformer, vae, recipe.defaults() | {"training": note})
        write_json(workdir / "history.json", _read_json(workdir / "history.json") | {"history": history})
        summary["out_dir"] = str(out_dir)
        summary["size_mb"] = folder_size_mb(out_dir)
        summary["total_s"] = round(time.perf_counter() - t_start, 1)
        log(f"[export] {out_dir} ({summary['size_mb']} MB) after {summary['total_s']} s")
    return summary


@torch.no_grad()
def heldout_loss(
    transformer, batch: dict, sigmas: tuple[float, ...] = (0.25, 0.5, 0.75), seed: int = 0
) -> float:
    """Velocity MSE of clips at fixed noise levels and fixed noise, with their text (the same every call)."""
    from openreels.train.flow import add_noise, timesteps_from_sigmas, velocity_target
    from openreels.train.objective import skyreels_forward

    x0 = batch["latents"]
    g = torch.Generator().manual_seed(seed)
    losses = []
    for s in sigmas:
        noise = torch.randn(x0.shape, generator=g).to(x0)
        sig = torch.full(x0.shape[:1] + x0.shape[2:3], s, device=x0.device)
        pred = skyreels_forward(
            transformer, add_noise(x0, noise, sig), timesteps_from_sigmas(sig), batch["text"], None
        )
        losses.append(float((pred.float() - velocity_target(x0, noise).float()).pow(2).mean()))
    return sum(losses) / len(losses)


def _same_design(folder: Path, recipe: Recipe) -> bool:
    """Whether a model folder has the recipe's VAE and transformer configuration (so its weights fit)."""
    try:
        vae = json.loads((folder / "vae" / "config.json").read_text())
        transformer = json.loads((folder / "transformer" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    patch = list(transformer.get("patch_size", []))
    return (
        all(vae.get(k) == v for k, v in recipe.vae.items())
        and all(transformer.get(k) == v for k, v in recipe.transformer.items())
        and patch == [1, 2, 2]
        and transformer.get("in_channels") == recipe.vae["z_dim"]
    )


def _warm_start_folder(recipe: Recipe, workdir: Path, log) -> Path | None:
    """The model folder this run continues from, or None (train from scratch, or resume the work folder)."""
    if not recipe.warm_from or (workdir / "encoded.pt").exists():
        # A work folder with its own encoded clips continues its own model (or started from the folder before).
        previous = _read_json(workdir / "history.json").get("warm_from")
        return Path(previous) if previous and recipe.warm_from else None
    if recipe.warm_from == "bundled":
        from openreels.models.tiny import bundled_tiny_dir

        folder = bundled_tiny_dir() if recipe.name == "tiny" else None
        if folder is None:
            return None
    else:
        folder = Path(recipe.warm_from)
    if not _same_design(folder, recipe):
        log(f"[warm] {folder} is of another design than recipe {recipe.name!r}: training from scratch")
        return None
    write_json(workdir / "history.json", {"warm_from": str(folder), "history": []})
    return folder


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _start_segment(transformer, workdir: Path, warm: Path | None, log) -> list[dict]:
    """Set the transformer's starting weights for this run and return the training history before it.

    A work folder whose transformer checkpoint is unfinished resumes it (the Trainer loads it). A finished one
    (an earlier session's run) is kept as `dit.<k>.ckpt` and a new segment starts from its EMA weights; with
    no checkpoint, a warm-start folder's weights are the start. Each segment then has its own warm-up and
    decay, so a session's training always ends annealed."""
    from safetensors.torch import load_file

    saved = _read_json(workdir / "history.json")
    history = list(saved.get("history", []))
    ckpt = workdir / "dit.ckpt"
    if ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        if state["step"] < state["cfg"]["steps"]:
            return history  # unfinished: the Trainer resumes it
        ema = state["ema"] or {}
        weights = {k[len("module.model.") :]: v for k, v in ema.items() if k.startswith("module.model.")}
        transformer.load_state_dict(
            weights or {k[len("model.") :]: v for k, v in state["module"].items() if k.startswith("model.")}
        )
        ckpt.rename(workdir / f"dit.{max(len(history) - 1, 0)}.ckpt")  # the history already counts it
        log(f"[dit] segment {len(history) + 1}: continuing from the finished run in {workdir}")
    elif warm is not None:
        if not history:
            history = list(_read_json(warm / "openreels.json").get("training", {}).get("history", []))
            write_json(workdir / "history.json", saved | {"history": history})
        transformer.load_state_dict(load_file(warm / "transformer" / "diffusion_pytorch_model.safetensors"))
        log(f"[dit] segment {len(history) + 1}: warm start from {warm}")
    return history


def _encode_clips(
    recipe: Recipe, workdir: Path, dev, dist_info, log, summary: dict, pause_at: float | None
) -> EncodedClips:
    """Stages 1-3: render the clips, train the VAE on them, then encode every clip and prompt once."""
    # Every rank renders the same seeded set (ranks differ in what they draw), in the background; the VAE
    # trains on the first `vae_clips` while the rest render.
    workers = recipe.render_workers if recipe.render_workers >= 0 else max(1, (os.cpu_count() or 1) - 1)
    t_render = time.perf_counter()
    renderer = BackgroundRenderer(clip_factory(recipe), recipe.clips, recipe.seed, workers)

    t0 = time.perf_counter()
    if recipe.vae_from:
        from diffusers import AutoencoderKLWan

        vae = AutoencoderKLWan.from_pretrained(recipe.vae_from, torch_dtype=torch.float32).to(dev)
        vae = vae.eval().requires_grad_(False)
        summary["vae_from"] = str(recipe.vae_from)
    else:
        first = renderer.wait(min(recipe.vae_clips, recipe.clips))
        if dist_info.is_main:
            log(f"[render] first {len(first)} clips in {time.perf_counter() - t_render:.1f} s; VAE starts")
        vae = _train_vae(recipe, first, workdir, dev, dist_info, log, summary, pause_at)
        del first
    summary["vae_train_s"] = round(time.perf_counter() - t0, 1)
    if recipe.decoder_loop.steps > 0:
        t0 = time.perf_counter()
        first = renderer.wait(min(recipe.decoder_clips, recipe.clips))
        vae = finetune_decoder(recipe, vae, first, workdir, dev, dist_info, log, summary, pause_at)
        del first
        summary["decoder_train_s"] = round(time.perf_counter() - t0, 1)
    if dist_info.is_main and renderer.done < recipe.clips:
        log(f"[render] {renderer.done}/{recipe.clips} clips rendered; waiting for the rest")
    clips = renderer.result(recipe.render_wait_s)
    summary["render_s"] = round(time.perf_counter() - t_render, 1)
    if dist_info.is_main:
        log(f"[render] {len(clips)} clips of {tuple(clips.frames.shape[1:])} after {summary['render_s']} s")

    t0 = time.perf_counter()
    raw, last = [], []
    with torch.no_grad():
        for i in range(0, len(clips), 32):
            video = to_video_tensor(clips.frames[i : i + 32], dev)
            raw.append(encode_mode(vae, video).float())
            last.append(encode_mode(vae, video[:, :, -1:]).float())
    raw_latents = torch.cat(raw)
    if recipe.keep_latent_stats:
        mean, std = list(vae.config.latents_mean), list(vae.config.latents_std)
    else:
        mean, std = latent_stats(raw_latents)
        vae.register_to_config(latents_mean=mean, latents_std=std)
    latents = normalise(raw_latents, mean, std).to(torch.bfloat16 if dev.type == "cuda" else torch.float32)
    last_latents = normalise(torch.cat(last), mean, std).to(latents.dtype)
    del raw, raw_latents, last
    summary["vae_psnr_db"] = round(_psnr_check(vae, clips, dev, mean, std, latents), 2)
    encoder = PromptEncoder(dev, recipe.max_sequence_length)
    unique = list(dict.fromkeys(clips.prompts))
    lookup = {p: i for i, p in enumerate(unique)}
    prompt_idx = torch.tensor([lookup[p] for p in clips.prompts], device=dev)
    text_bank = encoder(unique, dev).to(latents.dtype)
    null_text = encoder([""], dev)
    used = int((text_bank.abs().sum(-1) > 0).sum(-1).max())  # longest prompt in tokens
    text_bank = text_bank[:, :used].contiguous()  # padded back to max_sequence_length per batch
    summary["encode_s"] = round(time.perf_counter() - t0, 1)
    if dist_info.is_main:
        log(
            f"[encode] {len(clips)} clips -> latents {tuple(latents.shape[1:])}, {len(unique)} prompts "
            f"(<= {used} tokens), VAE PSNR {summary['vae_psnr_db']:.1f} dB in {summary['encode_s']} s"
        )
    stats = {k: summary[k] for k in ("vae_steps", "decoder_steps", "vae_psnr_db") if k in summary}
    return EncodedClips(vae, latents, last_latents, prompt_idx, text_bank, null_text, stats)


def _save_encoded(recipe: Recipe, data: EncodedClips, workdir: Path) -> None:
    copy.deepcopy(data.vae).to("cpu", torch.float16).save_pretrained(workdir / "vae", safe_serialization=True)
    tensors = {
        k: getattr(data, k).cpu() for k in ("latents", "last_latents", "prompt_idx", "text_bank", "null_text")
    }
    atomic_torch_save({"key": _cache_key(recipe), "stats": data.stats, **tensors}, workdir / "encoded.pt")


def _load_encoded(recipe: Recipe, workdir: Path, dev, summary: dict) -> EncodedClips:
    from diffusers import AutoencoderKLWan

    state = torch.load(workdir / "encoded.pt", map_location=dev, weights_only=True)
    if state["key"] != _cache_key(recipe):
        raise OpenreelsError(
            f"{workdir} holds clips encoded for other recipe settings; pass a new --workdir or delete that one"
        )
    vae = AutoencoderKLWan.from_pretrained(workdir / "vae", torch_dtype=torch.float32).to(dev)
    summary["encoded_from"] = str(workdir)
    return EncodedClips(
        vae.eval().requires_grad_(False),
        *(state[k] for k in ("latents", "last_latents", "prompt_idx", "text_bank", "null_text")),
        state["stats"],
    )


def _train_vae(
    recipe: Recipe, clips: ClipSet, workdir: Path, dev, dist_info, log, summary: dict, pause_at: float | None
):
    _seed_everything(recipe.seed)
    vae = build_vae(recipe)
    crop = min(recipe.vae_crop, recipe.frames)
    side = min(recipe.vae_crop_size, recipe.size)

    def vae_batches(step: int, rank: int) -> dict:
        g = torch.Generator().manual_seed((recipe.seed * 7919 + step) * 131 + rank)
        crops = random_crops(g, recipe.vae_batch, len(clips), clips.frames.shape[1:4], crop, side)
        video = torch.stack(
            [clips.frames[i, a : a + crop, b : b + side, c : c + side] for i, a, b, c in crops]
        )
        return {"video": to_video_tensor(video, dev)}

    vae, summary["vae_steps"] = train_autoencoder(
        "vae",
        VAELoss(vae, kl_weight=recipe.vae_kl_weight),
        vae_batches,
        replace(recipe.vae_loop, seed=recipe.seed),
        workdir,
        dev,
        recipe.vae_batch,
        dist_info,
        log,
        pause_at,
    )
    return vae


def finetune_decoder(
    recipe: Recipe,
    vae,
    clips: ClipSet,
    workdir: Path,
    dev,
    dist_info,
    log,
    summary: dict,
    pause_at: float | None = None,
):
    """Stage 1b: train the decoder on whole clips with the encoder frozen (see `DecoderLoss`)."""
    vae = vae.to(dev).train()

    def batches(step: int, rank: int) -> dict:
        g = torch.Generator().manual_seed((recipe.seed * 15485863 + step) * 131 + rank)
        idx = torch.randint(len(clips), (recipe.decoder_batch,), generator=g)
        return {"video": to_video_tensor(clips.frames[idx], dev)}

    vae, summary["decoder_steps"] = train_autoencoder(
        "decoder",
        DecoderLoss(vae),
        batches,
        replace(recipe.decoder_loop, seed=recipe.seed),
        workdir,
        dev,
        recipe.decoder_batch,
        dist_info,
        log,
        pause_at,
    )
    return vae


def _training_note(summary: dict) -> dict:
    keys = (
        "recipe",
        "seed",
        "device",
        "device_name",
        "world_size",
        "clips",
        "vae_steps",
        "dit_steps",
        "vae_psnr_db",
    )
    return {k: summary[k] for k in keys if k in summary}


@torch.no_grad()
def _psnr_check(vae, clips: ClipSet, dev, mean, std, latents) -> float:
    """Reconstruction PSNR (dB) of the first few clips through the normalised latents, as the pipeline decodes."""
    n = min(4, len(clips))
    m = torch.tensor(mean, device=dev).view(1, -1, 1, 1, 1)
    s = torch.tensor(std, device=dev).view(1, -1, 1, 1, 1)
    recon = vae.decode((latents[:n].float() * s + m).to(vae.dtype)).sample.float().clamp(-1, 1)
    target = to_video_tensor(clips.frames[:n], dev)
    mse = ((recon - target) / 2).pow(2).mean().clamp_min(1e-10)
    return float(10 * torch.log10(1 / mse))


def recipe_summary(recipe: Recipe) -> dict:
    """The recipe as plain data (for --json and the run's record)."""
    return asdict(recipe)
