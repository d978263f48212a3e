"""The text-to-video recipes, and the registry of every recipe `openreels train --recipe` runs.

`tiny` makes the bundled openreels-tiny model in two stages, as latent video models are made:
  1. render a seeded set of stage clips; train a small AutoencoderKLWan on short crops of them;
  2. encode every clip once (latents cached, normalised with the measured per-channel statistics), encode every
     prompt once with the frozen MiniLM, then train a small SkyReelsV2Transformer3DModel with the
     diffusion-forcing flow objective on the cached latents;
and exports the EMA weights as a diffusers folder. `test` is the same path at toy sizes on moving shapes
(for the test suite), `smoke` the tiny model's sizes on moving shapes with few steps (to time a device).
What every recipe shares (sessions, the encoding cache, the training loop, export) is `runner.run_recipe`;
this file keeps only the parts of the text-to-video model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from safetensors.torch import load_file

from openreels.errors import OpenreelsError
from openreels.pipelines.text import SENTENCES, join_states
from openreels.train.data import BackgroundRenderer, ClipSet, MovingShapes, to_video_tensor
from openreels.train.export import export_pipeline_folder
from openreels.train.flow import ForcingConfig
from openreels.train.loop import LoopConfig
from openreels.train.objective import DiffusionForcingObjective
from openreels.train.runner import (
    Encoded,
    Model,
    RecipeParts,
    Run,
    finetune_decoder,
    shipped_path,
    train_vae,
)
from openreels.train.text import TEXT_DIM, PromptEncoder
from openreels.train.vae import encode_mode, latent_stats, normalise

# The first CPU design's VAE, openreels-tiny's until session 5 and a2-tiny's still (A2 encodes with it, frozen):
# 16 latent channels, encoder base 8 and decoder base 16 so a clip decodes in about a second on one CPU thread.
VAE_Z16 = {
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
# The transformer of sessions 1-6, a2-tiny's still: 128 wide, enough for 16 channels x 2 x 2 = 64 values per token
# but not for the 48-channel VAE's 192 (docs/tiny-model.md, session 7).
TRANSFORMER_128 = {
    "num_attention_heads": 2,
    "attention_head_dim": 64,
    "ffn_dim": 512,
    "num_layers": 4,
    "freq_dim": 64,
}


@dataclass
class Recipe(RecipeParts):
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
    # 48 latent channels, as Wan2.2's: with 16 (openreels-tiny's until session 5, `VAE_Z16`) its own
    # reconstructions score backdrop 7/11 and camera 22/32, below the targets; with 48, 10/11 and 30/32
    # (docs/tiny-model.md, session 5). Thin (encoder and decoder base 16): a clip decodes in under 2 s on a thread.
    vae: dict = field(default_factory=lambda: VAE_Z16 | {"base_dim": 16, "z_dim": 48})
    vae_loop: LoopConfig = field(
        default_factory=lambda: LoopConfig(steps=1708, lr=1e-3, warmup=50, ema_decay=None, ckpt_every=100)
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
    # With nothing of this design to continue (a new VAE, say), the transformer starts from this SkyReels-V2
    # transformer folder ("bundled": the shipped model's): every weight of the same shape is taken; the patch
    # embedding and output projection, whose shapes follow the VAE's z, start fresh.
    transformer_from: str | None = None
    vae_kl_weight: float = 1e-4
    # Stage 1b: the decoder alone, encoder frozen, on whole clips (all frames, full size): the crops of stage 1
    # never show it long sequences, and its causal cache drifts past the crop length without this.
    decoder_loop: LoopConfig = field(
        default_factory=lambda: LoopConfig(steps=137, lr=3e-4, warmup=10, ema_decay=None, ckpt_every=20)
    )
    decoder_batch: int = 2
    # Wider than the 192 values (48 channels x 2 x 2) each token writes, or part of the noise can never be
    # removed (`runner.check_token_width`); 2 layers keep it near the old 128 x 4 design's samples per CPU-second
    # (docs/tiny-model.md, session 7): width 256, 2.9 M parameters.
    transformer: dict = field(
        default_factory=lambda: {
            "num_attention_heads": 4,
            "attention_head_dim": 64,
            "ffn_dim": 1024,
            "num_layers": 2,
            "freq_dim": 64,
        }
    )
    # Trained by the clock on a CPU (`--time-limit`): the learning rate decays with the time left.
    dit_loop: LoopConfig = field(
        default_factory=lambda: LoopConfig(steps=20000, lr=1e-3, warmup=200, ema_decay=0.999, ckpt_every=200)
    )
    dit_batch: int = 64
    # Mostly whole-clip (text-to-video) samples, where the prompt alone decides the picture; the prefix modes
    # that i2v, extension and long video need keep 20%.
    forcing: ForcingConfig = field(
        default_factory=lambda: ForcingConfig(
            shift=3.0,
            logit_normal=True,
            p_uniform=0.7,
            p_independent=0.1,
            p_prefix=0.15,
            p_prefix_independent=0.05,
        )
    )
    text_drop_prob: float = 0.1
    # Each sentence of a prompt is encoded on its own and the states joined (openreels.json "text_encoding":
    # "sentences"), and `p_short_prompt` of the training prompts keep only 1 to `short_prompt_sentences` of
    # their sentences (shot; each character; objects; place and light): a phrase is learned where it stands
    # nearly alone, and it means the same inside a whole prompt (docs/tiny-model.md, session 3). With
    # `text_by_sentence` False a prompt is encoded whole and always used whole.
    text_by_sentence: bool = True
    p_short_prompt: float = 0.6
    short_prompt_sentences: int = 2
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
        } | ({"text_encoding": SENTENCES} if self.text_by_sentence else {})

    # ---- the runner's parts (see openreels.train.runner.RecipeParts) -------------------------------------

    def cache_key(self) -> dict:
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
            "text_by_sentence",
        )
        return {k: getattr(self, k) for k in keys} | {
            "vae_steps": self.vae_loop.steps,
            "decoder_steps": self.decoder_loop.steps,
        }

    def design(self) -> dict[str, dict]:
        z = self.vae["z_dim"]
        return {
            "vae": self.vae,
            "transformer": self.transformer | {"patch_size": [1, 2, 2], "in_channels": z},
        }

    def continued_from(self, folder: Path) -> Recipe:
        return replace(
            self,
            vae_from=str(folder / "vae"),
            keep_latent_stats=True,
            decoder_loop=replace(self.decoder_loop, steps=0),
        )

    def load_vae(self, folder: Path, dev: torch.device):
        from diffusers import AutoencoderKLWan

        return AutoencoderKLWan.from_pretrained(folder, torch_dtype=torch.float32).to(dev)

    def encode(self, vae, run: Run) -> Encoded:
        return _encode_clips(self, vae, run)

    def build(self, data: Encoded, run: Run) -> Model:
        latents, last_latents, unit_bank, unit_tokens, clip_units, null_text = (
            data.tensors[k].to(run.dev)
            for k in ("latents", "last_latents", "unit_bank", "unit_tokens", "clip_units", "null_text")
        )
        n_clips = len(latents)
        run.summary |= {"clips": n_clips, "text_units": len(unit_bank)}
        transformer = build_transformer(self)
        objective = DiffusionForcingObjective(
            forcing=self.forcing,
            text_drop_prob=self.text_drop_prob,
            null_text=null_text,
            p_end_frame=self.p_end_frame,
        )
        # The last clips are never trained on: their loss at fixed noise tells how the model generalises.
        n_hold = min(64, max(2, n_clips // 20))
        clip_unit_lists = [[u for u in row if u >= 0] for row in clip_units.tolist()]
        unit_lengths = unit_tokens.tolist()

        def text(units_per_clip: list[list[int]]) -> torch.Tensor:
            rows = [[unit_bank[u, : unit_lengths[u]] for u in units] for units in units_per_clip]
            return torch.stack([join_states(r, self.max_sequence_length) for r in rows]).float()

        def clip_batch(idx: torch.Tensor, units: list[list[int]] | None = None) -> dict:
            """Clips `idx` with the given sentences of each (default: its whole prompt)."""
            units = units or [clip_unit_lists[i] for i in idx.tolist()]
            idx = idx.to(run.dev)
            return {
                "latents": latents[idx].float(),
                "last_latent": last_latents[idx].float(),
                "text": text(units),
            }

        def batches(step: int, rank: int) -> dict:
            g = torch.Generator().manual_seed((self.seed * 104729 + step) * 131 + rank)
            idx = torch.randint(n_clips - n_hold, (self.dit_batch,), generator=g)
            short = (torch.rand(len(idx), generator=g) < self.p_short_prompt).tolist()
            units = []
            for i, is_short in zip(idx.tolist(), short, strict=True):
                whole = clip_unit_lists[i]
                if is_short and len(whole) > 1:  # 1..short_prompt_sentences of its sentences, in order
                    k = int(
                        torch.randint(1, min(self.short_prompt_sentences, len(whole)) + 1, (1,), generator=g)
                    )
                    keep = torch.randperm(len(whole), generator=g)[:k].sort().values.tolist()
                    whole = [whole[j] for j in keep]
                units.append(whole)
            return clip_batch(idx, units)

        held_out = clip_batch(torch.arange(n_clips - n_hold, n_clips))
        return Model(transformer, objective, batches, [held_out])

    def warm_parts(self, model, extras) -> dict:
        return {"transformer": model}

    def export(self, out_dir: Path, transformer, extras, data: Encoded, meta: dict, run: Run) -> None:
        export_pipeline_folder(out_dir, transformer, data.vae, meta)

    def fresh_start(self, model) -> str | None:
        if not self.transformer_from:
            return None
        bundled = self.transformer_from == "bundled"
        folder = shipped_path(self.name) / "transformer" if bundled else Path(self.transformer_from)
        if not folder.is_dir():
            if bundled:
                return None  # an install without the shipped model: the random initialisation
            raise OpenreelsError(f"transformer_from {folder}: no such transformer folder")
        ours = model.state_dict()
        theirs = load_file(next(folder.glob("*.safetensors")))
        taken = {k: v for k, v in theirs.items() if k in ours and ours[k].shape == v.shape}
        model.load_state_dict(taken, strict=False)
        fresh = sorted({k.rsplit(".", 1)[0] for k in ours if k not in taken})
        return f"{len(taken)} of {len(ours)} weights from {folder}; fresh: {', '.join(fresh) or 'none'}"

    def score(self, folder: Path, n: int, log) -> float:
        """The mean held-out accuracy of text-to-video clips over the target fields (`report.target_score`)."""
        from openreels.train.report import measure, target_score

        return target_score(measure(n, 0, 0, log=lambda _line: None, model=str(folder), vae_ceiling=False))


def _tiny() -> Recipe:
    return Recipe(name="tiny", warm_from="bundled", transformer_from="bundled")


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
        # the tiny recipe's design (2x2 pixels folded in, 16x spatial) at toy width
        vae=VAE_Z16 | {"base_dim": 4, "decoder_base_dim": None, "z_dim": 4, "dim_mult": [1, 2, 2, 2]},
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


def _a1(name: str) -> Callable[[], RecipeParts]:
    def make() -> RecipeParts:
        from openreels.train import a1  # imported late: a1 loads the A1 pipeline code

        return {"a1-tiny": a1.a1_tiny, "a1-toy": a1.a1_toy}[name]()

    return make


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
    "a1-tiny": _a1("a1-tiny"),  # SkyReels-A1 (portrait animation)
    "a1-toy": _a1("a1-toy"),
}


def get_recipe(name: str) -> RecipeParts:
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


def _encode_clips(recipe: Recipe, vae, run: Run) -> Encoded:
    """Render the clips, train the VAE on them (unless given one), then encode every clip and prompt once."""
    dev, log, summary, is_main = run.dev, run.log, run.summary, run.dist.is_main
    # Every rank renders the same seeded set (ranks differ in what they draw), in the background; the VAE
    # trains on the first `vae_clips` while the rest render.
    workers = recipe.render_workers if recipe.render_workers >= 0 else max(1, (os.cpu_count() or 1) - 1)
    t_render = time.perf_counter()
    renderer = BackgroundRenderer(clip_factory(recipe), recipe.clips, recipe.seed, workers)

    t0 = time.perf_counter()
    if vae is None:
        first = renderer.wait(min(recipe.vae_clips, recipe.clips))
        if is_main:
            log(f"[render] first {len(first)} clips in {time.perf_counter() - t_render:.1f} s; VAE starts")
        torch.manual_seed(recipe.seed)
        vae = train_vae(recipe, build_vae(recipe), [first.frames], run)
        del first
    summary["vae_train_s"] = round(time.perf_counter() - t0, 1)
    if recipe.decoder_loop.steps > 0:
        t0 = time.perf_counter()
        vae = finetune_decoder(
            recipe, vae, renderer.wait(min(recipe.decoder_clips, recipe.clips)).frames, run
        )
        summary["decoder_train_s"] = round(time.perf_counter() - t0, 1)
    if is_main and renderer.done < recipe.clips:
        log(f"[render] {renderer.done}/{recipe.clips} clips rendered; waiting for the rest")
    clips = renderer.result(recipe.render_wait_s)
    summary["render_s"] = round(time.perf_counter() - t_render, 1)
    if is_main:
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
    text = encode_prompts(clips.prompts, recipe, dev)
    summary["encode_s"] = round(time.perf_counter() - t0, 1)
    if is_main:
        log(
            f"[encode] {len(clips)} clips -> latents {tuple(latents.shape[1:])}, {len(text['unit_bank'])} "
            f"{'sentences' if recipe.text_by_sentence else 'prompts'}, VAE PSNR {summary['vae_psnr_db']:.1f} dB "
            f"in {summary['encode_s']} s"
        )
    stats = {k: summary[k] for k in ("vae_steps", "decoder_steps", "vae_psnr_db") if k in summary}
    tensors = {"latents": latents, "last_latents": last_latents} | text
    return Encoded(vae, tensors, stats)


def encode_prompts(prompts: list[str], recipe: Recipe, dev) -> dict:
    """Every prompt's units (its sentences, or the whole prompt) encoded once: unit_bank (units, tokens, 384)
    zero past each unit's unit_tokens, clip_units (clips, most units) indices into it, -1 past the end; and
    null_text, the empty prompt's states."""
    encoder = PromptEncoder(dev, recipe.max_sequence_length, by_sentence=recipe.text_by_sentence)
    per_clip = [encoder.units(p) for p in prompts]
    unique = list(dict.fromkeys(u for units in per_clip for u in units))
    lookup = {u: i for i, u in enumerate(unique)}
    states = encoder.unit_states(unique)
    tokens = torch.tensor([len(s) for s in states])
    bank = torch.zeros(len(unique), int(tokens.max()), TEXT_DIM, dtype=torch.float16)
    for i, s in enumerate(states):
        bank[i, : len(s)] = s
    most = max(len(units) for units in per_clip)
    clip_units = torch.full((len(prompts), most), -1)
    for i, units in enumerate(per_clip):
        clip_units[i, : len(units)] = torch.tensor([lookup[u] for u in units])
    return {
        "unit_bank": bank,
        "unit_tokens": tokens,
        "clip_units": clip_units,
        "null_text": encoder([""], dev),
    }


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
