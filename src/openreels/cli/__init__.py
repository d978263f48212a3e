"""The `openreels` command. Each sub-command lives in its own module here and only parses, calls the
library and prints; failures the user can fix arrive as OpenreelsError and become one line on stderr."""

from __future__ import annotations

import functools
import math
import os
import re
import signal
import sys
import textwrap
import threading
import traceback

import typer

from openreels import __version__
from openreels.errors import OpenreelsError

HELP = """Human-centric video generation and AI short drama (SkyReels V1/V2/A1/A2 and a bundled tiny model).

Exit status: 0 done, 1 the run failed, 2 bad usage or input, 130 interrupted (nothing half-written is left).
Third-party logging is off; --verbose turns it on and shows tracebacks.

Examples:

  openreels generate "A woman with long red hair is laughing" --output out/a.mp4

  openreels animate --image me.jpg --driving talk.mp4 --output out/me_talking.mp4

  openreels drama new ep1 --from examples/the_red_umbrella.fountain && openreels drama render ep1

  openreels --verbose generate "A man walking left" --frames 17
"""

app = typer.Typer(
    name="openreels",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: examples keep their lines, [brackets] stay text
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
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show third-party logging, and a traceback for an unexpected error."
    ),
) -> None:
    """openreels: one library and CLI for the SkyReels video models."""
    from openreels.cli.common import quiet_third_party

    if verbose:
        os.environ["OPENREELS_VERBOSE"] = "1"
    quiet_third_party(verbose=_verbose())


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


def _verbose() -> bool:
    return os.environ.get("OPENREELS_VERBOSE", "") not in ("", "0")


class Interrupted(BaseException):
    """SIGINT or SIGTERM. A BaseException, so no `except Exception` on the way swallows it, and raised by
    our own handler, so typer does not turn it into a silent exit first."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum


def _raise_interrupt(signum: int, frame) -> None:
    raise Interrupted(signum)


_EXAMPLE_STARTS = ("openreels ", "torchrun ", "OPENREELS_", "PYTHONPATH=")


def verbatim_examples(text: str | None) -> str | None:
    """Help text whose "Examples:" block click prints line by line: it gets a paragraph of its own and
    click's \\b marker, so it neither runs into the summary (nor the command list) nor is rewrapped.
    Example paragraphs are those starting with a command; prose after them stays ordinary text."""
    if not text or "\b" in text:
        return text
    match = re.search(r"^[ \t]*(Examples?):[ \t]*(.*)$", text, flags=re.MULTILINE)
    if match is None:
        return text
    head = text[: match.start()].rstrip()
    rest = text[match.end() :]
    examples = [match[2].strip()] if match[2].strip() else []
    paragraphs = re.split(r"\n[ \t]*\n", rest.strip("\n"))
    while paragraphs and paragraphs[0].strip().startswith(_EXAMPLE_STARTS):
        examples += [line.strip() for line in paragraphs.pop(0).splitlines() if line.strip()]
    block = "\b\nExamples:\n" + "\n".join(f"  {line}" for line in examples)
    after = [textwrap.dedent(p).strip() for p in paragraphs if p.strip()]
    return "\n\n".join(part for part in (head, block, *after) if part)


def _prepare(command) -> None:
    """Every float option of every command refuses NaN and infinity as a usage error (exit 2), and every
    help keeps its examples line by line."""
    command.help = verbatim_examples(command.help)
    command.epilog = verbatim_examples(command.epilog)

    def checked(process, param, ctx, value):
        value = process(ctx, value)
        for item in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(item, float) and not math.isfinite(item):
                raise typer.BadParameter(f"{item} is not a finite number", ctx=ctx, param=param)
        return value

    for param in command.params:
        param.process_value = functools.partial(checked, param.process_value, param)
    for sub in getattr(command, "commands", {}).values():
        _prepare(sub)


def _exception_class(name: str) -> type:
    """typer's click exception class `name` (typer >= 0.29 ships its own copy of click's)."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)


def _written() -> list:
    from openreels.media.video import WRITTEN

    return WRITTEN


def _interrupted_line() -> str:
    kept = _written()
    if not kept:
        return "interrupted; nothing was written"
    return f"interrupted; {len(kept)} finished file(s) kept (last {kept[-1]}), nothing half-written left"


def _failure(exc: BaseException) -> tuple[str, int]:
    """(one line, exit code) for an exception no command turned into an OpenreelsError."""
    from pydantic import ValidationError

    if type(exc).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError, without importing torch
        return "the GPU ran out of memory; try --offload group, --quant fp8 or a smaller --size/--frames", 1
    if isinstance(exc, MemoryError):
        return "out of memory; use a smaller --size/--frames, or close other programs", 1
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or exc.title
        return f"{where}: {err['msg']}", 2
    if isinstance(exc, OSError) and exc.strerror:
        where = f" {exc.filename}" if exc.filename else ""
        return f"{exc.strerror.lower()}:{where}; check the path and free space, then run again", 1
    first = (str(exc).splitlines() or [""])[0][:300]
    return (
        f"unexpected {type(exc).__name__}: {first} (a bug in openreels: run again with --verbose and "
        "report the traceback)",
        1,
    )


def main(argv: list[str] | None = None) -> int:
    """The CLI's one error boundary: every command runs inside it, and every way out is one exit code and,
    unless it is 0, one `error:` line on stderr (0 done, 1 the run failed, 2 bad usage or input,
    128+signal interrupted)."""
    _register_commands()
    command = typer.main.get_command(app)
    _prepare(command)
    usage_error = _exception_class("UsageError")
    click_error = _exception_class("ClickException")
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            handlers[signum] = signal.signal(signum, _raise_interrupt)
    _written().clear()
    try:
        result = command.main(args=argv, prog_name="openreels", standalone_mode=False)
        return result if isinstance(result, int) else 0  # typer.Exit(n) comes back as n
    except Interrupted as exc:
        typer.echo(f"error: {_interrupted_line()}", err=True)
        return 130 if exc.exit_code == 128 + signal.SIGINT else exc.exit_code
    except KeyboardInterrupt:  # a Ctrl-C that arrived before our handler was in place
        typer.echo(f"error: {_interrupted_line()}", err=True)
        return 130
    except OpenreelsError as exc:
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except usage_error as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            typer.echo(ctx.get_help(), err=True)  # `openreels` or a group alone: its help, as click does
            return exc.exit_code
        if ctx is not None:
            typer.echo(ctx.get_usage(), err=True)
            typer.echo(f"Try '{ctx.command_path} --help' for help.", err=True)
        typer.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code
    except click_error as exc:
        typer.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        return 1
    except BrokenPipeError:  # `openreels models | head`: the reader left; nothing to report
        return 1
    except Exception as exc:
        if _verbose():
            traceback.print_exc()
        line, code = _failure(exc)
        typer.echo(f"error: {line}", err=True)
        return code
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def run() -> None:
    """Console-script wrapper: exit with main()'s status."""
    sys.exit(main())
