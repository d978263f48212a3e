"""Profile selection, option parsing and the one-line fallback notes."""

from __future__ import annotations

import pytest
import torch

from openreels.errors import OpenreelsError
from openreels.runtime import DeviceInfo, ParallelSpec, RuntimeOptions, choose_profile, resolve_attention

GIB = 2**30


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        (DeviceInfo("cpu", "cpu"), "cpu"),
        (DeviceInfo("cuda", "NVIDIA H100 80GB HBM3", 80 * GIB, 79 * GIB, (9, 0)), "h100"),
        (DeviceInfo("cuda", "NVIDIA GeForce RTX 4090", 24 * GIB, 23 * GIB, (8, 9)), "24gb"),
        (DeviceInfo("cuda", "NVIDIA GeForce RTX 4080", 16 * GIB, 15 * GIB, (8, 9)), "16gb"),
    ],
)
def test_auto_profile_follows_device_memory(device, expected, capsys):
    options = choose_profile(device)
    assert options.profile == expected
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"note: profile auto -> {expected}") and "\n" not in line
    if expected in ("24gb", "16gb"):
        assert options.quant == "fp8" and options.offload == "group"
    if expected == "h100":
        assert options.quant == "none" and options.cfg_batching
    if expected == "cpu":
        assert options.quant == "none" and options.offload == "none"


def test_explicit_profile_and_unknown_profile(capsys):
    assert choose_profile(DeviceInfo("cpu", "cpu"), "16gb").offload == "group"
    with pytest.raises(OpenreelsError, match="--profile"):
        choose_profile(DeviceInfo("cpu", "cpu"), "8gb", quiet=True)


@pytest.mark.parametrize("choice", ["flash", "sage", "cudnn"])
def test_missing_kernels_fall_back_with_one_note(choice, capsys):
    assert resolve_attention(choice, torch.device("cpu")) == "native"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("note: ")


def test_auto_and_sdpa_attention_on_cpu_are_quiet(capsys):
    assert resolve_attention("auto", torch.device("cpu")) == "native"
    assert resolve_attention("sdpa", torch.device("cpu")) == "native"
    assert capsys.readouterr().err == ""


def test_torchao_missing_is_a_one_line_note(monkeypatch, capsys):
    import builtins

    from openreels.runtime import apply

    real_import = builtins.__import__

    def no_torchao(name, *args, **kwargs):
        if name.startswith("torchao"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torchao)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (9, 0))
    assert apply.fp8_config(torch.device("cuda")) is None
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "openreels[gpu]" in err[0]


def test_parallel_spec_parsing():
    spec = ParallelSpec.parse("ulysses=4,ring=2,cfg=2")
    assert (spec.ulysses, spec.ring, spec.cfg, spec.world_size) == (4, 2, 2, 16)
    assert RuntimeOptions(parallel="cfg=2").parallel == ParallelSpec(cfg=2)
    for bad in ("ulysses=0", "tp=2", "cfg=4", "ulysses"):
        with pytest.raises(OpenreelsError, match="--parallel"):
            ParallelSpec.parse(bad)


def test_options_describe_and_validation():
    assert RuntimeOptions().describe() == "plain diffusers defaults"
    assert RuntimeOptions(quant="fp8", compile=True).describe() == "quant=fp8, compile"
    with pytest.raises(OpenreelsError, match="cache-threshold"):
        RuntimeOptions(cache_threshold=0)
    with pytest.raises(ValueError):
        RuntimeOptions(attention="xformers")


def test_generate_cli_takes_runtime_flags(tmp_path):
    import numpy as np

    from openreels.cli import main

    common = ["generate", "a woman laughing", "--frames", "5", "--steps", "2", "--quiet"]
    assert main([*common, "-o", str(tmp_path / "plain.npz")]) == 0
    assert main([*common, "--cfg-batching", "--attention", "auto", "-o", str(tmp_path / "rt.npz")]) == 0
    plain = np.load(tmp_path / "plain.npz")["frames"].astype(int)
    fast = np.load(tmp_path / "rt.npz")["frames"].astype(int)
    assert plain.shape == fast.shape
    assert np.abs(plain - fast).max() <= 1  # lossless options: equal up to uint8 rounding
