"""Captioning files and folders: one backend behind one call, a JSONL file per folder that a killed run
resumes (each record is one line written whole and synced; a torn last line is cut away on restart, and
videos already in the file are skipped, so nothing is captioned twice or written half)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openreels.errors import OpenreelsError
from openreels.world.caption import caption_to_prompt

BACKENDS = ("stage", "learned", "vlm")
VIDEO_SUFFIXES = (".mp4", ".npz", ".mov", ".mkv", ".webm", ".avi")


@dataclass
class VlmOptions:
    url: str = ""
    model: str = ""
    key: str = ""
    timeout: float = 120.0
    retries: int = 2


def captioner(backend: str, vlm: VlmOptions | None = None) -> Callable[[np.ndarray, float], dict]:
    """A function (frames (T, H, W, 3) uint8, fps) -> caption dict for the named backend."""
    if backend == "stage":
        from openreels.caption.stage import caption_stage

        return caption_stage
    if backend == "learned":
        from openreels.caption.learned import bundled, caption_clip

        model = bundled()
        return lambda frames, fps: caption_clip(frames, model)
    if backend == "vlm":
        vlm = vlm or VlmOptions()
        if not vlm.url or not vlm.model:
            raise OpenreelsError(
                "--backend vlm needs --url (an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1) "
                "and --model (the model name it serves)"
            )
        from openreels.caption.vlm import caption_vlm

        return lambda frames, fps: caption_vlm(frames, vlm.url, vlm.model, vlm.key, vlm.timeout, vlm.retries)
    raise OpenreelsError(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)}")


def record(video: Path, caption: dict, backend: str, seconds: float, root: Path | None = None) -> dict:
    name = str(video.relative_to(root)) if root else str(video)
    return {
        "video": name,
        "backend": backend,
        "caption": caption,
        "prompt": caption_to_prompt(caption),
        "seconds": round(seconds, 3),
    }


def caption_video(path: Path, caption_fn, backend: str, root: Path | None = None) -> dict:
    from openreels.media import read_video

    frames, fps = read_video(path)
    t0 = time.perf_counter()
    caption = caption_fn(frames, fps)
    return record(path, caption, backend, time.perf_counter() - t0, root)


def videos_in(folder: Path) -> list[Path]:
    """Video files under `folder` (recursively), sorted; sidecars and other files are ignored."""
    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if not found:
        raise OpenreelsError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) in {folder}")
    return found


def done_in(jsonl: Path) -> set[str]:
    """Videos already captioned in `jsonl`; a torn last line (a killed write) is cut off the file."""
    if not jsonl.exists():
        return set()
    data = jsonl.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(jsonl, "r+b") as f:
            f.truncate(end)
    done = set()
    for n, line in enumerate(data[:end].splitlines(), 1):
        if not line.strip():
            continue
        try:
            done.add(json.loads(line)["video"])
        except (ValueError, KeyError, TypeError) as exc:
            raise OpenreelsError(
                f"{jsonl} line {n} is not a caption record; move the file away or pass another --output"
            ) from exc
    return done


def append_line(jsonl: Path, item: dict) -> None:
    """One record as one line, written in one call and synced before the next video starts."""
    data = (json.dumps(item, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(jsonl, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def caption_folder(
    folder: Path, jsonl: Path, caption_fn, backend: str, on_skip: Callable[[Path, str], None] | None = None
) -> Iterator[tuple[int, int, dict | None]]:
    """Caption every video under `folder` not yet in `jsonl`, appending a line each; yields (done, total,
    record or None when a video could not be read). The folder and the JSONL are checked before it returns."""
    videos = videos_in(folder)
    jsonl.parent.mkdir(parents=True, exist_ok=True)
    done = done_in(jsonl)
    todo = [v for v in videos if str(v.relative_to(folder)) not in done]

    def steps() -> Iterator[tuple[int, int, dict | None]]:
        count = len(videos) - len(todo)
        yield count, len(videos), None
        for video in todo:
            try:
                item = caption_video(video, caption_fn, backend, folder)
            except OpenreelsError as exc:
                if on_skip is None:
                    raise
                on_skip(video, str(exc))  # not written: the next run tries it again
                yield count, len(videos), None
                continue
            append_line(jsonl, item)
            count += 1
            yield count, len(videos), item

    return steps()
