"""`openreels train`: run a training recipe (those that make the bundled openreels-tiny, a1-tiny and a2-tiny)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import typer

from openreels.errors import OpenreelsError

EXAMPLES = """
Examples:

  openreels train --recipe tiny --out runs/tiny/model --time-limit 60 --ship
      # one CPU session of training: continues runs/tiny/model.work (or, with no work folder, the shipped
      # model: its VAE and transformer), trains for 60 minutes, and replaces the shipped model only if the
      # new one scores better on held-out prompts

  openreels train --recipe test --out /tmp/m --device cpu        # toy sizes, a minute on a CPU

  openreels train --recipe a2-tiny --out runs/a2/model --time-limit 60 --ship
      # the bundled A2 (elements-to-video), one session: the same sessions, warm start and --ship as tiny

  openreels train --recipe a1-tiny --out runs/a1/model --device cpu   # the bundled A1 (~1 h 45 min on 2 CPU cores)

  torchrun --nproc_per_node 8 -m openreels train --recipe tiny --out runs/tiny/model   # 8 GPUs, DDP

  openreels train --recipe tiny --out runs/tiny/model --stop-after 9   # pause after 9 min; repeat until it exports
"""
RESUME = (
    "A run killed at any point and started again with the same arguments resumes from its last checkpoint "
    "(in --workdir, default: <out>.work). --stop-after pauses on purpose (say, inside a 10-minute job slot). "
    "Every recipe trains in sessions: a finished work folder continues as a new segment, and a new one starts "
    "from the shipped model of the same design (tiny, a1-tiny, a2-tiny) unless --no-warm-start; a tiny recipe "
    "of a newer design than the shipped model starts its transformer from the shipped one's blocks."
)


def register(app: typer.Typer) -> None:
    @app.command(
        "train",
        help="Train a model from a recipe (flow matching + diffusion forcing; A1: v-prediction).\n\n"
        + RESUME
        + "\n\n"
        + EXAMPLES,
    )
    def train(
        recipe: str = typer.Option(
            "tiny",
            "--recipe",
            help="Recipe: tiny, smoke, test, a1-tiny (the bundled A1), a1-toy, a2-tiny (the bundled A2) or a2-test.",
        ),
        out: Path = typer.Option(..., "--out", help="Folder for the trained diffusers-format model."),
        workdir: Path = typer.Option(None, "--workdir", help="Checkpoints and caches (default: <out>.work)."),
        device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
        seed: int = typer.Option(None, "--seed", help="Seed for data, initialisation and noise."),
        source: str = typer.Option(None, "--source", help="Training data: stage or shapes."),
        clips: int = typer.Option(None, "--clips", help="Number of training clips to render."),
        vae_steps: int = typer.Option(None, "--vae-steps", help="VAE optimiser steps."),
        steps: int = typer.Option(None, "--steps", help="Transformer optimiser steps."),
        batch_size: int = typer.Option(None, "--batch-size", help="Transformer batch size per device."),
        grad_accum: int = typer.Option(None, "--grad-accum", help="Micro-batches per optimiser step."),
        ckpt_every: int = typer.Option(
            None, "--ckpt-every", help="Checkpoint interval in steps (both stages)."
        ),
        time_limit: float = typer.Option(
            None, "--time-limit", help="Stop the transformer stage after this many minutes (and export)."
        ),
        vae_time_limit: float = typer.Option(
            None, "--vae-time-limit", help="Stop the VAE stage after this many minutes."
        ),
        vae_from: Path = typer.Option(
            None,
            "--vae-from",
            help="Use this trained VAE folder (AutoencoderKLWan; a1: AutoencoderKLCogVideoX) and skip the VAE stage.",
        ),
        stop_after: float = typer.Option(
            None,
            "--stop-after",
            help="Pause after this many minutes: checkpoint and exit; the same command resumes "
            "(for jobs with a wall-clock limit; the schedule is not changed).",
        ),
        render_wait: float = typer.Option(
            None,
            "--render-wait",
            help="After the VAE stage, wait at most this many minutes for clips to render.",
        ),
        warm_from: Path = typer.Option(
            None,
            "--warm-from",
            help="Continue from this model folder of the same design (default for tiny, a1-tiny, a2-tiny: the "
            "shipped model).",
        ),
        no_warm_start: bool = typer.Option(
            False,
            "--no-warm-start",
            help="Train from scratch even when a shipped model of the design exists.",
        ),
        ship: bool = typer.Option(
            False,
            "--ship",
            help="tiny, a1-tiny, a2-tiny: afterwards score the new model and the shipped one on held-out items "
            "(the recipe's own evaluation) and replace the shipped model only if the new one scores better.",
        ),
        ship_prompts: int = typer.Option(
            12,
            "--ship-prompts",
            min=2,
            help="Held-out items (prompts, pairs or compositions) scored by --ship (seconds each on a CPU).",
        ),
        quiet: bool = typer.Option(False, "--quiet", help="No progress lines."),
        as_json: bool = typer.Option(False, "--json", help="Print the run summary as JSON."),
    ) -> None:
        from openreels.cli.common import check_writable_folder
        from openreels.limits import check_seed
        from openreels.train.loop import TrainingPaused
        from openreels.train.recipes import get_recipe
        from openreels.train.runner import run_recipe, shipped_path

        r = get_recipe(recipe)
        if seed is not None:
            r.seed = check_seed(seed)
        if vae_steps is not None and vae_steps < 1:
            raise OpenreelsError(
                f"--vae-steps must be at least 1, got {vae_steps}; to skip the VAE stage pass --vae-from FOLDER"
            )
        if steps is not None and steps < 1:
            raise OpenreelsError(f"--steps must be at least 1, got {steps}")
        if grad_accum is not None and grad_accum < 1:
            raise OpenreelsError(f"--grad-accum must be at least 1, got {grad_accum}")
        for name, value in (
            ("--time-limit", time_limit),
            ("--vae-time-limit", vae_time_limit),
            ("--render-wait", render_wait),
        ):
            if value is not None and value <= 0:
                raise OpenreelsError(f"{name} must be a positive number of minutes, got {value}")
        work = workdir or out.with_name(out.name + ".work")
        check_writable_folder(out.absolute().parent, "--out")  # the model is exported beside it, then renamed
        check_writable_folder(work, "--workdir")
        if source is not None:
            r.source = source
        if clips is not None:
            if clips < 1:
                raise OpenreelsError("--clips must be at least 1")
            r.clips = clips
        if batch_size is not None:
            if batch_size < 1:
                raise OpenreelsError("--batch-size must be at least 1")
            r.dit_batch = batch_size
        if vae_steps is not None:
            r.vae_loop = replace(r.vae_loop, steps=vae_steps)
        if steps is not None:
            r.dit_loop = replace(r.dit_loop, steps=steps)
        if grad_accum is not None:
            r.dit_loop = replace(r.dit_loop, grad_accum=grad_accum)
        if ckpt_every is not None:
            if ckpt_every < 1:
                raise OpenreelsError("--ckpt-every must be at least 1")
            r.vae_loop = replace(r.vae_loop, ckpt_every=ckpt_every)
            r.dit_loop = replace(r.dit_loop, ckpt_every=ckpt_every)
        if time_limit is not None:
            r.dit_loop = replace(r.dit_loop, time_limit_s=time_limit * 60)
        if vae_time_limit is not None:
            r.vae_loop = replace(r.vae_loop, time_limit_s=vae_time_limit * 60)
        if render_wait is not None:
            r.render_wait_s = render_wait * 60
        if vae_from is not None:
            if not (vae_from / "config.json").exists():
                raise OpenreelsError(
                    f"{vae_from} is not a diffusers VAE folder (no config.json); pass its vae/ folder"
                )
            r.vae_from = str(vae_from)
            if hasattr(r, "a1"):  # the A1 recipes take the VAE's temporal compression (A1's 4x, or 2x)
                config = json.loads((vae_from / "config.json").read_text())
                r.a1 = replace(r.a1, vae_temporal_compression=config.get("temporal_compression_ratio", 4))
        if no_warm_start:
            r.warm_from = None
        elif warm_from is not None:
            if not (warm_from / "transformer").is_dir():
                raise OpenreelsError(f"--warm-from {warm_from}: not a model folder (no transformer/)")
            r.warm_from = str(warm_from)
        if ship and shipped_path(r.name) is None:
            raise OpenreelsError(
                f"--ship replaces a shipped model; recipe {recipe!r} ships none (use tiny, a1-tiny or a2-tiny)"
            )
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise OpenreelsError(
                    "--device cuda was asked for but no CUDA GPU is visible; use --device cpu"
                )

        def log(line: str) -> None:
            if not quiet:
                typer.echo(line, err=True)

        if stop_after is not None and stop_after <= 0:
            raise OpenreelsError("--stop-after must be a positive number of minutes")
        stop_s = stop_after * 60 if stop_after is not None else None
        try:
            summary = run_recipe(r, out, work, device, log=log, stop_after_s=stop_s)
        except TrainingPaused as paused:
            log(str(paused))
            if as_json:
                typer.echo(json.dumps({"paused": True, "stage": paused.name, "step": paused.step}))
            return
        if "out_dir" not in summary:  # a non-zero torchrun rank: rank 0 reports
            return
        if ship:
            from openreels.train.report import ship_if_better

            summary["ship"] = ship_if_better(
                Path(summary["out_dir"]), shipped_path(r.name), ship_prompts, r.score, log=log
            )
        if as_json:
            typer.echo(json.dumps(summary))
        elif not quiet:
            typer.echo(f"model written to {summary['out_dir']} ({summary['size_mb']} MB)")
