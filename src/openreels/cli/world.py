"""`openreels world render|sample`: render the synthetic stage from a prompt, or a contact sheet of it."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from openreels.cli import common
from openreels.cli.progress import Reporter
from openreels.errors import OpenreelsError
from openreels.limits import check_seed

world_app = typer.Typer(
    help="The synthetic stage: render ground-truth clips from prompts.\n\n"
    "Examples:\n\n"
    '  openreels world render "Medium shot. A man in a red shirt is waving. Beach, midday." -o clip.mp4\n\n'
    "  openreels world sample --output out/world --count 12\n\n"
    "  openreels world bench --workers 2 --count 400",
    no_args_is_help=True,
)


def parse_stage_size(text: str) -> tuple[int, int]:
    """'HxW' (or a single number for a square) -> (height, width), checked against the stage's limits."""
    from openreels.world.renderer import MAX_SIZE, MIN_SIZE

    h, w = common.parse_size(text)
    if not (MIN_SIZE <= h <= MAX_SIZE and MIN_SIZE <= w <= MAX_SIZE):
        raise OpenreelsError(
            f"--size {h}x{w} is out of range; height and width must be {MIN_SIZE}..{MAX_SIZE}"
        )
    return h, w


def _check_frames(frames: int) -> int:
    from openreels.world.renderer import MAX_FRAMES

    if not 1 <= frames <= MAX_FRAMES:
        raise OpenreelsError(f"--frames must be 1..{MAX_FRAMES}, got {frames}")
    return frames


def _check_output(output: Path, suffixes: tuple[str, ...]) -> Path:
    if output.suffix.lower() not in suffixes:
        raise OpenreelsError(f"--output must end in {' or '.join(suffixes)}, got {output.name}")
    return output


@world_app.command("render")
def render_cmd(
    prompt: str = typer.Argument(..., help="What to show, in the stage's words (see docs/world.md)."),
    output: Path = typer.Option(
        ..., "--output", "-o", help="X.mp4 (H.264) or X.npz (lossless frames + fps)."
    ),
    frames: int = typer.Option(17, "--frames", "-n", help="Number of frames."),
    size: str = typer.Option("256x256", "--size", help="HEIGHTxWIDTH, each 64..512."),
    seed: int = typer.Option(0, "--seed", help="Draws every field the prompt leaves out."),
    fps: float = typer.Option(8.0, "--fps", help="Frames per second."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    as_json: bool = typer.Option(False, "--json", help="Print the caption and output path as JSON."),
) -> None:
    """Render the ground-truth clip a prompt describes.

    Examples:

      openreels world render "Close-up, static shot. A woman with long red hair is laughing. Studio with a plain teal backdrop, warm light." -o clip.mp4

      openreels world render "a happy child waving at the beach" --frames 33 --size 128x192 -o beach.npz
    """
    from openreels.media import write_video
    from openreels.world import render, scene_from_prompt, unknown_words

    if not prompt.strip():
        raise OpenreelsError(
            "the prompt is empty; describe the scene in the stage's words (see docs/world.md)"
        )
    size_hw = parse_stage_size(size)
    _check_frames(frames)
    _check_output(output, (".mp4", ".npz"))
    common.check_writable(output)
    check_seed(seed)
    if not 0 < fps <= 240:
        raise OpenreelsError(f"--fps must be above 0 and at most 240, got {fps}")
    ignored = unknown_words(prompt)
    if ignored and not quiet:
        typer.echo(f"note: ignored words the stage does not know: {', '.join(ignored)}", err=True)
    scene = scene_from_prompt(prompt, seed)
    from rich.console import Console

    with Console(stderr=True, quiet=quiet or as_json).status("rendering"):
        clip = render(scene, frames, size_hw, fps)
    meta = {
        "prompt": prompt,
        "stage_prompt": clip.prompt,
        "caption": clip.caption,
        "seed": seed,
        "frames": frames,
        "size": list(size_hw),
        "fps": fps,
        "generator": "openreels.world",
    }
    write_video(output, clip.frames, fps, metadata=meta)
    if as_json:
        typer.echo(json.dumps({"output": str(output), "caption": clip.caption, "prompt": clip.prompt}))
    elif not quiet:
        typer.echo(f"wrote {output} ({frames} frames, {size_hw[0]}x{size_hw[1]}): {clip.prompt}")


@world_app.command("sample")
def sample_cmd(
    output: Path = typer.Option(
        Path("out/world"), "--output", "-o", help="Folder for sheet.png, MP4s, captions."
    ),
    count: int = typer.Option(12, "--count", help="Clips on the contact sheet."),
    videos: int = typer.Option(4, "--videos", help="How many of them also get an MP4."),
    frames: int = typer.Option(17, "--frames", "-n", help="Frames per clip."),
    size: str = typer.Option("128x128", "--size", help="HEIGHTxWIDTH of each clip, 64..512."),
    seed: int = typer.Option(0, "--seed", help="Seed for the random scenes."),
    split: str = typer.Option("train", "--split", help="train or heldout scenes."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Write a contact sheet (first, middle, last frame of random clips with their prompts) and MP4s.

    Example: openreels world sample --output out/world --count 12
    """
    import numpy as np

    from openreels.media import atomic_output, write_video
    from openreels.world import render, sample_scene

    size_hw = parse_stage_size(size)
    _check_frames(frames)
    if not 1 <= count <= 200:
        raise OpenreelsError(f"--count must be 1..200, got {count}")
    if videos < 0:
        raise OpenreelsError(f"--videos must be 0 or more, got {videos}")
    if split not in ("train", "heldout"):
        raise OpenreelsError(f"--split must be train or heldout, got {split!r}")
    check_seed(seed)
    if output.exists() and not output.is_dir():
        raise OpenreelsError(f"--output {output} is a file; sample writes a folder")
    common.check_writable(output / "sheet.png")
    rng = np.random.default_rng(seed)
    clips = []
    with Reporter(quiet=quiet) as report:
        for i in range(count):
            clips.append(render(sample_scene(rng, split=split), frames, size_hw))
            report.update("rendering", i + 1, count)
    sheet = contact_sheet(clips)
    with atomic_output(output / "sheet.png") as tmp:
        sheet.save(tmp, format="PNG")
    for i, clip in enumerate(clips[:videos]):
        write_video(
            output / f"clip{i:02d}.mp4",
            clip.frames,
            clip.fps,
            metadata={"prompt": clip.prompt, "caption": clip.caption},
        )
    with atomic_output(output / "captions.json") as tmp:
        tmp.write_text(
            json.dumps([{"prompt": c.prompt, "caption": c.caption} for c in clips], indent=1) + "\n"
        )
    if not quiet:
        typer.echo(f"wrote {output / 'sheet.png'}, {min(videos, count)} MP4s and captions.json")


@world_app.command("bench")
def bench_cmd(
    count: int = typer.Option(400, "--count", help="Clips to render."),
    frames: int = typer.Option(17, "--frames", "-n", help="Frames per clip."),
    size: str = typer.Option("64x64", "--size", help="HEIGHTxWIDTH."),
    workers: int = typer.Option(2, "--workers", help="Processes (one per core)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Measure rendering throughput in clips per second.

    Example: openreels world bench --workers 2 --count 400
    """
    from rich.console import Console

    from openreels.world.speed import clips_per_second

    if count < 1 or workers < 1:
        raise OpenreelsError("--count and --workers must be at least 1")
    size_hw = parse_stage_size(size)
    _check_frames(frames)
    with Console(stderr=True, quiet=as_json).status(f"rendering {count} clips"):
        result = clips_per_second(count, size_hw, frames, workers)
    if as_json:
        typer.echo(json.dumps(result))
    else:
        typer.echo(
            f"{result['clips_per_second']:.1f} clips/s ({count} clips of {size_hw[0]}x{size_hw[1]}x{frames}, {workers} processes)"
        )


def contact_sheet(clips, columns: int = 3):
    """A PIL image: per clip its first, middle and last frames (4 px apart) and its prompt underneath."""
    import textwrap

    from PIL import Image, ImageDraw, ImageFont

    h, w = clips[0].frames.shape[1:3]
    font = ImageFont.load_default()
    chars = max(20, (3 * w) // 6)
    texts = [textwrap.wrap(c.prompt, chars) for c in clips]
    line_h = 12
    text_h = line_h * max(len(t) for t in texts) + 6
    gap = 4
    cell_w, cell_h = 3 * w + 2 * gap + 12, h + text_h + 8
    rows = (len(clips) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * cell_w, rows * cell_h), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (clip, lines) in enumerate(zip(clips, texts, strict=True)):
        x0, y0 = (i % columns) * cell_w + 6, (i // columns) * cell_h + 4
        t = len(clip.frames)
        for k, frame in enumerate((clip.frames[0], clip.frames[t // 2], clip.frames[-1])):
            sheet.paste(Image.fromarray(frame), (x0 + k * (w + gap), y0))
        for k, line in enumerate(lines):
            draw.text((x0, y0 + h + 3 + k * line_h), line, fill=(20, 20, 20), font=font)
    return sheet


def register(app: typer.Typer) -> None:
    app.add_typer(world_app, name="world")
