"""`openreels generate PROMPT`: text, image, start/end frame, extension and long video on any SkyReels model."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from openreels.cli.common import check_not_input, check_writable, parse_size, quiet_libraries
from openreels.cli.progress import Reporter
from openreels.errors import OpenreelsError
from openreels.runtime.cli_options import is_writer, runtime_hook, with_runtime_options

EXAMPLES = """
Examples:

  openreels generate "A woman with long red hair is laughing" --output out/a.mp4

  openreels generate "She waves" --image face.png --end-image end.png --frames 33

  openreels generate "The walk goes on" --video out/a.mp4 --frames 40 --output out/longer.mp4

  openreels generate "A man walking left" --seconds 10 --ar-step 5 --causal-block-size 5

  openreels generate "A city street" -m skyreels-v2-df-1.3b-540p --resolution 540p --num-videos 2

  openreels generate --from-sidecar out/a.json --output out/again.mp4

  openreels generate "a woman laughing, red backdrop" --enhance        # short prompt -> full structured one
"""

RESOLUTIONS = {"540p": (544, 960), "720p": (720, 1280)}


def _output_paths(output: Path, count: int) -> list[Path]:
    if output.suffix.lower() not in (".mp4", ".npz"):
        raise OpenreelsError(f"unsupported output {output.name}: use a .mp4 or .npz file name")
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{i + 1}{output.suffix}") for i in range(count)]


@with_runtime_options
def generate_command(
    prompt: str = typer.Argument(None, help="What the video shows (optional with --from-sidecar)."),
    model: str = typer.Option(
        None, "--model", "-m", help="Model id (see `openreels models`) or checkpoint folder."
    ),
    image: Path = typer.Option(None, "--image", help="First frame: image-to-video."),
    end_image: Path = typer.Option(None, "--end-image", help="Last frame (with --image): start/end frames."),
    video: Path = typer.Option(None, "--video", help="Video to extend (diffusion-forcing models)."),
    frames: int = typer.Option(None, "--frames", help="Frames to make (4k+1); with --video, frames to add."),
    seconds: float = typer.Option(None, "--seconds", help="Length in seconds instead of --frames."),
    size: str = typer.Option(None, "--size", help="HEIGHTxWIDTH, e.g. 544x960."),
    resolution: str = typer.Option(None, "--resolution", help="540p (544x960) or 720p (720x1280)."),
    steps: int = typer.Option(None, "--steps", help="Denoising steps."),
    guidance: float = typer.Option(None, "--guidance", help="Classifier-free guidance scale."),
    shift: float = typer.Option(None, "--shift", help="Flow-matching shift of the scheduler."),
    seed: int = typer.Option(
        None, "--seed", help="Random seed (default 0); video i of --num-videos uses seed+i."
    ),
    negative_prompt: str = typer.Option(
        None, "--negative-prompt", help="What to avoid (default: the model's)."
    ),
    ar_step: int = typer.Option(None, "--ar-step", help="DF: 0 synchronous, >0 asynchronous (e.g. 5)."),
    causal_block_size: int = typer.Option(None, "--causal-block-size", help="DF: latent frames per block."),
    overlap_history: int = typer.Option(
        None, "--overlap-history", help="DF: frames shared between windows (17)."
    ),
    addnoise_condition: float = typer.Option(
        None, "--addnoise-condition", help="DF: noise on conditioning (20)."
    ),
    num_videos: int = typer.Option(1, "--num-videos", help="How many videos (seeds seed, seed+1, ...)."),
    fps: int = typer.Option(None, "--fps", help="Frame rate of the file (default: the model's)."),
    output: Path = typer.Option(
        Path("out/openreels.mp4"), "--output", "-o", help="Output .mp4 or lossless .npz."
    ),
    crf: int = typer.Option(18, "--crf", "--quality", min=0, max=51, help="H.264 quality: 0 best, 51 worst."),
    device: str = typer.Option(None, "--device", help="auto, cpu, cuda or cuda:N."),
    dtype: str = typer.Option(None, "--dtype", help="auto, float32, bfloat16 or float16."),
    from_sidecar: Path = typer.Option(
        None, "--from-sidecar", help="Repeat the run recorded in a JSON sidecar."
    ),
    enhance: bool = typer.Option(
        False,
        "--enhance",
        help="Expand the prompt to the full structured form first (see `openreels enhance`).",
    ),
    enhancer: str = typer.Option(
        None, "--enhancer", help="With --enhance: an OpenAI-compatible LLM endpoint."
    ),
    enhancer_model: str = typer.Option(None, "--enhancer-model", help="With --enhancer: its model name."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or notes."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    runtime=None,
) -> None:
    """Generate a video from a prompt (and optionally an image, start/end images or a video to extend)."""
    from openreels.media import read_image, read_video
    from openreels.pipelines.request import load_sidecar

    settings: dict = {}
    inputs: dict = {}
    if from_sidecar is not None:
        settings, inputs = load_sidecar(from_sidecar)
    given = {
        "prompt": prompt,
        "model": model,
        "frames": frames,
        "steps": steps,
        "guidance": guidance,
        "shift": shift,
        "seed": seed,
        "negative_prompt": negative_prompt,
        "ar_step": ar_step,
        "causal_block_size": causal_block_size,
        "overlap_history": overlap_history,
        "addnoise_condition": addnoise_condition,
        "fps": fps,
        "device": device,
        "dtype": dtype,
    }
    settings |= {k: v for k, v in given.items() if v is not None}
    if size is not None and resolution is not None:
        raise OpenreelsError("pass --size or --resolution, not both")
    if resolution is not None:
        if resolution.lower() not in RESOLUTIONS:
            raise OpenreelsError(f"--resolution must be 540p or 720p, got {resolution!r}")
        settings["size"] = RESOLUTIONS[resolution.lower()]
    elif size is not None:
        settings["size"] = parse_size(size)
    for name, path in (("image", image), ("end_image", end_image), ("video", video)):
        if path is not None:
            inputs[name] = str(path)
    if not settings.get("prompt"):
        raise OpenreelsError("the prompt is empty; describe the video to generate")
    enhanced = None
    if enhance or enhancer:
        import os

        from openreels.cli.caption import run_enhancer

        key = os.environ.get("OPENREELS_LLM_KEY", "")
        enhanced = run_enhancer(settings["prompt"], settings.get("seed", 0), enhancer, enhancer_model, key)
        settings["prompt"] = enhanced.prompt
        if not quiet:
            typer.echo(f"enhanced prompt: {enhanced.prompt}", err=True)
    if seconds is not None:
        if frames is not None:
            raise OpenreelsError("pass --frames or --seconds, not both")
        if seconds <= 0:
            raise OpenreelsError(f"--seconds must be positive, got {seconds}")
        from openreels.models import DEFAULT_MODEL, get_model

        rate = settings.get("fps") or get_model(settings.get("model", DEFAULT_MODEL)).fps
        settings["frames"] = round(seconds * rate) + (0 if "video" in inputs else 1)

    outputs = _output_paths(output, num_videos)
    check_not_input(outputs, [*inputs.values(), from_sidecar])
    for path in outputs:
        check_writable(path)

    arrays = {}
    for name, path in inputs.items():
        arrays[name] = read_video(path)[0] if name == "video" else read_image(path)

    from openreels.pipelines import GenerateRequest, generate

    if "size" in settings:
        settings["size"] = tuple(settings["size"])
    request = GenerateRequest(**settings, **arrays, num_videos=num_videos)
    quiet_libraries()
    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        if not quiet:
            typer.echo(f"note: {text}", err=True)

    hook = runtime_hook(runtime, settings.get("device"))
    with Reporter(quiet=quiet or as_json) as report:
        videos = generate(
            request, pipeline_hook=hook, progress=lambda d, t, label: report.update(label, d, t), on_note=note
        )

    if not is_writer():  # under torchrun only rank 0 writes
        return
    results = []
    for vid, path in zip(videos, outputs, strict=True):  # each video lands whole with its sidecar
        vid.metadata["inputs"] = {k: str(Path(v).resolve()) for k, v in inputs.items()}
        vid.metadata["crf"] = crf
        # the sidecar keeps both prompts; "prompt" (the enhanced one) reproduces the run
        if enhanced is not None:
            vid.metadata |= enhanced.record()
        vid.save(path, crf=crf)
        results.append(
            {
                "path": str(path),
                "sidecar": str(path.with_suffix(".json")),
                "frames": int(vid.frames.shape[0]),
                "size": list(vid.frames.shape[1:3]),
                "fps": vid.fps,
                "seed": vid.metadata["seed"],
                "model": vid.metadata["model"],
                "seconds": vid.metadata.get("elapsed_s"),
                "notes": notes,
            }
        )
    if as_json:
        typer.echo(json.dumps(results if len(results) > 1 else results[0], indent=2))
    elif not quiet:
        for r in results:
            typer.echo(
                f"wrote {r['path']} ({r['frames']} frames, {r['size'][0]}x{r['size'][1]}, seed {r['seed']})"
            )


def register(app: typer.Typer) -> None:
    app.command("generate", help=(generate_command.__doc__ or "") + "\n\n" + EXAMPLES)(generate_command)
