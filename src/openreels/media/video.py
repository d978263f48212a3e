"""Reading and writing frames: H.264 MP4 through PyAV, lossless `.npz`, PNG/JPEG images.

Frames are always uint8 arrays shaped (T, H, W, 3) in RGB. Every write goes to a temporary name in the
target folder and is renamed into place only when complete, so a killed process or a full disk never
leaves a half-written file under the requested name.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from openreels.errors import OpenreelsError

VIDEO_SUFFIXES = {".mp4", ".npz"}


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=path.parent
        )
        os.close(fd)
    except OSError as exc:
        raise OpenreelsError(
            f"cannot write to {path.parent}: {exc.strerror}; choose another --output"
        ) from exc
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise OpenreelsError(f"disk full while writing {path}; free some space and run again") from exc
        raise OpenreelsError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise ValueError(f"frames must be shaped (T, H, W, 3) with T > 0, got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8, got {frames.dtype}")
    return frames


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: float,
    metadata: dict | None = None,
    crf: int = 18,
    audio: tuple[np.ndarray, int] | None = None,
) -> Path:
    """Write frames to `.mp4` (H.264, `crf` 0-51, lower is better) or lossless `.npz`.

    `metadata` is stored inside the file (MP4 `comment` tag / npz `metadata` entry) and, when given,
    also as a JSON sidecar next to it (`X.mp4` -> `X.json`). `audio` is (mono float samples in [-1, 1],
    sample rate) and is muxed as AAC into MP4 files.
    """
    path = Path(path)
    frames = _check_frames(frames)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise OpenreelsError(f"unsupported output {path.name}: use a .mp4 or .npz file name")
    meta_json = json.dumps(metadata or {}, sort_keys=True, default=str)
    with atomic_output(path) as tmp:
        if suffix == ".npz":
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, frames=frames, fps=np.float32(fps), metadata=np.array(meta_json))
        else:
            _write_mp4(tmp, frames, fps, meta_json, crf, audio)
    if metadata is not None:
        with atomic_output(path.with_suffix(".json")) as tmp:
            tmp.write_text(json.dumps(metadata, indent=2, sort_keys=True, default=str) + "\n")
    return path


def _write_mp4(
    path: Path, frames: np.ndarray, fps: float, meta_json: str, crf: int, audio: tuple[np.ndarray, int] | None
) -> None:
    import fractions

    import av

    # yuv420p needs even sizes; replicate the last row/column instead of failing.
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    rate = fractions.Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w", format="mp4") as container:
        container.metadata["comment"] = meta_json
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(int(crf)), "preset": "medium"}
        audio_stream = None
        if audio is not None:
            audio_stream = container.add_stream("aac", rate=int(audio[1]))
            audio_stream.layout = "mono"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if audio_stream is not None:
            samples = np.clip(np.asarray(audio[0], dtype=np.float32), -1.0, 1.0)
            audio_frame = av.AudioFrame.from_ndarray(samples[None, :], format="flt", layout="mono")
            audio_frame.sample_rate = int(audio[1])
            # A timestamp lets the muxer write an edit list that hides the AAC encoder's priming samples;
            # without it the sound starts about 1024 samples late.
            audio_frame.pts, audio_frame.time_base = 0, fractions.Fraction(1, int(audio[1]))
            for packet in audio_stream.encode(audio_frame):
                container.mux(packet)
            for packet in audio_stream.encode():
                container.mux(packet)


def read_video(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    """Read all frames of a video file (any container FFmpeg reads, or our `.npz`) as (T, H, W, 3) uint8."""
    path = Path(path)
    if not path.is_file():
        raise OpenreelsError(f"video not found: {path}")
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path) as data:
                return _check_frames(data["frames"]), float(data["fps"])
        import av

        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            fps = float(stream.average_rate or stream.guessed_rate or 24)
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return _check_frames(np.stack(frames)), fps
    except OpenreelsError:
        raise
    except Exception as exc:  # PyAV and numpy raise many types for corrupt input
        raise OpenreelsError(f"cannot read video {path}: it is not a readable video file ({exc})") from exc


def read_image(path: str | os.PathLike, background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Read an image as (H, W, 3) uint8 RGB; transparency is composited onto `background` (white)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise OpenreelsError(f"image not found: {path}")
    try:
        with Image.open(path) as img:
            img.load()
            if img.width == 0 or img.height == 0:
                raise OpenreelsError(f"image {path} is empty (0 pixels)")
            if img.mode in ("RGBA", "LA", "P"):
                img = img.convert("RGBA")
                canvas = Image.new("RGBA", img.size, background + (255,))
                img = Image.alpha_composite(canvas, img)
            return np.asarray(img.convert("RGB"))
    except OpenreelsError:
        raise
    except Image.DecompressionBombError as exc:
        raise OpenreelsError(f"image {path} is too large to read safely ({exc}); resize it first") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise OpenreelsError(f"cannot read image {path}: not a readable image file") from exc
