"""The `openreels` command. Each sub-command lives in its own module here and only parses, calls the
library and prints; failures the user can fix arrive as OpenreelsError and become one line on stderr."""

from __future__ import annotations

import sys

import typer

from openreels import __version__
from openreels.errors import OpenreelsError

app = typer.Typer(
    name="openreels",
    help="Human-centric video generation and AI short drama (SkyReels V1/V2/A1/A2 and a bundled tiny model).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"openreels {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """openreels: one library and CLI for the SkyReels video models."""


# Each name is a module of this package with a `register(app)` function that adds its commands.
COMMAND_MODULES: tuple[str, ...] = (
    "generate",
    "models",
    "world",
    "eval",
    "caption",
    "animate",
    "compose",
    "drama",
    "train",
    "bench",
    "calibrate",
    "serve",
)


def _register_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"openreels.cli.{name}").register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the CLI and turns user-fixable failures into one line and a non-zero exit."""
    _register_commands()
    try:
        app(args=argv, standalone_mode=False)
    except OpenreelsError as exc:
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted; nothing was written", err=True)
        return 130
    except Exception as exc:
        if type(exc).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError, without importing torch
            typer.echo(
                "error: the GPU ran out of memory; try --offload group, --quant fp8 or a smaller --size/--frames",
                err=True,
            )
            return 3
        import click

        if isinstance(exc, click.exceptions.Exit):
            return exc.exit_code
        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            return 1
        raise
    return 0


def run() -> None:
    """Console-script wrapper: exit with main()'s status."""
    sys.exit(main())
