"""`openreels eval`: score videos against their prompts, measure temporal consistency, check the probes."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from openreels.errors import OpenreelsError

eval_app = typer.Typer(
    help="Quality evaluation: prompt adherence probes and temporal consistency.\n\n"
    "Examples:\n\n"
    "  openreels eval score out/*.mp4\n\n"
    "  openreels eval consistency long.mp4 --window 24\n\n"
    "  openreels eval probes --count 40",
    no_args_is_help=True,
)


def _prompt_for(video: Path, prompt: str | None) -> str | dict:
    """The prompt given on the command line, else the caption/prompt in the video's JSON sidecar."""
    if prompt is not None:
        return prompt
    sidecar = video.with_suffix(".json")
    if sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text())
        except (OSError, ValueError) as exc:
            raise OpenreelsError(f"cannot read {sidecar}: {exc}; pass --prompt instead") from exc
        if isinstance(meta.get("caption"), dict):
            return meta["caption"]
        if isinstance(meta.get("prompt"), str):
            return meta["prompt"]
    raise OpenreelsError(
        f"no prompt for {video.name}: pass --prompt or put a .json sidecar with 'prompt' next to it"
    )


@eval_app.command("score")
def score_cmd(
    videos: list[Path] = typer.Argument(..., help="Videos (.mp4 or .npz) to score."),
    prompt: str = typer.Option(
        None, "--prompt", "-p", help="The prompt they were made from (default: the sidecar)."
    ),
    fast: bool = typer.Option(
        False,
        "--fast",
        help="Read the fields with the learned captioner (~0.02 s a clip) instead of the probes; it reads framing, place and backdrop well, camera motion and expression near chance (docs/captions.md).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the summary."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Score videos field by field against the prompt they were made from.

    Examples:

      openreels eval score clip.mp4 --prompt "Medium shot, eye level, static shot. A man ... waving ..."

      openreels eval score out/*.mp4          (prompts from each video's JSON sidecar)

      openreels eval score out/*.mp4 --fast   (the learned captioner reads the fields)
    """
    from openreels.cli.progress import Reporter
    from openreels.media import read_video

    if prompt is not None and not prompt.strip():
        raise OpenreelsError("--prompt is empty; give the prompt the videos were made from, or leave it out")
    if fast:
        from openreels.caption.score import fast_scores as score_clip
    else:
        from openreels.eval import score_clip

    per_clip, fields = [], {}
    with Reporter(quiet=quiet or as_json) as report:
        for i, video in enumerate(videos):
            frames, fps = read_video(video)
            wanted = _prompt_for(video, prompt)
            scores = score_clip(frames, wanted) if fast else score_clip(frames, wanted, fps)
            per_clip.append({"video": str(video), "scores": scores})
            for k, v in scores.items():
                fields.setdefault(k, []).append(v)
            report.update("scoring", i + 1, len(videos))
    summary = {k: sum(v) / len(v) for k, v in fields.items()}
    if as_json:
        typer.echo(json.dumps({"clips": per_clip, "accuracy": summary}, indent=1))
        return
    if not quiet:
        for item in per_clip:
            typer.echo(f"{item['video']}: " + ", ".join(f"{k} {v:.0f}" for k, v in item["scores"].items()))
    typer.echo("accuracy: " + ", ".join(f"{k} {v:.2f}" for k, v in summary.items()))


@eval_app.command("consistency")
def consistency_cmd(
    video: Path = typer.Argument(..., help="Video (.mp4 or .npz)."),
    window: int = typer.Option(16, "--window", help="Frames per window for window-to-window measures."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Identity and background stability, frame to frame and window to window.

    Example: openreels eval consistency long.mp4 --window 24
    """
    from openreels.eval import consistency
    from openreels.media import read_video

    frames, _ = read_video(video)
    result = consistency(frames, window)
    if as_json:
        typer.echo(json.dumps(result))
    else:
        typer.echo(
            ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items())
        )


@eval_app.command("probes")
def probes_cmd(
    count: int = typer.Option(40, "--count", help="Rendered clips to check the probes on."),
    frames: int = typer.Option(17, "--frames", "-n", help="Frames per clip."),
    size: str = typer.Option("64x64", "--size", help="HEIGHTxWIDTH."),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check the probes: accuracy on rendered clips against their own captions (near 1) and against
    other clips' captions (chance).

    Example: openreels eval probes --count 40
    """
    from rich.console import Console

    from openreels.cli.world import parse_stage_size
    from openreels.eval import probe_table

    if count < 2:
        raise OpenreelsError(f"--count must be at least 2, got {count}")
    with Console(stderr=True, quiet=as_json).status(f"scoring {count} clips twice"):
        table = probe_table(count, parse_stage_size(size), frames, seed)
    if as_json:
        typer.echo(json.dumps(table, indent=1))
        return
    gt, sh = table["ground_truth"]["fields"], table["shuffled"]["fields"]
    typer.echo(f"{'probe':15s} {'rendered':>9s} {'shuffled':>9s} {'n':>4s}")
    for k, v in gt.items():
        typer.echo(
            f"{k:15s} {v['accuracy']:9.2f} {sh.get(k, {}).get('accuracy', float('nan')):9.2f} {v['n']:4d}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
