"""GPU-only checks (skipped without CUDA): fp8 matmuls through torchao, attention backends, the memory cap."""

from __future__ import annotations

import pytest
import torch

from openreels.eval import bench as B
from openreels.runtime import RuntimeOptions, apply_runtime

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
GPU = torch.device("cuda")


def _forward(options: RuntimeOptions | None) -> torch.Tensor:
    transformer = B.build_transformer("tiny-v2", GPU, torch.bfloat16, seed=0)
    if options is not None:
        apply_runtime(transformer, options, device=GPU)
    inputs = B.make_inputs("tiny-v2", B.SIZES["tiny"], GPU, torch.bfloat16, seed=0)
    with torch.inference_mode():
        return transformer(**B._forward_kwargs("tiny-v2", inputs))[0].float()


@pytest.mark.parametrize("attention", ["cudnn", "flash", "auto"])
def test_attention_backends_match_sdpa_in_bf16(attention):
    ref = _forward(None)
    out = _forward(RuntimeOptions(attention=attention))
    assert (out - ref).norm() / ref.norm() < 1e-2


def test_fp8_uses_torchao_on_fp8_capable_gpus():
    pytest.importorskip("torchao")
    if torch.cuda.get_device_capability() < (8, 9):
        pytest.skip("float8 matmuls need compute capability 8.9+")
    ref = _forward(None)
    out = _forward(RuntimeOptions(quant="fp8"))
    assert B.psnr(out, ref) > 25.0
