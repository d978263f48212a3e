"""The one recipe runner: every bundled model is made by the same stages, with its recipe's own parts plugged in.

A recipe is a dataclass of sizes and schedules (`recipes.Recipe` for openreels-tiny, `a1.A1Recipe`,
`a2.A2Recipe`) that inherits `RecipeParts` and fills in what only it knows: the clips or pairs it makes and how
they are encoded, the model and the conditions it trains (`ChannelCondition`, `TokenCondition`), its export
layout and its held-out score. `run_recipe` does the rest, the same way for all of them:
  1. sessions: a work folder whose transformer checkpoint is unfinished resumes it (after a pause or a kill);
     a finished one is kept as `dit.<k>.ckpt` and a new segment starts from its EMA weights (from the newest
     kept one if the new segment was stopped before its first checkpoint); with no work folder yet, a run
     warm-starts from the shipped model of the same design (`warm_from="bundled"`) or a named folder; a folder
     of another design is ignored with a note. Each segment is recorded in `<workdir>/history.json` and
     in the exported openreels.json;
  2. VAE: taken from a folder (`vae_from`, or the warm-start folder's), or trained by the recipe through
     `train_vae` / `finetune_decoder` here;
  3. the encoding cache: everything the transformer trains on, encoded once into `<workdir>/encoded.pt` (written
     atomically, with the recipe's cache key) and the VAE into `<workdir>/vae`; a cache of other settings or of
     another recipe stops the run with one line that says which;
  4. the transformer (and the conditions that learn with it) through `loop.Trainer`, with its held-out loss at
     fixed noise before and after; `stop_after_s` pauses it (`TrainingPaused`), the same call resumes;
  5. export of the EMA weights in the recipe's layout. `report.ship_if_better` then replaces the shipped model
     only if the recipe's held-out score of the new one is higher.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from openreels.errors import OpenreelsError
from openreels.train.data import to_video_tensor
from openreels.train.export import folder_size_mb, write_json
from openreels.train.loop import DistInfo, Trainer, atomic_torch_save, init_distributed
from openreels.train.objective import DiffusionForcingObjective
from openreels.train.vae import DecoderLoss, VAELoss, random_crops, train_autoencoder

CACHE = "encoded.pt"
# The recipes whose model ships inside the package, and its folder under openreels/assets.
SHIPPED = {"tiny": "openreels-tiny", "a1-tiny": "a1-tiny", "a2-tiny": "a2-tiny"}
NOTE_KEYS = (
    "recipe",
    "seed",
    "device",
    "device_name",
    "world_size",
    "clips",
    "vae_steps",
    "decoder_steps",
    "dit_steps",
    "vae_psnr_db",
    "decoder_psnr_db",
)


@dataclass
class Run:
    """Where and how this run trains: what a recipe's parts are given."""

    workdir: Path
    dev: torch.device
    dist: DistInfo
    log: Callable[[str], None]
    pause_at: float | None  # a time.monotonic() deadline for every stage (see `Trainer`)
    summary: dict  # the run's record; parts add their own figures


@dataclass
class Encoded:
    """The VAE and everything the transformer trains on, as cached in the work folder."""

    vae: nn.Module
    tensors: dict  # only tensors, numbers, strings and containers of them (loaded with weights_only)
    stats: dict  # how the VAE and encoding went, kept for the run's record


@dataclass
class Model:
    """What the runner trains: the transformer under the recipe's objective (its conditions included)."""

    transformer: nn.Module
    objective: DiffusionForcingObjective
    batches: Callable[[int, int], dict]  # (step, rank) -> a training batch
    held_out: list[dict]  # batches of items never trained on, for the held-out loss


class RecipeParts:
    """The parts a recipe fills in. The dataclass that inherits this has the fields the runner reads: `name`,
    `seed`, `clips`, `warm_from`, `vae_from`, `dit_loop`, `dit_batch` (and `vae_loop`, `vae_batch`, `vae_crop`,
    `vae_crop_size`, `vae_kl_weight`, `decoder_loop`, `decoder_batch` where it trains a VAE here)."""

    def check(self, dist: DistInfo) -> None:
        """Raise `OpenreelsError` for settings this recipe cannot run with."""

    # The settings the encoding cache depends on.
    def cache_key(self) -> dict: ...
    # {subfolder: config values} a model folder must have for its weights to fit this recipe.
    def design(self) -> dict[str, dict]: ...
    # This recipe continuing the model in a folder (its VAE, so its latent space).
    def continued_from(self, folder: Path) -> RecipeParts: ...
    def load_vae(self, folder: Path, dev: torch.device) -> nn.Module: ...
    # Make the recipe's clips (or pairs, compositions) and encode them; `vae` None: train one first.
    def encode(self, vae: nn.Module | None, run: Run) -> Encoded: ...
    # The transformer, objective and batches (called after `torch.manual_seed(seed + 1)`).
    def build(self, data: Encoded, run: Run) -> Model: ...
    # {subfolder of a model folder: module}: the transformer and the trained conditions (`extras`) a warm start
    # sets to that folder's weights.
    def warm_parts(self, model: nn.Module, extras: nn.ModuleList) -> dict[str, nn.Module]: ...
    # The generation defaults written to openreels.json.
    def defaults(self) -> dict: ...
    # Write the trained model in the recipe's layout; `meta` is openreels.json (defaults and training record).
    def export(self, out_dir: Path, transformer, extras, data: Encoded, meta: dict, run: Run) -> None: ...
    # One number to rank models of this recipe by, on n held-out items (higher is better): what --ship uses.
    def score(self, folder: Path, n: int, log: Callable[[str], None]) -> float: ...

    # Set the starting weights of a model that nothing of its design continues (no run, no warm-start folder
    # of the same design); returns what it started from, or None (the random initialisation).
    def fresh_start(self, model: nn.Module) -> str | None:
        return None


def shipped_path(name: str) -> Path | None:
    """Where the shipped model of recipe `name` lives (present or not); None for recipes that ship nothing."""
    folder = SHIPPED.get(name)
    return Path(__file__).resolve().parents[1] / "assets" / folder if folder else None


def run_recipe(
    recipe: RecipeParts,
    out_dir: str | Path,
    workdir: str | Path,
    device: str = "auto",
    log: Callable[[str], None] | None = None,
    stop_after_s: float | None = None,
) -> dict:
    """Train the recipe end to end and export the model to out_dir; returns a summary (times, sizes, losses).

    With `stop_after_s`, a stage still running after that many seconds checkpoints and raises `TrainingPaused`;
    the same call again resumes where it stopped (the encoded data are cached in `workdir`, so nothing is
    rendered or encoded again). This is how a run is split over jobs with a wall-clock limit.
    """
    log = log or (lambda s: print(s, flush=True))
    dist_info, dev = init_distributed(device)
    recipe.check(dist_info)
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
    run = Run(workdir, dev, dist_info, log, pause_at, summary)

    warm = _warm_start_folder(recipe, workdir, log)
    if warm is not None:
        # The transformer continues in the latent space it was trained in: the folder's VAE.
        recipe = recipe.continued_from(warm)
        summary["warm_from"] = str(warm)
    data = _load_encoded(recipe, run) if (workdir / CACHE).exists() else None
    if data is None:
        vae = recipe.load_vae(Path(recipe.vae_from), dev) if recipe.vae_from else None
        if vae is not None:
            vae = vae.eval().requires_grad_(False)
            summary["vae_from"] = str(recipe.vae_from)
        data = recipe.encode(vae, run)
        if dist_info.is_main:
            _save_encoded(recipe, data, workdir)
        if dist_info.world_size > 1:
            torch.distributed.barrier()
    summary |= data.stats

    torch.manual_seed(recipe.seed + 1)
    model = recipe.build(data, run)
    check_token_width(model.transformer)
    extras = nn.ModuleList(model.objective.trainable_modules())
    history = (
        _start_segment(recipe, model.transformer, extras, workdir, warm, log) if recipe.warm_from else []
    )
    model.transformer.to(dev)
    extras.to(dev)
    loss_before = _held_out_loss(model)

    t0 = time.perf_counter()
    trainer = Trainer(
        "dit",
        model.transformer,
        model.objective,
        model.batches,
        replace(recipe.dit_loop, seed=recipe.seed),
        workdir,
        dev,
        dist_info,
        extra_modules=extras,
        samples_per_batch=recipe.dit_batch,
        log=log,
        pause_at=pause_at,
    )
    transformer = trainer.run().eval()
    trained_extras = trainer.trained_extras().eval()
    summary["dit_train_s"] = round(time.perf_counter() - t0, 1)
    summary["dit_steps"] = trainer.step
    model.transformer = transformer
    model.objective = model.objective.with_modules(trained_extras)
    summary["heldout_loss"] = [round(loss_before, 4), round(_held_out_loss(model), 4)]
    if dist_info.is_main:
        log(f"[dit] held-out loss {summary['heldout_loss'][0]} -> {summary['heldout_loss'][1]}")
    segment = {
        "heldout_loss": summary["heldout_loss"],
        "samples": trainer.step * recipe.dit_batch * recipe.dit_loop.grad_accum * dist_info.world_size,
        "train_s": round(trainer.elapsed, 1),
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "clips": summary["clips"],  # what `build` trained on
        "date": time.strftime("%Y-%m-%d"),
    }
    history = history + [segment]
    summary["history"] = history
    summary["samples_seen"] = sum(h["samples"] for h in history)

    if dist_info.is_main:
        note = {k: summary[k] for k in NOTE_KEYS if k in summary}
        meta = recipe.defaults() | {
            "training": note | {"history": history, "samples_seen": summary["samples_seen"]}
        }
        recipe.export(Path(out_dir), transformer, trained_extras, data, meta, run)
        write_json(workdir / "history.json", _read_json(workdir / "history.json") | {"history": history})
        summary["out_dir"] = str(out_dir)
        summary["size_mb"] = folder_size_mb(out_dir)
        summary["total_s"] = round(time.perf_counter() - t_start, 1)
        log(f"[export] {out_dir} ({summary['size_mb']} MB) after {summary['total_s']} s")
    return summary


def _held_out_loss(model: Model) -> float:
    losses = [model.objective.held_out_loss(model.transformer, b) for b in model.held_out]
    return sum(losses) / len(losses) if losses else float("nan")  # nan: too few items to hold any out


# ---- sessions ------------------------------------------------------------------------------------------------


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def config_mismatches(config, wanted: dict) -> list[str]:
    """The keys of `wanted` whose value `config` does not have (compared as JSON: tuples equal lists)."""
    return sorted(k for k, v in wanted.items() if config.get(k) != json.loads(json.dumps(v)))


def same_design(folder: Path, recipe: RecipeParts) -> bool:
    """Whether a model folder has the configuration `recipe.design()` asks for (so its weights fit)."""
    for sub, wanted in recipe.design().items():
        config = _read_json(folder / sub / "config.json")
        if not config or config_mismatches(config, wanted):
            return False
    return True


def _warm_start_folder(recipe: RecipeParts, workdir: Path, log) -> Path | None:
    """The model folder this run continues from, or None (train from scratch, or resume the work folder)."""
    if not recipe.warm_from or (workdir / CACHE).exists():
        # A work folder with its own encoded data continues its own model (or started from the folder before).
        previous = _read_json(workdir / "history.json").get("warm_from")
        return Path(previous) if previous and recipe.warm_from else None
    folder = shipped_path(recipe.name) if recipe.warm_from == "bundled" else Path(recipe.warm_from)
    if folder is None or not folder.is_dir():
        return None
    if not same_design(folder, recipe):
        log(
            f"[warm] {folder} is of another design than recipe {recipe.name!r}: a new model starts (not from it)"
        )
        return None
    write_json(workdir / "history.json", {"warm_from": str(folder), "history": []})
    return folder


def _start_segment(
    recipe: RecipeParts, transformer: nn.Module, extras: nn.ModuleList, workdir: Path, warm: Path | None, log
) -> list[dict]:
    """Set the starting weights for this run and return the training history before it.

    A work folder whose transformer checkpoint is unfinished resumes it (the Trainer loads it). A finished one
    (an earlier session's run) is kept as `dit.<k>.ckpt` and a new segment starts from its EMA weights; with
    no checkpoint, a warm-start folder's weights are the start, and with no folder of the design the recipe's
    `fresh_start` (say, another design's blocks). Each segment then has its own warm-up and
    decay, so a session's training always ends annealed."""
    saved = _read_json(workdir / "history.json")
    history = list(saved.get("history", []))
    ckpt = workdir / "dit.ckpt"
    if ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        if state["step"] < state["cfg"]["steps"]:
            return history  # unfinished: the Trainer resumes it
        _load_ema(state, transformer, extras)
        ckpt.rename(workdir / f"dit.{max(len(history) - 1, 0)}.ckpt")  # the history already counts it
        log(f"[dit] segment {len(history) + 1}: continuing from the finished run in {workdir}")
    elif history and (kept := _newest_kept_run(workdir)) is not None:
        _load_ema(torch.load(kept, map_location="cpu", weights_only=False), transformer, extras)
        log(f"[dit] segment {len(history) + 1}: continuing from the finished run kept as {kept}")
    elif warm is not None:
        if not history:
            history = list(_read_json(warm / "openreels.json").get("training", {}).get("history", []))
            write_json(workdir / "history.json", saved | {"history": history})
        for sub, module in recipe.warm_parts(transformer, extras).items():
            module.load_state_dict(load_file(next((warm / sub).glob("*.safetensors"))))
        log(f"[dit] segment {len(history) + 1}: warm start from {warm}")
    elif (start := recipe.fresh_start(transformer)) is not None:
        log(f"[dit] segment 1 of a new design: {start}")
    return history


def check_token_width(transformer: nn.Module) -> None:
    """Refuse a transformer narrower than the values each of its tokens writes.

    A velocity (or v-) predicting transformer writes, for every latent value of its patch, a share of the noise
    drawn for it: full rank, unlike the data, which lies in a few directions. Its output projection can only
    write as many directions as its width, so the rest of the noise is never removed: it stays in every sample
    as texture and sets a floor under the loss (docs/tiny-model.md, session 7: 128 wide for 192 values, a floor
    of 0.36 under a held-out loss of 0.52)."""
    c = transformer.config
    width = c.num_attention_heads * c.attention_head_dim
    if isinstance(c.patch_size, (list, tuple)):
        patch = math.prod(c.patch_size)
    else:  # CogVideoX-style: a square patch, and a temporal one when set
        patch = c.patch_size**2 * (getattr(c, "patch_size_t", None) or 1)
    values = (c.out_channels or c.in_channels) * patch
    if width < values:
        raise OpenreelsError(
            f"the transformer is {width} wide but each token writes {values} values (latent channels x patch): "
            f"it cannot remove all the noise; make heads x head_dim at least {values}"
        )


def _newest_kept_run(workdir: Path) -> Path | None:
    """The newest `dit.<k>.ckpt` an earlier segment kept: the start when a new segment was stopped before it
    wrote its first checkpoint (it had already moved the finished one aside)."""
    kept = {int(k): p for p in workdir.glob("dit.*.ckpt") if (k := p.name.split(".")[1]).isdigit()}
    return kept[max(kept)] if kept else None


def _load_ema(state: dict, transformer: nn.Module, extras: nn.ModuleList) -> None:
    """Load a finished Trainer checkpoint's EMA weights (its raw weights if it kept no EMA)."""
    # The Trainer's container (see `Trainer`): the transformer and the conditions that learn with it.
    container = nn.ModuleDict({"model": transformer, "extra": extras})
    ema = state["ema"] or {}
    weights = {k[len("module.") :]: v for k, v in ema.items() if k.startswith("module.")}
    container.load_state_dict(weights or state["module"])


# ---- the encoding cache --------------------------------------------------------------------------------------


def _save_encoded(recipe: RecipeParts, data: Encoded, workdir: Path) -> None:
    copy.deepcopy(data.vae).to("cpu", torch.float32).save_pretrained(workdir / "vae", safe_serialization=True)
    tensors = {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in data.tensors.items()}
    atomic_torch_save({"key": recipe.cache_key(), "stats": data.stats, **tensors}, workdir / CACHE)


def _load_encoded(recipe: RecipeParts, run: Run) -> Encoded:
    path = run.workdir / CACHE
    state = torch.load(path, map_location="cpu", weights_only=True)
    key = state.pop("key")
    if key != recipe.cache_key():
        theirs = key.get("name")
        what = f"recipe {theirs!r}" if theirs != recipe.name else f"other settings of recipe {theirs!r}"
        raise OpenreelsError(
            f"{run.workdir} holds data encoded for {what}; pass another --workdir or delete it"
        )
    if not (run.workdir / "vae" / "config.json").exists():
        raise OpenreelsError(f"{run.workdir} has {CACHE} but no vae/; delete {path} to encode again")
    vae = recipe.load_vae(run.workdir / "vae", run.dev).eval().requires_grad_(False)
    stats = state.pop("stats")
    run.summary["encoded_from"] = str(run.workdir)
    if run.dist.is_main:
        run.log(f"[encode] encoded data and the VAE loaded from {run.workdir}")
    return Encoded(vae, state, stats)


# ---- the VAE stages ------------------------------------------------------------------------------------------


def train_vae(recipe, vae: nn.Module, sources: list[torch.Tensor], run: Run) -> nn.Module:
    """Stage 1: the VAE on random crops (`vae_crop` frames, `vae_crop_size` pixels square) of uint8 videos
    (N, T, H, W, 3); with several sources, a batch takes its crops from each in turn."""
    shape = sources[0].shape[1:4]
    crop, side = min(recipe.vae_crop, shape[0]), min(recipe.vae_crop_size, shape[1])

    def batches(step: int, rank: int) -> dict:
        g = torch.Generator().manual_seed((recipe.seed * 7919 + step) * 131 + rank)
        crops = random_crops(g, recipe.vae_batch, len(sources[0]), shape, crop, side)
        video = torch.stack(
            [
                sources[j % len(sources)][i, a : a + crop, b : b + side, c : c + side]
                for j, (i, a, b, c) in enumerate(crops)
            ]
        )
        return {"video": to_video_tensor(video, run.dev)}

    vae, run.summary["vae_steps"] = train_autoencoder(
        "vae",
        VAELoss(vae, kl_weight=recipe.vae_kl_weight),
        batches,
        replace(recipe.vae_loop, seed=recipe.seed),
        run.workdir,
        run.dev,
        recipe.vae_batch,
        run.dist,
        run.log,
        run.pause_at,
    )
    return vae


def finetune_decoder(
    recipe, vae: nn.Module, frames: torch.Tensor, run: Run, weights: torch.Tensor | None = None
) -> nn.Module:
    """Stage 1b: the decoder on whole uint8 clips (N, T, H, W, 3), the encoder frozen (see `DecoderLoss`);
    `weights` (N, T, H, W), optional: the per-pixel loss weights of each clip."""
    vae = vae.to(run.dev).train()

    def batches(step: int, rank: int) -> dict:
        g = torch.Generator().manual_seed((recipe.seed * 15485863 + step) * 131 + rank)
        idx = torch.randint(len(frames), (recipe.decoder_batch,), generator=g)
        batch = {"video": to_video_tensor(frames[idx], run.dev)}
        if weights is not None:
            batch["weight"] = weights[idx].unsqueeze(1).float().to(run.dev)
        return batch

    vae, run.summary["decoder_steps"] = train_autoencoder(
        "decoder",
        DecoderLoss(vae),
        batches,
        replace(recipe.decoder_loop, seed=recipe.seed),
        run.workdir,
        run.dev,
        recipe.decoder_batch,
        run.dist,
        run.log,
        run.pause_at,
    )
    return vae
