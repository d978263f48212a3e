"""Device detection and --profile: pick a RuntimeOptions combination that fits the card."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from openreels.errors import OpenreelsError
from openreels.runtime.apply import note
from openreels.runtime.options import RuntimeOptions

GIB = 2**30


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "cuda" or "cpu"
    name: str
    total_bytes: int = 0
    free_bytes: int = 0
    capability: tuple[int, int] = (0, 0)


def detect_device(index: int = 0) -> DeviceInfo:
    if not torch.cuda.is_available():
        return DeviceInfo("cpu", "cpu")
    free, total = torch.cuda.mem_get_info(index)
    return DeviceInfo(
        "cuda", torch.cuda.get_device_name(index), total, free, torch.cuda.get_device_capability(index)
    )


PROFILES: dict[str, RuntimeOptions] = {
    # Big card: only what measured faster and exact (bench/results/): SDPA or FA3, both CFG branches in one
    # batch. fp8 ran 9% slower than bf16 eager on an H100 and compile's gain is not measured yet: opt in.
    "h100": RuntimeOptions(profile="h100", attention="auto", cfg_batching=True),
    # 24 GB card: fp8 transformer blocks streamed by group offloading (fp8 alone needed > 22 GiB for V2-14B
    # at 544x960x97 on the H100 under a 24 GB cap).
    "24gb": RuntimeOptions(profile="24gb", quant="fp8", attention="auto", offload="group"),
    # 16 GB and below: the same plus tiled VAE decoding.
    "16gb": RuntimeOptions(profile="16gb", quant="fp8", attention="auto", offload="group", vae_tiling=True),
    "cpu": RuntimeOptions(profile="cpu", attention="sdpa", cfg_batching=True),
}


def choose_profile(
    device: DeviceInfo | None = None, profile: str = "auto", *, quiet: bool = False
) -> RuntimeOptions:
    """RuntimeOptions for `profile` (auto: from the device's memory), printing one line saying what was chosen."""
    device = device or detect_device()
    if profile == "auto":
        if device.kind != "cuda":
            profile = "cpu"
        elif device.total_bytes >= 60 * GIB:
            profile = "h100"
        elif device.total_bytes >= 20 * GIB:
            profile = "24gb"
        else:
            profile = "16gb"
        reason = f"auto -> {profile}"
    elif profile not in PROFILES:
        raise OpenreelsError(f"unknown --profile {profile!r}; choose auto, h100, 24gb, 16gb or cpu")
    else:
        reason = profile
    options = PROFILES[profile]
    if profile != "cpu" and device.kind == "cuda" and device.capability < (8, 9) and options.compile:
        options = options.model_copy(
            update={"compile": False}
        )  # fp8 matmuls need Ada/Hopper; compile adds little
    if not quiet:
        mem = (
            f", {device.free_bytes / GIB:.1f}/{device.total_bytes / GIB:.1f} GiB free"
            if device.kind == "cuda"
            else ""
        )
        note(f"profile {reason} ({device.name}{mem}): {options.describe()}")
    return options
