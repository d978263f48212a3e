"""A streaming torch dataset of stage clips for training (the only world module that imports torch).

    loader = DataLoader(StageClips((64, 64), 17), batch_size=8, num_workers=2, collate_fn=StageClips.collate)

Clip k of the stream is rendered from sample_scene(seed=[seed, k]) (restricted to the split), so the
stream is reproducible and each DataLoader worker renders a disjoint share (k = worker, worker + n, ...).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import torch

from openreels.world import vocab as V
from openreels.world.face import NUM_LANDMARKS
from openreels.world.renderer import render
from openreels.world.scene import sample_scene


class StageClips(torch.utils.data.IterableDataset):
    """Endless (or `length`-long) stream of dicts:
    frames uint8 (T, H, W, 3), prompt str, caption dict, landmarks float32 (T, 2, 70, 2) in pixels
    (zeros for absent characters), landmark_mask bool (2,), index int."""

    def __init__(
        self,
        size: tuple[int, int],
        frames: int,
        fps: float = 8.0,
        seed: int = 0,
        split: str = "train",
        length: int | None = None,
    ) -> None:
        super().__init__()
        if split not in ("train", "heldout"):
            raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
        self.size, self.frames, self.fps, self.seed, self.split, self.length = (
            tuple(size),
            int(frames),
            float(fps),
            int(seed),
            split,
            length,
        )

    def scene(self, k: int):
        """The scene of clip number k (render it longer for a long-video ground truth)."""
        return sample_scene(
            np.random.default_rng([self.seed, k, 0 if self.split == "train" else 1]), split=self.split
        )

    def item(self, k: int) -> dict:
        """Clip number k of the stream (the same for any worker layout)."""
        clip = render(self.scene(k), self.frames, self.size, self.fps)
        marks = np.zeros((self.frames, V.MAX_CHARACTERS, NUM_LANDMARKS, 2), np.float32)
        n = clip.landmarks.shape[1]
        marks[:, :n] = clip.landmarks
        mask = np.zeros(V.MAX_CHARACTERS, bool)
        mask[:n] = True
        return {
            "frames": torch.from_numpy(clip.frames),
            "prompt": clip.prompt,
            "caption": clip.caption,
            "landmarks": torch.from_numpy(marks),
            "landmark_mask": torch.from_numpy(mask),
            "index": k,
        }

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        # Split the stream across workers only when this is the loader's own dataset: a stream made inside a
        # worker by another dataset (the trainer's chunked renderer) must yield all of its clips.
        split = info is not None and info.dataset is self
        start, step = (info.id, info.num_workers) if split else (0, 1)
        indices = itertools.count(start, step) if self.length is None else range(start, self.length, step)
        for k in indices:
            yield self.item(k)

    def __len__(self) -> int:
        if self.length is None:
            raise TypeError("an endless StageClips has no length; pass length=N")
        return self.length

    @staticmethod
    def collate(batch: list[dict]) -> dict:
        """Stack tensors; keep prompts and captions as lists (captions differ in shape)."""
        out = {k: torch.stack([b[k] for b in batch]) for k in ("frames", "landmarks", "landmark_mask")}
        out["prompt"] = [b["prompt"] for b in batch]
        out["caption"] = [b["caption"] for b in batch]
        out["index"] = torch.tensor([b["index"] for b in batch])
        return out
