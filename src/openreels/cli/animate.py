"""`openreels animate`: move a reference portrait with a driving video (SkyReels-A1)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import typer

from openreels.cli.common import parse_size
from openreels.errors import OpenreelsError

MIN_DRIVING_SECONDS = 1.0

EXAMPLES = """
Examples:

  openreels animate --image me.jpg --driving talk.mp4 --output out/me_talking.mp4

  openreels animate --image portrait.png --driving stage_clip.npz --output out/a.npz --model ~/models/SkyReels-A1

  openreels animate --image ref.jpg --driving drive.mp4 --output out/a.mp4 --steps 10 --guidance 3 --fps 12 --json
"""


def _load_stage_landmarks(path: Path) -> np.ndarray | None:
    """Ground-truth landmarks (T, C, 70, 2) stored in a stage clip's .npz, if there are any."""
    if path.suffix.lower() != ".npz":
        return None
    with np.load(path) as data:
        return np.asarray(data["landmarks"], dtype=np.float64) if "landmarks" in data.files else None


def _resample(frames: np.ndarray, fps: float, target: float, marks: np.ndarray | None):
    """Pick the driving frames nearest to a `target` fps clock."""
    idx = np.floor(np.arange(0, len(frames) / fps, 1 / target) * fps).astype(int)
    idx = idx[idx < len(frames)]
    return frames[idx], (marks[idx] if marks is not None else None)


def _counter(report, label: str, total: int):
    """A no-argument callback that counts one more item done per call."""
    done = 0

    def advance() -> None:
        nonlocal done
        done += 1
        report.update(label, done, total)

    return advance


def run_animate(
    image: Path,
    driving: Path,
    output: Path,
    model: str | None,
    steps: int,
    guidance: float | None,
    pose_guidance: float | None,
    seed: int,
    size: str | None,
    fps: float | None,
    character: int,
    window: int | None,
    quiet: bool,
    as_json: bool,
) -> dict:
    from rich.console import Console

    from openreels.cli.common import check_not_input, check_writable, lasting_imports, quiet_libraries
    from openreels.cli.progress import Reporter
    from openreels.face.sources import driving_shapes, reference_shape
    from openreels.limits import check_finite, check_fits, check_seed
    from openreels.media import read_image, read_video, write_video
    from openreels.media.video import VIDEO_SUFFIXES

    with lasting_imports():
        from transformers import SiglipVisionModel  # noqa: F401 (imported here for lasting_imports)

        from openreels.pipelines.a1 import A1Transformer3DModel  # noqa: F401 (likewise)
        from openreels.pipelines.animate import AnimatePipeline, animate, fit_image, locate_a1

    console = Console(stderr=True, quiet=quiet or as_json)
    started = time.perf_counter()

    # 1. Arguments and paths, checked before anything slow.
    if output.suffix.lower() not in VIDEO_SUFFIXES:
        raise OpenreelsError(f"unsupported output {output.name}: use a .mp4 or .npz file name")
    check_not_input([output], [image, driving])
    check_writable(output)
    check_seed(seed)
    check_finite(guidance, "--guidance")
    check_finite(pose_guidance, "--pose-guidance")
    if fps is not None and not (check_finite(fps, "--fps") and fps > 0):
        raise OpenreelsError(f"--fps must be positive, got {fps}")
    if window is not None and window < 2:
        raise OpenreelsError(f"--window must be at least 2 frames, got {window}")
    requested_size = parse_size(size) if size else None
    root, random_model = locate_a1(model)
    if image.suffix.lower() == ".npz":
        ref_frames, _ = read_video(image)
        ref_img, ref_marks = ref_frames[0], _load_stage_landmarks(image)
        ref_marks = ref_marks[0] if ref_marks is not None else None
    else:
        ref_img, ref_marks = read_image(image), None
    frames, driving_fps = read_video(driving)
    seconds = len(frames) / driving_fps
    if seconds < MIN_DRIVING_SECONDS:
        raise OpenreelsError(
            f"the driving video is {seconds:.2f} s long ({len(frames)} frames); use at least {MIN_DRIVING_SECONDS:g} s"
        )
    drv_marks = _load_stage_landmarks(driving)
    out_fps = fps or driving_fps
    if fps:
        frames, drv_marks = _resample(frames, driving_fps, fps, drv_marks)
    if requested_size:
        check_fits(len(frames) + 1, *requested_size, what="the animation")

    # 2. Faces, before the model loads (fail fast); the reference's at full resolution.
    quiet_libraries()
    report = Reporter(quiet=quiet or as_json)
    ref = reference_shape(ref_img, ref_marks, character)
    with report:
        drv = driving_shapes(
            frames, drv_marks, character, progress=_counter(report, "driving landmarks", len(frames))
        )
    if random_model:
        drv.notes.append(f"{root} is an untrained random A1 (until the tiny A1 is trained): expect noise")
    for note in ref.notes + drv.notes:
        console.print(f"note: {note}", highlight=False)

    # 3. The model fixes the output size; the reference and its face move into that frame.
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    with report:
        report.stage("loading the model")
        pipe = AnimatePipeline.from_pretrained(root, dtype=dtype, device=device)
    if device == "cuda":
        pipe.vae.enable_tiling()  # as A1 runs: decoding 480x720 video in tiles keeps memory bounded
    height, width = requested_size or pipe.native_size
    guidance = pipe.guidance_scale if guidance is None else guidance
    pose_guidance = pipe.pose_guidance_scale if pose_guidance is None else pose_guidance

    ref_img, scale, origin = fit_image(ref_img, (height, width))
    ref.shapes = (ref.shapes - origin) * scale

    # 4. Sampling and writing.
    with report:
        report.stage("animating")
        result = animate(
            pipe,
            ref_img,
            ref.shapes,
            drv.shapes,
            num_inference_steps=steps,
            guidance_scale=guidance,
            pose_guidance_scale=pose_guidance,
            seed=seed,
            window_frames=window,
            progress=lambda done, total: report.update("animating", done, total),
        )
    metadata = {
        "task": "animate",
        "model": str(root),
        "image": str(image),
        "driving": str(driving),
        "steps": steps,
        "guidance": guidance,
        "pose_guidance": pose_guidance,
        "seed": seed,
        "size": [height, width],
        "fps": out_fps,
        "windows": result.windows,
        "notes": ref.notes + drv.notes,
    }
    write_video(output, result.frames, out_fps, metadata=metadata)
    summary = {
        "output": str(output),
        "frames": int(len(result.frames)),
        "fps": out_fps,
        "windows": result.windows,
        "seconds": round(time.perf_counter() - started, 2),
        "notes": ref.notes + drv.notes,
    }
    if as_json:
        typer.echo(json.dumps(summary))
    elif not quiet:
        console.print(f"wrote {output} ({summary['frames']} frames, {summary['seconds']} s)")
    return summary


def register(app: typer.Typer) -> None:
    @app.command("animate", help="Animate a portrait with a driving video (SkyReels-A1).\n\n" + EXAMPLES)
    def animate_cmd(
        image: Path = typer.Option(
            ..., "--image", help="Reference portrait (PNG/JPEG), or a stage clip .npz."
        ),
        driving: Path = typer.Option(
            ..., "--driving", help="Driving video (.mp4 or any FFmpeg video, or .npz)."
        ),
        output: Path = typer.Option(..., "--output", "-o", help="Output video (.mp4 or lossless .npz)."),
        model: str | None = typer.Option(
            None,
            "--model",
            help="An A1 folder, skyreels-a1 from the Hugging Face cache, or openreels-a1-tiny (the default: "
            "the bundled tiny A1).",
        ),
        steps: int = typer.Option(10, "--steps", min=1, help="Denoising steps (A1 uses 10)."),
        guidance: float | None = typer.Option(
            None,
            "--guidance",
            help="Classifier-free guidance on the face (A1 uses 3; default: the model's own setting).",
        ),
        pose_guidance: float | None = typer.Option(
            None,
            "--pose-guidance",
            help="Guidance toward the driving landmarks against the reference held still (1 = off, as A1 "
            "samples; default: the model's own setting).",
        ),
        seed: int = typer.Option(0, "--seed", help="Random seed; one seed, one result."),
        size: str | None = typer.Option(
            None, "--size", help="HEIGHTxWIDTH (default: the model's native size)."
        ),
        fps: float | None = typer.Option(
            None, "--fps", help="Resample the driving video to this rate (A1: 12)."
        ),
        character: int = typer.Option(
            0, "--character", help="Which stage character's landmarks to use (.npz)."
        ),
        window: int | None = typer.Option(None, "--window", help="Frames per window (default: the model's)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout."),
    ) -> None:
        run_animate(
            image,
            driving,
            output,
            model,
            steps,
            guidance,
            pose_guidance,
            seed,
            size,
            fps,
            character,
            window,
            quiet,
            as_json,
        )
