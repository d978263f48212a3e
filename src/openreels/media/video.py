"""Reading and writing frames: H.264 MP4 through PyAV, lossless `.npz`, PNG/JPEG images.

Frames are always uint8 arrays shaped (T, H, W, 3) in RGB. Every write goes to a temporary name in the
target folder and is renamed into place only when complete, so a killed process or a full disk never
leaves a half-written file under the requested name.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import secrets
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from openreels.errors import OpenreelsError, RunError

VIDEO_SUFFIXES = {".mp4", ".npz"}


PARTIAL = ".partial-"  # temporary names: .<stem>.partial-<pid>-<random><suffix>, next to the target
WRITTEN: list[Path] = []  # every file this process put in place, in order (the CLI reports them on Ctrl-C)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs (then its temporary files are not stale)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: leave its file alone
    return True


def clean_stale_partials(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of `path` that an earlier, killed run left behind (its process is gone)."""
    path = Path(path)
    prefix = f".{path.stem}{PARTIAL}"
    removed = []
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(path.suffix)):
            continue
        pid = name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def _new_partial(path: Path) -> Path:
    """Create an empty temporary file for `path` in its folder, under a name the next run recognises."""
    for _ in range(100):
        tmp = path.with_name(f".{path.stem}{PARTIAL}{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")
        try:
            # 0666 & ~umask: the permissions a plain open() would give the result.
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name next to {path}")


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while files are renamed into place, so an interrupt cannot split a group."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def output_group(paths: list[str | os.PathLike]) -> Iterator[list[Path]]:
    """Yield temporary paths next to `paths`; move them all onto `paths` only if the block succeeds.

    A file and its sidecar written in one group land together or not at all: every temporary file is
    complete before the first rename, an interrupt waits until the renames are done, and a failed rename
    takes back the ones before it. Temporary files of earlier killed runs are removed first.
    """
    targets = [Path(p) for p in paths]
    temps: list[Path] = []
    try:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            clean_stale_partials(target)
            temps.append(_new_partial(target))
    except OSError as exc:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        raise OpenreelsError(
            f"cannot write to {exc.filename or targets[0].parent}: {exc.strerror or exc}; choose another --output"
        ) from exc
    placed: list[Path] = []
    try:
        yield temps
        with _signals_held():
            for tmp, target in zip(temps, targets, strict=True):
                os.replace(tmp, target)
                placed.append(target)
            WRITTEN.extend(placed)
    except OSError as exc:
        for target in placed:
            target.unlink(missing_ok=True)
        where = targets[len(placed)] if len(placed) < len(targets) else targets[0]
        if exc.errno == errno.ENOSPC:
            raise RunError(f"disk full while writing {where}; free some space and run again") from exc
        raise RunError(f"cannot write {where}: {exc.strerror or exc}") from exc
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds."""
    with output_group([path]) as (tmp,):
        yield tmp


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
    # allow_nan=False: NaN/Infinity are not JSON; a request lets none through, so one here is a bug to see.
    meta_json = json.dumps(metadata or {}, sort_keys=True, default=str, allow_nan=False)
    targets = [path] + ([path.with_suffix(".json")] if metadata is not None else [])
    with output_group(targets) as temps:
        if suffix == ".npz":
            # Built in memory, then written in one call: a full disk is then one clean OSError, not a
            # ZipFile left half-closed that complains again when it is collected.
            buffer = io.BytesIO()
            np.savez_compressed(buffer, frames=frames, fps=np.float32(fps), metadata=np.array(meta_json))
            temps[0].write_bytes(buffer.getvalue())
        else:
            _write_mp4(temps[0], frames, fps, meta_json, crf, audio)
        if metadata is not None:
            sidecar = json.dumps(metadata, indent=2, sort_keys=True, default=str, allow_nan=False)
            temps[1].write_text(sidecar + "\n")
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
                if "frames" not in data.files:
                    raise OpenreelsError(f"{path} holds no 'frames' array; it is not an openreels .npz video")
                frames, fps = data["frames"], float(data["fps"]) if "fps" in data.files else 24.0
        else:
            import av

            with av.open(str(path)) as container:
                if not container.streams.video:
                    raise OpenreelsError(f"{path} has no video stream (audio only?); pass a video file")
                stream = container.streams.video[0]
                fps = float(stream.average_rate or stream.guessed_rate or 24)
                frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
            frames = np.stack(frames) if frames else np.zeros((0, 1, 1, 3), np.uint8)
        if len(frames) == 0:
            raise OpenreelsError(f"{path} holds no frames; pass a video with at least one frame")
        if not (np.isfinite(fps) and fps > 0):
            raise OpenreelsError(f"{path} records a frame rate of {fps}; re-encode it with a real frame rate")
        return _check_frames(frames), fps
    except OpenreelsError:
        raise
    except Exception as exc:  # PyAV and numpy raise many types for corrupt input
        raise OpenreelsError(f"cannot read video {path}: it is not a readable video file ({exc})") from exc


# Modes holding more than 8 bits per channel, and the largest value each stores.
_WIDE_MODES = {"I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I;16N": 65535, "I": 65535}


def _to_rgb(img, background: tuple[int, int, int]) -> np.ndarray:
    """Any Pillow mode as (H, W, 3) uint8: 16-bit grey scaled (not clipped), transparency composited."""
    from PIL import Image

    if img.mode in _WIDE_MODES:
        values = np.asarray(img, dtype=np.float64)
        if values.size and values.max() > _WIDE_MODES[img.mode]:  # a 32-bit integer image, not 16-bit
            raise OpenreelsError("a 32-bit integer image is not supported; save it as an 8- or 16-bit PNG")
        grey = np.round(values * 255.0 / _WIDE_MODES[img.mode]).clip(0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if img.mode == "F":
        raise OpenreelsError("a floating-point image is not supported; save it as an 8- or 16-bit PNG")
    if img.mode in ("RGBA", "LA", "PA", "P", "La", "RGBa") or "transparency" in img.info:
        img = img.convert("RGBA")
        canvas = Image.new("RGBA", img.size, background + (255,))
        img = Image.alpha_composite(canvas, img)
    return np.asarray(img.convert("RGB"))


def read_image(path: str | os.PathLike, background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Read an image as (H, W, 3) uint8 RGB, upright as its EXIF says, at any bit depth (16-bit grey is
    scaled to 8 bits); transparency is composited onto `background` (white)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise OpenreelsError(f"image not found: {path}")
    try:
        with Image.open(path) as img:
            img.load()
            if img.width == 0 or img.height == 0:
                raise OpenreelsError(f"image {path} is empty (0 pixels)")
            return _to_rgb(ImageOps.exif_transpose(img), background)
    except OpenreelsError as exc:
        if str(path) in str(exc):
            raise
        raise OpenreelsError(f"image {path}: {exc}") from exc
    except Image.DecompressionBombError as exc:
        raise OpenreelsError(f"image {path} is too large to read safely ({exc}); resize it first") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise OpenreelsError(f"cannot read image {path}: not a readable image file") from exc
