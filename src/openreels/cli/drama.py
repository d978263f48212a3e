"""`openreels drama new|plan|render|status`: the short-drama studio on a project folder."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from openreels.cli.progress import Reporter

drama = typer.Typer(
    help="Short drama: screenplay or story -> cast -> storyboard -> shots -> voices -> episode.mp4.\n\n"
    "Examples:\n\n"
    "  openreels drama new ep1 --from examples/the_red_umbrella.fountain\n\n"
    "  openreels drama plan ep1\n\n"
    "  openreels drama render ep1\n\n"
    "  openreels drama status ep1",
    no_args_is_help=True,
)

EXAMPLES_NEW = """
Examples:

  openreels drama new ep1 --from examples/the_red_umbrella.fountain

  openreels drama new ep2 --from story.txt            # built-in writer, or the LLM when OPENREELS_LLM_URL is set

  openreels drama new ep4 --from story.txt --aspect 9:16   # vertical, for phones

  OPENREELS_LLM_URL=http://localhost:11434/v1 OPENREELS_LLM_MODEL=llama3 openreels drama new ep3 --from story.txt
"""


def _print(data: dict, as_json: bool, quiet: bool) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    elif not quiet:
        for key, value in data.items():
            typer.echo(f"{key}: {value}")


@drama.command(
    "new", help="Create a project folder from a .fountain screenplay or a .txt story.\n\n" + EXAMPLES_NEW
)
def new(
    directory: Path = typer.Argument(..., help="Project folder to create."),
    source: Path = typer.Option(..., "--from", help="A .fountain screenplay or a .txt story."),
    writer: str = typer.Option(
        "auto", help="Story writer: auto (LLM if OPENREELS_LLM_URL is set), builtin, llm."
    ),
    model: str = typer.Option("openreels-tiny", help="Video model for the shots."),
    seed: int = typer.Option(0, help="Seed for every shot (each shot derives its own from it)."),
    tts: str = typer.Option("auto", help="Speech: auto (piper, else espeak-ng), piper, espeak."),
    renderer: str = typer.Option("model", help="Shots from the video model, or 'stage': a fast animatic."),
    aspect: str | None = typer.Option(
        None, help="Frame shape, width:height: 9:16 (vertical), 16:9 or 1:1 (default: the model's own)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on success."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    from openreels.studio import Settings, new_project

    project = new_project(
        directory,
        source,
        writer,
        Settings.checked(model=model, seed=seed, tts=tts, renderer=renderer, aspect=aspect),
    )
    cast = [c.name for c in project.cast(project.screenplay()).characters]
    _print(
        {"project": str(directory), "title": project.meta.title, "writer": project.meta.writer, "cast": cast},
        as_json,
        quiet,
    )


@drama.command(
    "plan",
    help="Write cast.yaml and storyboard.yaml (voices are synthesised to time the shots); edit them, then render."
    "\n\nExamples:\n\n  openreels drama plan ep1\n\n  openreels drama plan ep1 --force   # rebuild an edited storyboard",
)
def plan(
    directory: Path = typer.Argument(..., help="Project folder."),
    force: bool = typer.Option(False, help="Rebuild storyboard.yaml even if the screenplay is unchanged."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on success."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    from openreels.studio import Project

    project = Project(directory)
    with Reporter(quiet=quiet or as_json) as report:
        board = project.plan(force=force, progress=report.update)
    shots = [
        {
            "id": s.id,
            "purpose": s.purpose,
            "seconds": s.duration,
            "shot": f"{s.caption.shot_type}, {s.caption.shot_angle}, {s.caption.camera_motion}",
            "line": f"{s.dialogue.character}: {s.dialogue.text}" if s.dialogue else "",
        }
        for s in board.shots
    ]
    if as_json:
        typer.echo(json.dumps({"storyboard": str(directory / "storyboard.yaml"), "shots": shots}, indent=2))
    elif not quiet:
        for s in shots:
            typer.echo(f"{s['id']}  {s['seconds']:5.2f}s  {s['purpose']:<12} {s['shot']:<45} {s['line']}")
        typer.echo(
            f"{len(shots)} shots, {sum(s['seconds'] for s in shots):.1f} s -> {directory / 'storyboard.yaml'}"
        )


@drama.command(
    "render",
    help="Render the shots that changed, voice the lines and cut DIR/episode.mp4 with DIR/episode.srt."
    "\n\nExamples:\n\n  openreels drama render ep1\n\n  openreels drama render ep1 --burn-subtitles --crossfade 0.25"
    "\n\n  openreels drama render ep1 --consistency compose   # characters through SkyReels-A2"
    "\n\nKill it at any time: finished shots are kept and the next run resumes.",
)
def render(
    directory: Path = typer.Argument(..., help="Project folder."),
    burn_subtitles: bool | None = typer.Option(
        None, "--burn-subtitles/--no-burn-subtitles", help="Draw the subtitles into the picture."
    ),
    crossfade: float | None = typer.Option(None, help="Seconds a DISSOLVE TO: overlaps (0: cut)."),
    steps: int | None = typer.Option(None, help="Denoising steps (default: the model's)."),
    renderer: str | None = typer.Option(None, help="'model' (the video model) or 'stage' (a fast animatic)."),
    consistency: str | None = typer.Option(
        None,
        help="How a character looks the same from shot to shot: keyframe (a stage-drawn first frame), "
        "reference (the cast image as first frame), compose (SkyReels-A2 from the cast images) or none.",
    ),
    compose_model: str | None = typer.Option(
        None, help="The SkyReels-A2 model of --consistency compose (default: the bundled openreels-a2-tiny)."
    ),
    scale: int | None = typer.Option(None, help="Enlarge the shots this many times in the episode."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on success."),
    as_json: bool = typer.Option(False, "--json", help="Print the render report as JSON."),
) -> None:
    from openreels.cli.common import quiet_libraries
    from openreels.studio import Project

    quiet_libraries()  # the studio shows its own progress; diffusers' load bars would break it up
    project = Project(directory)
    updates = dict(
        burn_subtitles=burn_subtitles,
        crossfade=crossfade,
        steps=steps,
        renderer=renderer,
        consistency=consistency,
        compose_model=compose_model,
        scale=scale,
    )
    updates = {k: v for k, v in updates.items() if v is not None}
    if updates:
        from openreels.studio import Settings

        project.meta.settings = Settings.checked(**(project.settings.model_dump() | updates))
        project.save_meta()
    with Reporter(quiet=quiet or as_json) as progress:
        report = project.render(progress=progress.update)
    _print(asdict(report), as_json, quiet)


@drama.command(
    "status",
    help="Show what is planned and rendered, without rendering.\n\nExamples:\n\n  openreels drama status ep1",
)
def status(
    directory: Path = typer.Argument(..., help="Project folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    from openreels.studio import Project

    _print(Project(directory).status(), as_json, False)


def register(app: typer.Typer) -> None:
    app.add_typer(drama, name="drama")
