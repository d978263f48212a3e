"""`openreels caption VIDEO|DIR` (structured captions) and `openreels enhance PROMPT` (the prompt enhancer)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from openreels.errors import OpenreelsError

CAPTION_EXAMPLES = """
Examples:

  openreels caption clip.mp4                                  # stage clip -> caption JSON on stdout

  openreels caption out/world --backend learned               # every video -> out/world/captions.jsonl

  openreels caption clips/ --backend vlm --url http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-VL-7B-Instruct

Kill a folder run at any time: the next run continues where it stopped.
"""

ENHANCE_EXAMPLES = """
Examples:

  openreels enhance "a woman laughing, red backdrop"

  openreels enhance "a man waving at the beach" --seed 3 --json

  openreels enhance "a child jumping" --enhancer http://127.0.0.1:11434/v1 --model llama3.1
"""


def caption_command(
    path: Path = typer.Argument(..., help="A video (.mp4, .npz, ...) or a folder of them."),
    backend: str = typer.Option(
        "stage", "--backend", "-b", help="stage (analysis by synthesis), learned (fast, bundled) or vlm."
    ),
    output: Path = typer.Option(
        None, "--output", "-o", help="JSONL for a folder (default DIR/captions.jsonl); JSON for one video."
    ),
    url: str = typer.Option(
        None, "--url", help="vlm: OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1."
    ),
    model: str = typer.Option(None, "--model", "-m", help="vlm: the model name the endpoint serves."),
    key_env: str = typer.Option(
        "OPENREELS_VLM_KEY", "--key-env", help="vlm: environment variable holding the API key, if any."
    ),
    timeout: float = typer.Option(120.0, "--timeout", help="vlm: seconds to wait for one answer."),
    retries: int = typer.Option(
        2, "--retries", help="vlm: further attempts after an invalid or late answer."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or notes."),
    as_json: bool = typer.Option(False, "--json", help="Folder: print the summary as JSON."),
) -> None:
    """SkyCaptioner-shaped captions (subjects, shot, angle, camera motion, place, light) and fused prompts."""
    from openreels.caption.run import VlmOptions, caption_folder, caption_video, captioner

    if timeout <= 0 or retries < 0:
        raise OpenreelsError("--timeout must be positive and --retries at least 0")
    if not path.exists():
        raise OpenreelsError(f"{path} does not exist; give a video file or a folder of videos")
    vlm = VlmOptions(url or "", model or "", os.environ.get(key_env, ""), timeout, retries)
    caption_fn = captioner(backend, vlm)
    if path.is_file():
        item = caption_video(path, caption_fn, backend)
        if output is not None:
            from openreels.media import atomic_output

            if output.suffix.lower() != ".json":
                raise OpenreelsError(f"--output for one video must end in .json, got {output.name}")
            output.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(output) as tmp:
                Path(tmp).write_text(json.dumps(item, indent=1) + "\n")
            if not quiet:
                typer.echo(f"wrote {output}: {item['prompt']}")
        else:
            typer.echo(json.dumps(item, indent=1))
        return

    jsonl = output or path / "captions.jsonl"
    if jsonl.suffix.lower() != ".jsonl":
        raise OpenreelsError(f"--output for a folder must end in .jsonl, got {jsonl.name}")
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True, quiet=quiet)
    skipped: list[str] = []

    def skip(video: Path, why: str) -> None:
        skipped.append(str(video))
        console.print(f"note: skipped {video}: {why}", highlight=False, soft_wrap=True)

    new = 0
    steps = caption_folder(path, jsonl, caption_fn, backend, on_skip=skip)
    columns = (TextColumn("captioning"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True, disable=quiet) as bar:
        task = bar.add_task("captioning", total=None)
        for done, total, item in steps:
            bar.update(task, completed=done, total=total)
            new += item is not None
    summary = {"output": str(jsonl), "captioned": new, "total": total, "skipped": skipped}
    if as_json:
        typer.echo(json.dumps(summary))
    elif not quiet:
        typer.echo(
            f"wrote {new} new captions to {jsonl} ({total - len(skipped)} of {total} videos captioned)"
        )


def enhance_command(
    prompt: str = typer.Argument(..., help="A short prompt, e.g. 'a woman laughing, red backdrop'."),
    seed: int = typer.Option(0, "--seed", help="Offline enhancer: draws the fields the prompt leaves out."),
    enhancer: str = typer.Option(
        None, "--enhancer", help="An OpenAI-compatible LLM endpoint (default: the offline stage enhancer)."
    ),
    model: str = typer.Option(None, "--model", "-m", help="With --enhancer: the model name it serves."),
    key_env: str = typer.Option(
        "OPENREELS_LLM_KEY", "--key-env", help="With --enhancer: environment variable holding the API key."
    ),
    timeout: float = typer.Option(60.0, "--timeout", help="With --enhancer: seconds to wait for one answer."),
    as_json: bool = typer.Option(
        False, "--json", help="Print prompt, caption and kept/filled fields as JSON."
    ),
) -> None:
    """Expand a short prompt into the full structured prompt, keeping every field it gives."""
    result = run_enhancer(prompt, seed, enhancer, model, os.environ.get(key_env, ""), timeout)
    if as_json:
        data = result.record() | {"caption": result.caption, "kept": result.kept, "filled": result.filled}
        typer.echo(json.dumps(data, indent=1))
    else:
        typer.echo(result.prompt)


def run_enhancer(
    prompt: str, seed: int, url: str | None, model: str | None, key: str = "", timeout: float = 60.0
):
    """The offline enhancer, or the LLM one when `url` is given (shared by enhance and generate --enhance)."""
    from openreels.caption.enhance import enhance, enhance_llm

    if not url:
        return enhance(prompt, seed)
    if not model:
        raise OpenreelsError(
            "--enhancer needs --enhancer-model (or --model for `enhance`): the name it serves"
        )
    return enhance_llm(prompt, url, model, key, timeout)


def register(app: typer.Typer) -> None:
    app.command("caption", help=(caption_command.__doc__ or "") + "\n" + CAPTION_EXAMPLES)(caption_command)
    app.command("enhance", help=(enhance_command.__doc__ or "") + "\n" + ENHANCE_EXAMPLES)(enhance_command)
