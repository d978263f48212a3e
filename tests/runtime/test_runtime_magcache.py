"""MagCache: per-checkpoint calibration (`openreels calibrate`), and skipping at any step count."""

from __future__ import annotations

import json

import numpy as np
import pytest

from openreels.cli import main
from openreels.errors import OpenreelsError
from openreels.models.tiny import build_tiny_checkpoint
from openreels.pipelines import GenerateRequest, clear_pipeline_cache, generate
from openreels.runtime import RuntimeOptions
from openreels.runtime.cli_options import runtime_hook

DEFAULTS = {"size": [32, 32], "frames": 9, "fps": 8, "steps": 10, "guidance": 3.0, "shift": 3.0,
            "max_sequence_length": 16, "overlap_history": 5}  # fmt: skip


@pytest.fixture(scope="module")
def df_dir(tmp_path_factory):
    return build_tiny_checkpoint(
        "v2-df", tmp_path_factory.mktemp("mag") / "df", seed=0, defaults=DEFAULTS, layers=2
    )


def _run(model, steps: int, cache: str | None = None, threshold: float | None = None):
    """Frames of one generation, and how many steps ran the second block's attention (the rest were skipped)."""
    clear_pipeline_cache()
    calls = []

    def hook(pipe) -> bool:
        pipe.transformer.blocks[1].attn1.register_forward_hook(lambda *a: calls.append(1))
        if cache is None:
            return False
        return runtime_hook(RuntimeOptions(cache=cache, cache_threshold=threshold), "cpu")(pipe)

    request = GenerateRequest(prompt="a man waving", model=str(model), steps=steps, seed=3, device="cpu")
    frames = generate(request, pipeline_hook=hook)[0].frames
    clear_pipeline_cache()
    return frames.astype(np.float32), len(calls) // 2  # two guidance branches per step


def test_magcache_without_ratios_says_how_to_calibrate(df_dir):
    with pytest.raises(OpenreelsError, match="openreels calibrate"):
        _run(df_dir, 4, cache="magcache")


def test_calibrate_writes_ratios_and_magcache_skips_steps(df_dir, capsys):
    assert main(["calibrate", "--model", str(df_dir), "--write", "--json", "--device", "cpu"]) == 0
    ratios = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(ratios) == DEFAULTS["steps"] and ratios[0] == 1.0
    assert all(np.isfinite(r) and r > 0 for r in ratios)
    assert json.loads((df_dir / "openreels.json").read_text())["mag_ratios"] == ratios
    assert json.loads((df_dir / "openreels.json").read_text())["steps"] == DEFAULTS["steps"]  # kept

    base, full = _run(df_dir, 10)
    assert full == 10
    # A loose threshold skips steps; the ratios are re-fitted to a step count other than the calibrated one.
    for steps in (10, 14):
        cached, computed = _run(df_dir, steps, cache="magcache", threshold=0.5)
        assert 0 < computed < steps
        assert np.isfinite(cached).all()
    # A tight threshold skips nothing and changes nothing.
    cached, computed = _run(df_dir, 10, cache="magcache", threshold=1e-9)
    assert computed == 10
    np.testing.assert_array_equal(cached, base)
