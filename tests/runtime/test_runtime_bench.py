"""`openreels bench`: FLOP formula against torch's counter, the CLI on tiny models, argument errors."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from openreels.cli import main
from openreels.errors import OpenreelsError
from openreels.eval import bench as B


@pytest.mark.parametrize("arch", ["tiny-v2", "tiny-v1"])
def test_flop_formula_matches_torch_counter(arch):
    device = torch.device("cpu")
    transformer = B.build_transformer(arch, device, torch.float32)
    inputs = B.make_inputs(arch, B.SIZES["tiny"], device, torch.float32, seed=0)
    counter = FlopCounterMode(display=False)
    # The math kernel runs attention as matmuls, which the counter sees.
    with torch.inference_mode(), torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH), counter:
        transformer(**B._forward_kwargs(arch, inputs))
    counted = counter.get_total_flops()
    assert abs(B.forward_flops(arch, *B.SIZES["tiny"]) - counted) / counted < 0.02


def test_real_size_flops_match_published_figure():
    # REFERENCE.md: Wan2.1-14B, one forward at 544x960x97 = 3.37 PFLOP, 63% of it attention.
    assert B.forward_flops("v2-14b", 544, 960, 97) == pytest.approx(3.37e15, rel=0.01)


def test_parse_memory():
    assert B.parse_memory("24GB") == 24 * 10**9
    assert B.parse_memory("24GiB") == 24 * 2**30
    with pytest.raises(OpenreelsError, match="--max-memory"):
        B.parse_memory("lots")


def test_bench_cli_tiny_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            "--model",
            "tiny-v2",
            "--size",
            "tiny",
            "--variants",
            "diffusers,cfgbatch",
            "--repeat",
            "1",
            "--steps",
            "3",
            "--cache",
            "teacache",
            "--cache-threshold",
            "0.3",
            "-o",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    assert data["environment"]["diffusers"] and data["environment"]["torch"]
    rows = {r["variant"]: r for r in data["results"]}
    assert set(rows) == {"diffusers", "cfgbatch", "cfgbatch+teacache"}
    assert all(r["error"] is None for r in rows.values())
    assert rows["diffusers"]["forward_s"] > 0 and rows["diffusers"]["mfu"] > 0
    assert rows["cfgbatch"]["speedup_step"] > 0
    cached = rows["cfgbatch+teacache"]
    assert cached["e2e_steps"] == 3 and cached["psnr_db"] is not None and cached["cache_skipped"]


def test_bench_magcache_calibrates_on_the_uncached_run_and_counts_skipped_passes(tmp_path):
    # Random weights have no calibrated ratios: the uncached run measures them, the cached run uses them.
    out = tmp_path / "bench.json"
    args = ["bench", "--model", "tiny-v2", "--size", "tiny", "--variants", "diffusers", "--repeat", "1"]
    args += ["--steps", "6", "--cache", "magcache", "--cache-threshold", "0.5", "-o", str(out), "--quiet"]
    assert main(args) == 0
    rows = {r["variant"]: r for r in json.loads(out.read_text())["results"]}
    plain, cached = rows["diffusers"], rows["diffusers+magcache"]
    assert cached["error"] is None
    assert len(plain["mag_ratios"]) == 6 and plain["mag_ratios"][0] == 1.0  # one ratio a step, cond branch
    assert cached["cache_skipped"]["calls"] == 12  # 6 steps, cond and uncond
    assert 0 < cached["cache_skipped"]["skipped"] < 12
    assert 20 < cached["psnr_db"] < float("inf")  # skipped passes change the output, a little


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "v3"], "--model"),
        (["--tiny", "--variants", "turbo"], "variant"),
        (["--tiny", "--cache", "teacache"], "--steps"),
        (["--tiny", "--steps", "2", "--cache", "magcache"], "SkyReels-V2"),
    ],
)
def test_bench_cli_errors_are_one_line(args, message, capsys):
    assert main(["bench", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and message in err[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU messages")
@pytest.mark.parametrize("args", [["--tiny", "--max-memory", "24GB"], ["--model", "v2-14b"]])
def test_gpu_only_requests_say_so_on_cpu(args, capsys):
    assert main(["bench", *args]) == 2
    assert "GPU" in capsys.readouterr().err
