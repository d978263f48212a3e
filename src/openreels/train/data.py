"""Clip sources for training: rendering a seeded set of clips in parallel, and a tiny moving-shapes world.

A source is any factory `seed -> iterable of {"frames": uint8 (T, H, W, 3), "prompt": str, ...}`; the stage
(`openreels.world.dataset.StageClips`) is one, `MovingShapes` another (tests and smoke runs, no renderer needed).
`BackgroundRenderer` draws a fixed, seeded set in chunks on DataLoader workers, so the same seed gives the same
training set however many workers render it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

ClipFactory = Callable[[int], Iterable[dict]]

SHAPE_COLOURS = {
    "red": (220, 40, 40),
    "green": (50, 170, 70),
    "blue": (40, 80, 220),
    "yellow": (240, 220, 40),
    "white": (240, 240, 240),
    "black": (25, 25, 25),
}
SHAPE_MOTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1), "still": (0, 0)}


class MovingShapes(IterableDataset):
    """Endless seeded clips of one coloured square or disc moving over a plain backdrop, with a prompt."""

    def __init__(self, size: int = 32, frames: int = 9, seed: int = 0) -> None:
        self.size, self.frames, self.seed = size, frames, seed

    def __iter__(self) -> Iterator[dict]:
        rng = np.random.default_rng(self.seed)
        names = list(SHAPE_COLOURS)
        s, t = self.size, self.frames
        yy, xx = np.mgrid[0:s, 0:s]
        while True:
            bg, fg = rng.choice(names, 2, replace=False)
            kind = ["square", "disc"][rng.integers(2)]
            motion = list(SHAPE_MOTIONS)[rng.integers(len(SHAPE_MOTIONS))]
            dx, dy = SHAPE_MOTIONS[motion]
            r = s * rng.uniform(0.12, 0.2)
            cx, cy = rng.uniform(0.35, 0.65, size=2) * s
            speed = s * 0.4 / max(t - 1, 1)
            frames = np.empty((t, s, s, 3), np.uint8)
            frames[:] = SHAPE_COLOURS[bg]
            for i in range(t):
                px, py = cx + dx * speed * (i - (t - 1) / 2), cy + dy * speed * (i - (t - 1) / 2)
                if kind == "square":
                    inside = (np.abs(xx - px) <= r) & (np.abs(yy - py) <= r)
                else:
                    inside = (xx - px) ** 2 + (yy - py) ** 2 <= r * r
                frames[i][inside] = SHAPE_COLOURS[fg]
            prompt = f"A {fg} {kind} moving {motion} on a {bg} background."
            yield {"frames": frames, "prompt": prompt, "caption": {"bg": bg, "fg": fg, "motion": motion}}


class _Chunks(Dataset):
    def __init__(self, factory: ClipFactory, seed: int, chunk: int, n: int) -> None:
        self.factory, self.seed, self.chunk, self.n = factory, seed, chunk, n

    def __len__(self) -> int:
        return -(-self.n // self.chunk)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, list[str], list[dict]]:
        count = min(self.chunk, self.n - i * self.chunk)
        frames, prompts, captions = [], [], []
        # Each chunk has its own seed, so the set does not depend on how many workers render it.
        for _, item in zip(range(count), self.factory(self.seed * 100_003 + i), strict=False):
            f = item["frames"]
            frames.append(f if isinstance(f, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(f)))
            prompts.append(item["prompt"])
            captions.append(item.get("caption", {}))
        return torch.stack(frames), prompts, captions


@dataclass
class ClipSet:
    frames: torch.Tensor  # uint8 (N, T, H, W, 3)
    prompts: list[str]
    captions: list[dict]

    def __len__(self) -> int:
        return self.frames.shape[0]


class BackgroundRenderer:
    """Renders a seeded set of clips in chunks on a background thread (its DataLoader workers are processes), so training can start on
    the first clips while the rest render. Chunks arrive in order, so the first k clips are always the same."""

    def __init__(
        self, factory: ClipFactory, n: int, seed: int = 0, workers: int = 0, chunk: int = 16
    ) -> None:
        import threading

        self.n = n
        self._frames: list[torch.Tensor] = []
        self._prompts: list[str] = []
        self._captions: list[dict] = []
        self._error: BaseException | None = None
        self._stop = False
        self._cond = threading.Condition()
        # The workers start from the background thread below while the caller's threads run: a plain fork
        # there can copy a lock held mid-use, and a worker then hangs at start (seen once in CI). A forkserver
        # forks them from its own single-threaded process (so a training script needs the usual
        # `if __name__ == "__main__":` guard, as with spawn).
        self._loader = DataLoader(
            _Chunks(factory, seed, chunk, n),
            batch_size=None,
            num_workers=workers,
            shuffle=False,
            multiprocessing_context="forkserver" if workers else None,
        )
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for f, p, c in self._loader:
                if self._stop:
                    break
                with self._cond:
                    self._frames.append(f)
                    self._prompts.extend(p)
                    self._captions.extend(c)
                    self._cond.notify_all()
        except BaseException as exc:  # surfaced to the waiting trainer instead of dying silently
            with self._cond:
                self._error = exc
                self._cond.notify_all()

    @property
    def done(self) -> int:
        return len(self._prompts)

    def wait(self, k: int) -> ClipSet:
        """Block until at least k clips exist; return the first k."""
        k = min(k, self.n)
        with self._cond:
            self._cond.wait_for(lambda: self.done >= k or self._error is not None)
            if self._error is not None:
                raise self._error
            frames = torch.cat(self._frames)[:k]
            return ClipSet(frames, self._prompts[:k], self._captions[:k])

    def result(self, max_wait_s: float | None = None) -> ClipSet:
        """All n clips; with max_wait_s, what has arrived by then (rendering stops), so a time-boxed run keeps
        to its box. The clips are still the first k of the seeded set, so `--clips k` reproduces them."""
        if max_wait_s is None:
            return self.wait(self.n)
        with self._cond:
            self._cond.wait_for(lambda: self.done >= self.n or self._error is not None, timeout=max_wait_s)
            self._stop = True
            if self._error is not None:
                raise self._error
            k = self.done
            return ClipSet(torch.cat(self._frames)[:k], self._prompts[:k], self._captions[:k])


def to_video_tensor(frames: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (B, T, H, W, 3) -> float (B, 3, T, H, W) in [-1, 1] (the VAE's input range)."""
    x = frames.to(device, non_blocking=True).permute(0, 4, 1, 2, 3).float()
    return x / 127.5 - 1.0


def to_uint8_frames(video: torch.Tensor) -> np.ndarray:
    """The inverse of `to_video_tensor` for one clip: float (1, 3, T, H, W) -> uint8 (T, H, W, 3), clamped."""
    return ((video[0].permute(1, 2, 3, 0).clamp(-1, 1) + 1) * 127.5).round().byte().cpu().numpy()


def uint8_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (dB, peak 255) of uint8 frames `a` against `b`, over all their pixels."""
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
