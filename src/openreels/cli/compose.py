"""`openreels compose`: elements-to-video (SkyReels-A2) from 1-3 reference images and a prompt."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from openreels.errors import OpenreelsError

DEFAULT_MODEL = "openreels-a2-tiny"  # bundled, trained on the stage; runs on a CPU
# Unprefixed references take the original's slots by position: a person, an object, the background.
POSITIONAL_KINDS = ("character", "object", "background")

EPILOG = """Examples:

  openreels compose "Medium shot, eye level, static shot. A woman is waving." -r woman.png -r ball.png -r plate.png -o out.mp4

  openreels compose "A man is holding a teddy bear in the forest." -r man.png -r bear.png -r forest.jpg -m skyreels-a2 -o out.mp4

  openreels compose "A woman waving." -r woman.png -r background:studio.png --size 160x288 --seed 7 -o out.npz

  openreels compose "A child with a red ball." -r object:ball.png -r character:child.png --json -o out.mp4

A reference is PATH or KIND:PATH, KIND one of character, object, background. Without a kind the 1st is a character, the 2nd an object and the 3rd the background, the order SkyReels-A2 was trained on. The default model, openreels-a2-tiny, is bundled: it was trained on the synthetic stage (128x128, 16 frames): give it stage-like references (a person or an object on white, an empty backdrop plate) and stage words (`openreels world`). People and objects are padded on white (PNG transparency becomes white); a background is cropped to fill the frame.
"""


def _parse_ref(text: str, position: int) -> tuple[str, Path]:
    kind, sep, rest = text.partition(":")
    if sep and kind in POSITIONAL_KINDS:
        return kind, Path(rest)
    # "dog:x.png" is a misspelt kind, not a file called "dog:x.png" (unless such a file exists).
    if sep and kind.isalpha() and len(kind) > 1 and not Path(text).exists():
        raise OpenreelsError(
            f"--ref {text}: unknown kind {kind!r}; use {', '.join(POSITIONAL_KINDS)} (e.g. object:{rest})"
        )
    return POSITIONAL_KINDS[min(position, len(POSITIONAL_KINDS) - 1)], Path(text)


def compose(
    prompt: str = typer.Argument(..., help="What the elements do together (the scene, action and camera)."),
    ref: list[str] = typer.Option(
        ..., "--ref", "-r", help="Reference image, PATH or KIND:PATH (character/object/background); 1 to 3."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="Output video: .mp4 (H.264) or .npz (lossless)."),
    model: str = typer.Option(
        DEFAULT_MODEL,
        "--model",
        "-m",
        help="openreels-a2-tiny (bundled), skyreels-a2 (from the HF cache) or an A2 checkpoint folder.",
    ),
    frames: int | None = typer.Option(
        None, "--frames", help="Frames in the output, after the reference frames (A2: 69)."
    ),
    size: str | None = typer.Option(
        None,
        "--size",
        help="HEIGHTxWIDTH, multiples of 16 (A2: 480x832; the bundled model: 32, default 128x128).",
    ),
    steps: int | None = typer.Option(None, "--steps", help="Denoising steps (A2: 50)."),
    guidance: float | None = typer.Option(None, "--guidance", help="Text guidance scale, 1 is off (A2: 5)."),
    shift: float | None = typer.Option(None, "--shift", help="Flow-matching timestep shift (A2: 8)."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed; printed and saved when not given."),
    negative_prompt: str | None = typer.Option(
        None, "--negative-prompt", help="What to avoid (default: the checkpoint's; A2's own for skyreels-a2)."
    ),
    fps: float | None = typer.Option(None, "--fps", help="Frame rate of the output file (A2: 15)."),
    crf: int = typer.Option(18, "--crf", "--quality", min=0, max=51, help="H.264 quality: 0 best, 51 worst."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    dtype: str = typer.Option("auto", "--dtype", help="auto, float32, bfloat16 or float16."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Compose a video from 1-3 reference images (person, object, background) and a prompt (SkyReels-A2).

    Settings not given take the checkpoint's defaults (its openreels.json, else the A2 release's).
    """
    from openreels.cli.common import (
        check_not_input,
        check_writable,
        lasting_imports,
        parse_size,
        quiet_libraries,
    )
    from openreels.cli.progress import Reporter
    from openreels.limits import check_finite, check_fits, check_seed
    from openreels.media.video import VIDEO_SUFFIXES

    with lasting_imports():
        from transformers import BertModel, CLIPVisionModel  # noqa: F401 (imported here for lasting_imports)

        from openreels.pipelines.compose import check_size, folder_defaults, locate_a2, size_multiple

    if output.suffix.lower() not in VIDEO_SUFFIXES:
        raise OpenreelsError(f"unsupported output {output.name}: use a .mp4 or .npz file name")
    parsed = [_parse_ref(text, index) for index, text in enumerate(ref)]
    check_not_input([output], [path for _, path in parsed])
    check_writable(output)
    if seed is not None:
        check_seed(seed)
    for name, value in (("--guidance", guidance), ("--shift", shift), ("--fps", fps)):
        check_finite(value, name)
    if fps is not None and fps <= 0:
        raise OpenreelsError(f"--fps must be positive, got {fps}")
    for name, value in (("--frames", frames), ("--steps", steps)):
        if value is not None and value < 1:
            raise OpenreelsError(f"{name} must be at least 1, got {value}")
    if guidance is not None and guidance < 0:
        raise OpenreelsError(f"--guidance must be 0 or more, got {guidance}")
    root = locate_a2(model)
    defaults = folder_defaults(root)
    height, width = parse_size(size) if size else (defaults.height, defaults.width)
    check_size(height, width, size_multiple(root), defaults)
    check_fits((frames or defaults.frames) + len(parsed), height, width, device, what="the video")
    # Check every reference before loading a model that may take minutes to load.
    from openreels.pipelines.a2 import check_reference_count, load_reference, prepare_references

    check_reference_count(len(parsed))
    references = [load_reference(path, kind) for kind, path in parsed]
    prepare_references(references, height, width)

    from openreels import __version__
    from openreels.media import write_video
    from openreels.pipelines.compose import load_compose_pipeline

    quiet_libraries()
    started = time.perf_counter()
    with Reporter(quiet=quiet or as_json) as report:
        report.stage("loading model")
        pipe = load_compose_pipeline(root, device=device, dtype=dtype)
        result = pipe(
            prompt,
            references,
            negative_prompt=negative_prompt,
            height=height,
            width=width,
            num_frames=frames,
            num_inference_steps=steps,
            guidance_scale=guidance,
            shift=shift,
            seed=seed,
            fps=fps,
            on_step=lambda done, total: report.update("composing", done, total),
        )
        report.stage("writing")
        elapsed = time.perf_counter() - started
        metadata = {
            **result.settings,
            "references": [
                {"path": str(path), "kind": ref.kind}
                for (_, path), ref in zip(parsed, references, strict=True)
            ],
            "model": str(model),
            "model_dir": str(root),
            "openreels": __version__,
            "elapsed_s": round(elapsed, 2),
        }
        write_video(output, result.frames, result.fps, metadata=metadata, crf=crf)

    summary = {
        "output": str(output),
        "frames": int(result.frames.shape[0]),
        "size": [height, width],
        "fps": result.fps,
        "seed": result.settings["seed"],
        "seconds": round(elapsed, 2),
        "notes": result.notes,
    }
    if as_json:
        typer.echo(json.dumps(summary))
    elif not quiet:
        for note in result.notes:
            typer.echo(f"note: {note}", err=True)
        typer.echo(
            f"wrote {output} ({summary['frames']} frames of {height}x{width}, seed {summary['seed']}, "
            f"{summary['seconds']} s)"
        )


def register(app: typer.Typer) -> None:
    app.command("compose", epilog=EPILOG)(compose)
