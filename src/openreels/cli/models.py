"""`openreels models`: every known checkpoint, its defaults and whether its weights are on this machine."""

from __future__ import annotations

import json
from pathlib import Path

import typer

EXAMPLES = """
Examples:

  openreels models

  openreels models --json

  openreels models --model ./SkyReels-V2-DF-1.3B-540P-Diffusers
"""


def models_command(
    model: Path = typer.Option(None, "--model", "-m", help="Also describe this local checkpoint folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the registry as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the model ids."),
) -> None:
    """List the models openreels can run, with their defaults and whether their weights are present."""
    from openreels.models import get_model, list_models, locate_weights, weights_present
    from openreels.models.weights import download_hint

    specs = list_models()
    rows = []
    if model is not None:
        folder = locate_weights(get_model(str(model)), model)
        specs = [get_model(str(folder))] + specs
    for spec in specs:
        row = spec.model_dump()
        row["present"] = weights_present(spec)
        row["download"] = None if row["present"] or spec.hf_repo is None else download_hint(spec)
        rows.append(row)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if quiet:
        typer.echo("\n".join(r["id"] for r in rows))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="openreels models")
    for col in ("id", "tasks", "size", "frames", "fps", "steps", "cfg", "shift", "weights"):
        table.add_column(col)
    for r in rows:
        weights = "present" if r["present"] else f"missing (~{r['download_gb']:g} GB)"
        table.add_row(
            r["id"],
            ",".join(r["tasks"]),
            f"{r['size'][0]}x{r['size'][1]}",
            str(r["frames"]),
            str(r["fps"]),
            str(r["steps"]),
            f"{r['guidance']:g}",
            f"{r['shift']:g}",
            weights,
        )
    Console(width=160).print(table)


def register(app: typer.Typer) -> None:
    app.command("models", help=(models_command.__doc__ or "") + "\n\n" + EXAMPLES)(models_command)
