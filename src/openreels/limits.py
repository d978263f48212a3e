"""Bounds every request is checked against before anything loads: seeds, finite numbers, and whether a
video of a given size and length can fit in this machine's memory at all.

The memory check is a lower bound, not a forecast: it counts only what any run must hold at once (the
decoded video as float32 on the device and again on the host, its uint8 copy, and the latents), so it never
refuses a run that could finish, yet stops a 99999x99999 or 100000-frame request before a minute of work
ends in the kernel's OOM killer.
"""

from __future__ import annotations

import math
import os

from openreels.errors import OpenreelsError

MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes signed/unsigned 64-bit; numpy takes any
LATENT_CHANNELS = 16  # SkyReels V1 (Hunyuan) and V2 (Wan) VAEs: 16 channels, 8x spatial, 4x temporal
GB = 1024**3


def check_seed(seed: int, count: int = 1, name: str = "--seed") -> int:
    """A seed (and the `count - 1` seeds derived after it) within what every generator accepts."""
    if not 0 <= seed <= MAX_SEED - (count - 1):
        raise OpenreelsError(f"{name} must be between 0 and {MAX_SEED - (count - 1)}, got {seed}")
    return seed


def check_finite(value: float | None, name: str) -> float | None:
    """A real number: NaN and infinity are refused (they would run and poison the output and sidecar)."""
    if value is not None and not math.isfinite(value):
        raise OpenreelsError(f"{name} must be a finite number, got {value}")
    return value


def available_memory() -> int:
    """Bytes of host memory a new allocation can have: MemAvailable (Linux), else the physical total."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def device_memory(device: str) -> int | None:
    """Total memory of a CUDA device ("cuda", "cuda:N" or "auto"), or None when the run stays on the CPU."""
    if device not in ("auto",) and not device.startswith("cuda"):
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    index = int(device.split(":")[1]) if ":" in device else torch.cuda.current_device()
    if index >= torch.cuda.device_count():
        return None  # resolve_device names the bad index later
    return torch.cuda.get_device_properties(index).total_memory


def video_bytes(frames: int, height: int, width: int) -> tuple[int, int]:
    """(device bytes, host bytes) a run that decodes `frames` frames of height x width must hold at once."""
    pixels = frames * height * width * 3
    latents = LATENT_CHANNELS * ((frames - 1) // 4 + 1) * math.ceil(height / 8) * math.ceil(width / 8) * 4
    decoded = pixels * 4  # the VAE's float32 output
    return decoded + 2 * latents, decoded + pixels  # host: the float32 numpy copy and the uint8 frames


def check_fits(frames: int, height: int, width: int, device: str = "auto", what: str = "the video") -> None:
    """Refuse a size/length whose frames and latents alone cannot fit, naming the limit and what to change."""
    need_device, need_host = video_bytes(frames, height, width)
    gpu = device_memory(device)
    host = available_memory()
    if gpu is not None and need_device > gpu:
        budget, need, where = gpu, need_device, "GPU memory"
    elif need_host + (0 if gpu is not None else need_device) > host:
        budget, need, where = host, need_host + (0 if gpu is not None else need_device), "free memory"
    else:
        return
    most = int(budget // (need / frames))
    limit = f"at most about {most} frames fit at this size" if most else "not one frame fits at this size"
    raise OpenreelsError(
        f"{what} at {height}x{width} with {frames} frames needs at least {need / GB:.1f} GB for its frames "
        f"and latents, more than the {budget / GB:.1f} GB of {where} here ({limit}); use a smaller --size "
        "or fewer --frames (--offload only moves the model's weights)"
    )
