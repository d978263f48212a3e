"""Parallel equivalence on CPU: 2 gloo processes give the latents of 1 process within 1e-4."""

from __future__ import annotations

import os
import socket
import time

import pytest
import torch
import torch.multiprocessing as mp

from openreels.eval import bench as B
from openreels.runtime import RuntimeOptions, apply_runtime

# (arch, --parallel spec, diffusion forcing)
CASES = [
    ("tiny-v2", "ulysses=2", False),
    ("tiny-v2", "cfg=2", False),
    ("tiny-v2", "ulysses=2", True),
    ("tiny-v1", "ulysses=2", False),
]
STEPS = 2


def _run(arch: str, parallel: str | None, df: bool) -> torch.Tensor:
    device = torch.device("cpu")
    transformer = B.build_transformer(arch, device, torch.float32, seed=0)
    inputs = B.make_inputs(arch, B.SIZES["tiny"], device, torch.float32, seed=0)
    kwargs = B._pipeline_kwargs(arch, inputs, B.SIZES["tiny"], STEPS, seed=0)
    if df:
        from diffusers import SkyReelsV2DiffusionForcingPipeline, UniPCMultistepScheduler

        sched = UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=8.0
        )
        pipe = SkyReelsV2DiffusionForcingPipeline(
            tokenizer=None, text_encoder=None, transformer=transformer, vae=None, scheduler=sched
        )
        kwargs.update(prompt=None, num_frames=17, ar_step=1, causal_block_size=1)
    else:
        pipe = B.build_pipeline(arch, transformer)
    pipe.set_progress_bar_config(disable=True)
    apply_runtime(pipe, RuntimeOptions(parallel=parallel), device=device)
    with torch.inference_mode():
        return pipe(**kwargs).frames.float()


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    os.environ["LOCAL_RANK"] = str(rank)
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        for i, (arch, spec, df) in enumerate(CASES):
            out = _run(arch, spec, df)
            if rank == 0:
                torch.save(out, os.path.join(out_dir, f"case{i}.pt"))
        from openreels.runtime.parallel import load_once_per_node, split_vae_decode

        def timed_load() -> list[float]:
            start = time.time()
            time.sleep(0.3)  # stands in for reading weights
            return [start, time.time()]

        spans = [None, None]
        torch.distributed.all_gather_object(spans, load_once_per_node(timed_load))
        if rank == 0:
            torch.save(spans, os.path.join(out_dir, "load_spans.pt"))

        vae, z = _vae_case()
        split_vae_decode(vae)
        with torch.inference_mode():
            decoded = vae.decode(z).sample
        if rank == 0:
            torch.save(decoded, os.path.join(out_dir, "vae.pt"))
    finally:
        torch.distributed.destroy_process_group()


def _vae_case():
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=8, z_dim=4, dim_mult=[1, 1, 1, 1], num_res_blocks=1).eval()
    return vae, torch.randn(1, 4, 1, 8, 40, generator=torch.Generator().manual_seed(1))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def parallel_outputs(tmp_path_factory) -> str:
    out_dir = str(tmp_path_factory.mktemp("parallel"))
    # fork after the parent has imported diffusers and its pipelines: the workers skip those imports.
    from diffusers import SkyReelsV2DiffusionForcingPipeline  # noqa: F401

    B.build_pipeline("tiny-v1", B.build_transformer("tiny-v1", torch.device("cpu"), torch.float32))
    B.build_pipeline("tiny-v2", B.build_transformer("tiny-v2", torch.device("cpu"), torch.float32))
    mp.start_processes(_worker, args=(2, _free_port(), out_dir), nprocs=2, join=True, start_method="fork")
    return out_dir


@pytest.mark.parametrize(
    "index", range(len(CASES)), ids=[f"{a}-{s}{'-df' if d else ''}" for a, s, d in CASES]
)
def test_two_ranks_match_one(parallel_outputs: str, index: int) -> None:
    arch, _, df = CASES[index]
    single = _run(arch, None, df)
    multi = torch.load(os.path.join(parallel_outputs, f"case{index}.pt"))
    assert multi.shape == single.shape
    assert torch.isfinite(multi).all()
    assert (multi - single).abs().max().item() < 1e-4


def test_weights_read_by_local_rank_0_before_the_others(parallel_outputs: str) -> None:
    (start0, end0), (start1, _) = torch.load(os.path.join(parallel_outputs, "load_spans.pt"))
    assert start1 >= end0  # rank 1 reads only after rank 0 finished, from a warm page cache


def test_vae_decode_split_across_ranks(parallel_outputs: str) -> None:
    vae, z = _vae_case()
    with torch.inference_mode():
        single = vae.decode(z).sample
    split = torch.load(os.path.join(parallel_outputs, "vae.pt"))
    assert split.shape == single.shape
    # Lossy only at the strip seam; the 8-column halo covers most of the decoder's receptive field.
    assert B.psnr(split, single) > 40.0


def test_wrong_world_size_is_one_line_error() -> None:
    from openreels.errors import OpenreelsError
    from openreels.runtime.options import ParallelSpec

    assert ParallelSpec.parse("ulysses=4,cfg=2").world_size == 8
    with pytest.raises(OpenreelsError, match="torchrun"):
        from openreels.runtime.parallel import init_distributed

        if "RANK" in os.environ:
            pytest.skip("running under torchrun")
        init_distributed()


def test_ring_on_cpu_says_use_ulysses() -> None:
    from openreels.errors import OpenreelsError

    pipe = B.build_pipeline("tiny-v2", B.build_transformer("tiny-v2", torch.device("cpu"), torch.float32))
    with pytest.raises(OpenreelsError, match="ulysses"):
        apply_runtime(pipe, RuntimeOptions(parallel="ring=2"), device="cpu")
