"""How fast the stage renders: clips per second over a process pool (what a training loader sees)."""

from __future__ import annotations

import time

import numpy as np

from openreels.world.renderer import render
from openreels.world.scene import sample_scene


def _render_range(args: tuple[int, int, int, tuple[int, int], int]) -> int:
    seed, start, stop, size, frames = args
    for k in range(start, stop):
        render(sample_scene(np.random.default_rng([seed, k])), frames, size)
    return stop - start


def clips_per_second(
    count: int = 400, size: tuple[int, int] = (64, 64), frames: int = 17, workers: int = 1, seed: int = 0
) -> dict[str, float]:
    """Render `count` random clips with `workers` processes; returns clips/s (wall) and the setup."""
    _render_range((seed, count, count + 2, size, frames))  # warm imports and caches
    chunks = [(seed, k, min(k + 25, count), size, frames) for k in range(0, count, 25)]
    start = time.perf_counter()
    if workers <= 1:
        done = sum(_render_range(c) for c in chunks)
    else:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(workers) as pool:
            done = sum(pool.imap_unordered(_render_range, chunks))
    wall = time.perf_counter() - start
    return {"clips_per_second": done / wall, "clips": done, "workers": workers, "seconds": wall}
