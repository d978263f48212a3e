"""`openreels serve`: the job service (HTTP API, job store, workers), and its tokens."""

from __future__ import annotations

from pathlib import Path

import typer

from openreels.errors import OpenreelsError

EXAMPLES = """
Examples:

  openreels serve token create alice --data srv     # prints the token once

  openreels serve --data srv                        # http://127.0.0.1:8000/api/v1/docs, 2 workers

  openreels serve --data srv --workers 4 --port 9000

  openreels serve --data srv --farm ray             # jobs and shots as tasks on the local Ray cluster

  openreels serve --data srv --farm ray://head:10001 --task-gpus 1

The API is described in docs/serve.md; every route but /api/v1/health needs 'Authorization: Bearer TOKEN'.
"""

serve = typer.Typer(
    help="The job service: HTTP API, job store and workers." + EXAMPLES, no_args_is_help=False
)
token = typer.Typer(help="Bearer tokens (each owns its jobs, projects and uploads).", no_args_is_help=True)
serve.add_typer(token, name="token")

DATA_HELP = "Data folder: the job store (serve.db), uploads, job outputs and projects."


def _needs_serve_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise OpenreelsError(
            f"openreels serve needs its extra ({exc.name} is missing): pip install 'openreels[serve]'"
        ) from exc


@serve.callback(invoke_without_command=True)
def run(
    ctx: typer.Context,
    data: Path = typer.Option(Path("serve-data"), "--data", help=DATA_HELP),
    host: str = typer.Option("127.0.0.1", help="Address to bind (127.0.0.1: this machine only)."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port."),
    workers: int = typer.Option(2, min=0, max=64, help="Jobs run at once (worker processes, or farm slots)."),
    farm: str | None = typer.Option(
        None, help="Run jobs on Ray: 'ray' (the local cluster), HOST:PORT or ray://HOST:PORT."
    ),
    task_gpus: float = typer.Option(0, min=0, help="GPUs each Ray task asks for (--farm only)."),
    max_upload_mb: float = typer.Option(50, min=0.01, help="Largest upload, MiB."),
    max_body_mb: float = typer.Option(1, min=0.01, help="Largest JSON request body, MiB."),
    max_pixels: int = typer.Option(
        4096 * 4096, min=1, help="Most pixels in an uploaded image or video frame."
    ),
    max_frames: int = typer.Option(600, min=1, help="Most frames in an uploaded video."),
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    _needs_serve_extra()
    import uvicorn

    from openreels.serve import Limits, create_app

    limits = Limits(
        max_body=int(max_body_mb * (1 << 20)),
        max_upload=int(max_upload_mb * (1 << 20)),
        max_pixels=max_pixels,
        max_frames=max_frames,
    )
    app = create_app(data, workers=workers, farm=farm, limits=limits, task_gpus=task_gpus)
    typer.echo(
        f"openreels serve: http://{host}:{port}/api/v1/docs (data {data}, {workers} workers)", err=True
    )
    uvicorn.run(app, host=host, port=port, log_level="info")


@token.command(
    "create",
    help="Make a token for NAME and print it (only its hash is kept: save it)."
    "\n\nExamples:\n\n  openreels serve token create alice --data srv",
)
def token_create(
    name: str = typer.Argument(..., help="Who the token is for (letters, digits, '-', '_')."),
    data: Path = typer.Option(Path("serve-data"), "--data", help=DATA_HELP),
) -> None:
    _needs_serve_extra()
    from openreels.serve.store import Store

    typer.echo(Store(data).create_token(name))


@token.command("list", help="List the token names.\n\nExamples:\n\n  openreels serve token list --data srv")
def token_list(data: Path = typer.Option(Path("serve-data"), "--data", help=DATA_HELP)) -> None:
    _needs_serve_extra()
    from openreels.serve.store import Store

    for t in Store(data).tokens():
        typer.echo(t.name)


def register(app: typer.Typer) -> None:
    app.add_typer(serve, name="serve")
