"""`openreels calibrate`: measure a checkpoint's MagCache ratios, for `--cache magcache`."""

from __future__ import annotations

import json

import typer

from openreels.cli.common import quiet_libraries
from openreels.errors import OpenreelsError

EXAMPLES = """
Examples:

  openreels calibrate                                   # the bundled model, printed

  openreels calibrate --model ./SkyReels-V2-DF-1.3B-540P-Diffusers --write
  openreels generate "A man walking left" --model ./SkyReels-V2-DF-1.3B-540P-Diffusers --cache magcache
"""

DEFAULT_PROMPT = (
    "A woman with long red hair is laughing, medium shot, eye level, static camera, teal backdrop"
)


def register(app: typer.Typer) -> None:
    @app.command(
        "calibrate",
        help="Measure a checkpoint's MagCache ratios (for --cache magcache).\n\n"
        "The ratios are checkpoint-specific: one uncached generation at the model's defaults measures them. "
        "--write stores them in the model folder's openreels.json, where --cache magcache finds them.\n\n"
        + EXAMPLES,
    )
    def calibrate(
        model: str = typer.Option(
            "openreels-tiny", "--model", "-m", help="Registry id or checkpoint folder."
        ),
        prompt: str = typer.Option(DEFAULT_PROMPT, "--prompt", help="Prompt of the calibration run."),
        steps: int = typer.Option(None, "--steps", help="Denoising steps (default: the model's)."),
        seed: int = typer.Option(0, "--seed"),
        device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
        write: bool = typer.Option(False, "--write", help="Store the ratios in the model's openreels.json."),
        as_json: bool = typer.Option(False, "--json", help="Print the ratios as JSON only."),
    ) -> None:
        import os

        from openreels.media import atomic_output
        from openreels.models import get_model, locate_weights
        from openreels.models.registry import read_openreels_json
        from openreels.pipelines import GenerateRequest
        from openreels.runtime.magcache import calibrate_model

        quiet_libraries()
        spec = get_model(model)
        folder = locate_weights(spec)
        request = GenerateRequest(prompt=prompt, model=model, steps=steps, seed=seed, device=device)
        if write and not os.access(folder, os.W_OK):  # before the run, not after it
            raise OpenreelsError(
                f"{folder} is read-only; copy the folder somewhere writable, or drop --write"
            )
        ratios = calibrate_model(request)
        if write:
            settings = read_openreels_json(folder) | {"mag_ratios": ratios}
            try:
                with atomic_output(folder / "openreels.json") as tmp:
                    tmp.write_text(json.dumps(settings, indent=2) + "\n")
            except PermissionError as exc:
                raise OpenreelsError(f"{folder} is read-only; copy the folder somewhere writable") from exc
        if as_json:
            typer.echo(json.dumps(ratios))
            return
        typer.echo(f"{len(ratios)} MagCache ratios for {folder}:")
        typer.echo(json.dumps(ratios))
        if write:
            typer.echo(f"written to {folder / 'openreels.json'}; use --cache magcache")
