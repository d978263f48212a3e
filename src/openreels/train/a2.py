"""The `a2-tiny` recipe: the bundled SkyReels-A2 (elements-to-video) model, trained on stage compositions.

Data: seeded stage scenes (mostly a person with an object) rendered as clips; the references are cut from each
scene the way `pipelines.a2.stage_references` cuts them (a person on white, an object on white, the empty
background plate), fitted by `prepare_references` and laid out by the compose pipeline's own
`reference_video`, so training sees exactly what `openreels compose` feeds the model:
  - target latents: the VAE encoding of [references, clip frames] as one video (the causal VAE makes the clip
    latents depend on the reference frames before them, and the pipeline decodes them together);
  - condition: the encoding of [references, zeros] (channels after the noisy latents) plus mask channels;
  - reference tokens: the image encoder's penultimate states of every reference (image cross-attention).
Everything but the image encoder's input is encoded once and cached (the runner's `encoded.pt`).

Model: diffusers `WanTransformer3DModel` (the A2 architecture) of the `tiny` recipe's fast design (docs/a2-tiny.md):
the frozen VAE is the 16x-spatial / 4x-temporal one openreels-tiny shipped with (read from a2-tiny's own folder) and
the transformer has that design's width and depth, so a 128x128 composition is 16 tokens per latent frame. With
`base`, a new model starts from a text-to-video transformer of the same block layout (the new input channels start
at zero, the image cross-attention fresh); openreels-tiny's is 256 wide since session 7, so a2-tiny has no base
now. `warm_from="bundled"` continues the shipped a2-tiny (transformer and image encoder) when it is of this
design, so each session adds training (sessions, cache, training loop and export are `runner.run_recipe`'s, as for
every recipe). A small `CLIPVisionModel` is trained jointly from random weights: no
CLIP/SigLIP weights can be had offline, and a jointly trained encoder learns the colours and shapes the stage's
references differ in. Objective: the project's flow-matching objective with one noise level per clip (the pipeline
denoises all frames together), text through the frozen MiniLM, padded to 512 tokens as the pipeline pads them; half
of the prompts have their colour words removed, so that appearance has to come from the references.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from openreels.errors import OpenreelsError
from openreels.models.tiny import bundled_a2_dir
from openreels.train.export import atomic_folder, flow_scheduler, save_module, write_json
from openreels.train.flow import ForcingConfig
from openreels.train.loop import DistInfo, LoopConfig
from openreels.train.objective import ChannelCondition, DiffusionForcingObjective, TokenCondition
from openreels.train.recipes import TRANSFORMER_128, VAE_Z16, Recipe
from openreels.train.runner import Encoded, Model, Run, config_mismatches
from openreels.train.text import TEXT_DIM, PromptEncoder

TEXT_TOKENS = 512  # the Wan attention takes the last 512 context tokens as text (compose.TEXT_TOKENS)
PROMPT_TOKENS = 128
COLOUR_KEYS = ("hair_color", "shirt_color", "color")


@dataclass
class A2Recipe(Recipe):
    """A Recipe (size, frames, clips, transformer, dit_loop, ... as for `tiny`) plus what A2 adds."""

    # A SkyReels-V2 text-to-video or an A2 transformer folder to start a new model from (not used when the run
    # continues a model: see `warm_from`).
    base: str | None = None
    image_encoder: dict = field(
        default_factory=lambda: {
            "hidden_size": 128,
            "intermediate_size": 256,
            "num_hidden_layers": 3,  # the pipeline reads the penultimate layer's states
            "num_attention_heads": 4,
            "image_size": 32,
            "patch_size": 8,
        }
    )
    object_counts: tuple[int, ...] = (0, 1, 1, 1, 2)  # objects per training scene, drawn uniformly
    p_single: float = 0.15  # one reference (the person) only
    p_no_background: float = 0.15  # person and object, no background plate
    p_plain_prompt: float = 0.5  # prompts without colour words
    encode_batch: int = 8  # clips per VAE call while caching

    def defaults(self) -> dict:
        tiny_only = ("max_sequence_length", "overlap_history", "addnoise_condition", "text_encoding")  # t2v's
        defaults = {k: v for k, v in super().defaults().items() if k not in tiny_only}
        return {"random": False, "family": "skyreels-a2"} | defaults

    # ---- the runner's parts (see openreels.train.runner.RecipeParts) -------------------------------------

    def check(self, dist: DistInfo) -> None:
        if dist.world_size > 1:
            raise OpenreelsError("the a2 recipes run on one device; start them without torchrun")

    def _vae_dir(self) -> Path:
        # The VAE is frozen: the shipped a2-tiny's (the `vae` design, `VAE_Z16`) unless --vae-from names one. Not
        # openreels-tiny's: that one follows the tiny recipe's design, which moved on to 48 channels.
        return Path(self.vae_from) if self.vae_from else _bundled_a2_dir() / "vae"

    def cache_key(self) -> dict:
        keys = ("name", "seed", "size", "frames", "fps", "clips", "image_encoder", "object_counts")
        keys += ("p_single", "p_no_background")
        # The VAE as named (None: the bundled one), not its resolved path: a work folder stays valid when the
        # checkout moves, and it keeps its own copy of the VAE it encoded with (`<workdir>/vae`).
        return {k: getattr(self, k) for k in keys} | {"vae_from": self.vae_from}

    def design(self) -> dict[str, dict]:
        hidden = self.image_encoder["hidden_size"]
        return {
            "vae": self.vae,  # the latent space: a model of another VAE does not fit, whatever its transformer
            "transformer": self.transformer | {"image_dim": hidden},
            "image_encoder": self.image_encoder,
        }

    def continued_from(self, folder: Path) -> A2Recipe:
        return replace(self, vae_from=str(folder / "vae"), base=None)

    def encode(self, vae, run: Run) -> Encoded:
        if vae is None:
            vae = self.load_vae(self._vae_dir(), run.dev).eval().requires_grad_(False)
            run.summary["vae_from"] = str(self._vae_dir())
        other = config_mismatches(vae.config, self.vae)
        if other:
            raise OpenreelsError(
                f"{self._vae_dir()}: the VAE is not of the recipe's design ({', '.join(other)} differ)"
            )
        return Encoded(vae, _encode(self, vae, run), {})

    def build(self, data: Encoded, run: Run) -> Model:
        from transformers import CLIPVisionConfig, CLIPVisionModel

        z_dim = data.vae.config.z_dim
        temporal = 2 ** sum(data.vae.config.temperal_downsample)
        groups = data.tensors["groups"]
        run.summary |= {
            "clips": self.clips,
            "references": {int(n): len(g["prompt"]) for n, g in groups.items()},
            "unique_prompts": data.tensors["unique_prompts"],
        }
        tokens = ReferenceTokens(CLIPVisionModel(CLIPVisionConfig(**self.image_encoder)))
        transformer = build_a2_transformer(self, z_dim, temporal, self.image_encoder["hidden_size"])
        objective = DiffusionForcingObjective(
            forcing=self.forcing,
            text_drop_prob=self.text_drop_prob,
            null_text=data.tensors["null_text"].to(run.dev),
            channel_conditions=[
                ChannelCondition("references", temporal + z_dim, lambda batch, x0: batch["condition"])
            ],
            token_condition=TokenCondition("references", tokens),
            forward=wan_forward,
        )
        return _model(self, data.tensors, transformer, objective, temporal, run.dev)

    def warm_parts(self, model, extras) -> dict:
        # The image encoder learned the references with the transformer: it continues too.
        return {"transformer": model, "image_encoder": extras[0].encoder}

    def export(self, out_dir: Path, transformer, extras, data: Encoded, meta: dict, run: Run) -> None:
        export_a2_folder(out_dir, transformer, data.vae, extras[0].encoder, _image_processor(self), meta)

    def score(self, folder: Path, n: int, log) -> float:
        """The mean over the issue's targets (`a2_report.TARGETS`) of the held-out accuracy, prompts naming
        the colours (a target no composition measured counts 0)."""
        from openreels.train.a2_report import measure

        targets = measure(n, str(folder), log=lambda _line: None)["full"]["generated"]["targets"]
        return float(np.mean([np.nan_to_num(t["accuracy"]) for t in targets.values()]))


def a2_tiny_recipe() -> A2Recipe:
    # openreels-tiny's design of sessions 1-4 (its 16-channel 16x VAE, frozen, and a width 128 x 4 layers
    # transformer), at 128x128 so the 16x VAE still gives 8x8 latents: 16 tokens per latent frame, as many as the
    # old 8x design had at 64x64.
    r = A2Recipe(
        name="a2-tiny",
        vae=dict(VAE_Z16),
        transformer=dict(TRANSFORMER_128),  # wide enough for its 64 values per token
        warm_from="bundled",  # each session continues the shipped a2-tiny (when it is of this design)
        # No base: openreels-tiny's transformer (256 x 2 since session 7) has another block layout than A2's
        base=None,
        size=128,
        frames=16,
        fps=8.0,
        clips=2000,
        text_drop_prob=0.1,
        p_end_frame=0.0,
        max_sequence_length=TEXT_TOKENS,
        forcing=ForcingConfig(shift=3.0, p_uniform=1.0, p_independent=0, p_prefix=0, p_prefix_independent=0),
        sample_steps=20,
        guidance=5.0,
        sample_shift=3.0,
        dit_batch=16,  # bench/a2_train_speed.py: as many samples/s as 64, four times the steps
    )
    # Trained by the clock on a CPU (`--time-limit`): the learning rate decays with the time left.
    r.dit_loop = LoopConfig(steps=20000, lr=1e-3, warmup=100, ema_decay=0.995, ckpt_every=50, log_every=10)
    return r


def a2_test_recipe() -> A2Recipe:
    """Toy sizes for the test suite: a 2-layer random transformer, few clips, few steps."""
    r = a2_tiny_recipe()
    r.name, r.clips, r.warm_from, r.base, r.size, r.frames = "a2-test", 6, None, None, 64, 4
    r.transformer = {
        "num_attention_heads": 2,
        "attention_head_dim": 32,  # 64 wide: each token writes 16 channels x 2 x 2 values
        "ffn_dim": 64,
        "num_layers": 2,
        "freq_dim": 32,
    }
    r.image_encoder = r.image_encoder | {"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2}
    r.dit_batch, r.sample_steps, r.encode_batch = 4, 2, 4
    r.dit_loop = LoopConfig(steps=12, lr=2e-3, warmup=2, ema_decay=0.9, ckpt_every=6, log_every=6)
    return r


def _bundled_a2_dir() -> Path:
    folder = bundled_a2_dir()
    if folder is None:
        raise OpenreelsError(
            "the bundled openreels-a2-tiny model is missing; reinstall openreels or pass --vae-from"
        )
    return folder


def _reference_pipe(vae):
    """A compose pipeline holding only the VAE: its reference_video/encode_video lay out and encode clips."""
    from openreels.pipelines.compose import ComposePipeline

    return ComposePipeline(None, None, None, None, None, vae, None)


def plain_prompt(caption: dict) -> str:
    """The prompt with every colour word left out (hair, shirt, object, backdrop): references carry them."""
    from openreels.world import caption_to_prompt

    subjects = [{k: v for k, v in s.items() if k not in COLOUR_KEYS} for s in caption.get("subjects", [])]
    return caption_to_prompt({**caption, "subjects": subjects, "backdrop": None})


def stage_composition(recipe: A2Recipe, k: int) -> dict:
    """Training item k: a stage clip, its references (fitted as compose fits them) and its two prompts."""
    from openreels.pipelines.a2 import Reference, prepare_references, stage_references
    from openreels.world import render, render_reference, sample_scene

    rng = np.random.default_rng([recipe.seed, k, 2])
    n_objects = int(recipe.object_counts[int(rng.integers(len(recipe.object_counts)))])
    scene = sample_scene(rng, split="train", n_objects=n_objects)
    size = (recipe.size, recipe.size)
    u = float(rng.random())
    if u < recipe.p_single:
        refs = [Reference(render_reference(scene, "character", 0, size), "character", "character")]
    else:
        refs = stage_references(scene, size, background=u >= recipe.p_single + recipe.p_no_background)
    clip = render(scene, recipe.frames, size, recipe.fps)
    prepared = prepare_references(refs, recipe.size, recipe.size)
    return {
        "frames": clip.frames,
        "prompt": clip.prompt,
        "plain_prompt": plain_prompt(clip.caption),
        "vae_images": prepared.vae_images,
        "clip_images": prepared.clip_images,
    }


def _image_processor(recipe: A2Recipe):
    from transformers import CLIPImageProcessorPil

    side = recipe.image_encoder["image_size"]
    return CLIPImageProcessorPil(size={"shortest_edge": side}, crop_size={"height": side, "width": side})


@torch.no_grad()
def encode_compositions(recipe: A2Recipe, vae, log: Callable[[str], None]) -> dict:
    """Render and encode every training item once; items are grouped by reference count (their length)."""
    pipe = _reference_pipe(vae)
    processor = _image_processor(recipe)
    temporal = pipe.vae_scale_temporal
    gen_latents = math.ceil(recipe.frames / temporal)
    if gen_latents * temporal != recipe.frames:
        raise OpenreelsError(f"frames must be a multiple of {temporal} for training, got {recipe.frames}")
    groups: dict[int, dict[str, list]] = {}
    pending: dict[int, list[dict]] = {}
    prompts: list[tuple[str, str]] = []
    t0 = time.perf_counter()

    def flush(n: int) -> None:
        items = pending.pop(n, [])
        if not items:
            return
        length = n + gen_latents
        targets = [pipe.reference_video(it["vae_images"], length, clip=it["frames"]) for it in items]
        conditions = [pipe.reference_video(it["vae_images"], length) for it in items]
        latents = pipe.encode_video(torch.cat(targets + conditions)).cpu()
        g = groups.setdefault(n, {"latents": [], "condition": [], "pixels": [], "prompt": []})
        g["latents"].append(latents[: len(items)])
        g["condition"].append(latents[len(items) :])
        for it in items:
            pixels = processor(images=it["clip_images"], return_tensors="pt").pixel_values
            g["pixels"].append(pixels.to(torch.float16))
            g["prompt"].append(it["index"])

    for k in range(recipe.clips):
        item = stage_composition(recipe, k)
        item["index"] = len(prompts)
        prompts.append((item["prompt"], item["plain_prompt"]))
        n = len(item["vae_images"])
        pending.setdefault(n, []).append(item)
        if len(pending[n]) >= recipe.encode_batch:
            flush(n)
        if (k + 1) % 100 == 0:
            log(f"[encode] {k + 1}/{recipe.clips} compositions in {time.perf_counter() - t0:.0f} s")
    for n in list(pending):
        flush(n)
    out = {
        "groups": {
            n: {
                "latents": torch.cat(g["latents"]),
                "condition": torch.cat(g["condition"]),
                "pixels": torch.stack(g["pixels"]),
                "prompt": torch.tensor(g["prompt"]),
            }
            for n, g in sorted(groups.items())
        },
        "prompts": prompts,
    }
    log(
        f"[encode] {recipe.clips} compositions ("
        + ", ".join(f"{len(g['prompt'])} with {n} refs" for n, g in out["groups"].items())
        + f") in {time.perf_counter() - t0:.0f} s"
    )
    return out


class ReferenceTokens(nn.Module):
    """The semantic stream as the pipeline computes it: each reference's penultimate image-encoder states,
    concatenated reference after reference (`ComposePipeline.encode_references`), trained with the model."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, batch: dict) -> torch.Tensor:
        pixels = batch["ref_pixels"]  # (B, n, 3, s, s)
        b = pixels.shape[0]
        flat = pixels.flatten(0, 1).to(self.encoder.dtype)
        states = self.encoder(pixel_values=flat, output_hidden_states=True).hidden_states[-2]
        return states.reshape(b, -1, states.shape[-1])


def wan_forward(model, x, timesteps, text, image_tokens):
    """A diffusers WanTransformer3DModel with one timestep per clip (all frames share the noise level)."""
    return model(
        hidden_states=x,
        timestep=timesteps[:, 0],
        encoder_hidden_states=text,
        encoder_hidden_states_image=image_tokens,
        return_dict=False,
    )[0]


def build_a2_transformer(recipe: A2Recipe, z_dim: int, temporal: int, image_dim: int):
    """The A2 transformer; with `recipe.base`, its weights come from that folder's transformer.

    An A2 transformer (one with `image_dim`) is continued as it is. From a SkyReels-V2 text-to-video one, every
    matching weight is taken; the patch embedding's columns for the mask and reference channels and the image
    cross-attention's values start at zero, so the warm-started model first behaves exactly as the
    text-to-video one. A text-to-video model of another VAE's latent channels gives its blocks only: the patch
    embedding and output projection start fresh.
    """
    from diffusers import SkyReelsV2Transformer3DModel, WanTransformer3DModel

    inner = recipe.transformer["num_attention_heads"] * recipe.transformer["attention_head_dim"]
    model = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        in_channels=2 * z_dim + temporal,
        out_channels=z_dim,
        text_dim=TEXT_DIM,
        image_dim=image_dim,
        added_kv_proj_dim=inner,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=1024,
        **recipe.transformer,
    )
    if recipe.base is None:
        return model
    base_dir = Path(recipe.base)
    if json.loads((base_dir / "config.json").read_text()).get("image_dim"):
        model.load_state_dict(WanTransformer3DModel.from_pretrained(base_dir).state_dict())
        return model
    base = SkyReelsV2Transformer3DModel.from_pretrained(base_dir, torch_dtype=torch.float32)
    state = model.state_dict()
    # A base of another VAE's latent channels gives its blocks only: its in/out layers start fresh.
    other_latents = base.config.out_channels != z_dim
    for name, value in base.state_dict().items():
        if name not in state or (other_latents and name.startswith(("patch_embedding.", "proj_out."))):
            continue
        if name == "patch_embedding.weight":
            extra = state[name].shape[1] - value.shape[1]  # mask + reference channels
            value = torch.cat([value, value.new_zeros(value.shape[0], extra, *value.shape[2:])], dim=1)
        if state[name].shape != value.shape:
            raise OpenreelsError(
                f"{base_dir}: {name} is {tuple(value.shape)} but the recipe's A2 needs {tuple(state[name].shape)}"
            )
        state[name] = value
    # Zero values for the image cross-attention: it adds nothing at first, so training starts from exactly the
    # text-to-video model and the reference tokens phase in as the values grow.
    for name in state:
        if ".attn2.add_v_proj." in name:
            state[name] = torch.zeros_like(state[name])
    model.load_state_dict(state)
    return model


def _encode(recipe: A2Recipe, vae, run: Run) -> dict:
    """The encoded compositions and the prompt states (what `encoded.pt` holds for A2)."""
    data = encode_compositions(recipe, vae, run.log)
    # Encoded at 128 tokens (stage prompts have under 100) and zero-padded to 512 per batch: the real tokens'
    # states do not depend on the padding, and MiniLM over 512 tokens per prompt would cost ~4x more.
    encoder = PromptEncoder(run.dev, PROMPT_TOKENS)
    unique = list(dict.fromkeys(p for pair in data["prompts"] for p in pair))
    lookup = {p: i for i, p in enumerate(unique)}
    bank = encoder(unique, "cpu")
    used = int((bank.abs().sum(-1) > 0).sum(-1).max())  # longest prompt in tokens; zeros after it
    if used >= PROMPT_TOKENS:
        raise OpenreelsError(f"a stage prompt reached {PROMPT_TOKENS} tokens; raise PROMPT_TOKENS")
    null = encoder([""], "cpu")
    return {
        "groups": data["groups"],
        "prompt_rows": torch.tensor([[lookup[a], lookup[b]] for a, b in data["prompts"]]),
        "text_bank": bank[:, :used].to(torch.float16).contiguous(),
        "null_text": torch.cat([null, null.new_zeros(1, TEXT_TOKENS - PROMPT_TOKENS, TEXT_DIM)], dim=1),
        "unique_prompts": len(unique),
    }


def _model(recipe: A2Recipe, data: dict, transformer, objective, temporal: int, dev) -> Model:
    """Batches of one reference count (clips of one length), drawn in proportion to group sizes; the last
    items of each group (a twentieth, at least one item of the largest) are held out."""
    groups = data["groups"]
    counts = sorted(groups)
    sizes = {n: len(groups[n]["prompt"]) for n in counts}
    hold = {n: min(16, sizes[n] // 20) for n in counts}
    largest = max(counts, key=sizes.get)
    if not any(hold.values()) and sizes[largest] > 1:
        hold[largest] = 1
    bounds = torch.tensor([sizes[n] - hold[n] for n in counts]).cumsum(0)
    bank, rows = data["text_bank"], data["prompt_rows"]

    def batch(n: int, idx: torch.Tensor, plain: torch.Tensor) -> dict:
        group = groups[n]
        text = bank[rows[group["prompt"][idx], plain]].float()
        text = torch.cat([text, text.new_zeros(len(idx), TEXT_TOKENS - text.shape[1], TEXT_DIM)], dim=1)
        latents = group["latents"][idx]
        mask = latents.new_zeros(len(idx), temporal, *latents.shape[2:])
        mask[:, :, :n] = 1.0  # the latent frames that hold references (ComposePipeline.build_condition)
        return {
            "latents": latents.to(dev),
            "condition": torch.cat([mask, group["condition"][idx]], dim=1).to(dev),
            "ref_pixels": group["pixels"][idx].float().to(dev),
            "text": text.to(dev),
        }

    def batches(step: int, rank: int) -> dict:
        g = torch.Generator().manual_seed((recipe.seed * 104729 + step) * 131 + rank)
        pick = int(torch.randint(int(bounds[-1]), (1,), generator=g))
        n = counts[int(torch.searchsorted(bounds, pick, right=True))]
        idx = torch.randint(sizes[n] - hold[n], (recipe.dit_batch,), generator=g)
        plain = (torch.rand(recipe.dit_batch, generator=g) < recipe.p_plain_prompt).long()
        return batch(n, idx, plain)

    held_out = [
        batch(n, torch.arange(sizes[n] - hold[n], sizes[n]), torch.zeros(hold[n], dtype=torch.long))
        for n in counts
        if hold[n]
    ]
    return Model(transformer, objective, batches, held_out)


def export_a2_folder(
    out_dir: str | Path,
    transformer: nn.Module,
    vae: nn.Module,
    image_encoder: nn.Module,
    image_processor,
    defaults: dict,
    dtype: torch.dtype = torch.float16,
) -> Path:
    """Save a trained A2 in the published `Skywork/SkyReels-A2` layout (see `pipelines.a2.layout`), with the
    bundled MiniLM named in openreels.json instead of text_encoder/ and tokenizer/. Written beside `out_dir`
    under a temporary name, then swapped in."""
    import diffusers

    from openreels.models.tiny import MINILM

    out_dir = Path(out_dir)
    with atomic_folder(out_dir) as tmp:
        for name, module in (("transformer", transformer), ("vae", vae), ("image_encoder", image_encoder)):
            save_module(module, tmp / name, dtype)
        image_processor.save_pretrained(tmp / "image_processor")
        flow_scheduler(float(defaults["shift"])).save_pretrained(tmp / "scheduler")
        index = {
            "_class_name": "A2Pipeline",
            "_diffusers_version": diffusers.__version__,
            "image_encoder": ["transformers", "CLIPVisionModel"],
            "image_processor": ["transformers", "CLIPImageProcessor"],
            "scheduler": ["diffusers", "UniPCMultistepScheduler"],
            "transformer": ["diffusers", "WanTransformer3DModel"],
            "vae": ["diffusers", "AutoencoderKLWan"],
        }
        write_json(tmp / "model_index.json", index)
        write_json(tmp / "openreels.json", {"text_encoder": MINILM, **defaults})
    return out_dir
