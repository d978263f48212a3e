"""`openreels bench`: time real-size SkyReels architectures (random weights) against plain diffusers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from openreels.errors import OpenreelsError

SUMMARY = "Benchmark one forward, one CFG step and end-to-end steps, beside plain diffusers in the same run."
EXAMPLES = """
openreels bench --tiny
openreels bench --model v2-14b --size 540p --variants diffusers,attn,fp8 -o bench.json
openreels bench --model v2-14b --variants fp8 --max-memory 24GB
openreels bench --model v2-1.3b --variants diffusers,fp8 --steps 30 --cache teacache
openreels bench --model v2-14b --variants diffusers --steps 30 --cache magcache
"""


def register(app: typer.Typer) -> None:
    @app.command("bench", help=SUMMARY + "\n\nExamples:\n" + EXAMPLES)
    def bench(
        models: str = typer.Option(
            None, "--model", help="Comma list: v2-1.3b, v2-14b (default), v1-13b (tiny-v2, tiny-v1)."
        ),
        sizes: str = typer.Option(
            None, "--size", help="Comma list: 540p (544x960x97, default), 720p (720x1280x121), tiny."
        ),
        variants: str = typer.Option(
            "diffusers,attn,fp8",
            "--variants",
            help="Comma list of: diffusers, attn, fp8, fp8-compile, fp8-cfgbatch, compile, cfgbatch.",
        ),
        tiny: bool = typer.Option(
            False, "--tiny", help="Tiny model and size: runs on CPU in seconds (for tests)."
        ),
        forward_repeat: int = typer.Option(
            2, "--repeat", help="Timed forwards per variant (after one warm-up)."
        ),
        step: bool = typer.Option(True, "--step/--no-step", help="Time one denoising step with CFG."),
        steps: int = typer.Option(0, "--steps", help="Also time this many end-to-end denoising steps."),
        cache: str = typer.Option(
            "",
            "--cache",
            help="teacache|fbc|magcache: add a cached end-to-end run (with --steps) and its PSNR; magcache "
            "takes its ratios from the uncached run before it (random weights have no calibrated ones).",
        ),
        cache_threshold: float = typer.Option(
            None, "--cache-threshold", help="Cache threshold (default per family)."
        ),
        max_memory: str = typer.Option(
            None, "--max-memory", help="Cap this process's GPU memory, e.g. 24GB."
        ),
        deadline: float = typer.Option(
            0, "--deadline", help="Skip variants not started within this many seconds."
        ),
        output: str = typer.Option(None, "--output", "-o", help="Write results JSON here."),
        as_json: bool = typer.Option(False, "--json", help="Print results as JSON."),
        quiet: bool = typer.Option(False, "--quiet", help="Print nothing but errors."),
    ) -> None:
        import os

        from openreels.cli.common import check_writable

        if tiny and (models or sizes):
            raise OpenreelsError("--tiny picks its own models and size; drop --model/--size, or drop --tiny")
        if output:
            check_writable(Path(output))  # before the benchmark, not after it
        if forward_repeat < 0 or steps < 0 or deadline < 0:
            raise OpenreelsError("--repeat, --steps and --deadline must be 0 or more")
        os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")
        import torch
        from rich.console import Console
        from rich.table import Table

        from openreels.eval import bench as B

        console = Console(stderr=True, quiet=quiet)
        if tiny:
            models, sizes = "tiny-v2,tiny-v1", "tiny"
        models, sizes = models or "v2-14b", sizes or "540p"
        model_list = [m.strip() for m in models.split(",") if m.strip()]
        size_list = [s.strip() for s in sizes.split(",") if s.strip()]
        variant_list = [v.strip() for v in variants.split(",") if v.strip()]
        for m in model_list:
            if m not in B.ARCHS:
                raise OpenreelsError(f"unknown --model {m!r}; choose from {', '.join(B.ARCHS)}")
        for s in size_list:
            if s not in B.SIZES:
                raise OpenreelsError(f"unknown --size {s!r}; choose from {', '.join(B.SIZES)}")
        for v in variant_list:
            if v not in B.VARIANTS:
                raise OpenreelsError(f"unknown variant {v!r}; choose from {', '.join(B.VARIANTS)}")
        if cache and cache not in ("teacache", "fbc", "magcache"):
            raise OpenreelsError("--cache takes teacache, fbc or magcache")
        if cache == "magcache" and any(B.ARCHS[m][0] != "skyreels_v2" for m in model_list):
            raise OpenreelsError(
                "--cache magcache is measured on SkyReels-V2 models only; drop v1 from --model"
            )
        if cache and not steps:
            raise OpenreelsError("--cache needs --steps N (the cached run is end to end)")
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if device.type == "cpu" and any(not m.startswith("tiny") for m in model_list):
            raise OpenreelsError(
                "real-size models need a CUDA GPU (a 14B model is 56 GB in float32); use --tiny"
            )
        cap = None
        if max_memory:
            cap = B.parse_memory(max_memory)
            if device.type != "cuda":
                raise OpenreelsError("--max-memory caps GPU memory; no CUDA GPU is visible")
            total = torch.cuda.get_device_properties(device).total_memory
            torch.cuda.set_per_process_memory_fraction(min(1.0, cap / total), torch.cuda.current_device())

        rows: list[B.Row] = []
        start = time.perf_counter()
        plan = []
        for m in model_list:
            for s in size_list:
                for v in variant_list:
                    plan.append((m, s, v, B.VARIANTS[v]))
                if cache:
                    base = B.VARIANTS[variant_list[-1]]
                    cached = base.model_copy(update={"cache": cache, "cache_threshold": cache_threshold})
                    plan.append((m, s, f"{variant_list[-1]}+{cache}", cached))
        # (m, s) -> the uncached output the cached run is compared with, and the MagCache ratios measured on it
        reference: dict[tuple[str, str], tuple[object, list[float] | None]] = {}
        for m, s, v, opts in plan:
            if deadline and time.perf_counter() - start > deadline:
                rows.append(B.Row(m, s, v, opts.describe(), error="skipped: --deadline reached"))
                continue
            console.print(f"[bold]{m} {s} {v}[/]: {opts.describe()}")
            is_cached = opts.cache != "none"
            is_reference = v == variant_list[-1]
            ref_out, ref_ratios = reference.get((m, s), (None, None))
            try:
                row, out = B.run_variant(
                    m,
                    s,
                    v,
                    opts,
                    device=device,
                    forward_repeat=0 if is_cached else forward_repeat,
                    step=step and not is_cached,
                    e2e_steps=steps,
                    max_memory=cap,
                    reference=ref_out if is_cached else None,
                    keep_output=not is_cached,
                    record_mag_ratios=cache == "magcache" and is_reference,
                    mag_ratios=ref_ratios if is_cached else None,
                )
                if out is not None and is_reference:
                    reference[(m, s)] = (out, row.mag_ratios)
            except Exception as exc:  # one failing variant must not lose the others' numbers
                if isinstance(exc, OpenreelsError):
                    raise
                row = B.Row(m, s, v, opts.describe(), error=f"{type(exc).__name__}: {exc}"[:500])
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            rows.append(row)
            B.add_speedups(rows)
            if output:
                B.write_json(output, rows, device, _settings(locals()))
        B.add_speedups(rows)
        if output:
            B.write_json(output, rows, device, _settings(locals()))
        if as_json:
            typer.echo(json.dumps([B.asdict(r) for r in rows], indent=2))
        elif not quiet:
            grid = B.table(rows)
            tab = Table(title=f"openreels bench on {B.environment(device)['device']}")
            for col in grid[0]:
                tab.add_column(col)
            for line in grid[1:]:
                tab.add_row(*line)
            Console().print(tab)
            for r in rows:
                if r.error:
                    typer.echo(f"{r.arch} {r.size} {r.variant}: {r.error}", err=True)


def _settings(scope: dict) -> dict:
    keys = (
        "models",
        "sizes",
        "variants",
        "forward_repeat",
        "steps",
        "cache",
        "cache_threshold",
        "max_memory",
    )
    return {k: scope.get(k) for k in keys}
